"""Serial plant: a chain of Dynamixel X-series servos on Protocol 2.0 ([plant] kind = "dynamixel").

Lifecycle (DynamixelDriver, Python, off the hot path): open (pyserial) -> configure (PING every
ID, check hardware errors, torque off, OPERATING_MODE, read the present state) -> enable
(TORQUE_ENABLE = 1, goal = present position) -> the compiled step -> disable (SYNC_WRITE
TORQUE_ENABLE = 0) -> close. Each transition is idempotent and returns a status.

Per device period (dynamixel_arm_step, nogil), one half-duplex transaction: SYNC_WRITE of the
goal (GOAL_POSITION_ADDR in position mode, GOAL_CURRENT_ADDR = tau / k_t in torque mode) and
SYNC_READ of PRESENT_CURRENT..PRESENT_POSITION; the N status packets arrive over the next ticks.
With read_instruction = "fast_sync_read" (or "auto", when the servos answer it at configure) the
read is one FAST_SYNC_READ instead: one status packet for all servos, fewer bytes and one return
delay on the line (devices.serial.bus_budget).
The first transaction also arms each servo's bus watchdog (BUS_WATCHDOG_ADDR). A status with
ERR_ALERT (hardware error; the servo has turned torque off) latches DEVICE_FAULT; so does a
stale state, since a tripped bus watchdog refuses goals until re-armed.
"""
import math
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
from devices.protocols import dynamixel
from devices.protocols.le_bytes import get_i16, get_i32
from devices.serial import bus_budget
from devices.serial import plant_base
from devices.serial.plant_base import AT, F, I, MODE_POSITION
from devices.serial import safety

LAYOUT = plant_base.LAYOUT  #: the f/s/i layout both serial arms share

# byte region offsets (devices.serial.plant_base.BYTES)
ACC, ACC_LEN = 0, 2048
OUT, OUT_LEN = ACC + ACC_LEN, 256  # destuffed status params
PARAMS, PARAMS_LEN = OUT + OUT_LEN, 512  # instruction params being built
WIRE = PARAMS + PARAMS_LEN
WIRE_LEN = plant_base.BYTES - WIRE
PRESENT_LEN = 1 + dynamixel.PRESENT_BLOCK_LEN  # err + current(2) + velocity(4) + position(4)
FAST_SEGMENT = PRESENT_LEN + 3  # FAST_SYNC_READ segment: err, id, data, crc u16 (the last crc is the packet's)


class DynamixelConfig(plant_base.SerialPlantBase):
    """[plant] kind = "dynamixel": X-series servos (XM430 control table), one per joint."""

    kind: Literal["dynamixel"]
    ids: list[int] = Field([1, 2], min_length=1, max_length=16, description="servo IDs, one per joint, in joint order")
    device_watchdog_ms: float = Field(100.0, ge=20.0, le=2540.0, description="servo bus watchdog: no instruction for this long -> stop, ms (20 ms steps)")
    torque_constant_nm_per_a: float = Field(1.78, gt=0.0, description="k_t for torque mode, Nm/A (XM430-W350: 4.1 Nm / 2.3 A)")
    return_delay_us: float = Field(0.0, ge=0.0, le=510.0, description="the servos' Return Delay Time, us (X-series factory value 500; counted in the bus budget)")
    read_instruction: Literal["auto", "sync_read", "fast_sync_read"] = Field(
        "auto", description="per-tick read: auto = FAST_SYNC_READ when the servos answer it at configure (firmware >= 45), else SYNC_READ")

    def n_joints_configured(self) -> int:
        return len(self.ids)


@njit(cache=True, nogil=True)
def _take_present(s, i, ids, n, kt, dxl_id, err, out, data):
    """One servo's status error byte and present block (current i16, velocity i32, position i32,
    starting at out[data]) into the state; marks the servo as answered."""
    for j in range(n):
        if ids[j] == dxl_id:
            i[I.dev_flags] |= err
            s[i[I.s_tau] + j] = get_i16(out, data) * dynamixel.AMP_PER_UNIT * kt
            s[i[I.s_qd] + j] = get_i32(out, data + 2) * dynamixel.RAD_S_PER_UNIT
            s[i[I.s_q] + j] = (get_i32(out, data + 6) - dynamixel.POSITION_CENTER) * dynamixel.RAD_PER_TICK
            i[I.replied] |= 1 << j


