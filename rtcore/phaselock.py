"""Tick phase lock: move the loop's schedule so that ticks fall just after input samples arrive.

With a free-running schedule a sample waits for the next tick for a time set by the phase between
the source's clock and the loop's: anywhere up to one period, fixed for a whole run. A source
stage that knows its samples' stamps calls `observe` each tick; it returns a phase shift (s) the
stage adds to bus TICK_SHIFT_S, and the loop moves its next deadlines by it.

The rule is stochastic approximation of a quantile (Robbins & Monro 1951). A sample is late if
it missed the first tick after its stamp (age at this tick >= one period, so it arrived after the
previous tick). Late: shift the schedule later by step * (1 - q); on time: earlier by step * q.
The phase settles where a fraction q of samples are late: ticks land at the (1 - q) quantile of
the push-to-inlet delay. Each move is a few us, so the rate stays nominal.

Sources that push chunks stamp all but the newest sample of a chunk before the push, so those
samples always look late and the quantile above is unreachable. When most arrivals bring more than
one sample, only the newest sample of each tick is judged. Until the first WINDOW arrivals have
shown that pushes are single samples, the lock judges newest samples only (safe for both).
"""
from numba import njit

from rtcore.layout import Layout

#: The lock's state (float64), kept in the source stage's s array: late and judged samples, arrivals
#: and multi-sample arrivals in this window, and whether pushes are single samples (1/0).
LOCK = Layout("late judged arrivals multi single", "phaselock")
PL, PL_LEN = LOCK.slots, LOCK.size({})
WINDOW = 256  #: arrivals per decision on single-sample pushes


@njit(cache=True, nogil=True)
def observe(st, now, stamps, n, offset, dt, late_frac, step, waited):
    """Judge this tick's n samples (stamps[0:n], oldest first, source clock; local = stamp + offset)
    at tick time `now` (s) with loop period dt (s). waited: the tick had to wait for its first
    sample (it was not queued at the tick), which counts as one late sample. Returns the phase
    shift to request, s."""
    st[PL.arrivals] += 1.0
    if n > 1:
        st[PL.multi] += 1.0
    if st[PL.arrivals] >= WINDOW:
        st[PL.single] = 1.0 if 2.0 * st[PL.multi] < st[PL.arrivals] else 0.0
        st[PL.arrivals] = 0.0
        st[PL.multi] = 0.0
    if waited:
        st[PL.judged] += 1.0
        st[PL.late] += 1.0
        return step * (1.0 - late_frac)
    first = 0 if st[PL.single] != 0.0 else n - 1
    shift = 0.0
    for r in range(first, n):
        st[PL.judged] += 1.0
        if now - (stamps[r] + offset) >= dt:
            st[PL.late] += 1.0
            shift += step * (1.0 - late_frac)
        else:
            shift -= step * late_frac
    return shift
