"""Offline parameter sweeps: many simulated sessions, one table.

A sweep file (TOML) names a base session config and the points to run:

    base = "../bench/tick.toml"          # relative to the sweep file
    seeds = [0, 1]                       # or: repeats = 3 (seeds 0..2)
    set = ["session.duration_s=10"]      # overrides for every point
    metrics = ["task.blocks.-1.success_rate"]   # extra summary paths to tabulate
    main_metric = "success_rate"         # what sweep.png shows
    [grid]                               # cartesian product of value lists
    "feedback.delay_s" = [0.05, 0.1]
    [[point]]                            # explicit override tables, crossed with the grid
    "lesion.kind" = "cerebellar"
    [[point]]                            # a point may run on its own base config (same table)
    base = "../channel_adaptation.toml"
    "lesion.kind" = "parkinson"

Each run = base + set + grid values + point table + session.seed, validated by rtcore.config and
run by rtcore.session.run_offline (no LSL outlets). A run is keyed by a hash of its resolved config
(config.dump), so re-running a sweep skips runs already in OUT/points/<hash>.json (failed ones too:
delete their json to retry). Outputs: OUT/points/<hash>.json, OUT/results.csv (one row per run),
OUT/sweep.png (main metric, mean over seeds, over the swept parameters).
"""
import csv
import glob
import hashlib
import itertools
import json
import math
import os
import sys
import time

from pydantic import Field, ValidationError

from rtcore.configbase import ConfigError, Strict, format_error, read_toml

#: Overrides every sweep run gets first: offline, no LSL outlets (a sweep publishes nothing).
OFFLINE = ["loop.realtime=false", "outlet=[]"]
#: Early/late error: mean |perpendicular error| over this many trials at the start/end of a block.
EDGE_TRIALS = 3


class SweepFile(Strict):
    """A sweep file: base session config, the points to run, seeds and what to tabulate."""

    base: str = Field(description="base session config (TOML), relative to the sweep file")
    grid: dict[str, list] = Field({}, description="dotted config key -> list of values (cartesian product)")
    point: list[dict[str, object]] = Field([], description="explicit override tables {dotted key: value}, crossed with the grid; a point's 'base' (relative to the sweep file) replaces the sweep's base for it")
    seeds: list[int] | None = Field(None, description="session.seed values run for every point")
    repeats: int | None = Field(None, ge=1, description="seeds 0..repeats-1 (when seeds is not given)")
    set: list[str] = Field([], description="'key.path=value' overrides applied to every point")
    metrics: list[str] = Field(["ticks", "task.n_done"], description="summary paths to tabulate (dots; list index allowed, e.g. task.blocks.-1.success_rate)")
    main_metric: str = Field("success_rate", description="results.csv column plotted in sweep.png")


def load_sweep(path: str) -> tuple[SweepFile, dict, str]:
    """Read and validate a sweep file; returns (sweep, raw base config, base path). ConfigError one line."""
    raw = read_toml(path, f"{path}: no such sweep file", f"{path}: not valid TOML")
    try:
        sw = SweepFile.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_error(e, SweepFile, path).splitlines()[0]) from None
    if sw.seeds is not None and sw.repeats is not None:
        raise ConfigError(f"{path}: seeds and repeats: give one of them, not both")
    for key, values in sw.grid.items():
        if not values:
            raise ConfigError(f"{path}: grid.{key}: empty list of values")
    base_path = point_base(path, sw.base)
    base = read_base(base_path, f"{path}: base")
    for n, p in enumerate(sw.point):
        if "base" in p:
            if not isinstance(p["base"], str):
                raise ConfigError(f"{path}: point {n}: base: a config file path (a string), not {p['base']!r}")
            read_base(point_base(path, p["base"]), f"{path}: point {n}: base")
    return sw, base, base_path


def point_base(sweep_path: str, base: str) -> str:
    """A base config's path from the sweep file's `base` or a point's (relative to the sweep file)."""
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(sweep_path)), base))


def read_base(where: str, label: str) -> dict:
    """A base config's raw TOML; ConfigError "LABEL: no such config file WHERE" or "... is not valid TOML"."""
    return read_toml(where, f"{label}: no such config file {where}", f"{label}: {where} is not valid TOML")


