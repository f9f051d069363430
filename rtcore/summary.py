"""summary.json: what a session did, from its timing columns and control block, with its verdict."""
import signal
from dataclasses import dataclass

import numpy as np

from rtcore import status, verdict
from rtcore.loop import (CTRL_HOLD_TICKS, CTRL_LAST_NS, CTRL_MISSES, CTRL_RING_DROPPED, CTRL_RING_WAITS,
                         CTRL_STATE, CTRL_T0_NS, CTRL_TICKS, STATE_DONE)


def percentiles(x) -> dict:
    """{p50, p99, max} of a 1-D array or a Distribution (us), or nulls when empty."""
    if isinstance(x, Distribution):
        return x.percentiles()
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(x, [50, 99])
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "max": round(float(x.max()), 3)}


class Distribution:
    """Every value seen, kept as its distinct values and their counts.

    The percentiles are np.percentile's (linear interpolation between order statistics, the same
    floating-point steps), but memory grows with the number of distinct values (bounded by the
    timing columns' resolution and range), not with the session's length. Values are merged in
    batches of MERGE_AT."""

    MERGE_AT = 65536

    def __init__(self):
        self.values = np.zeros(0)
        self.counts = np.zeros(0, np.int64)
        self._pending, self._n_pending = [], 0

    def add(self, x) -> None:
        x = np.array(x, dtype=np.float64).ravel()
        if x.size:
            self._pending.append(x)
            self._n_pending += x.size
        if self._n_pending >= self.MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        v, c = np.unique(np.concatenate(self._pending), return_counts=True)
        self.values, at = np.unique(np.concatenate([self.values, v]), return_inverse=True)
        self.counts = np.bincount(at, np.concatenate([self.counts, c])).astype(np.int64)
        self._pending, self._n_pending = [], 0

    @property
    def size(self) -> int:
        self._merge()
        return int(self.counts.sum())

    def _order(self, cum, k: int) -> float:
        """The k-th smallest value (0-based)."""
        return self.values[int(np.searchsorted(cum, k, side="right"))]

    def quantile(self, q: float) -> float:
        """np.percentile(values, 100 q) with the default linear method."""
        self._merge()
        cum = np.cumsum(self.counts)
        n = int(cum[-1])
        q = np.float64(q)
        virtual = (n - 1) * q  # numpy's virtual index of the linear method
        lo = np.floor(virtual)
        gamma = virtual - lo
        a = self._order(cum, int(min(max(lo, 0), n - 1)))
        b = self._order(cum, int(min(max(lo + 1, 0), n - 1)))
        diff = b - a
        return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)

    def percentiles(self) -> dict:
        if self.size == 0:
            return {"p50": None, "p99": None, "max": None}
        return {"p50": round(self.quantile(0.5), 3), "p99": round(self.quantile(0.99), 3),
                "max": round(float(self.values[-1]), 3)}


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
              rt, exit_code, exit_stage, exit_text=None, extra=None, stopped_by=None, more=None) -> dict:
    """The summary dict written as summary.json, judged (`verdict`, `reasons`, `ok`) last.

    stopped_by: how the user stopped the session ("Ctrl-C", "SIGTERM", ...), or None.
    more: parent-side entries (recorded rows, child exit) that the verdict also reads."""
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
        "ring_waits": int(ctrl[CTRL_RING_WAITS]),
        "time_base": "lsl_local_clock" if cfg.loop.realtime else "simulated",
        "hold_ticks": int(ctrl[CTRL_HOLD_TICKS]),
        "status_counts": stage_counters(stage_names, counts),
        "rt": rt,
        "compile_s": round(compile_s, 3),
        "build_s": round(build_s, 3),
        "exit_code": int(exit_code),
        "exit_reason": reason,
        "stopped_by": stopped_by,
        "config": cfg.model_dump(mode="json"),
    }
    if ctrl[CTRL_RING_DROPPED]:  # the loop's own count: rows the recording lost (real time, ring full)
        out["status_counts"]["loop"] = {status.describe(status.RING_OVERFLOW): int(ctrl[CTRL_RING_DROPPED])}
    if extra:
        out.update(extra)
    if more:
        out.update(more)
    out["verdict"], out["reasons"] = verdict.judge(out)
    out["ok"] = out["verdict"] == verdict.OK
    return out


