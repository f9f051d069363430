"""Declare a C entry point once, for compiled code and for the same code with the JIT off.

`extern(lib, name, restype, argtypes)` returns a numba ExternalFunction bound by symbol name
(cacheable across processes), or, under NUMBA_DISABLE_JIT=1 (`rtcore bench` runs the identical
stage code that way), a ctypes function with the same signature. Pointer arguments are declared
as `voidptr`: compiled code passes `array.ctypes` or an int64 address, ctypes takes either too.
"""
import ctypes

import llvmlite.binding as llvm
from numba import config, types

_CTYPES = {
    types.void: None, types.int32: ctypes.c_int32, types.int64: ctypes.c_int64,
    types.intp: ctypes.c_ssize_t, types.uint32: ctypes.c_uint32, types.uint64: ctypes.c_uint64,
    types.float32: ctypes.c_float, types.float64: ctypes.c_double, types.voidptr: ctypes.c_void_p,
}
_loaded = {}


def load(path: str):
    """Load a shared library into the process (once), for both modes."""
    if path not in _loaded:
        llvm.load_library_permanently(path)
        _loaded[path] = ctypes.CDLL(path)
    return _loaded[path]


def extern(lib_path: str, name: str, restype, argtypes):
    """The C function `name` of lib_path with numba types restype(*argtypes)."""
    lib = load(lib_path)
    if not config.DISABLE_JIT:
        return types.ExternalFunction(name, restype(*argtypes))
    fn = getattr(lib, name)
    fn.restype = _CTYPES[restype]
    fn.argtypes = [_CTYPES[a] for a in argtypes]
    return fn