def toml_value(v) -> str:
    """A value as a TOML literal (inline tables for dicts), the syntax config overrides parse."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def expand(sw: SweepFile, sweep_path: str) -> list[dict]:
    """The runs of a sweep in order: [{"index", "values" {key: value}, "overrides" [str], "seed"}],
    plus "base_path" for a point with its own base config (its "base" stays in values: a column)."""
    keys = list(sw.grid)
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*sw.grid.values())] or [{}]
    points = sw.point or [{}]
    seeds = sw.seeds if sw.seeds is not None else list(range(sw.repeats or 1))
    runs = []
    for g in grid:
        for p in points:
            values = {**g, **p}
            for seed in seeds:
                overrides = OFFLINE + list(sw.set) + [f"{k}={toml_value(v)}" for k, v in values.items() if k != "base"]
                runs.append({"index": len(runs), "values": values, "seed": seed,
                             "overrides": overrides + [f"session.seed={seed}"]})
                if "base" in p:
                    runs[-1]["base_path"] = point_base(sweep_path, p["base"])
    return runs


def resolve(base: dict, base_path: str, run: dict):
    """Validate a run's config (on its own base when it names one); returns (cfg or None, hash, error or None)."""
    from rtcore import config
    if "base_path" in run:
        base_path = run["base_path"]
        base = read_base(base_path, "sweep")
    try:
        cfg = config.validate(base, base_path, run["overrides"])
    except ConfigError as e:
        text = "invalid\n" + json.dumps([base, run["overrides"]], sort_keys=True, default=str)
        return None, hashlib.sha256(text.encode()).hexdigest()[:16], str(e).splitlines()[0]
    return cfg, hashlib.sha256(config.dump(cfg).encode()).hexdigest()[:16], None


_PROCESS_RUNS = [0]  # runs done in this process (the first one loads the compiled cache)


def run_point(base: dict, base_path: str, run: dict, metrics: list[str]) -> dict:
    """Run one sweep point offline in this process; returns its record (never raises)."""
    t0 = time.perf_counter()
    first = _PROCESS_RUNS[0] == 0
    _PROCESS_RUNS[0] += 1
    cfg, key, error = resolve(base, base_path, run)
    base_path = run.get("base_path", base_path)
    rec = {"hash": key, "index": run["index"], "seed": run["seed"], "values": run["values"],
           "overrides": run["overrides"], "pid": os.getpid(), "first_in_process": first}
    if error is not None:
        return {**rec, "status": "error", "error": error, "wall_s": time.perf_counter() - t0}
    try:
        from rtcore.session import run_offline
        summary = run_offline(cfg, base_path).summary
    except Exception as e:  # a point's failure is recorded, the sweep goes on
        msg = f"{type(e).__name__}: {e}".splitlines()[0]
        return {**rec, "status": "error", "error": msg, "wall_s": time.perf_counter() - t0}
    summary = json.loads(json.dumps(summary, default=float))
    summary.pop("config", None)  # the resolved config is the hash; the overrides say what changed
    # a point that ran to its end counts as run, even if degraded (a sweep explores bad settings too)
    rec.update(status="fatal" if summary.get("verdict") == "failed" else "ok", error="",
               verdict=summary.get("verdict"), reasons=summary.get("reasons", []),
               exit_reason=summary.get("exit_reason", ""), compile_s=summary.get("compile_s"),
               wall_s=time.perf_counter() - t0)
    rec["metrics"] = {**{m: lookup(summary, m) for m in metrics}, **trial_metrics(summary)}
    rec["summary"] = summary
    return rec


def lookup(summary: dict, path: str):
    """summary value at a dotted path (integers index lists); None when absent."""
    node = summary
    for part in path.split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return node if isinstance(node, (int, float, str, bool)) or node is None else json.dumps(node)


