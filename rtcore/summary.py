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
    """Counts of the values seen (us) in fixed logarithmic bins: memory is fixed, whatever the
    session's length or the values' spread.

    Bins are 2**-FRACTION_BITS of an octave wide (0.07% relative) from FLOOR_US (1 ns) up to
    CEILING_US (1000 s); a value below FLOOR_US counts as 0, one above CEILING_US as CEILING_US,
    and a non-finite one not at all.
    The percentiles are np.percentile's linear method on the bins' geometric centres, so within
    half a bin (0.034%) of the exact figure; the max is exact. (An exact store of every distinct
    value grew by about 10 MB over 30 real-time minutes: wake latencies are nanosecond-resolved and
    rarely repeat.)"""

    FLOOR_US = 1e-3
    CEILING_US = 1e9
    FRACTION_BITS = 10
    STEPS = 2 ** FRACTION_BITS  #: bins per octave
    N_BINS = 1 + int(np.ceil(np.log2(CEILING_US / FLOOR_US) * STEPS))  #: bin 0 holds the values below FLOOR_US

    def __init__(self):
        self.counts = np.zeros(self.N_BINS, np.int64)
        self.max = -np.inf

    def add(self, x) -> None:
        x = np.asarray(x, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if not x.size:
            return
        self.max = max(self.max, float(x.max()))
        octaves = np.log2(np.clip(x, self.FLOOR_US, self.CEILING_US) / self.FLOOR_US)
        bins = np.where(x < self.FLOOR_US, 0, 1 + np.minimum(octaves * self.STEPS, self.N_BINS - 2).astype(np.int64))
        self.counts += np.bincount(bins, minlength=self.N_BINS)

    @property
    def size(self) -> int:
        return int(self.counts.sum())

    def _value(self, b: int) -> float:
        """The value bin b stands for: its geometric centre (0 for bin 0)."""
        return 0.0 if b == 0 else self.FLOOR_US * 2.0 ** ((b - 0.5) / self.STEPS)

    def _order(self, cum, k: int) -> float:
        """The k-th smallest value (0-based), as its bin's value."""
        return self._value(int(np.searchsorted(cum, k, side="right")))

    def quantile(self, q: float) -> float:
        """np.percentile(values, 100 q) with the default linear method, on the bins' values."""
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
        return {"p50": round(min(self.quantile(0.5), self.max), 3),
                "p99": round(min(self.quantile(0.99), self.max), 3), "max": round(self.max, 3)}


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
    host_steal: dict | None = None  #: {"ms", "cpus"}: time the hypervisor took from the loop's CPU(s) (rt.steal_s)


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
    if end.host_steal is not None:
        more["host_steal"] = end.host_steal
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
