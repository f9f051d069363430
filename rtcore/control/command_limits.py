"""Shared pieces of the controllers' steps: command limits and the HOLD posture latch."""
import math

from numba import njit

from rtcore import status


@njit(cache=True, nogil=True)
def clip_norm(bus, off, n, limit):
    """Scale bus[off:off+n] down to norm <= limit; LIMIT_CLIPPED if it was scaled."""
    sq = 0.0
    for j in range(n):
        sq += bus[off + j] * bus[off + j]
    norm = math.sqrt(sq)
    if norm <= limit:
        return status.OK
    for j in range(n):
        bus[off + j] *= limit / norm
    return status.LIMIT_CLIPPED


@njit(cache=True, nogil=True)
def hold_latch(s, i, k_latched, hold, bus, src, n):
    """On the first HOLD tick copy bus[src:src+n] into s[0:n] (the posture held); clear on release."""
    if hold and i[k_latched] == 0:
        for j in range(n):
            s[j] = bus[src + j]
        i[k_latched] = 1
    elif not hold:
        i[k_latched] = 0
