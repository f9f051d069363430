"""Multi-day protocols: sessions chained day after day, each resuming the previous one's checkpoint.

A protocol file (TOML) lists the days and the seeds (one independent participant per seed):

    seeds = [0, 1]
    set = ["session.duration_s=300"]                  # overrides for every day
    metrics = ["task.adaptation.early_exposure_m"]   # summary paths to tabulate
    [[day]]
    name = "day1"
    config = "../days/curl_day1.toml"                # relative to the protocol file
    [[day]]
    name = "day2"
    config = "../days/curl_day2.toml"
    break_h = 24                                     # hours since the previous day (forgetting)
    parts = ["feedforward", "forward_model"]         # optional: what to resume (default: every shared part)

Each day runs offline (rtcore.session.run_offline, no LSL outlets) and writes its checkpoint and
summary to OUT/seed<seed>/<day>/ (rtcore.checkpoint); the next day of the same seed resumes from
it after break_h. A seed's days are one chain, run in order in one process; chains run serially
here or as Ray tasks on a local or multi-node cluster (`--address`), with identical results.
OUT/results.csv has one row per (seed, day): verdict, break, resumed parts, the metrics and the
per-trial summaries of rtcore.sweep.trial_metrics.
"""
import csv
import json
import os
import sys
import time

from pydantic import Field, ValidationError

from rtcore import checkpoint
from rtcore.configbase import ConfigError, Strict, format_error, read_toml
from rtcore.sweep import OFFLINE, lookup, toml_value, trial_metrics


