"""Emulated Dynamixel Protocol 2.0 bus: N X-series servos (XM430-W350 control table) on a pty.

Each servo has a control-table byte image and answers PING, READ, WRITE, REG_WRITE/ACTION,
FACTORY_RESET, REBOOT, CLEAR (multi-turn), SYNC_WRITE, SYNC_READ, FAST_SYNC_READ and BULK_READ
as the e-Manual specifies: status packets in request order for a sync or bulk read, one packet
for a fast sync read, ERR_ACCESS for EEPROM writes with torque on, ERR_ALERT while a hardware
error is latched (which also turns torque off). Bus watchdog (BUS_WATCHDOG_ADDR, 20 ms units):
with torque on and no instruction for that long, the servo stops and holds its position, the
item reads 0xFF, and goal writes fail until the host writes 0 to it. Joints follow
devices.emulators.joint_model.

The line behaves like one: a servo hears only a host whose line speed (the termios speed of the
pty, read on the slave side) matches its Baud Rate item within 3%, and the bus is half duplex
at that rate: a status packet starts Return Delay Time (2 us units) after the request (or the
previous servo's status) has ended on the wire and takes 10 bits per byte.
"""
import struct
import termios
import time

import numpy as np

from devices.emulators.joint_model import MAX_STEP_S, JointModel
from devices.emulators.pty_device import PtyDevice
from devices.protocols import dynamixel

_GOALS = (dynamixel.GOAL_CURRENT_ADDR, dynamixel.GOAL_VELOCITY_ADDR, dynamixel.GOAL_POSITION_ADDR)
_BUS_WATCHDOG_TRIPPED = 0xFF
_FACTORY_ID, _FACTORY_BAUD, _FACTORY_RETURN_DELAY = 1, 1, 250  #: e-Manual defaults: ID 1, 57600 bit/s, 500 us
_BAUD_TOLERANCE = 0.03
#: termios speed constant -> bit/s, for the rates Python's termios names
_TERMIOS_BPS = {getattr(termios, f"B{r}"): r for r in (9600, 57600, 115200, 1000000, 2000000, 3000000, 4000000)
                if hasattr(termios, f"B{r}")}


