"""Best-effort real-time hardening of the loop process (`--rt`).

SCHED_FIFO, CPU affinity, mlockall(MCL_CURRENT | MCL_FUTURE), 1 ns timer slack, and a frozen,
disabled garbage collector. Each request is tried on its own; the result says what was granted
and, for what was refused, why. Without privileges the session still runs.

The timer slack is tightened for every session, --rt or not: it needs no privilege, and Linux's
default 50 us slack would otherwise make each clock_nanosleep wake ~50 us past its deadline.
"""
import ctypes
import ctypes.util
import gc
import os

MCL_CURRENT, MCL_FUTURE = 1, 2
PR_SET_TIMERSLACK = 29


def harden(priority: int = 80, cpu: int | None = None) -> dict:
    """Apply every hardening step; returns {step: True | "refused: reason"}."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    out = {}

    def attempt(name, fn):
        try:
            fn()
            out[name] = True
        except OSError as e:
            out[name] = f"refused: {e.strerror or e}"

    attempt("sched_fifo", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority)))
    target = cpu if cpu is not None else max(os.sched_getaffinity(0))
    attempt("cpu_affinity", lambda: os.sched_setaffinity(0, {target}))
    if out["cpu_affinity"] is True:
        out["cpu"] = target

    def c_call(fn, *args):
        if fn(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    attempt("mlockall", lambda: c_call(libc.mlockall, MCL_CURRENT | MCL_FUTURE))
    out["timer_slack_1ns"] = tighten_timer_slack()
    gc.collect()
    gc.freeze()
    gc.disable()
    out["gc_frozen"] = True
    return out


def tighten_timer_slack():
    """Set this thread's timer slack to 1 ns (prctl PR_SET_TIMERSLACK); True or "refused: reason"."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(1), 0, 0, 0) != 0:
        return f"refused: {os.strerror(ctypes.get_errno())}"
    return True


def not_requested() -> dict:
    """The rt block of a session run without --rt (the timer slack is tightened anyway)."""
    return {"requested": False, "timer_slack_1ns": tighten_timer_slack()}
