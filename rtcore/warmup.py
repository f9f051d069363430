"""A first compile that uses every core: the stage steps compile in parallel processes.

The loop (rtcore.loop._loop, and the API's driver) calls every stage's step through
rtcore.dispatch.stage_step, so its first compile also compiles every stage's step function, one
after the other, on one core. Each step is cached by Numba on its own (cache=True). On a cold cache,
`compile_stage_steps` first compiles them in a pool of processes (one per core, at most
MAX_WORKERS); the loop's own compile then loads them from the cache and only compiles and links
the top of the chain. Measured on this 2-core VM, cold cache: 132 s serial, 76 s with two
workers (43 s for the steps, 33 s for the loop on top).

A step that fails to compile in a worker is compiled again by the loop's own compile, which
raises its error with the full traceback: the pool only saves time, it never hides a failure.
"""
import multiprocessing
import os
import pathlib
from concurrent.futures import ProcessPoolExecutor

#: Workers at most: each holds ~0.5 GB while it compiles, and the slowest step (the Kalman
#: decoder's, ~15 s) bounds what more workers could save.
MAX_WORKERS = 4
#: Numba cache index files of the compiled tops of the chain: the session loop, the API's driver.
#: Either one present means every step is in the cache already.
LOOP, API_DRIVER = "loop._loop-*.nbi", "api._drive-*.nbi"

_warmed = False  # this process has run the pool once


def _cached(*patterns: str) -> bool:
    """True when Numba's cache (of these sources) has a file matching one of patterns."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    return bool(root) and any(next(pathlib.Path(root).rglob(p), None) is not None for p in patterns)


def loop_cached() -> bool:
    """True when Numba's cache holds the compiled loop of these sources (a start then takes ~1 s)."""
    return _cached(LOOP)


def _compile_step(kind: int) -> None:
    """In a worker: compile stage kind's step for the chain's one signature (into the cache)."""
    from numba import types

    from rtcore import families
    step = next(spec.step for _family, spec in families.specs() if spec.kind == kind)
    f64, i64 = types.Array(types.float64, 1, "C"), types.Array(types.int64, 1, "C")
    step.compile((f64, f64, i64, f64))  # (f, s, i, bus): contiguous slices of the packed chain


def compile_stage_steps() -> None:
    """On a cold cache, compile every stage's step in parallel processes; otherwise return at once."""
    global _warmed
    from rtcore import families
    steps = {spec.kind: spec.step for _family, spec in families.specs()}
    workers = min(os.cpu_count() or 1, MAX_WORKERS, len(steps))
    if _warmed or workers < 2 or not all(hasattr(s, "compile") for s in steps.values()) or _cached(LOOP, API_DRIVER):
        return  # done, one core, NUMBA_DISABLE_JIT, or cached
    _warmed = True
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for _ in pool.map(_compile_step, steps):
                pass
    except Exception:  # noqa: BLE001 - the loop's own compile redoes the step and raises its error
        pass
