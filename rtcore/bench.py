"""`rtcore bench`: timing of the compiled tick, the same code with the JIT off, wake jitter,
and each family's own benchmark. Benchmarks report numbers; they never assert them.
"""
import json
import os
import subprocess
import sys
import tempfile

from devices.bench import bench_serial
from devices.emulators.firmware_bench import bench_firmware_hil
from devices.lsl.bench import bench_lsl
from rtcore.cerebellum.bench import bench_forward_model
from rtcore.checkpoint_bench import bench_checkpoint
from rtcore.config import TICK_CONFIG
from rtcore.decoders.bench import bench_decoders
from rtcore.learning.bench import bench_learning_stage, bench_trial_learning
from rtcore.summary import percentiles
from sims.bench import bench_mujoco

#: The demo chain with in-process I/O, so that offline timing measures compute only.

#: Family benchmarks, each returning a dict of numbers (reported under its name without "bench_").
FAMILY_BENCHES = (bench_forward_model, bench_mujoco, bench_lsl, bench_decoders, bench_trial_learning, bench_learning_stage,
                  bench_checkpoint, bench_serial, bench_firmware_hil)


def offline_compute(config_path: str, ticks: int) -> dict:
    """Per-tick compute of the session's chain, offline (whatever NUMBA_DISABLE_JIT says)."""
    from rtcore import config, session
    cfg = config.load(config_path, ["loop.realtime=false"])
    r = session.run_offline(cfg, config_path, max_ticks=ticks)
    c = r.rows[1:, 3]  # skip the first tick (first-touch effects)
    return {"ticks": int(r.summary["ticks"]), "compute_us": percentiles(c),
            "mean_us": round(float(c.mean()), 3), "realtime_factor": r.summary["realtime_factor"],
            "exit_reason": r.summary["exit_reason"]}


def _nojit(config_path: str, ticks: int) -> dict:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    code = ("import json, sys; from rtcore.bench import offline_compute; "
            f"print(json.dumps(offline_compute({str(config_path)!r}, {ticks})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def realtime_jitter(config_path: str, seconds: float, rt: bool) -> dict:
    """Wake latency of a supervised 1 kHz session, with or without --rt."""
    from rtcore import config, supervisor
    sets = [f"session.duration_s={seconds}", "loop.rate_hz=1000", "loop.realtime=true", f"loop.rt={str(rt).lower()}"]
    cfg = config.load(config_path, sets)
    with tempfile.TemporaryDirectory() as out:
        s = supervisor.run(cfg, config_path, out, live=False).summary
    return {"wake_latency_us": s["wake_latency_us"], "compute_us": s["compute_us"],
            "deadline_misses": s["deadline_misses"], "ticks": s["ticks"], "rt": s["rt"],
            "exit_reason": s["exit_reason"]}


def run(config_path=None, ticks=20000, nojit_ticks=500, jitter_s=3.0) -> dict:
    config_path = str(config_path or TICK_CONFIG)
    jit = offline_compute(config_path, ticks)
    nojit = _nojit(config_path, nojit_ticks)
    out = {"config": config_path, "compiled": jit, "jit_off": nojit,
           "jit_speedup_p50": round(nojit["compute_us"]["p50"] / jit["compute_us"]["p50"], 1),
           "jit_speedup_mean": round(nojit["mean_us"] / jit["mean_us"], 1)}
    if jitter_s > 0:
        out["jitter_plain"] = realtime_jitter(config_path, jitter_s, rt=False)
        out["jitter_rt"] = realtime_jitter(config_path, jitter_s, rt=True)
    for bench in FAMILY_BENCHES:
        out[bench.__name__.removeprefix("bench_")] = bench()
    return out


def table(res: dict) -> str:
    """A plain-text table of the headline numbers."""
    j, n = res["compiled"], res["jit_off"]
    rows = [("compiled tick compute p50/p99 (us)", f"{j['compute_us']['p50']} / {j['compute_us']['p99']}"),
            ("JIT off tick compute p50/p99 (us)", f"{n['compute_us']['p50']} / {n['compute_us']['p99']}"),
            ("JIT speedup (p50, mean)", f"{res['jit_speedup_p50']}x, {res['jit_speedup_mean']}x"),
            ("offline realtime factor", f"{j['realtime_factor']}")]
    for key, label in (("jitter_plain", "wake latency 1 kHz"), ("jitter_rt", "wake latency 1 kHz --rt")):
        if key in res:
            w = res[key]["wake_latency_us"]
            rows.append((f"{label} p50/p99/max (us)", f"{w['p50']} / {w['p99']} / {w['max']}  "
                                                        f"(misses {res[key]['deadline_misses']})"))
    for fam in (k for k in res if k not in ("config", "compiled", "jit_off", "jit_speedup_p50",
                                            "jit_speedup_mean", "jitter_plain", "jitter_rt")):
        for k, v in _flat(res[fam]):
            rows.append((f"{fam}: {k}", json.dumps(v) if isinstance(v, (dict, list)) else str(v)))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def _flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict) and all(not isinstance(x, dict) for x in v.values()) and len(v) <= 4:
            yield prefix + k, ", ".join(f"{kk} {vv}" for kk, vv in v.items())
        elif isinstance(v, dict):
            yield from _flat(v, prefix + k + ".")
        else:
            yield prefix + k, v
