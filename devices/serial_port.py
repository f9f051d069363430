"""Serial transport: pyserial opens and configures the port; the tick reads and writes its fd.

pyserial does the one-off work (open, baud, raw mode, exclusive lock); after that the port is
a non-blocking file descriptor and the compiled tick calls libc `read`/`write` on it directly,
bound by symbol name (numba ExternalFunction), so per-tick I/O takes no GIL and never blocks.
A 20-byte write or an empty read costs one syscall, about 1-3 us (see devices.bench).

The fd is put in non-canonical mode with VMIN = 1, VTIME = 0 and O_NONBLOCK, so that
    read() > 0   bytes arrived,
    read() = -1, errno EAGAIN   nothing yet,
    read() = 0 or -1 with any other errno   the port is gone (pty closed, USB unplugged).
(With pyserial's default VMIN = 0 an empty port and a hung-up port both read 0.)
"""
import ctypes.util
import errno
import os
import select
import termios
import time

import llvmlite.binding as llvm
from numba import njit, types

llvm.load_library_permanently(ctypes.util.find_library("c"))

_read = types.ExternalFunction("read", types.intp(types.int32, types.voidptr, types.uintp))
_write = types.ExternalFunction("write", types.intp(types.int32, types.voidptr, types.uintp))
_errno_location = types.ExternalFunction("__errno_location", types.CPointer(types.int32)())

EAGAIN = errno.EAGAIN
EINTR = errno.EINTR
PORT_LOST = -1  #: fd_read / fd_write result: the port is gone
WOULD_BLOCK = -2  #: fd_write result: the kernel buffer is full, nothing written


@njit(cache=True, nogil=True)
def fd_read(fd, buf):
    """Read what is available into buf (uint8[n]) without blocking.

    Returns the byte count (0 = nothing available) or PORT_LOST."""
    while True:
        r = _read(fd, buf.ctypes, buf.size)
        if r > 0:
            return r
        if r == 0:
            return PORT_LOST
        e = _errno_location()[0]
        if e == EAGAIN:
            return 0
        if e != EINTR:
            return PORT_LOST


@njit(cache=True, nogil=True)
def fd_write(fd, buf):
    """Write all of buf (uint8[n]) without blocking. Returns n, WOULD_BLOCK or PORT_LOST.

    A partial write (kernel buffer nearly full) is retried for the rest; if the buffer is full
    the remainder is dropped and WOULD_BLOCK returned (the caller counts PUSH_FAILED)."""
    done = 0
    while done < buf.size:
        r = _write(fd, buf[done:].ctypes, buf.size - done)
        if r > 0:
            done += r
            continue
        e = _errno_location()[0]
        if r < 0 and e == EINTR:
            continue
        if r < 0 and e == EAGAIN:
            return WOULD_BLOCK
        return PORT_LOST
    return done


def available_ports() -> list[str]:
    """Device paths of the serial ports the OS lists (serial.tools.list_ports)."""
    from serial.tools import list_ports
    return sorted(p.device for p in list_ports.comports())


def open_port(port: str, baud: int, where: str = "plant.port"):
    """Open a serial port for the tick: pyserial, exclusive, raw, then VMIN=1 + O_NONBLOCK.

    Returns the serial.Serial (keep it alive; its fileno() is what the tick uses). A missing
    or busy port raises a one-line ValueError that lists the available ports."""
    import serial
    try:
        sp = serial.Serial(port, int(baud), timeout=0, write_timeout=0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        have = ", ".join(available_ports()) or "none"
        reason = "no such port" if not os.path.exists(port) else f"cannot open ({_short(e)})"
        raise ValueError(f"{where} = {port}: {reason}; available: {have} (see `rtcore ports`)") from None
    fd = sp.fileno()
    attrs = termios.tcgetattr(fd)
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    os.set_blocking(fd, False)
    sp.reset_input_buffer()
    return sp


def close_port(sp) -> None:
    """Drain what is queued (the disable message) and close; a vanished port is not an error here."""
    import serial
    for op in (sp.flush, sp.close):
        try:
            op()
        except (OSError, termios.error, serial.SerialException):
            pass


def _short(e: Exception) -> str:
    text = str(e).split(":")[0] if ":" in str(e) else str(e)
    return text.strip() or type(e).__name__


def write_all(fd: int, data: bytes, timeout_s: float) -> None:
    """Build-time write of a whole message within timeout_s (OSError if the port is gone)."""
    end = time.monotonic() + timeout_s
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            if time.monotonic() > end:
                raise TimeoutError(f"serial write timed out after {timeout_s:.3f} s") from None
            select.select([], [fd], [], max(end - time.monotonic(), 0.0))


def read_some(fd: int, timeout_s: float) -> bytes:
    """Build-time read: the bytes that arrive within timeout_s (b'' on timeout).

    Raises OSError(EIO) if the port is gone."""
    r, _, _ = select.select([fd], [], [], max(timeout_s, 0.0))
    if not r:
        return b""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return b""
    if not data:
        raise OSError(errno.EIO, "serial port closed")
    return data
