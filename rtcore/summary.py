"""summary.json: what a session did, from its timing columns and control block."""
import numpy as np

from rtcore import status
from rtcore.loop import (CTRL_HOLD_TICKS, CTRL_LAST_NS, CTRL_MISSES, CTRL_RING_DROPPED, CTRL_T0_NS,
                         CTRL_TICKS)


def percentiles(x) -> dict:
    """{p50, p99, max} of a 1-D array (us), or nulls when empty."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(x, [50, 99])
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "max": round(float(x.max()), 3)}


def stage_counters(stage_names, counts) -> dict:
    """Non-zero status counters per stage: {"source": {"NaN/Inf sample rejected ...": 3}}."""
    out = {}
    for k, name in enumerate(stage_names):
        row = {status.describe(c): int(n) for c, n in enumerate(counts[k]) if n and c != status.OK}
        if row:
            key = name if name not in out else f"{name}[{k}]"
            out[key] = row
    return out


def summarize(cfg, *, ctrl, counts, stage_names, wake_us, compute_us, session_wall_s, compile_s, build_s,
              rt, exit_code, exit_stage, exit_text=None, extra=None) -> dict:
    """The summary dict written as summary.json."""
    ticks = int(ctrl[CTRL_TICKS])
    rate = cfg.loop.rate_hz
    sim_s = ticks / rate
    # the loop's own wall time: first deadline to the end of the last tick (CLOCK_MONOTONIC)
    wall_s = max((int(ctrl[CTRL_LAST_NS]) - int(ctrl[CTRL_T0_NS])) * 1e-9, 0.0) if ticks else 0.0
    reason = exit_text or status.describe(exit_code)
    if exit_stage is not None and exit_stage >= 0 and exit_text is None:
        reason = f"{stage_names[exit_stage]}: {reason}"
    out = {
        "ticks": ticks,
        "rate_hz": rate,
        "duration_s": round(sim_s, 6),
        "wall_s": round(wall_s, 6),
        "session_wall_s": round(session_wall_s, 3),
        "realtime": cfg.loop.realtime,
        "realtime_factor": round(sim_s / wall_s, 3) if wall_s > 0 else None,
        "deadline_misses": int(ctrl[CTRL_MISSES]),
        "wake_latency_us": percentiles(wake_us) if cfg.loop.realtime else None,
        "compute_us": percentiles(compute_us),
        "ring_dropped_rows": int(ctrl[CTRL_RING_DROPPED]),
        "hold_ticks": int(ctrl[CTRL_HOLD_TICKS]),
        "status_counts": stage_counters(stage_names, counts),
        "rt": rt,
        "compile_s": round(compile_s, 3),
        "build_s": round(build_s, 3),
        "exit_code": int(exit_code),
        "exit_reason": reason,
        "ok": int(exit_code) in status.NORMAL_ENDS,
        "config": cfg.model_dump(mode="json"),
    }
    if extra:
        out.update(extra)
    return out