@dataclass(frozen=True)
class SessionEnd:
    """What the supervising parent knows once the loop process has gone (rtcore.supervisor)."""

    ready: dict | None  #: child_ready.json; None if the loop process never got ready
    done: dict | None  #: child_done.json; None if it did not end by itself
    error: str | None  #: child_error.json's one line: a config mistake found while building
    returncode: int | None  #: the loop process's exit status (negative: killed by that signal)
    hung: bool  #: killed by the parent after loop.heartbeat_timeout_s without a tick
    stopped_by: str | None  #: "Ctrl-C", "SIGTERM" or "SIGHUP" if the user stopped the session
    wall_s: float  #: the parent's wall time from start to the end of the recording, s
    wake_us: "Distribution | np.ndarray"  #: recorded wake latency per tick, us
    compute_us: "Distribution | np.ndarray"  #: recorded compute time per tick, us
    recorded_rows: int  #: rows in session.xdf
    learning: dict | None  #: the recorder's learning summary, if it recorded any
    checkpoint: dict | None = None  #: the checkpoint writer's report (rtcore.checkpoint.Writer.report)
    resumed: dict | None = None  #: what the session loaded from a checkpoint (rtcore.checkpoint.resume)


def supervised(cfg, ctrl, counts, end: SessionEnd, out_dir: str) -> dict:
    """The summary of a supervised session from its control block, status counts and end record."""
    code, text = _exit(cfg, ctrl, end, out_dir)
    ready = end.ready or {}
    more = {"recorded_rows": end.recorded_rows, "child_exit": describe_exit(end.returncode)}
    if end.learning is not None:
        more["learning"] = end.learning
    if end.checkpoint is not None:
        more["checkpoint"] = end.checkpoint
    if end.resumed is not None:
        more["resumed"] = end.resumed
    return summarize(cfg, ctrl=ctrl, counts=counts, stage_names=ready.get("stages", []), wake_us=end.wake_us,
                     compute_us=end.compute_us, session_wall_s=end.wall_s, compile_s=ready.get("compile_s", 0.0),
                     build_s=ready.get("build_s", 0.0), rt=ready.get("rt", {}), exit_code=code,
                     exit_stage=end.done["exit_stage"] if end.done else -1, exit_text=text,
                     extra=(end.done or {}).get("reports"), stopped_by=end.stopped_by, more=more)


def _exit(cfg, ctrl, end: SessionEnd, out_dir: str) -> tuple[int, str | None]:
    """(status code, text or None for the code's own text) of how the session ended."""
    if end.ready is None:
        if end.stopped_by:
            return status.STOPPED, f"stopped by {end.stopped_by} before the loop started"
        if end.error is not None:
            return -1, end.error
        return -1, f"child failed before the loop started ({describe_exit(end.returncode)}); see {out_dir}/child.log"
    if end.done is not None:
        code = end.done["exit_code"]
        if end.stopped_by and code == status.STOPPED:
            return code, f"stopped by {end.stopped_by}"
        return code, None
    if end.hung:
        return -1, f"child hung: no tick for {cfg.loop.heartbeat_timeout_s} s; killed"
    if ctrl[CTRL_STATE] == STATE_DONE:  # the loop ended, then the child died before its reports
        return -1, (f"child died: {describe_exit(end.returncode)}, after the loop ended and before its stage "
                    f"reports (the task's trial metrics and the devices' reports are lost; the recording is "
                    f"kept); see {out_dir}/child.log")
    return -1, f"child died: {describe_exit(end.returncode)}; see {out_dir}/child.log"


def describe_exit(code) -> str:
    """A process exit status in words: "exit code 1", "killed by SIGABRT"."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