class DynamixelBusEmulator(PtyDevice):
    """Fake servos with the given IDs; `path` is the port to give the engine."""

    def __init__(self, ids=(1, 2), tau_s: float = 0.05, torque_constant_nm_per_a: float = 1.78,
                 rate_hz: float = 1000.0, q0_rad=None, baud: int = 1_000_000, return_delay_us: float = 0.0):
        """ids, baud and return_delay_us: the servos as a lab configures them (the e-Manual's
        factory values, ID 1, 57600 bit/s and 500 us, come back with FACTORY_RESET)."""
        super().__init__(rate_hz)
        self.ids = [int(k) for k in ids]
        self.kt = torque_constant_nm_per_a
        self.joints = JointModel(len(self.ids), tau_s=tau_s, q0_rad=q0_rad)
        codes = {v: k for k, v in dynamixel.BAUD_RATES_BPS.items()}
        if baud not in codes:
            raise ValueError(f"baud {baud}: an X-series servo runs at one of {sorted(codes)}")
        self.tables = {k: self._factory_table(k, codes[baud], int(round(return_delay_us / dynamixel.RETURN_DELAY_UNIT_US)))
                       for k in self.ids}
        self.registered = {}  # id -> (addr, data) of a REG_WRITE waiting for ACTION
        self.wire_free_s = 0.0  # when the half-duplex line is next free, monotonic s
        self._outbox = []  # status packets of the request being answered
        self.unheard_bytes = 0  # host bytes no servo could hear (line speed mismatch)
        self.fast_sync_reads = 0
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
    def _factory_table(dxl_id: int = _FACTORY_ID, baud_code: int = _FACTORY_BAUD,
                       return_delay: int = _FACTORY_RETURN_DELAY) -> bytearray:
        t = bytearray(dynamixel.CONTROL_TABLE_SIZE)
        t[dynamixel.MODEL_NUMBER_ADDR:dynamixel.MODEL_NUMBER_ADDR + 2] = struct.pack("<H", dynamixel.XM430_W350_MODEL)
        t[dynamixel.FIRMWARE_VERSION_ADDR] = 45
        t[dynamixel.ID_ADDR] = dxl_id
        t[dynamixel.BAUD_RATE_ADDR] = baud_code
        t[dynamixel.RETURN_DELAY_TIME_ADDR] = return_delay
        t[dynamixel.PROTOCOL_TYPE_ADDR] = 2
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
        host_bps = self._host_bps()
        rx_end = max(now, self.wire_free_s)  # the request is on the line after what was already there
        for dxl_id, inst, p in self.reader.feed(data):
            rx_end += len(dynamixel.packet(dxl_id, inst, p)) * self._byte_s(host_bps)
            self.wire_free_s = rx_end
            if inst == dynamixel.INST_STATUS:
                continue  # another device's status on a shared bus
            hearing = [k for k in self.ids if self._hears(k, host_bps)]
            if not hearing:
                self.unheard_bytes += len(dynamixel.packet(dxl_id, inst, p))
                continue
            if inst in (dynamixel.INST_SYNC_WRITE, dynamixel.INST_SYNC_READ, dynamixel.INST_FAST_SYNC_READ, dynamixel.INST_BULK_READ):
                self._group(inst, p, now, hearing)
                continue
            targets = hearing if dxl_id == dynamixel.BROADCAST_ID else ([dxl_id] if dxl_id in hearing else [])
            for k in targets:
                self.last_rx_s[k] = now
                self._instruction(k, inst, p, broadcast=dxl_id == dynamixel.BROADCAST_ID)
        self._deliver()

    # --- the line: speed match, byte time, return delay --------------------------------------
    def _host_bps(self) -> int | None:
        """The host's line speed (termios of the pty's slave side), or None if not a named rate."""
        try:
            return _TERMIOS_BPS.get(termios.tcgetattr(self._slave)[5])
        except termios.error:
            return None

    def _hears(self, dxl_id: int, host_bps: int | None) -> bool:
        servo = dynamixel.BAUD_RATES_BPS.get(self.tables[dxl_id][dynamixel.BAUD_RATE_ADDR])
        return host_bps is None or (servo is not None and abs(host_bps / servo - 1.0) < _BAUD_TOLERANCE)

    def _byte_s(self, bps: int | None) -> float:
        return dynamixel.BITS_PER_BYTE / (bps or 1_000_000)

    def _status(self, dxl_id: int, err: int, params: bytes = b"") -> None:
        self._transmit(dxl_id, dynamixel.packet(dxl_id, dynamixel.INST_STATUS, bytes([err]) + params))

    def _transmit(self, dxl_id: int, wire: bytes) -> None:
        """Queue one status packet as the servo sends it: Return Delay Time after the line is
        free, then 10 bits per byte at its baud rate (_deliver writes it when that has passed)."""
        t = self.tables[dxl_id]
        start = max(time.monotonic(), self.wire_free_s) + t[dynamixel.RETURN_DELAY_TIME_ADDR] * dynamixel.RETURN_DELAY_UNIT_US * 1e-6
        self.wire_free_s = start + len(wire) * self._byte_s(dynamixel.BAUD_RATES_BPS.get(t[dynamixel.BAUD_RATE_ADDR]))
        self._outbox.append(wire)

    def _deliver(self) -> None:
        """Write this request's status packets once the last one has ended on the wire, in one
        write: each GIL hand-off costs up to 5 ms when the host runs in this process, and a
        spin (not a sleep) for the last 2 ms keeps the GIL."""
        if not self._outbox:
            return
        left = self.wire_free_s - time.monotonic()
        if left > 2e-3:
            time.sleep(left - 2e-3)
        while time.monotonic() < self.wire_free_s:
            pass
        for wire in self._outbox:
            self.send(wire)
        self._outbox.clear()

    # --- single-servo instructions -------------------------------------------------------
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
        elif inst in (dynamixel.INST_REG_WRITE, dynamixel.INST_ACTION):
            self._registered_write(k, inst, p, broadcast)
        elif inst == dynamixel.INST_FACTORY_RESET and len(p) == 1:
            self._factory_reset(k, p[0], broadcast)
        elif inst == dynamixel.INST_CLEAR:
            self._clear_multi_turn(k, p, broadcast)
        elif not broadcast:
            self._status(k, dynamixel.ERR_INSTRUCTION)

    def _registered_write(self, k: int, inst: int, p: bytes, broadcast: bool) -> None:
        """REG_WRITE stores a write (REGISTERED_INSTRUCTION reads 1); ACTION applies it. ACTION
        with nothing registered is ERR_INSTRUCTION. Both answer unless broadcast."""
        err = 0
        if inst == dynamixel.INST_REG_WRITE:
            if len(p) < 3 or struct.unpack("<H", p[:2])[0] + len(p) - 2 > dynamixel.CONTROL_TABLE_SIZE:
                err = dynamixel.ERR_DATA_LENGTH
            else:
                self.registered[k] = (struct.unpack("<H", p[:2])[0], bytes(p[2:]))
                self.tables[k][dynamixel.REGISTERED_INSTRUCTION_ADDR] = 1
        elif k in self.registered:
            addr, data = self.registered.pop(k)
            self.tables[k][dynamixel.REGISTERED_INSTRUCTION_ADDR] = 0
            err = self._write(k, addr, data)
        else:
            err = dynamixel.ERR_INSTRUCTION
        if not broadcast:
            self._status(k, err | self._error_byte(k))

    def _factory_reset(self, k: int, option: int, broadcast: bool) -> None:
        """Back to the e-Manual's factory table; option FACTORY_RESET_EXCEPT_ID keeps the ID,
        FACTORY_RESET_EXCEPT_ID_BAUD keeps ID and baud rate. The status goes out before the
        reset takes effect (at the old ID and rate). Refused (ERR_DATA_RANGE) for other options."""
        if option not in (dynamixel.FACTORY_RESET_ALL, dynamixel.FACTORY_RESET_EXCEPT_ID, dynamixel.FACTORY_RESET_EXCEPT_ID_BAUD):
            if not broadcast:
                self._status(k, dynamixel.ERR_DATA_RANGE)
            return
        if not broadcast:
            self._status(k, 0)
        old = self.tables[k]
        new_id = k if option != dynamixel.FACTORY_RESET_ALL else _FACTORY_ID
        baud = old[dynamixel.BAUD_RATE_ADDR] if option == dynamixel.FACTORY_RESET_EXCEPT_ID_BAUD else _FACTORY_BAUD
        table = self._factory_table(new_id, baud)
        table[dynamixel.PRESENT_POSITION_ADDR:] = old[dynamixel.PRESENT_POSITION_ADDR:]  # the shaft stays where it is
        j = self.ids.index(k)
        self.registered.pop(k, None)
        del self.tables[k]
        self.tables[new_id] = table  # an ID clash on the bus is the user's problem, as with real servos
        self.ids[j] = new_id
        self.last_rx_s[new_id] = self.last_rx_s.pop(k, None)

    def _clear_multi_turn(self, k: int, p: bytes, broadcast: bool) -> None:
        """CLEAR with the multi-turn parameters: present position back into [0, 4095] (one turn);
        refused while the servo moves (ERR_RESULT_FAIL) or with other parameters (ERR_DATA_RANGE)."""
        if p != dynamixel.CLEAR_MULTI_TURN_PARAMS:
            err = dynamixel.ERR_DATA_RANGE
        elif self.tables[k][dynamixel.MOVING_ADDR]:
            err = dynamixel.ERR_RESULT_FAIL
        else:
            err = 0
            j = self.ids.index(k)
            ticks = self._ticks(self.joints.q[j]) % 4096
            self.joints.q[j] = (ticks - dynamixel.POSITION_CENTER) * dynamixel.RAD_PER_TICK
            self._put(k, dynamixel.GOAL_POSITION_ADDR, 4, ticks)
            self._put(k, dynamixel.PRESENT_POSITION_ADDR, 4, ticks)
        if not broadcast:
            self._status(k, err | self._error_byte(k))

    # --- group instructions (broadcast ID) ---------------------------------------------
    def _group(self, inst: int, p: bytes, now: float, hearing: list) -> None:
        if inst == dynamixel.INST_BULK_READ:
            self._bulk_read(p, now, hearing)
            return
        if len(p) < 4:
            return
        addr, size = struct.unpack("<HH", p[:4])
        if inst == dynamixel.INST_SYNC_WRITE:
            self.contact(now)
            self.sync_writes += 1
            body = p[4:]
            for off in range(0, len(body) - size, size + 1):
                k = body[off]
                if k in hearing:
                    self.last_rx_s[k] = now
                    self._write(k, addr, body[off + 1:off + 1 + size])
            return
        ids = [k for k in p[4:] if k in hearing and addr + size <= dynamixel.CONTROL_TABLE_SIZE]
        for k in ids:
            self.last_rx_s[k] = now
        if inst == dynamixel.INST_FAST_SYNC_READ:
            self.fast_sync_reads += 1
            self._fast_sync_read(addr, size, ids)
            return
        for k in ids:  # sync read: one status each, in the order of the request
            self._status(k, self._error_byte(k), bytes(self.tables[k][addr:addr + size]))

    def _bulk_read(self, p: bytes, now: float, hearing: list) -> None:
        """BULK_READ: [id, addr u16, len u16] per servo; one status each, in request order."""
        for off in range(0, len(p) - 4, 5):
            k, addr, size = struct.unpack("<BHH", p[off:off + 5])
            if k in hearing and addr + size <= dynamixel.CONTROL_TABLE_SIZE:
                self.last_rx_s[k] = now
                self._status(k, self._error_byte(k), bytes(self.tables[k][addr:addr + size]))

    def _fast_sync_read(self, addr: int, size: int, ids: list) -> None:
        """FAST_SYNC_READ: one status packet from the broadcast ID, each servo appending
        [err, id, data, crc] where crc is the running CRC of the packet so far; the last crc is
        the packet's own. Not byte-stuffed (the SDK reads it raw). Only the first servo waits
        its Return Delay Time: the others follow on the line without a gap."""
        if not ids:
            return
        n = len(ids)
        length = 1 + n * (size + 4)  # inst + segments (the last one's crc is the packet crc)
        out = bytearray(b"\xff\xff\xfd\x00") + bytes([dynamixel.BROADCAST_ID]) + struct.pack("<H", length) + bytes([dynamixel.INST_STATUS])
        for k in ids:
            out += bytes([self._error_byte(k), k]) + bytes(self.tables[k][addr:addr + size])
            out += struct.pack("<H", dynamixel.crc16_dxl(np.frombuffer(bytearray(out), np.uint8), len(out)))  # writable: the compiled signature
        self._transmit(ids[0], bytes(out))

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
            self.joints.step(min(dt, MAX_STEP_S), True, position_mode, goal)
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
                "sync_writes": self.sync_writes, "ids": list(self.ids), "unheard_bytes": self.unheard_bytes,
                "fast_sync_reads": self.fast_sync_reads,
                "goal_ticks": [self._get(k, dynamixel.GOAL_POSITION_ADDR, 4) for k in self.ids]}
