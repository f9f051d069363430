"""Emulated Dynamixel Protocol 2.0 bus: N X-series servos (XM430-W350 control table) on a pty.

Each servo has a control-table byte image and answers PING, READ, WRITE, SYNC_WRITE,
SYNC_READ and REBOOT as the e-Manual specifies: status packets in ID order for a sync read,
ERR_ACCESS for EEPROM writes with torque on, ERR_ALERT while a hardware error is latched
(which also turns torque off). Bus watchdog (BUS_WATCHDOG_ADDR, 20 ms units): with torque on and
no instruction for that long, the servo stops and holds its position, the item reads 0xFF, and
goal writes fail until the host writes 0 to it. Joints follow devices.emulators.joint_model.
"""
import struct

import numpy as np

from devices.emulators.joint_model import JointModel
from devices.emulators.pty_device import PtyDevice
from devices.protocols import dynamixel

_GOALS = (dynamixel.GOAL_CURRENT_ADDR, dynamixel.GOAL_VELOCITY_ADDR, dynamixel.GOAL_POSITION_ADDR)
_BUS_WATCHDOG_TRIPPED = 0xFF


class DynamixelBusEmulator(PtyDevice):
    """Fake servos with the given IDs; `path` is the port to give the engine."""

    def __init__(self, ids=(1, 2), tau_s: float = 0.05, torque_constant_nm_per_a: float = 1.78,
                 rate_hz: float = 1000.0, q0_rad=None):
        super().__init__(rate_hz)
        self.ids = [int(k) for k in ids]
        self.kt = torque_constant_nm_per_a
        self.joints = JointModel(len(self.ids), tau_s=tau_s, q0_rad=q0_rad)
        self.tables = {k: self._factory_table(k) for k in self.ids}
        self.reader = dynamixel.PacketReader()
        self.reader.feed(dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_PING))  # load the compiled parser now, not mid-reply
        self.last_rx_s = {k: None for k in self.ids}
        self.last_step_s = None
        self.watchdog_trips = 0
        self.sync_writes = 0
        for j, k in enumerate(self.ids):
            self._put(k, dynamixel.GOAL_POSITION_ADDR, 4, self._ticks(self.joints.q[j]))
        self._publish()

    @staticmethod
    def _factory_table(dxl_id: int) -> bytearray:
        t = bytearray(dynamixel.CONTROL_TABLE_SIZE)
        t[dynamixel.MODEL_NUMBER_ADDR:dynamixel.MODEL_NUMBER_ADDR + 2] = struct.pack("<H", dynamixel.XM430_W350_MODEL)
        t[dynamixel.FIRMWARE_VERSION_ADDR] = 45
        t[dynamixel.ID_ADDR] = dxl_id
        t[dynamixel.BAUD_RATE_ADDR] = 3  # 1 Mbps
        t[dynamixel.OPERATING_MODE_ADDR] = dynamixel.OPERATING_MODE_POSITION
        t[dynamixel.CURRENT_LIMIT_ADDR:dynamixel.CURRENT_LIMIT_ADDR + 2] = struct.pack("<H", 1193)
        t[dynamixel.VELOCITY_LIMIT_ADDR:dynamixel.VELOCITY_LIMIT_ADDR + 4] = struct.pack("<i", 200)
        t[dynamixel.MAX_POSITION_LIMIT_ADDR:dynamixel.MAX_POSITION_LIMIT_ADDR + 4] = struct.pack("<i", 4095)
        t[dynamixel.MIN_POSITION_LIMIT_ADDR:dynamixel.MIN_POSITION_LIMIT_ADDR + 4] = struct.pack("<i", 0)
        t[dynamixel.PRESENT_INPUT_VOLTAGE_ADDR:dynamixel.PRESENT_INPUT_VOLTAGE_ADDR + 2] = struct.pack("<H", 120)
        t[dynamixel.PRESENT_TEMPERATURE_ADDR] = 30
        return t

    # --- control table -------------------------------------------------------------------
    def _get(self, dxl_id, addr, size, signed=True):
        return int.from_bytes(self.tables[dxl_id][addr:addr + size], "little", signed=signed)

    def _put(self, dxl_id, addr, size, value):
        self.tables[dxl_id][addr:addr + size] = (int(value) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    @staticmethod
    def _ticks(q_rad):
        return int(round(q_rad / dynamixel.RAD_PER_TICK)) + dynamixel.POSITION_CENTER

    def _error_byte(self, dxl_id) -> int:
        return dynamixel.ERR_ALERT if self.tables[dxl_id][dynamixel.HARDWARE_ERROR_STATUS_ADDR] else 0

    def inject_hardware_error(self, dxl_id: int, bits: int = dynamixel.HW_OVERLOAD) -> None:
        """Latch a hardware error (tests): torque goes off, status packets carry ERR_ALERT."""
        with self._lock:
            self.tables[dxl_id][dynamixel.HARDWARE_ERROR_STATUS_ADDR] |= bits
            self.tables[dxl_id][dynamixel.TORQUE_ENABLE_ADDR] = 0

    def _write(self, dxl_id: int, addr: int, data: bytes) -> int:
        """Apply a write as the servo would; returns the status error byte."""
        t = self.tables[dxl_id]
        if addr + len(data) > dynamixel.CONTROL_TABLE_SIZE:
            return dynamixel.ERR_DATA_LENGTH
        if addr < dynamixel.TORQUE_ENABLE_ADDR and t[dynamixel.TORQUE_ENABLE_ADDR]:
            return dynamixel.ERR_ACCESS  # EEPROM is locked while torque is on
        if t[dynamixel.BUS_WATCHDOG_ADDR] == _BUS_WATCHDOG_TRIPPED and any(addr <= a < addr + len(data) for a in _GOALS):
            return dynamixel.ERR_RESULT_FAIL  # goals refused until the watchdog is cleared
        if addr == dynamixel.TORQUE_ENABLE_ADDR and data[:1] == b"\x01" and t[dynamixel.HARDWARE_ERROR_STATUS_ADDR]:
            return dynamixel.ERR_RESULT_FAIL | dynamixel.ERR_ALERT  # cannot enable with a latched error: reboot first
        if addr <= dynamixel.TORQUE_ENABLE_ADDR < addr + len(data) and data[dynamixel.TORQUE_ENABLE_ADDR - addr] and not t[dynamixel.TORQUE_ENABLE_ADDR]:
            j = self.ids.index(dxl_id)  # torque on: the goal starts where the joint is
            self._put(dxl_id, dynamixel.GOAL_POSITION_ADDR, 4, self._ticks(self.joints.q[j]))
        t[addr:addr + len(data)] = data
        return self._error_byte(dxl_id)

    # --- protocol ------------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        for dxl_id, inst, p in self.reader.feed(data):
            if inst == dynamixel.INST_STATUS:
                continue  # another device's status on a shared bus
            targets = self.ids if dxl_id == dynamixel.BROADCAST_ID else ([dxl_id] if dxl_id in self.tables else [])
            if inst in (dynamixel.INST_SYNC_WRITE, dynamixel.INST_SYNC_READ):
                self._sync(inst, p, now)
                continue
            for k in targets:
                self.last_rx_s[k] = now
                self._instruction(k, inst, p, broadcast=dxl_id == dynamixel.BROADCAST_ID)

    def _status(self, dxl_id: int, err: int, params: bytes = b"") -> None:
        self.send(dynamixel.packet(dxl_id, dynamixel.INST_STATUS, bytes([err]) + params))

    def _instruction(self, k: int, inst: int, p: bytes, broadcast: bool) -> None:
        if inst == dynamixel.INST_PING:
            self._status(k, self._error_byte(k), struct.pack("<HB", self._get(k, 0, 2, False), self.tables[k][dynamixel.FIRMWARE_VERSION_ADDR]))
        elif inst == dynamixel.INST_READ and len(p) == 4:
            addr, size = struct.unpack("<HH", p)
            if addr + size > dynamixel.CONTROL_TABLE_SIZE:
                self._status(k, dynamixel.ERR_DATA_RANGE)
            else:
                self._status(k, self._error_byte(k), bytes(self.tables[k][addr:addr + size]))
        elif inst == dynamixel.INST_WRITE and len(p) >= 3:
            err = self._write(k, struct.unpack("<H", p[:2])[0], p[2:])
            if not broadcast:
                self._status(k, err)
        elif inst == dynamixel.INST_REBOOT:
            self.tables[k][dynamixel.HARDWARE_ERROR_STATUS_ADDR] = 0
            self.tables[k][dynamixel.TORQUE_ENABLE_ADDR] = 0
            self.tables[k][dynamixel.BUS_WATCHDOG_ADDR] = 0
            if not broadcast:
                self._status(k, 0)
        elif not broadcast:
            self._status(k, dynamixel.ERR_INSTRUCTION)

    def _sync(self, inst: int, p: bytes, now: float) -> None:
        if len(p) < 4:
            return
        addr, size = struct.unpack("<HH", p[:4])
        if inst == dynamixel.INST_SYNC_WRITE:
            self.sync_writes += 1
            body = p[4:]
            for off in range(0, len(body) - size, size + 1):
                k = body[off]
                if k in self.tables:
                    self.last_rx_s[k] = now
                    self._write(k, addr, body[off + 1:off + 1 + size])
            return
        for k in p[4:]:  # sync read: replies in the order of the request
            if k in self.tables and addr + size <= dynamixel.CONTROL_TABLE_SIZE:
                self.last_rx_s[k] = now
                self._status(k, self._error_byte(k), bytes(self.tables[k][addr:addr + size]))

    # --- model and watchdog --------------------------------------------------------------
    def on_tick(self, now: float) -> None:
        n = len(self.ids)
        enabled = np.zeros(n, dtype=bool)
        goal = np.zeros(n)
        position_mode = True
        for j, k in enumerate(self.ids):
            t = self.tables[k]
            wd = t[dynamixel.BUS_WATCHDOG_ADDR]
            if t[dynamixel.TORQUE_ENABLE_ADDR] and 0 < wd < _BUS_WATCHDOG_TRIPPED and self.last_rx_s[k] is not None \
                    and now - self.last_rx_s[k] > wd * dynamixel.BUS_WATCHDOG_UNIT_MS * 1e-3:
                t[dynamixel.BUS_WATCHDOG_ADDR] = _BUS_WATCHDOG_TRIPPED
                self._put(k, dynamixel.GOAL_POSITION_ADDR, 4, self._ticks(self.joints.q[j]))  # stop: hold here
                self._put(k, dynamixel.GOAL_CURRENT_ADDR, 2, 0)
                self.watchdog_trips += 1
            enabled[j] = bool(t[dynamixel.TORQUE_ENABLE_ADDR])
            position_mode = t[dynamixel.OPERATING_MODE_ADDR] != dynamixel.OPERATING_MODE_CURRENT
            if position_mode:
                goal[j] = (self._get(k, dynamixel.GOAL_POSITION_ADDR, 4) - dynamixel.POSITION_CENTER) * dynamixel.RAD_PER_TICK
            else:
                goal[j] = self._get(k, dynamixel.GOAL_CURRENT_ADDR, 2) * dynamixel.AMP_PER_UNIT * self.kt
        dt = 0.0 if self.last_step_s is None else now - self.last_step_s
        self.last_step_s = now
        if dt > 0:
            q = self.joints.q.copy()
            self.joints.step(min(dt, 0.05), True, position_mode, goal)
            off = ~enabled  # torque off: the joint stays where it is
            self.joints.q[off], self.joints.qd[off], self.joints.tau[off] = q[off], 0.0, 0.0
        self._publish()

    def _publish(self) -> None:
        j = self.joints
        for m, k in enumerate(self.ids):
            self._put(k, dynamixel.PRESENT_POSITION_ADDR, 4, self._ticks(j.q[m]))
            self._put(k, dynamixel.PRESENT_VELOCITY_ADDR, 4, int(round(j.qd[m] / dynamixel.RAD_S_PER_UNIT)))
            self._put(k, dynamixel.PRESENT_CURRENT_ADDR, 2, int(round(j.tau[m] / self.kt / dynamixel.AMP_PER_UNIT)))
            self.tables[k][dynamixel.MOVING_ADDR] = int(abs(j.qd[m]) > 0.01)

    def _snapshot(self) -> dict:
        return {"q": self.joints.q.copy(), "qd": self.joints.qd.copy(),
                "torque_enable": [self.tables[k][dynamixel.TORQUE_ENABLE_ADDR] for k in self.ids],
                "bus_watchdog": [self.tables[k][dynamixel.BUS_WATCHDOG_ADDR] for k in self.ids],
                "watchdog_trips": self.watchdog_trips, "corrupt": self.reader.corrupt,
                "sync_writes": self.sync_writes,
                "goal_ticks": [self._get(k, dynamixel.GOAL_POSITION_ADDR, 4) for k in self.ids]}
