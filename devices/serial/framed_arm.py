"""Serial plant: a microcontroller arm on the rtcore framed protocol ([plant] kind = "framed_arm").

Lifecycle (FramedArmDriver, Python, off the hot path): open (pyserial) -> configure (HELLO
version handshake, state readable) -> enable (ENABLE, first command = measured position) ->
the compiled step each tick -> disable (DISABLE) -> close. Each transition is idempotent and
returns a status; a refused transition leaves the device where it was.

Per tick (framed_arm_step, nogil): read what arrived, decode frames (CRC failures dropped and
counted), run the watchdog/fault logic, and every ticks_per_io ticks send one COMMAND whose
STATE reply arrives in a later tick.
"""
import struct
import time
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.clock import monotonic_ns
from rtcore.layout import seg
from rtcore.registry import StageSpec
from rtcore.stage import Stage
from devices import serial_port
from devices.protocols import framed
from devices.serial import bus_budget
from devices.serial import plant_base
from devices.serial.plant_base import AT, I, MODE_POSITION
from devices.serial import safety

LAYOUT = plant_base.LAYOUT  #: the f/s/i layout both serial arms share

# byte region offsets (devices.serial.plant_base.BYTES)
RX, RX_LEN = 0, 1024
ACC = RX + RX_LEN
BODY = ACC + framed.MAX_WIRE
TXBODY = BODY + framed.MAX_BODY
WIRE = TXBODY + framed.MAX_BODY
assert WIRE + framed.MAX_WIRE <= plant_base.BYTES


class FramedArmConfig(plant_base.SerialPlantBase):
    """[plant] kind = "framed_arm": a custom arm or exoskeleton running devices/firmware."""

    kind: Literal["framed_arm"]
    n_joints: int = Field(2, ge=1, le=16, description="joints the firmware reports")

    def n_joints_configured(self) -> int:
        return self.n_joints


@njit(cache=True, nogil=True)
def framed_arm_step(f, s, i, bus):
    """Exchange COMMAND/STATE frames without blocking; see the module docstring.

    bus: reads `command` [n] (rad or Nm) and hold; writes `state` [2n], `device_torque` [n],
    `device` [4]. Returns DEVICE_LOST (fatal), DEVICE_FAULT, CORRUPT_FRAME, PUSH_FAILED,
    LIMIT_CLIPPED, RESUMED or OK."""
    n = i[I.n]
    fd = i[I.fd]
    now = monotonic_ns(i[AT.i_ts:AT.i_ts + 2])
    raw = seg(s, i, I.s_raw, i[I.n_raw]).view(np.uint8)
    rx, acc = raw[RX:RX + RX_LEN], raw[ACC:ACC + framed.MAX_WIRE]
    body, txbody, wire = raw[BODY:BODY + framed.MAX_BODY], raw[TXBODY:TXBODY + framed.MAX_BODY], raw[WIRE:WIRE + framed.MAX_WIRE]
    q, qd, tau = seg(s, i, I.s_q, n), seg(s, i, I.s_qd, n), seg(s, i, I.s_tau, n)
    code = status.OK
    while True:
        r = serial_port.fd_read(fd, rx)
        if r == serial_port.PORT_LOST:
            return safety.port_lost(i, bus)
        if r == 0:
            break
        pos = 0
        while pos < r:
            pos, k = framed.next_frame(acc, i[I.parse:I.parse + 1], rx, pos, r, body)
            if k == framed.CORRUPT:
                i[I.corrupt] += 1
                code = safety.worse(code, status.CORRUPT_FRAME)
            elif k > 0 and body[0] == framed.MSG_STATE:
                flags, _, m = framed.get_state(body, k, q, qd, tau)
                if m == n:
                    i[I.dev_flags] = flags
                    i[I.last_state_ns] = now
                    i[I.waiting] = 0
                    i[I.states] += 1
            elif k > 0 and body[0] == framed.MSG_FAULT:
                i[I.dev_flags] |= framed.FLAG_FAULT
        if r < rx.size:
            break
    flags = i[I.dev_flags]
    device_fault = (flags & (framed.FLAG_WATCHDOG | framed.FLAG_FAULT)) != 0 or (flags & framed.FLAG_ENABLED) == 0
    code = safety.worse(code, safety.supervise(f, s, i, bus, now, device_fault, False))
    if safety.io_due(i, bus, now):
        u = seg(s, i, I.s_work, n)
        if safety.next_command(f, s, i, bus, u):
            code = safety.worse(code, status.LIMIT_CLIPPED)
        mode = framed.MODE_POSITION if i[I.mode] == MODE_POSITION else framed.MODE_TORQUE
        nb = framed.put_command(txbody, i[I.seq], mode, u, n)
        m = framed.frame_encode(txbody, nb, wire)
        w = serial_port.fd_write(fd, wire[:m])
        if w == serial_port.PORT_LOST:
            return safety.port_lost(i, bus)
        if w == serial_port.WOULD_BLOCK:
            code = safety.worse(code, status.PUSH_FAILED)
        i[I.seq] = (i[I.seq] + 1) & 0xFF
        i[I.waiting] = 1
        i[I.sent_ns] = now
    return code


