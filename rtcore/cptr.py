"""Raw C pointers inside compiled code: int64 addresses stored in a stage's int array.

A stage keeps the address of a C-owned buffer (a MuJoCo mjData array, a library handle) as an
int64 in `i`; the step turns it back into a pointer or a numpy view without allocating:

    x = f64_view(i[P_QPOS], nq)      # float64[nq] view of the buffer at that address
    mj_step(voidptr(i[P_MODEL]), voidptr(i[P_DATA]))

Both are plain LLVM inttoptr casts, so they cache to disk (`cache=True`). The caller keeps the
owning Python object alive (Stage.keep) for as long as the address is used. Under
NUMBA_DISABLE_JIT=1 (`rtcore bench` runs the same stages uncompiled) ctypes does the same.
"""
import ctypes

import numba
import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def f64_ptr(typingctx, addr):
    """int64 address -> double* (CPointer(float64))."""
    if not isinstance(addr, types.Integer):
        return None
    sig = types.CPointer(types.float64)(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float64)))

    return sig, codegen


@intrinsic
def voidptr(typingctx, addr):
    """int64 address -> void* (for C entry points declared with types.voidptr)."""
    if not isinstance(addr, types.Integer):
        return None
    sig = types.voidptr(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return sig, codegen


@intrinsic
def u8_ptr(typingctx, addr):
    """int64 address -> uint8_t* (CPointer(uint8)): a C string's bytes."""
    if not isinstance(addr, types.Integer):
        return None
    sig = types.CPointer(types.uint8)(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def f64_view(addr, n):
    """float64[n] view of the C buffer at addr (no copy, no allocation)."""
    return numba.carray(f64_ptr(addr), n)


@njit(cache=True, nogil=True, inline="always")
def u8_view(addr, n):
    """uint8[n] view of the C bytes at addr (no copy; read no further than the buffer's end)."""
    return numba.carray(u8_ptr(addr), n)


if numba.config.DISABLE_JIT:
    def voidptr(addr):  # noqa: F811  (the uncompiled twin: ctypes takes the address as is)
        return int(addr)

    def f64_view(addr, n):  # noqa: F811
        return np.ctypeslib.as_array((ctypes.c_double * int(n)).from_address(int(addr)))

    def u8_view(addr, n):  # noqa: F811
        return np.ctypeslib.as_array((ctypes.c_uint8 * int(n)).from_address(int(addr)))
