"""MuJoCo timing for `rtcore bench`: mj_step from compiled code vs from Python, and the plant tick.

Numbers to compare with science.md §6 (about 2 us per mj_step for a two-link arm, 15 us for the
six-muscle elbow). The compiled figure calls libmujoco's mj_step through sims.mujoco_c in an
@njit loop; the Python figure calls mujoco.mj_step (pybind11) in a Python loop; the plant figure
is one full control tick of sims.plants.mujoco_plant (command mapping, curl force, mj_step2 +
mj_step1, state read-out), called from a compiled loop.
"""
import time

import mujoco
import numpy as np
from numba import njit

import rtcore  # noqa: F401  (Numba cache directory)
from rtcore.bus import Bus
from rtcore.cptr import voidptr
from rtcore.stage import BuildContext
from sims.mujoco_c import data_address, mj_step, model_address
from sims.plants.mujoco_plant import mujoco_plant_step


@njit(cache=True, nogil=True)
def _mj_steps(m_addr, d_addr, n):
    for _ in range(n):
        mj_step(voidptr(m_addr), voidptr(d_addr))


@njit(cache=True, nogil=True)
def _plant_ticks(f, s, i, bus, n):
    for _ in range(n):
        mujoco_plant_step(f, s, i, bus)


def _best_us(fn, n, repeats=5):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def _plant(kind: str):
    from sims import plants
    from rtcore.config import validate
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0, realtime=False)
    plant_cfg = {"kind": kind}
    st = plants.build(validate({"plant": plant_cfg}).plant, ctx)[0]
    bus = ctx.bus.array()
    if kind == "two_link_arm":
        bus[ctx.bus.signals["command"].slice] = (1.0, 0.5)
        bus[ctx.bus.signals["curl"].slice] = (-10.1, -11.2, -11.2, 11.1)
    else:
        bus[ctx.bus.signals["command"].slice] = 0.2
    return ctx, st, bus


def bench_mujoco(n: int = 20000) -> dict:
    """mj_step us (compiled vs Python) and plant tick us, for the two-link arm and the muscle elbow."""
    out = {}
    for kind in ("two_link_arm", "muscle_elbow"):
        ctx, st, bus = _plant(kind)
        m, d = ctx.plant.model, ctx.plant.data
        m_addr, d_addr = model_address(m), data_address(d)
        _mj_steps(m_addr, d_addr, 1)
        _plant_ticks(st.f, st.s, st.i, bus, 1)

        def python_steps(k):
            for _ in range(k):
                mujoco.mj_step(m, d)

        compiled = _best_us(lambda k: _mj_steps(m_addr, d_addr, k), n)
        python = _best_us(python_steps, n)
        tick = _best_us(lambda k: _plant_ticks(st.f, st.s, st.i, bus, k), n)
        out[kind] = {"mj_step_compiled_us": round(compiled, 3), "mj_step_python_us": round(python, 3),
                     "python_over_compiled": round(python / compiled, 2), "plant_tick_us": round(tick, 3),
                     "plant_realtime_factor_1khz": round(1000.0 / tick, 1)}
    return out