@njit(cache=True, nogil=True)
def dynamixel_arm_step(f, s, i, bus):
    """One non-blocking step of the sync-write/sync-read transaction; see the module docstring.

    bus: reads `command` [n] (rad or Nm) and hold; writes `state` [2n], `device_torque` [n],
    `device` [4]. Returns DEVICE_LOST (fatal), DEVICE_FAULT, CORRUPT_FRAME, PUSH_FAILED,
    LIMIT_CLIPPED, RESUMED or OK."""
    n = i[I.n]
    fd = i[I.fd]
    now = monotonic_ns(i[AT.i_ts:AT.i_ts + 2])
    raw = seg(s, i, I.s_raw, i[I.n_raw]).view(np.uint8)
    acc, out = raw[ACC:ACC + ACC_LEN], raw[OUT:OUT + OUT_LEN]
    params, wire = raw[PARAMS:PARAMS + PARAMS_LEN], raw[WIRE:WIRE + WIRE_LEN]
    ids = i[AT.i_ids:AT.i_ids + n]
    st = i[I.parse:I.parse + 1]
    kt = f[F.torque_constant]
    code = status.OK
    while True:
        if st[0] >= ACC_LEN:  # a full buffer without one valid packet: drop it
            st[0] = 0
            i[I.corrupt] += 1
            code = safety.worse(code, status.CORRUPT_FRAME)
        r = serial_port.fd_read(fd, acc[st[0]:])
        if r == serial_port.PORT_LOST:
            return safety.port_lost(i, bus)
        if r == 0:
            break
        st[0] += r
        while True:
            m, dxl_id, inst = dynamixel.next_packet(acc, st, out)
            if m == dynamixel.NEED_MORE:
                break
            if m == dynamixel.CORRUPT:
                i[I.corrupt] += 1
                code = safety.worse(code, status.CORRUPT_FRAME)
                continue
            if inst != dynamixel.INST_STATUS:
                continue
            if m == PRESENT_LEN:  # err | data
                _take_present(s, i, ids, n, kt, dxl_id, out[0], out, 1)
            elif dxl_id == dynamixel.BROADCAST_ID and m == n * FAST_SEGMENT - 2:  # FAST_SYNC_READ: (err | id | data | crc)...
                for k in range(n):
                    b = k * FAST_SEGMENT
                    _take_present(s, i, ids, n, kt, out[b + 1], out[b], out, b + 2)
            if i[I.replied] == (1 << n) - 1:
                i[I.replied] = 0
                i[I.waiting] = 0
                i[I.last_state_ns] = now
                i[I.states] += 1
    device_fault = (i[I.dev_flags] & dynamixel.ERR_ALERT) != 0
    code = safety.worse(code, safety.supervise(f, s, i, bus, now, device_fault, True))
    if safety.io_due(i, bus, now):
        u = seg(s, i, I.s_work, n)
        if safety.next_command(f, s, i, bus, u):
            code = safety.worse(code, status.LIMIT_CLIPPED)
        k = 0
        if i[I.seq] == 0:  # first transaction: arm the bus watchdogs (broadcast, no reply)
            params[0] = dynamixel.BUS_WATCHDOG_ADDR
            params[1] = 0
            params[2] = i[I.device_wd]
            k += dynamixel.make_packet(dynamixel.BROADCAST_ID, dynamixel.INST_WRITE, params, 3, wire)
        position = i[I.mode] == MODE_POSITION
        addr = dynamixel.GOAL_POSITION_ADDR if position else dynamixel.GOAL_CURRENT_ADDR
        size = 4 if position else 2
        params[0] = addr & 0xFF
        params[1] = addr >> 8
        params[2] = size
        params[3] = 0
        p = 4
        for j in range(n):
            if position:
                v = int(np.round(u[j] / dynamixel.RAD_PER_TICK)) + dynamixel.POSITION_CENTER
            else:
                v = int(np.round(u[j] / kt / dynamixel.AMP_PER_UNIT))
            params[p] = ids[j]
            p += 1
            for b in range(size):
                params[p] = (v >> (8 * b)) & 0xFF
                p += 1
        k += dynamixel.make_packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_WRITE, params, p, wire[k:])
        p = dynamixel.sync_read_params(params, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN, ids, n)
        read = dynamixel.INST_FAST_SYNC_READ if i[I.fast_read] else dynamixel.INST_SYNC_READ
        k += dynamixel.make_packet(dynamixel.BROADCAST_ID, read, params, p, wire[k:])
        w = serial_port.fd_write(fd, wire[:k])
        if w == serial_port.PORT_LOST:
            return safety.port_lost(i, bus)
        if w == serial_port.WOULD_BLOCK:
            code = safety.worse(code, status.PUSH_FAILED)
        i[I.seq] += 1
        i[I.waiting] = 1
        i[I.replied] = 0
        i[I.sent_ns] = now
    return code


