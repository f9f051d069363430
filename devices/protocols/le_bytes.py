"""Little-endian integer fields in uint8 buffers, for compiled packet code (both protocols)."""
from numba import njit


@njit(cache=True, nogil=True)
def put_u16(buf, off, v):
    """buf[off:off+2] = v as uint16 LE."""
    buf[off] = v & 0xFF
    buf[off + 1] = (v >> 8) & 0xFF


@njit(cache=True, nogil=True)
def put_i32(buf, off, v):
    """buf[off:off+4] = v as int32 LE (two's complement)."""
    u = v & 0xFFFFFFFF
    buf[off] = u & 0xFF
    buf[off + 1] = (u >> 8) & 0xFF
    buf[off + 2] = (u >> 16) & 0xFF
    buf[off + 3] = (u >> 24) & 0xFF


@njit(cache=True, nogil=True)
def get_u16(buf, off):
    """uint16 LE at buf[off]."""
    return int(buf[off]) | (int(buf[off + 1]) << 8)


@njit(cache=True, nogil=True)
def get_i32(buf, off):
    """int32 LE at buf[off] (sign-extended)."""
    u = int(buf[off]) | (int(buf[off + 1]) << 8) | (int(buf[off + 2]) << 16) | (int(buf[off + 3]) << 24)
    return u - (1 << 32) if u >= (1 << 31) else u


@njit(cache=True, nogil=True)
def get_i16(buf, off):
    """int16 LE at buf[off] (sign-extended)."""
    u = get_u16(buf, off)
    return u - (1 << 16) if u >= (1 << 15) else u
