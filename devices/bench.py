"""Serial round-trip budget: command -> state over a pty, compiled fd I/O vs an I/O thread.

bench_serial() -> dict of numbers (us), wired into `rtcore bench`:
- fd_read_empty_us: one non-blocking read() from compiled code on an idle port (the per-tick
  cost when no bytes arrived).
- reflector_fd_*: framed COMMAND -> STATE round trip (matched by sequence number), the host
  writing and reading the fd from compiled code (the design the plant stages use), against a
  compiled reflector process blocked in read() on the pty master (so the numbers are
  transport + protocol, not a Python device).
- reflector_thread_*: the same exchange through the alternative design, a Python I/O thread
  that moves bytes between the fd and lock-free single-producer rings the compiled side polls
  (select() with a 100 us timeout to notice outgoing bytes).
- framed_emulator_*, dynamixel_emulator_*: the same with the Python emulators in a child
  process (framed: one COMMAND/STATE; dynamixel: SYNC_WRITE + SYNC_READ of 2 servos).
Each *_p50_us / *_p99_us over `n` exchanges.
"""
import os
import subprocess
import sys
import threading

import numpy as np
from numba import njit

from rtcore.clock import monotonic_ns
from devices import serial_port
from devices.protocols import dynamixel
from devices.protocols import framed


@njit(cache=True, nogil=True)
def _link_buffers():
    """Scratch of one end of the framed link: timespec, read buffer, frame accumulator and its
    state, frame body, wire frame."""
    return (np.zeros(2, np.int64), np.zeros(1024, np.uint8), np.zeros(framed.MAX_WIRE, np.uint8),
            np.zeros(1, np.int64), np.zeros(framed.MAX_BODY, np.uint8), np.zeros(framed.MAX_WIRE, np.uint8))


@njit(cache=True, nogil=True)
def _reflect(fd, n_joints, seconds):
    """Far end: answer every valid frame on fd with a STATE acknowledging its seq, for `seconds`."""
    ts, rx, acc, st, body, wire = _link_buffers()
    reply = np.zeros(framed.MAX_BODY, np.uint8)
    q = np.zeros(n_joints)
    end = monotonic_ns(ts) + int(seconds * 1e9)
    while monotonic_ns(ts) < end:
        r = serial_port.fd_read(fd, rx)
        if r < 0:
            return
        pos = 0
        while pos < r:
            pos, k = framed.next_frame(acc, st, rx, pos, r, body)
            if k > 0:
                nb = framed.put_state(reply, 0, framed.FLAG_ENABLED, body[1], q, q, q, n_joints)
                m = framed.frame_encode(reply, nb, wire)
                serial_port.fd_write(fd, wire[:m])


@njit(cache=True, nogil=True)
def _command_wire(seq, n_joints, body, wire):
    """A COMMAND frame with this seq (zeros), as the plant sends each device period."""
    q = np.zeros(n_joints)
    return framed.frame_encode(body, framed.put_command(body, seq, framed.MODE_POSITION, q, n_joints), wire)


@njit(cache=True, nogil=True)
def _roundtrips_fd(fd, n_joints, n, lat_ns, timeout_ns):
    """Host: write a COMMAND, spin on non-blocking reads until the STATE acknowledging its seq
    is back (stale replies of timed-out exchanges are skipped); n times. lat_ns[j] = -1: lost."""
    ts, rx, acc, st, body, wire = _link_buffers()
    for j in range(n):
        seq = j & 0xFF
        m = _command_wire(seq, n_joints, body, wire)
        t0 = monotonic_ns(ts)
        serial_port.fd_write(fd, wire[:m])
        got = False
        while not got and monotonic_ns(ts) - t0 < timeout_ns:
            r = serial_port.fd_read(fd, rx)
            pos = 0
            while pos < r:
                pos, k = framed.next_frame(acc, st, rx, pos, r, body)
                if k > 0 and body[0] == framed.MSG_STATE and body[3] == seq:
                    got = True
        lat_ns[j] = monotonic_ns(ts) - t0 if got else -1