class DayEntry(Strict):
    """One [[day]] of a protocol."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="day label (its output folder)")
    config: str = Field(description="session config (TOML), relative to the protocol file")
    set: list[str] = Field([], description="'key.path=value' overrides for this day")
    break_h: float = Field(24.0, ge=0.0, le=24 * 365, description="hours since the previous day (ignored on the first)")
    parts: list[str] | None = Field(None, description="parts resumed from the previous day (none: every shared part)")
    resume: bool = Field(True, description="resume from the previous day (false: start naive)")


class ProtocolFile(Strict):
    """A protocol file: the days in order, the seeds, and what to tabulate."""

    day: list[DayEntry] = Field(min_length=1, description="the sessions, in order")
    seeds: list[int] = Field([0], min_length=1, description="session.seed of each independent chain")
    set: list[str] = Field([], description="'key.path=value' overrides for every day")
    metrics: list[str] = Field(["ticks", "task.n_done"], description="summary paths to tabulate (dots)")


def load_protocol(path: str) -> ProtocolFile:
    """Read and validate a protocol file; day configs resolved to absolute paths. ConfigError one line."""
    raw = read_toml(path, f"{path}: no such protocol file", f"{path}: not valid TOML")
    try:
        proto = ProtocolFile.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_error(e, ProtocolFile, path).splitlines()[0]) from None
    here = os.path.dirname(os.path.abspath(path))
    for d in proto.day:
        d.config = os.path.normpath(os.path.join(here, d.config))
        if not os.path.isfile(d.config):
            raise ConfigError(f"{path}: day '{d.name}': no such config {d.config}")
    return proto


def run_chain(proto: ProtocolFile, seed: int, out: str) -> list[dict]:
    """Run one seed's days in order in this process; returns one record per day (never raises)."""
    from rtcore import config
    from rtcore.session import run_offline
    rows, previous = [], None
    for k, day in enumerate(proto.day):
        t0 = time.perf_counter()
        day_out = os.path.join(out, f"seed{seed}", day.name)
        os.makedirs(day_out, exist_ok=True)
        overrides = OFFLINE + proto.set + day.set + [f"session.seed={seed}"]
        resumed = k > 0 and day.resume and previous is not None
        if resumed:
            overrides += [f"resume.from={toml_value(previous)}", f"resume.break_h={day.break_h}"]
            if day.parts is not None:
                overrides.append(f"resume.parts={toml_value(day.parts)}")
        row = {"seed": seed, "day": day.name, "index": k, "break_h": day.break_h if resumed else None}
        try:
            cfg = config.load(day.config, overrides)
            res = run_offline(cfg, day.config)
            checkpoint.save(res.pipeline, day_out, cfg, int(res.summary["ticks"]))
        except (ConfigError, ValueError) as e:
            rows.append({**row, "status": "error", "error": str(e).splitlines()[0]})
            break  # the later days resume from this one
        summary = json.loads(json.dumps(res.summary, default=float))
        with open(os.path.join(day_out, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
        previous = day_out
        row.update(status="ok", error="", verdict=summary["verdict"],
                   resumed_parts=";".join((summary.get("resumed") or {}).get("parts", [])),
                   wall_s=round(time.perf_counter() - t0, 3))
        row.update({m: lookup(summary, m) for m in proto.metrics})
        row.update(trial_metrics(summary))
        rows.append(row)
    return rows


def run_protocol(path: str, out: str, address: str | None = None, use_ray: bool | None = None,
                 stream=sys.stderr) -> dict:
    """Run every seed's chain of days; writes OUT/results.csv. Returns {"rows", "backend", "wall_s"}.

    use_ray: None = Ray when importable, False = serially in this process, True = Ray (must be installed).
    address: a Ray cluster's address (default: a local Ray)."""
    proto = load_protocol(path)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    backend = _backend(use_ray, stream)
    if backend == "ray":
        chains = _ray_chains(proto, out, address)
    else:
        chains = [run_chain(proto, seed, out) for seed in proto.seeds]
    rows = [row for chain in chains for row in chain]
    write_csv(os.path.join(out, "results.csv"), rows)
    return {"rows": rows, "backend": backend, "wall_s": time.perf_counter() - t0}


def _backend(use_ray, stream) -> str:
    if use_ray is False:
        return "serial"
    try:
        import ray  # noqa: F401
    except ImportError:
        if use_ray:
            raise ConfigError("protocol: Ray is not installed (pip install -e \".[sweep]\")") from None
        stream.write("protocol: Ray is not installed, running the chains serially in this process\n")
        return "serial"
    return "ray"


def _ray_chains(proto: ProtocolFile, out: str, address: str | None) -> list:
    """Each seed's chain as one Ray task (its days stay on one node, beside their checkpoints)."""
    import ray
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_chain)
        return ray.get([task.remote(proto, seed, out) for seed in proto.seeds])
    finally:
        if started:
            ray.shutdown()


def write_csv(path: str, rows: list[dict]) -> None:
    """results.csv: one row per (seed, day), the union of the rows' columns."""
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path + ".tmp", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    os.replace(path + ".tmp", path)


def add_protocol_parser(sub):
    p = sub.add_parser("protocol", help="run a multi-day protocol: sessions chained through checkpoints",
                       description="Run every day of a protocol file offline, each resuming the previous "
                                   "day's checkpoint after its break. Outputs: OUT/results.csv, "
                                   "OUT/seed<N>/<day>/{summary.json,state.npz}. Uses Ray when installed.")
    p.add_argument("protocol", help="protocol file (TOML), e.g. configs/protocols/curl_two_days.toml")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: a local Ray)")
    p.add_argument("--serial", action="store_true", help="run in this process even when Ray is installed")
    p.set_defaults(handler=cmd_protocol)


def cmd_protocol(args) -> int:
    res = run_protocol(args.protocol, args.out, address=args.address, use_ray=False if args.serial else None)
    failed = [r for r in res["rows"] if r["status"] != "ok"]
    print(f"{args.out}/results.csv: {len(res['rows'])} sessions, {len(failed)} failed, "
          f"{res['wall_s']:.1f} s [{res['backend']}]", file=sys.stderr)
    for r in failed:
        print(f"  seed {r['seed']} {r['day']}: {r['error']}", file=sys.stderr)
    return 0 if not failed else 1
