"""Dynamixel Protocol 2.0: packets, byte stuffing, CRC-16 and a resyncing packet parser.

    packet = FF FF FD 00 | id | len u16 | inst | params... | crc u16     (len = params + 3)
    status = FF FF FD 00 | id | len u16 | 0x55 | err | params... | crc u16
CRC-16 with poly 0x8005, init 0, no reflection (CRC-16/BUYPASS), over everything before the CRC,
after stuffing. Byte stuffing: inside inst/params, every FF FF FD is followed by an extra FD.
(ROBOTIS e-Manual, "DYNAMIXEL Protocol 2.0"; the dynamixel-sdk is the test oracle.)

Control table addresses and units are those of the X-series (XM430-W350, e-Manual).
"""
import math

import numpy as np
from numba import njit

from devices.protocols.le_bytes import get_u16, put_u16

# --- instructions -----------------------------------------------------------------------
INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04  #: write, applied at the next ACTION
INST_ACTION = 0x05
INST_FACTORY_RESET = 0x06  #: param: FACTORY_RESET_ALL, _EXCEPT_ID or _EXCEPT_ID_BAUD
INST_REBOOT = 0x08
INST_CLEAR = 0x10  #: params CLEAR_MULTI_TURN_PARAMS: present position back into one turn
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83
INST_FAST_SYNC_READ = 0x8A  #: one status packet for all servos: [err id data crc]... (crc = running packet CRC)
INST_BULK_READ = 0x92  #: params [id, addr u16, len u16] per servo; one status packet each, in order
BROADCAST_ID = 0xFE
FACTORY_RESET_ALL = 0xFF
FACTORY_RESET_EXCEPT_ID = 0x01
FACTORY_RESET_EXCEPT_ID_BAUD = 0x02
CLEAR_MULTI_TURN_PARAMS = bytes((0x01, 0x44, 0x58, 0x4C, 0x22))

# --- status packet error byte -----------------------------------------------------------
ERR_RESULT_FAIL = 0x01  #: the instruction failed
ERR_INSTRUCTION = 0x02  #: undefined instruction, or ACTION without REG_WRITE
ERR_CRC = 0x03  #: the received packet's CRC did not match
ERR_DATA_RANGE = 0x04  #: data out of the control-table item's range
ERR_DATA_LENGTH = 0x05  #: data shorter than the item
ERR_DATA_LIMIT = 0x06  #: data over the item's limit
ERR_ACCESS = 0x07  #: write to a read-only item, or a torque-locked EEPROM item
ERR_ALERT = 0x80  #: a hardware error is latched: read HARDWARE_ERROR_STATUS_ADDR
ERR_NUMBER_MASK = 0x7F  #: the error number (ERR_RESULT_FAIL..ERR_ACCESS) without the ERR_ALERT bit

# --- hardware error status bits (HARDWARE_ERROR_STATUS_ADDR) ----------------------------
HW_INPUT_VOLTAGE = 0x01
HW_OVERHEATING = 0x04
HW_MOTOR_ENCODER = 0x08
HW_ELECTRICAL_SHOCK = 0x10
HW_OVERLOAD = 0x20

# --- X-series control table (address, size in bytes) ------------------------------------
MODEL_NUMBER_ADDR = 0  # 2
FIRMWARE_VERSION_ADDR = 6  # 1
ID_ADDR = 7  # 1
BAUD_RATE_ADDR = 8  # 1
RETURN_DELAY_TIME_ADDR = 9  # 1, unit 2 us
OPERATING_MODE_ADDR = 11  # 1
PROTOCOL_TYPE_ADDR = 13  # 1, 2 = Protocol 2.0
CURRENT_LIMIT_ADDR = 38  # 2
VELOCITY_LIMIT_ADDR = 44  # 4
MAX_POSITION_LIMIT_ADDR = 48  # 4
MIN_POSITION_LIMIT_ADDR = 52  # 4
TORQUE_ENABLE_ADDR = 64  # 1
REGISTERED_INSTRUCTION_ADDR = 69  # 1, 1 while a REG_WRITE waits for ACTION
HARDWARE_ERROR_STATUS_ADDR = 70  # 1
BUS_WATCHDOG_ADDR = 98  # 1, unit 20 ms, 0 = off; reads 0xFF (-1) after it tripped
GOAL_CURRENT_ADDR = 102  # 2
GOAL_VELOCITY_ADDR = 104  # 4
PROFILE_VELOCITY_ADDR = 112  # 4
GOAL_POSITION_ADDR = 116  # 4
MOVING_ADDR = 122  # 1
PRESENT_CURRENT_ADDR = 126  # 2
PRESENT_VELOCITY_ADDR = 128  # 4
PRESENT_POSITION_ADDR = 132  # 4
PRESENT_INPUT_VOLTAGE_ADDR = 144  # 2
PRESENT_TEMPERATURE_ADDR = 146  # 1
CONTROL_TABLE_SIZE = 147
#: one sync read covers present current, velocity and position
PRESENT_BLOCK_ADDR = PRESENT_CURRENT_ADDR
PRESENT_BLOCK_LEN = PRESENT_POSITION_ADDR + 4 - PRESENT_CURRENT_ADDR  # 10