@njit(cache=True, nogil=True)
def _roundtrips_dxl(fd, request, n_replies, n, lat_ns, timeout_ns):
    """Host: one sync write + sync read, spin until n_replies status packets are back; n times."""
    ts = np.zeros(2, np.int64)
    acc = np.zeros(dynamixel.MAX_PACKET, np.uint8)
    st = np.zeros(1, np.int64)
    out = np.zeros(256, np.uint8)
    for j in range(n):
        t0 = monotonic_ns(ts)
        serial_port.fd_write(fd, request)
        got = 0
        while got < n_replies and monotonic_ns(ts) - t0 < timeout_ns:
            r = serial_port.fd_read(fd, acc[st[0]:])
            if r > 0:
                st[0] += r
                while True:
                    m, _, inst = dynamixel.next_packet(acc, st, out)
                    if m == dynamixel.NEED_MORE:
                        break
                    if m >= 0 and inst == dynamixel.INST_STATUS:
                        got += 1
        lat_ns[j] = monotonic_ns(ts) - t0 if got == n_replies else -1


@njit(cache=True, nogil=True)
def _empty_reads(fd, n):
    """Mean cost of a non-blocking read() on an idle port from compiled code, ns."""
    ts = np.zeros(2, np.int64)
    buf = np.zeros(256, np.uint8)
    t0 = monotonic_ns(ts)
    for _ in range(n):
        serial_port.fd_read(fd, buf)
    return (monotonic_ns(ts) - t0) / n


# --- the I/O-thread alternative ---------------------------------------------------------
RING = 1 << 14  # bytes per ring (power of two); head/tail are free-running int64 counters


@njit(cache=True, nogil=True)
def _ring_push(ring, ht, data):
    """Single producer: copy data in, then publish the new head (ht = [head, tail])."""
    h = ht[0]
    for k in range(data.size):
        ring[(h + k) & (RING - 1)] = data[k]
    ht[0] = h + data.size


@njit(cache=True, nogil=True)
def _roundtrips_ring(tx, tx_ht, rx, rx_ht, n_joints, n, lat_ns, timeout_ns):
    """Host over rings: push a COMMAND to tx, spin on rx until its STATE; n times (as _roundtrips_fd)."""
    ts = np.zeros(2, np.int64)
    acc = np.zeros(framed.MAX_WIRE, np.uint8)
    st = np.zeros(1, np.int64)
    body = np.zeros(framed.MAX_BODY, np.uint8)
    wire = np.zeros(framed.MAX_WIRE, np.uint8)
    one = np.zeros(1, np.uint8)
    for j in range(n):
        seq = j & 0xFF
        m = _command_wire(seq, n_joints, body, wire)
        t0 = monotonic_ns(ts)
        _ring_push(tx, tx_ht, wire[:m])
        got = False
        while not got and monotonic_ns(ts) - t0 < timeout_ns:
            while rx_ht[1] < rx_ht[0] and not got:
                one[0] = rx[rx_ht[1] & (RING - 1)]
                rx_ht[1] += 1
                _, k = framed.next_frame(acc, st, one, 0, 1, body)
                got = k > 0 and body[0] == framed.MSG_STATE and body[3] == seq
        lat_ns[j] = monotonic_ns(ts) - t0 if got else -1


class _IoThread:
    """Moves bytes fd -> rx ring and tx ring -> fd; the compiled side never makes a syscall."""

    def __init__(self, fd):
        self.fd = fd
        self.tx, self.tx_ht = np.zeros(RING, np.uint8), np.zeros(2, np.int64)
        self.rx, self.rx_ht = np.zeros(RING, np.uint8), np.zeros(2, np.int64)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import select
        while not self.stop.is_set():
            h, t = int(self.tx_ht[0]), int(self.tx_ht[1])
            if h > t:
                idx = np.arange(t, h) & (RING - 1)
                os.write(self.fd, self.tx[idx].tobytes())
                self.tx_ht[1] = h
            r, _, _ = select.select([self.fd], [], [], 1e-4)
            if r:
                try:
                    data = np.frombuffer(os.read(self.fd, 4096), np.uint8)
                except BlockingIOError:
                    continue
                _ring_push(self.rx, self.rx_ht, data)

    def close(self):
        self.stop.set()
        self.thread.join(1.0)


