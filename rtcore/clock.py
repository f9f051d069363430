"""CLOCK_MONOTONIC time and absolute-deadline sleep, callable from compiled code.

libc's clock_gettime and clock_nanosleep are bound by symbol name (numba ExternalFunction), so
the compiled loop waits without the GIL and the on-disk cache stays valid across processes.
A `struct timespec` is a caller-provided int64[2] scratch array, so nothing allocates.
"""
import ctypes.util

from numba import njit, types

from rtcore.cbind import extern

LIBC = ctypes.util.find_library("c")

CLOCK_MONOTONIC = 1
TIMER_ABSTIME = 1

_clock_gettime = extern(LIBC, "clock_gettime", types.int32, (types.int32, types.voidptr))
_clock_nanosleep = extern(LIBC, "clock_nanosleep", types.int32, (types.int32, types.int32, types.voidptr, types.intp))
EINTR = 4


@njit(cache=True, nogil=True)
def monotonic_ns(ts):
    """CLOCK_MONOTONIC now, ns. ts: int64[2] scratch for the timespec."""
    _clock_gettime(CLOCK_MONOTONIC, ts.ctypes)
    return ts[0] * 1_000_000_000 + ts[1]


@njit(cache=True, nogil=True)
def sleep_until_ns(deadline_ns, spin_ns, ts):
    """Sleep to deadline_ns - spin_ns with clock_nanosleep(TIMER_ABSTIME), then spin to the
    deadline. Returns the wake time, ns. Spinning trades CPU for a tighter wake (jitter)."""
    wake_at = deadline_ns - spin_ns
    now = monotonic_ns(ts)
    if now < wake_at:
        ts[0] = wake_at // 1_000_000_000
        ts[1] = wake_at % 1_000_000_000
        while _clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts.ctypes, 0) == EINTR:
            pass
        now = monotonic_ns(ts)
    while now < deadline_ns:
        now = monotonic_ns(ts)
    return now


def lsl_clock_mapping(samples: int = 200) -> dict:
    """How LSL's clock maps to CLOCK_MONOTONIC, measured now (for a recording's header).

    liblsl's lsl_local_clock() is std::chrono::steady_clock, which is CLOCK_MONOTONIC on Linux,
    so the loop's stamps (CLOCK_MONOTONIC) are LSL stamps. Measures lsl_local_clock minus the
    midpoint of two CLOCK_MONOTONIC reads around it: the median (s) and the largest |difference| (s).
    """
    import time

    import numpy as np
    try:
        from pylsl import local_clock
    except ImportError as e:  # pragma: no cover - pylsl is a dependency
        return {"clock": "CLOCK_MONOTONIC", "lsl": f"not measured ({e})"}
    d = np.empty(samples)
    for k in range(samples):
        a = time.clock_gettime(time.CLOCK_MONOTONIC)
        t = local_clock()
        b = time.clock_gettime(time.CLOCK_MONOTONIC)
        d[k] = t - 0.5 * (a + b)
    return {"clock": "CLOCK_MONOTONIC", "lsl_minus_monotonic_s": float(np.median(d)),
            "lsl_minus_monotonic_max_abs_s": float(np.abs(d).max())}