class DynamixelDriver:
    """Blocking lifecycle of a Dynamixel chain (build time and shutdown only)."""

    def __init__(self, cfg: DynamixelConfig, where: str = "plant"):
        self.cfg, self.where = cfg, where
        self.sp = None
        self.reader = dynamixel.PacketReader()
        self.configured = False
        self.enabled = False

    def open(self) -> int:
        if self.sp is None:
            self.sp = serial_port.open_port(self.cfg.port, self.cfg.baud, f"{self.where}.port")
        return status.OK

    def _txrx(self, dxl_id: int, inst: int, params: bytes = b"", n_replies: int = 1) -> list:
        """Send one instruction; the status packets (id, err, params) that came back in time."""
        fd = self.sp.fileno()
        serial_port.write_all(fd, dynamixel.packet(dxl_id, inst, params), self.cfg.timeout_s)
        got, end = [], time.monotonic() + self.cfg.timeout_s
        while len(got) < n_replies and time.monotonic() < end:
            for k, ins, p in self.reader.feed(serial_port.read_some(fd, end - time.monotonic())):
                if ins == dynamixel.INST_STATUS and p:
                    got.append((k, p[0], p[1:]))
        return got

    def _write(self, dxl_id: int, addr: int, data: bytes) -> None:
        got = self._txrx(dxl_id, dynamixel.INST_WRITE, struct.pack("<H", addr) + data)
        if not got or got[0][1] & dynamixel.ERR_NUMBER_MASK:
            err = got[0][1] if got else None
            raise ValueError(f"{self.where}.port = {self.cfg.port}: servo {dxl_id} refused a write to "
                             f"address {addr} ({'no reply' if err is None else f'error 0x{err:02x}'})")

    def configure(self) -> int:
        """Ping, check errors, torque off, operating mode. Raises ValueError naming the servo."""
        if self.configured:
            return status.OK
        port = f"{self.where}.port = {self.cfg.port}"
        for k in self.cfg.ids:
            got = self._txrx(k, dynamixel.INST_PING)
            if not got:
                raise ValueError(f"{port}: servo ID {k} does not answer PING at {self.cfg.baud} baud; "
                                 f"check {self.where}.ids and {self.where}.baud")
            hw = self._txrx(k, dynamixel.INST_READ, struct.pack("<HH", dynamixel.HARDWARE_ERROR_STATUS_ADDR, 1))
            if hw and hw[0][2] and hw[0][2][0]:
                raise ValueError(f"{port}: servo {k} has hardware error 0x{hw[0][2][0]:02x} latched; "
                                 f"reboot or power-cycle it")
            self._write(k, dynamixel.TORQUE_ENABLE_ADDR, b"\x00")
            mode = dynamixel.OPERATING_MODE_POSITION if self.cfg.command_mode == "position" else dynamixel.OPERATING_MODE_CURRENT
            self._write(k, dynamixel.OPERATING_MODE_ADDR, bytes([mode]))
            self._write(k, dynamixel.BUS_WATCHDOG_ADDR, b"\x00")  # clear a tripped watchdog; armed at the first tick
        self.configured = True
        return status.OK

    def _read_present(self, fast: bool) -> dict:
        """{id: present block (10 B)} from one SYNC_READ (n status packets) or FAST_SYNC_READ (one)."""
        n = len(self.cfg.ids)
        params = struct.pack("<HH", dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN) + bytes(self.cfg.ids)
        if not fast:
            return {k: p for k, err, p in self._txrx(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_READ, params, n)}
        got = self._txrx(dynamixel.BROADCAST_ID, dynamixel.INST_FAST_SYNC_READ, params, 1)
        if not got or got[0][0] != dynamixel.BROADCAST_ID:
            return {}
        raw = bytes([got[0][1]]) + got[0][2]  # (err | id | data | crc)... without the last crc
        seg = FAST_SEGMENT
        return {raw[b + 1]: raw[b + 2:b + 2 + dynamixel.PRESENT_BLOCK_LEN] for b in range(0, len(raw) - seg + 3, seg)}

    def choose_read(self) -> bool:
        """Whether the per-tick read is FAST_SYNC_READ: configured, or "auto" and the servos answer
        one now. Raises ValueError if it is configured and they do not."""
        if self.cfg.read_instruction == "sync_read":
            return False
        if set(self._read_present(True)) == set(self.cfg.ids):
            return True
        if self.cfg.read_instruction == "auto":
            return False
        raise ValueError(f"{self.where}.port = {self.cfg.port}: the servos do not answer FAST_SYNC_READ "
                         f"(firmware < 45?); set {self.where}.read_instruction = \"sync_read\"")

    def read_state(self):
        """(q, qd, tau) of every joint from one SYNC_READ, or None if a servo did not answer."""
        n = len(self.cfg.ids)
        got = self._read_present(False)
        if set(got) != set(self.cfg.ids):
            return None
        q, qd, tau = np.zeros(n), np.zeros(n), np.zeros(n)
        for j, k in enumerate(self.cfg.ids):
            cur, vel, pos = struct.unpack("<hii", got[k][:10])
            q[j] = (pos - dynamixel.POSITION_CENTER) * dynamixel.RAD_PER_TICK
            qd[j] = vel * dynamixel.RAD_S_PER_UNIT
            tau[j] = cur * dynamixel.AMP_PER_UNIT * self.cfg.torque_constant_nm_per_a
        return q, qd, tau

    def enable(self):
        """Torque on, goal = present position. Returns the measured (q, qd, tau)."""
        for k in self.cfg.ids:
            self._write(k, dynamixel.TORQUE_ENABLE_ADDR, b"\x01")
        self.enabled = True
        st = self.read_state()
        if st is None:
            raise ValueError(f"{self.where}.port = {self.cfg.port}: no state from every servo after enable")
        return st

    def disable(self) -> int:
        """Torque off on every servo (one SYNC_WRITE, no reply). Idempotent."""
        if self.sp is None:
            return status.OK
        params = struct.pack("<HH", dynamixel.TORQUE_ENABLE_ADDR, 1) + b"".join(bytes([k, 0]) for k in self.cfg.ids)
        try:
            serial_port.write_all(self.sp.fileno(), dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_WRITE, params), self.cfg.timeout_s)
        except (OSError, TimeoutError):
            return status.DEVICE_LOST
        self.enabled = False
        return status.OK

    def close(self) -> int:
        code = self.disable()
        if self.sp is not None:
            serial_port.close_port(self.sp)
            self.sp = None
        return code