OPERATING_MODE_CURRENT = 0
OPERATING_MODE_POSITION = 3
RETURN_DELAY_UNIT_US = 2.0
#: BAUD_RATE_ADDR value -> line rate, bit/s (X-series)
BAUD_RATES_BPS = {0: 9600, 1: 57600, 2: 115200, 3: 1_000_000, 4: 2_000_000, 5: 3_000_000, 6: 4_000_000, 7: 4_500_000}
BITS_PER_BYTE = 10  #: 8N1 on the wire
BUS_WATCHDOG_UNIT_MS = 20.0
XM430_W350_MODEL = 1020

# --- units (X-series) -------------------------------------------------------------------
POSITION_CENTER = 2048  #: raw position of 0 rad
RAD_PER_TICK = 2.0 * math.pi / 4096.0  #: position unit, rad
RAD_S_PER_UNIT = 0.229 * 2.0 * math.pi / 60.0  #: velocity unit (0.229 rpm), rad/s
AMP_PER_UNIT = 2.69e-3  #: current unit (2.69 mA), A

HEADER_LEN = 7  # FF FF FD 00 id len_l len_h
MAX_PACKET = 1024
NEED_MORE = -1  #: next_packet: no complete packet yet
CORRUPT = -2  #: next_packet: bytes were dropped (bad CRC, bad length or garbage before a header)


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint16)
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x8005) if c & 0x8000 else (c << 1)
        table[b] = c & 0xFFFF
    return table


CRC16_DXL_TABLE = _crc_table()


@njit(cache=True, nogil=True)
def crc16_dxl(buf, n):
    """Dynamixel CRC-16 (poly 0x8005, init 0) of buf[:n]: c = (c << 8) ^ T[(c >> 8) ^ b]."""
    c = 0
    for k in range(n):
        c = ((c << 8) & 0xFFFF) ^ CRC16_DXL_TABLE[((c >> 8) ^ buf[k]) & 0xFF]
    return c


@njit(cache=True, nogil=True)
def make_packet(dxl_id, inst, params, n_params, out):
    """Write a stuffed packet with CRC into out; returns its length.

    params[:n_params] unstuffed (for a status packet, params[0] is the error byte).
    out needs 10 + n_params * 4 // 3 bytes in the worst case."""
    out[0] = 0xFF
    out[1] = 0xFF
    out[2] = 0xFD
    out[3] = 0x00
    out[4] = dxl_id
    out[7] = inst
    k = 8
    p2 = 0  # the two previous unstuffed bytes (inst first)
    p1 = inst
    for j in range(n_params):
        b = params[j]
        out[k] = b
        k += 1
        if b == 0xFD and p1 == 0xFF and p2 == 0xFF:
            out[k] = 0xFD
            k += 1
        p2 = p1
        p1 = b
    put_u16(out, 5, k - HEADER_LEN + 2)
    c = crc16_dxl(out, k)
    put_u16(out, k, c)
    return k + 2


@njit(cache=True, nogil=True)
def sync_write_params(params, addr, data_len, ids, raw, n):
    """SYNC_WRITE params: addr u16 | len u16 | n x (id | raw value LE, data_len bytes).

    ids: int64[n]; raw: int64[n] control-table values. Returns n_params."""
    put_u16(params, 0, addr)
    put_u16(params, 2, data_len)
    k = 4
    for j in range(n):
        params[k] = ids[j]
        k += 1
        v = raw[j] & 0xFFFFFFFF
        for b in range(data_len):
            params[k] = (v >> (8 * b)) & 0xFF
            k += 1
    return k