def trial_metrics(summary: dict) -> dict:
    """Per-trial error summaries: success rate, mean endpoint error, mean |perp error| per block
    (all trials; first and last EDGE_TRIALS non-catch trials: after-effect and savings measures)."""
    trials = (summary.get("task") or {}).get("trials") or {}
    n = len(trials.get("trial", []))
    out = {"trials_done": n}
    if n == 0:
        return out
    out["success_rate"] = _mean(trials["success"])
    out["endpoint_error_m"] = _mean(trials["endpoint_error_m"])
    perp = [abs(x) for x in trials["perp_error_m"]]
    blocks = [int(b) for b in trials["block"]]
    catch = trials.get("catch", [0.0] * n)
    for b in sorted(set(blocks)):
        rows = [k for k in range(n) if blocks[k] == b]
        plain = [k for k in rows if not catch[k]]
        out[f"block{b}_perp_m"] = _mean([perp[k] for k in rows])
        out[f"block{b}_early_perp_m"] = _mean([perp[k] for k in plain[:EDGE_TRIALS]])
        out[f"block{b}_late_perp_m"] = _mean([perp[k] for k in plain[-EDGE_TRIALS:]])
    first, last = min(blocks), max(blocks)
    out["first_block_perp_m"] = out[f"block{first}_perp_m"]
    out["last_block_perp_m"] = out[f"block{last}_perp_m"]
    return out


def _mean(xs) -> float | None:
    xs = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    return sum(xs) / len(xs) if xs else None


class Progress:
    """done/total, failures and ETA on one stderr line (live only on a TTY; the final line always)."""

    def __init__(self, total: int, skipped: int, todo: int, stream=sys.stderr):
        self.total, self.done, self.failed, self.stream = total, skipped, 0, stream
        self.todo, self.ran, self.t0 = todo, 0, time.perf_counter()
        self.live = stream.isatty()

    def update(self, rec: dict) -> None:
        self.done += 1
        self.ran += 1
        self.failed += rec["status"] != "ok"
        if self.live:
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()

    def line(self) -> str:
        el = time.perf_counter() - self.t0
        eta = el / self.ran * (self.todo - self.ran) if self.ran else float("nan")
        return f"sweep: {self.done}/{self.total} done, {self.failed} failed, {el:.0f} s elapsed, ETA {eta:.0f} s"

    def finish(self) -> None:
        self.stream.write(("\r" if self.live else "") + self.line().replace(", ETA 0 s", "") + "\n")
        self.stream.flush()


def run_sweep(path: str, out: str, address: str | None = None, workers: int | None = None,
              max_points: int | None = None, use_ray: bool | None = None, stream=sys.stderr) -> dict:
    """Run (or resume) a sweep; returns {"total", "skipped", "ran", "failed", "wall_s", "backend"}.

    max_points: stop after this many new runs (the rest run on the next call).
    use_ray: None = Ray when importable, False = serial in this process, True = Ray (must be installed).
    """
    sw, base, base_path = load_sweep(path)
    runs = expand(sw, path)
    os.makedirs(os.path.join(out, "points"), exist_ok=True)
    done = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(out, "points", "*.json"))}
    todo = []
    for run in runs:
        run["hash"] = resolve(base, base_path, run)[1]
        if run["hash"] not in done:
            todo.append(run)
    skipped = len(runs) - len(todo)
    todo = todo[:max_points] if max_points is not None else todo
    progress = Progress(len(runs), skipped, len(todo), stream)
    t0 = time.perf_counter()
    name, backend = _backend(address, workers, use_ray, stream)
    last_csv = 0.0
    for rec in backend(base, base_path, todo, sw.metrics):
        with open(os.path.join(out, "points", rec["hash"] + ".json"), "w") as fh:
            json.dump(rec, fh, default=float)
        progress.update(rec)
        if time.perf_counter() - last_csv > 2.0:
            write_csv(out, runs)
            last_csv = time.perf_counter()
    progress.finish()
    rows = write_csv(out, runs)
    plot(out, sw, rows)
    return {"total": len(runs), "skipped": skipped, "ran": progress.ran, "failed": progress.failed,
            "wall_s": time.perf_counter() - t0, "backend": name}


def _backend(address, workers, use_ray, stream):
    """("ray", Ray tasks) when ray is importable, else ("serial", in-process runs) and a one-line hint."""
    if use_ray is False:
        return "serial", serial
    try:
        import ray  # noqa: F401
    except ImportError:
        if use_ray:
            raise ConfigError("sweep: Ray is not installed (pip install -e \".[sweep]\")") from None
        stream.write("sweep: Ray is not installed, running serially in this process "
                     "(pip install -e \".[sweep]\" for parallel and cluster runs)\n")
        return "serial", serial
    return "ray", lambda *a: ray_tasks(*a, address=address, workers=workers)