# --- far ends in a child process --------------------------------------------------------
_CHILD = r"""
import os, sys, time, tty
import rtcore
what, seconds = sys.argv[1], float(sys.argv[2])
if what == "reflector":
    from devices import bench
    bench._reflect(0, 2, 0.0)  # compile before the host starts
    master, slave = os.openpty()  # the slave stays open here too: reads on master never see EIO
    tty.setraw(slave)
    print(os.ttyname(slave), flush=True)
    bench._reflect(master, 2, seconds)  # blocking reads: sleeps in the kernel like a device, no CPU
else:
    if what == "framed":
        from devices.emulators.framed_arm import FramedArmEmulator as E
        em = E(n_joints=2, watchdog_ms=5000.0)
    else:
        from devices.emulators.dynamixel_bus import DynamixelBusEmulator as E
        em = E(ids=(1, 2))
    em.start()
    print(em.path, flush=True)
    time.sleep(seconds)
    em.close()
"""


def _far_end(what: str, seconds: float):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, what, str(seconds)], stdout=subprocess.PIPE, text=True)
    path = proc.stdout.readline().strip()
    if not path:
        proc.kill()
        raise RuntimeError(f"bench: the {what} far end did not start")
    return proc, path


def _stats(prefix: str, lat_ns: np.ndarray) -> dict:
    ok = lat_ns[lat_ns >= 0] * 1e-3
    return {f"{prefix}_p50_us": float(np.percentile(ok, 50)) if ok.size else float("nan"),
            f"{prefix}_p99_us": float(np.percentile(ok, 99)) if ok.size else float("nan"),
            f"{prefix}_lost": int((lat_ns < 0).sum())}


def bench_serial(n: int = 2000) -> dict:
    """Command -> state round trips over a pty (module docstring); numbers in us."""
    out = {"n": n}
    timeout_ns = 200_000_000
    proc, path = _far_end("reflector", 120.0)
    try:
        sp = serial_port.open_port(path, 1_000_000, "bench")
        fd = sp.fileno()
        lat = np.zeros(n, np.int64)
        _roundtrips_fd(fd, 2, 20, lat, timeout_ns)  # warm up (and compile)
        _roundtrips_fd(fd, 2, n, lat, timeout_ns)
        out.update(_stats("reflector_fd", lat))
        out["fd_read_empty_us"] = _empty_reads(fd, 20_000) * 1e-3
        io = _IoThread(fd)
        try:
            _roundtrips_ring(io.tx, io.tx_ht, io.rx, io.rx_ht, 2, 20, lat, timeout_ns)
            _roundtrips_ring(io.tx, io.tx_ht, io.rx, io.rx_ht, 2, n, lat, timeout_ns)
            out.update(_stats("reflector_thread", lat))
        finally:
            io.close()
        serial_port.close_port(sp)
    finally:
        proc.kill()
        proc.wait()
    for what in ("framed", "dynamixel"):
        proc, path = _far_end(what, 120.0)
        try:
            sp = serial_port.open_port(path, 1_000_000, "bench")
            fd = sp.fileno()
            lat = np.zeros(n, np.int64)
            if what == "framed":
                _roundtrips_fd(fd, 2, 20, lat, timeout_ns)
                _roundtrips_fd(fd, 2, n, lat, timeout_ns)
            else:
                ids = np.array([1, 2])
                params = np.zeros(64, np.uint8)
                k = dynamixel.sync_write_params(params, dynamixel.GOAL_POSITION_ADDR, 4, ids, np.array([2048, 2048]), 2)
                req = dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_WRITE, params[:k].tobytes())
                k = dynamixel.sync_read_params(params, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN, ids, 2)
                req += dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_READ, params[:k].tobytes())
                req = np.frombuffer(req, np.uint8).copy()
                _roundtrips_dxl(fd, req, 2, 20, lat, timeout_ns)
                _roundtrips_dxl(fd, req, 2, n, lat, timeout_ns)
            out.update(_stats(f"{what}_emulator", lat))
            serial_port.close_port(sp)
        finally:
            proc.kill()
            proc.wait()
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(bench_serial(), indent=1))