@njit(cache=True, nogil=True)
def sync_read_params(params, addr, data_len, ids, n):
    """SYNC_READ params: addr u16 | len u16 | id... Returns n_params."""
    put_u16(params, 0, addr)
    put_u16(params, 2, data_len)
    for j in range(n):
        params[4 + j] = ids[j]
    return 4 + n


@njit(cache=True, nogil=True)
def next_packet(acc, st, out):
    """Parse the next packet from acc[:st[0]] (received bytes, shifted down as consumed).

    Returns (result, id, inst): result = number of destuffed params now in out (status: err
    first), NEED_MORE, or CORRUPT (garbage before a header, a bad length or a CRC mismatch:
    the bad bytes are dropped, so calling again resyncs at the next header)."""
    n = st[0]
    # find a header FF FF FD 00
    h = 0
    while h + 3 < n and not (acc[h] == 0xFF and acc[h + 1] == 0xFF and acc[h + 2] == 0xFD and acc[h + 3] == 0x00):
        h += 1
    if h > 0:  # garbage before a header (or no header: keep the last 3 bytes, a split header)
        _shift(acc, st, h)
        return CORRUPT, 0, 0
    n = st[0]
    if n < HEADER_LEN + 1:
        return NEED_MORE, 0, 0
    length = get_u16(acc, 5)
    if length < 3 or HEADER_LEN + length > acc.size:
        _shift(acc, st, 1)
        return CORRUPT, 0, 0
    total = HEADER_LEN + length
    if n < total:
        return NEED_MORE, 0, 0
    if crc16_dxl(acc, total - 2) != get_u16(acc, total - 2):
        _shift(acc, st, 1)
        return CORRUPT, 0, 0
    dxl_id = acc[4]
    inst = acc[7]
    m = 0
    k = 8
    while k < total - 2:
        b = acc[k]
        if b == 0xFD and k >= 10 and acc[k - 1] == 0xFD and acc[k - 2] == 0xFF and acc[k - 3] == 0xFF:
            k += 1  # stuffed FD after FF FF FD
            continue
        if m < out.size:
            out[m] = b
            m += 1
        k += 1
    _shift(acc, st, total)
    return m, dxl_id, inst


@njit(cache=True, nogil=True)
def _shift(acc, st, k):
    """Drop the first k bytes of acc[:st[0]]."""
    n = st[0]
    for j in range(n - k):
        acc[j] = acc[j + k]
    st[0] = n - k


def packet(dxl_id: int, inst: int, params: bytes = b"") -> bytes:
    """One packet as bytes (build time, emulator, tests)."""
    p = np.frombuffer(bytes(params), dtype=np.uint8)
    out = np.zeros(12 + 2 * len(params), dtype=np.uint8)
    m = make_packet(dxl_id, inst, p, p.size, out)
    return out[:m].tobytes()


class PacketReader:
    """Python-side stream parser over next_packet: feed bytes, get (id, inst, params) packets."""

    def __init__(self):
        self.acc = np.zeros(MAX_PACKET, dtype=np.uint8)
        self.st = np.zeros(1, dtype=np.int64)
        self.out = np.zeros(MAX_PACKET, dtype=np.uint8)
        self.corrupt = 0

    def feed(self, data: bytes) -> list:
        packets = []
        data = memoryview(bytes(data))
        while True:
            room = self.acc.size - int(self.st[0])
            take = min(room, len(data))
            if take:
                self.acc[self.st[0]:self.st[0] + take] = np.frombuffer(data[:take], dtype=np.uint8)
                self.st[0] += take
                data = data[take:]
            r, dxl_id, inst = next_packet(self.acc, self.st, self.out)
            while r != NEED_MORE:
                if r == CORRUPT:
                    self.corrupt += 1
                else:
                    packets.append((int(dxl_id), int(inst), self.out[:r].tobytes()))
                r, dxl_id, inst = next_packet(self.acc, self.st, self.out)
            if not data:
                return packets
            if self.st[0] == self.acc.size:  # a full buffer without a packet: drop it
                self.st[0] = 0
                self.corrupt += 1