class FramedArmDriver:
    """Blocking lifecycle of a framed-protocol arm (build time and shutdown only)."""

    def __init__(self, cfg: FramedArmConfig, where: str = "plant"):
        self.cfg, self.where = cfg, where
        self.sp = None
        self.enabled = False
        self.seq = 0
        self.reader = framed.FrameReader()
        self.n_device = None
        self.device_watchdog_ms = None
        self.device_counters = None  # the device's own counters (STATS), read at close

    def open(self) -> int:
        if self.sp is None:
            self.sp = serial_port.open_port(self.cfg.port, self.cfg.baud, f"{self.where}.port")
        return status.OK

    def _ask(self, msg: int, payload: bytes, want: tuple) -> tuple:
        """Send one frame, wait for a reply of a type in want; (type, payload) or (None, b'')."""
        fd = self.sp.fileno()
        serial_port.write_all(fd, framed.encode(msg, self.seq, payload), self.cfg.timeout_s)
        self.seq = (self.seq + 1) & 0xFF
        end = time.monotonic() + self.cfg.timeout_s
        while time.monotonic() < end:
            for t, _, p in self.reader.feed(serial_port.read_some(fd, end - time.monotonic())):
                if t in want:
                    return t, p
        return None, b""

    def configure(self) -> int:
        """Version handshake; afterwards the state can be read. Raises ValueError on mismatch."""
        if self.n_device is not None:
            return status.OK
        t, p = self._ask(framed.MSG_HELLO, bytes([framed.PROTOCOL_VERSION]), (framed.MSG_HELLO_ACK, framed.MSG_FAULT))
        port = f"{self.where}.port = {self.cfg.port}"
        if t is None:
            raise ValueError(f"{port}: no HELLO reply within {self.cfg.timeout_s:g} s (is the firmware running at {self.cfg.baud} baud?)")
        if t == framed.MSG_FAULT or p[0] != framed.PROTOCOL_VERSION:
            raise ValueError(f"{port}: the device does not speak framed protocol version {framed.PROTOCOL_VERSION}; update its firmware")
        if p[1] != self.cfg.n_joints:
            raise ValueError(f"{port}: the device has {p[1]} joints; set {self.where}.n_joints = {p[1]}")
        self.n_device = p[1]
        self.device_watchdog_ms = int.from_bytes(p[2:4], "little")
        return status.OK

    def read_state(self, msg: int = framed.MSG_HEARTBEAT):
        """(flags, q, qd, tau) from one HEARTBEAT (or ENABLE/DISABLE) exchange, or None."""
        t, p = self._ask(msg, b"", (framed.MSG_STATE,))
        if t is None:
            return None
        body = np.frombuffer(bytes([framed.MSG_STATE, 0]) + p, dtype=np.uint8)
        n = self.cfg.n_joints
        q, qd, tau = np.zeros(n), np.zeros(n), np.zeros(n)
        flags, _, m = framed.get_state(body, body.size, q, qd, tau)
        return (flags, q, qd, tau) if m == n else None

    def enable(self):
        """Torque on. Returns the measured (flags, q, qd, tau) or raises ValueError."""
        st = self.read_state(framed.MSG_ENABLE)
        if st is None or not st[0] & framed.FLAG_ENABLED:
            raise ValueError(f"{self.where}.port = {self.cfg.port}: the device refused ENABLE")
        self.enabled = True
        return st

    def read_counters(self) -> dict | None:
        """The device's counters (STATS): frames it received, corrupt frames it dropped, watchdog
        trips, commands its own limits changed. None if it does not answer (older firmware)."""
        try:
            t, p = self._ask(framed.MSG_STATS, b"", (framed.MSG_STATS_REPLY,))
        except (OSError, TimeoutError):
            return None
        if t is None or len(p) != 4 * len(framed.STATS_FIELDS):
            return None
        return dict(zip(framed.STATS_FIELDS, struct.unpack(f"<{len(framed.STATS_FIELDS)}I", p)))

    def disable(self) -> int:
        """Zero torque. Idempotent; OK even if the device does not answer (it is gone)."""
        if self.sp is None:
            return status.OK
        try:
            serial_port.write_all(self.sp.fileno(), framed.encode(framed.MSG_DISABLE, self.seq), self.cfg.timeout_s)
            self.seq = (self.seq + 1) & 0xFF
            self.enabled = False
            return status.OK
        except (OSError, TimeoutError):
            return status.DEVICE_LOST

    def close(self) -> int:
        if self.sp is not None and self.enabled:
            self.device_counters = self.read_counters()
        code = self.disable()
        if self.sp is not None:
            serial_port.close_port(self.sp)
            self.sp = None
        return code


def build(cfg: FramedArmConfig, ctx, where: str = "plant") -> Stage:
    """Open, handshake and enable the arm; the stage then owns the fd until close()."""
    f, s, i, info = plant_base.layout(cfg, ctx, where)
    info["bus_budget"] = bus_budget.check_framed(cfg, info["device_rate_hz"], where)  # before the port opens
    drv = FramedArmDriver(cfg, where)
    flags, q, qd, tau = plant_base.start(drv)
    i[I.dev_flags] = flags
    plant_base.seed_state(s, i, q, qd, tau)
    info.update(device_watchdog_ms=drv.device_watchdog_ms, protocol_version=framed.PROTOCOL_VERSION)
    return plant_base.device_stage(where, SPEC.kind, f, s, i, drv, info, ctx.dt_s, flag_text)


def flag_text(flags: int) -> str:
    """Why a framed arm's STATE flags mean a fault, in words."""
    if flags & framed.FLAG_WATCHDOG:
        return "the device's watchdog disabled the arm (no valid host frame in time)"
    if flags & framed.FLAG_FAULT:
        return "the device reported a fault (FAULT frame or STATE fault flag)"
    return f"the device disabled itself (STATE flags 0x{flags:02x})"


def emergency_disable(cfg: FramedArmConfig) -> int:
    """Send DISABLE (the parent calls this when the child died)."""
    return plant_base.emergency_disable(FramedArmDriver(cfg))


SPEC = StageSpec(kind=90, name="framed_arm", step=framed_arm_step, config=FramedArmConfig, build=build)
