"""libmujoco C entry points for compiled code, bound by symbol name (mujoco == 3.17.0).

The shared library bundled in the `mujoco` wheel is loaded once into the process
(llvmlite load_library_permanently), and each entry point is declared as a Numba
ExternalFunction, so compiled steps call C directly and still cache to disk. The model and
data pointers are the private `MjModel._address` / `MjData._address`, and the array addresses
are those of the numpy views `d.qpos`, `d.ctrl`, ... (pointers into mjData's arena): this is
private API, hence the exact version pin in pyproject.toml, checked at import.

Declared (mujoco.h, 3.17.0):
    void mj_step(const mjModel* m, mjData* d);
    void mj_step1(const mjModel* m, mjData* d);      // position and velocity stages
    void mj_step2(const mjModel* m, mjData* d);      // actuation, acceleration, integration
    void mj_forward(const mjModel* m, mjData* d);
    void mj_jacSite(const mjModel* m, const mjData* d, mjtNum* jacp, mjtNum* jacr, int site);
"""
import os

import mujoco
from numba import types

from rtcore.cbind import extern

MUJOCO_VERSION = "3.17.0"  #: the version whose private struct API (._address) this module uses

if mujoco.__version__ != MUJOCO_VERSION:
    raise ImportError(f"sims.mujoco_c binds libmujoco {MUJOCO_VERSION}, found mujoco {mujoco.__version__}; "
                      f"install mujoco=={MUJOCO_VERSION}")

LIBRARY_PATH = os.path.join(os.path.dirname(mujoco.__file__), f"libmujoco.so.{MUJOCO_VERSION}")
_MD = (types.voidptr, types.voidptr)
mj_step = extern(LIBRARY_PATH, "mj_step", types.void, _MD)
mj_step1 = extern(LIBRARY_PATH, "mj_step1", types.void, _MD)
mj_step2 = extern(LIBRARY_PATH, "mj_step2", types.void, _MD)
mj_forward = extern(LIBRARY_PATH, "mj_forward", types.void, _MD)
mj_jacSite = extern(LIBRARY_PATH, "mj_jacSite", types.void,
                    (types.voidptr, types.voidptr, types.voidptr, types.voidptr, types.int32))


def model_address(m: mujoco.MjModel) -> int:
    """mjModel* of a Python MjModel (private attribute, 3.17.0)."""
    return int(m._address)


def data_address(d: mujoco.MjData) -> int:
    """mjData* of a Python MjData (private attribute, 3.17.0)."""
    return int(d._address)


def array_address(a) -> int:
    """Address of a C-contiguous float64 numpy view into mjModel/mjData (d.qpos, d.ctrl, ...)."""
    if a.dtype.kind != "f" or a.itemsize != 8 or not a.flags.c_contiguous:
        raise ValueError(f"expected a contiguous float64 MuJoCo array, got {a.dtype} {a.flags}")
    return int(a.ctypes.data)
