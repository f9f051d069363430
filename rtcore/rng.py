"""Seeded random numbers inside compiled steps: splitmix64 state in one int64 slot of a stage.

A stage keeps its generator state in its own int array, so runs are reproducible from the
session seed, stages do not share Numba's global generator, and nothing allocates.
splitmix64: Steele, Lea & Flood 2014, OOPSLA ("Fast splittable pseudorandom number generators").
Poisson: Knuth's product method for lam < 10, else PTRS (Hoermann 1993, Insurance Math Econ 12:39).
"""
import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_M53 = 1.0 / 9007199254740992.0


def seed_state(*keys: int) -> int:
    """A 64-bit initial state (as int64) from the session seed and a stream key, via SeedSequence."""
    word = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0]
    return int(word.astype(np.int64))


@njit(cache=True, nogil=True)
def next_u64(st, k):
    """Advance the splitmix64 state st[k] (int64 slot) and return the next 64-bit output."""
    x = np.uint64(st[k]) + _GOLDEN
    st[k] = np.int64(x)
    z = (x ^ (x >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def uniform(st, k):
    """U[0, 1) with 53 random bits."""
    return float(next_u64(st, k) >> np.uint64(11)) * _TWO_M53


@njit(cache=True, nogil=True)
def normal(st, k):
    """Standard normal N(0, 1) by Box-Muller (one of the pair is used)."""
    u1 = 1.0 - uniform(st, k)  # (0, 1]
    u2 = uniform(st, k)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True)
def poisson(lam, st, k):
    """A Poisson(lam) count; lam >= 0 (expected events)."""
    if lam <= 0.0:
        return 0.0
    if lam < 10.0:
        limit = math.exp(-lam)
        n = 0.0
        p = uniform(st, k)
        while p > limit:
            n += 1.0
            p *= uniform(st, k)
        return n
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(st, k) - 0.5
        v = uniform(st, k)
        us = 0.5 - abs(u)
        n = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return n
        if n < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= -lam + n * loglam - math.lgamma(n + 1.0):
            return n