def build(cfg: DynamixelConfig, ctx, where: str = "plant") -> Stage:
    """Open, configure and enable the servos; the stage then owns the fd until close()."""
    if len(set(cfg.ids)) != len(cfg.ids) or not all(0 <= k < dynamixel.BROADCAST_ID for k in cfg.ids):
        raise ValueError(f"{where}.ids = {cfg.ids}: IDs must be distinct, 0..253")
    f, s, i, info = plant_base.layout(cfg, ctx, where, cfg.torque_constant_nm_per_a, cfg.ids)
    fast = cfg.read_instruction != "sync_read"
    info["bus_budget"] = bus_budget.check_dynamixel(cfg, info["device_rate_hz"], fast, where)  # before the port opens
    i[I.device_wd] = max(1, math.ceil(cfg.device_watchdog_ms / dynamixel.BUS_WATCHDOG_UNIT_MS))
    drv = DynamixelDriver(cfg, where)
    q, qd, tau = plant_base.start(drv)
    try:
        i[I.fast_read] = drv.choose_read()
        if fast and not i[I.fast_read]:  # "auto" fell back: the budget of the slower read must hold too
            info["bus_budget"] = bus_budget.check_dynamixel(cfg, info["device_rate_hz"], False, where)
    except ValueError:
        drv.close()
        raise
    plant_base.seed_state(s, i, q, qd, tau)
    info.update(ids=list(cfg.ids), device_watchdog_ms=int(i[I.device_wd]) * dynamixel.BUS_WATCHDOG_UNIT_MS)
    return plant_base.device_stage(where, SPEC.kind, f, s, i, drv, info, ctx.dt_s, flag_text)


def flag_text(flags: int) -> str:
    """Why a Dynamixel status error byte means a fault, in words."""
    return (f"a servo raised its hardware error alert (status error 0x{flags:02x}); it turned its "
            f"torque off: reboot or power-cycle it")


def emergency_disable(cfg: DynamixelConfig) -> int:
    """Turn torque off on every servo (the parent calls this if the child died)."""
    return plant_base.emergency_disable(DynamixelDriver(cfg))


SPEC = StageSpec(kind=91, name="dynamixel", step=dynamixel_arm_step, config=DynamixelConfig, build=build)