def serial(base, base_path, todo, metrics):
    """Runs in order in this process."""
    for run in todo:
        yield run_point(base, base_path, run, metrics)


def ray_tasks(base, base_path, todo, metrics, address=None, workers=None):
    """Runs as Ray tasks (local Ray, or the cluster at address), yielded as they finish."""
    import ray
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address in (None, "local") else address,
                 num_cpus=workers if address in (None, "local") else None, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_point)
        base_ref = ray.put(base)
        pending = [task.remote(base_ref, base_path, run, metrics) for run in todo]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started:
            ray.shutdown()


def write_csv(out: str, runs: list[dict]) -> list[dict]:
    """OUT/results.csv from OUT/points/*.json, one row per recorded run in sweep order; returns rows."""
    rows = []
    for run in runs:
        p = os.path.join(out, "points", run["hash"] + ".json")
        if not os.path.exists(p):
            continue
        with open(p) as fh:
            rec = json.load(fh)
        row = {"index": run["index"], "hash": run["hash"], "seed": run["seed"], "status": rec["status"],
               "exit_reason": rec.get("exit_reason", ""), "error": rec.get("error", ""),
               "overrides": "; ".join(o for o in run["overrides"] if o not in OFFLINE)}
        row.update({k: _cell(v) for k, v in run["values"].items()})
        row.update(rec.get("metrics", {}))
        row["wall_s"] = rec.get("wall_s")
        rows.append(row)
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    tmp = os.path.join(out, "results.csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, os.path.join(out, "results.csv"))
    return rows


def _cell(v):
    return v if isinstance(v, (int, float, str, bool)) else toml_value(v)


def plot(out: str, sw: SweepFile, rows: list[dict]) -> None:
    """OUT/sweep.png: main metric (mean over seeds) over the swept parameters: a heat map over the
    first two grid keys with several values (one panel per combination of the others), else a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    m = sw.main_metric
    axes_keys = [k for k, v in sw.grid.items() if len(v) > 1][:2]
    rest = [k for k in list(sw.grid) + sorted({k for p in sw.point for k in p}) if k not in axes_keys]
    groups = {}
    for row in rows:
        groups.setdefault(tuple(str(row.get(k)) for k in rest), []).append(row)
    n = max(len(groups), 1)
    scale = [float(r[m]) for r in rows if r.get(m) not in (None, "")] or [0.0]
    fig, axs = plt.subplots(1, n, figsize=(4.5 * n, 3.8), squeeze=False)
    for ax, (label, grp) in zip(axs[0], sorted(groups.items())):
        def mean_at(**fixed):
            vals = [r.get(m) for r in grp if all(str(r.get(k)) == str(v) for k, v in fixed.items())]
            vals = [float(v) for v in vals if v not in (None, "")]
            return float(np.mean(vals)) if vals else np.nan
        if len(axes_keys) == 2:
            xs, ys = sw.grid[axes_keys[0]], sw.grid[axes_keys[1]]
            z = np.array([[mean_at(**{axes_keys[0]: x, axes_keys[1]: y}) for x in xs] for y in ys])
            im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis", vmin=min(scale), vmax=max(scale))
            ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=45)
            ax.set_yticks(range(len(ys)), [str(y) for y in ys])
            ax.set_xlabel(axes_keys[0])
            ax.set_ylabel(axes_keys[1])
            fig.colorbar(im, ax=ax, label=m)
        elif len(axes_keys) == 1:
            xs = sw.grid[axes_keys[0]]
            ax.plot(range(len(xs)), [mean_at(**{axes_keys[0]: x}) for x in xs], "o-")
            ax.set_xticks(range(len(xs)), [str(x) for x in xs])
            ax.set_xlabel(axes_keys[0])
            ax.set_ylabel(m)
        else:
            ax.bar([0], [mean_at()])
            ax.set_ylabel(m)
        ax.set_title(", ".join(f"{k}={v}" for k, v in zip(rest, label)), fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep.png"), dpi=100)
    plt.close(fig)
