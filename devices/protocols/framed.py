"""rtcore framed protocol: COBS frames with CRC-16/CCITT-FALSE, a sequence number and typed messages.

For custom microcontroller arms and exoskeletons. The reference firmware
(devices/firmware/src/rtframe.c) implements the same bytes; tests/test_firmware_framing.py
checks the two against each other in both directions.

Wire format (all integers little-endian):
    wire  = COBS(body + crc) 0x00               (Cheshire & Baker 1999, IEEE/ACM ToN 7:159)
    body  = type u8 | seq u8 | payload (0..MAX_PAYLOAD bytes)
    crc   = CRC-16/CCITT-FALSE(body): poly 0x1021, init 0xFFFF, no reflection, xorout 0;
            check value crc("123456789") = 0x29B1.
A 0x00 byte never occurs inside a COBS frame, so the receiver resyncs at the next 0x00 after
any corrupt, truncated or overlong frame; such frames are dropped and counted.

Messages (host -> device 0x0_, device -> host 0x8_), joint values as int32 fixed point (1e-6):
    HELLO      0x01  version u8                       -> HELLO_ACK or FAULT(BAD_VERSION)
    HELLO_ACK  0x81  version u8 | n_joints u8 | watchdog_ms u16
    ENABLE     0x02  -                                -> STATE
    DISABLE    0x03  -                                -> STATE
    COMMAND    0x04  mode u8 | n u8 | n x i32 (urad for MODE_POSITION, uNm for MODE_TORQUE) -> STATE
    HEARTBEAT  0x05  -                                -> STATE   (feeds the watchdog, no motion)
    STATS      0x06  -                                -> STATS_REPLY
    STATE      0x84  flags u8 | ack_seq u8 | n u8 | n x (q urad i32, qd urad/s i32, tau uNm i32)
    STATS_REPLY 0x86 rx_frames u32 | corrupt u32 | watchdog_trips u32 | limit_clips u32  (device counters)
    FAULT      0x87  code u8
Every valid host frame feeds the device watchdog, which the first COMMAND after ENABLE arms
(so the gap between the build-time enable and the first tick is safe); with no valid host frame
for watchdog_ms the device disables (zero torque), sets FLAG_WATCHDOG, sends FAULT(FAULT_WATCHDOG).
The device enforces its own joint limits too: position goals clipped to its range, torques to its
maximum, no torque further past a position limit; FLAG_LIMIT says it changed a command. Devices
that predate STATS ignore it (unknown types are dropped), so it needs no version change.
"""
import numpy as np
from numba import njit

from devices.protocols.le_bytes import get_i32, put_i32

PROTOCOL_VERSION = 1

MSG_HELLO = 0x01
MSG_ENABLE = 0x02
MSG_DISABLE = 0x03
MSG_COMMAND = 0x04
MSG_HEARTBEAT = 0x05
MSG_STATS = 0x06
MSG_HELLO_ACK = 0x81
MSG_STATE = 0x84
MSG_STATS_REPLY = 0x86
MSG_FAULT = 0x87

MODE_TORQUE = 0  #: COMMAND values are joint torques, uNm
MODE_POSITION = 1  #: COMMAND values are joint position goals, urad

FLAG_ENABLED = 0x01  #: STATE flags bit: torque on, commands applied
FLAG_WATCHDOG = 0x02  #: STATE flags bit: the watchdog tripped since the last ENABLE
FLAG_FAULT = 0x04  #: STATE flags bit: a fault latched since the last ENABLE
FLAG_LIMIT = 0x08  #: STATE flags bit: the device clipped a command to its own limits since the last ENABLE

STATS_FIELDS = ("rx_frames", "corrupt_frames", "watchdog_trips", "limit_clips")  #: STATS_REPLY, u32 each

FAULT_WATCHDOG = 1  #: no valid host frame for watchdog_ms
FAULT_BAD_VERSION = 2  #: HELLO with a protocol version the device does not speak
FAULT_BAD_COMMAND = 3  #: COMMAND with a wrong joint count or mode

FIXED_SCALE = 1e6  #: wire units per SI unit (urad, urad/s, uNm)
MAX_PAYLOAD = 240
MAX_BODY = 2 + MAX_PAYLOAD + 2  # type, seq, payload, crc
MAX_WIRE = MAX_BODY + MAX_BODY // 254 + 2  # COBS overhead + delimiter

NEED_MORE = 0  #: next_frame: no complete frame in the data yet
CORRUPT = -1  #: next_frame: a frame failed COBS, length or CRC and was dropped


def _crc_table(poly: int) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint16)
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ poly) if c & 0x8000 else (c << 1)
        table[b] = c & 0xFFFF
    return table


CRC16_CCITT_TABLE = _crc_table(0x1021)


@njit(cache=True, nogil=True)
def crc16_ccitt(buf, n):
    """CRC-16/CCITT-FALSE of buf[:n] (MSB-first table): c = (c << 8) ^ T[(c >> 8) ^ b]."""
    c = 0xFFFF
    for k in range(n):
        c = ((c << 8) & 0xFFFF) ^ CRC16_CCITT_TABLE[((c >> 8) ^ buf[k]) & 0xFF]
    return c


@njit(cache=True, nogil=True)
def cobs_encode(src, n, dst):
    """COBS-encode src[:n] into dst (no trailing 0x00); returns the encoded length.

    dst needs n + n // 254 + 1 bytes (Cheshire & Baker 1999)."""
    code_at = 0
    out = 1
    code = 1
    for k in range(n):
        b = src[k]
        if b == 0:
            dst[code_at] = code
            code_at = out
            out += 1
            code = 1
        else:
            dst[out] = b
            out += 1
            code += 1
            if code == 0xFF:
                dst[code_at] = code
                if k == n - 1:
                    return out  # a full block ends the data: no trailing code byte
                code_at = out
                out += 1
                code = 1
    dst[code_at] = code
    return out


@njit(cache=True, nogil=True)
def cobs_decode(src, n, dst):
    """Decode one COBS frame src[:n] (without its 0x00) into dst; returns the length or -1 if
    the frame is malformed (a zero byte inside, a code past the end, or dst too small)."""
    k = 0
    out = 0
    while k < n:
        code = src[k]
        if code == 0 or k + code > n:
            return -1
        k += 1
        for _ in range(code - 1):
            b = src[k]
            if b == 0 or out >= dst.size:
                return -1
            dst[out] = b
            out += 1
            k += 1
        if code != 0xFF and k < n:
            if out >= dst.size:
                return -1
            dst[out] = 0
            out += 1
    return out


@njit(cache=True, nogil=True)
def frame_encode(body, n_body, wire):
    """Append the CRC to body[:n_body] (type, seq, payload), COBS-encode it into wire and add
    the 0x00 delimiter. body needs n_body + 2 bytes. Returns the wire length."""
    c = crc16_ccitt(body, n_body)
    body[n_body] = c & 0xFF
    body[n_body + 1] = c >> 8
    m = cobs_encode(body, n_body + 2, wire)
    wire[m] = 0
    return m + 1


@njit(cache=True, nogil=True)
def next_frame(acc, st, data, pos, n, body):
    """Consume data[pos:n] up to the end of the next frame. Returns (new_pos, result):
    result = body length (type, seq, payload; CRC stripped) of a valid frame now in body,
    NEED_MORE if all data was consumed without a complete frame, or CORRUPT if a frame was
    dropped. acc: uint8[MAX_WIRE] undelimited bytes so far; st: int64[1] = [acc_len]
    (acc_len > acc.size marks an overlong frame being skipped to its delimiter)."""
    while pos < n:
        b = data[pos]
        pos += 1
        if b != 0:
            if st[0] < acc.size:
                acc[st[0]] = b
            st[0] = min(st[0] + 1, acc.size + 1)
            continue
        m = st[0]
        st[0] = 0
        if m == 0:
            continue  # back-to-back delimiters: an empty frame, used to flush a line
        if m > acc.size:
            return pos, CORRUPT
        k = cobs_decode(acc, m, body)
        if k < 4:
            return pos, CORRUPT
        c = crc16_ccitt(body, k - 2)
        if body[k - 2] != (c & 0xFF) or body[k - 1] != (c >> 8):
            return pos, CORRUPT
        return pos, k - 2
    return pos, NEED_MORE


@njit(cache=True, nogil=True)
def put_command(body, seq, mode, values, n):
    """COMMAND body: values[:n] in SI units (rad or Nm) -> int32 fixed point. Returns n_body."""
    body[0] = MSG_COMMAND
    body[1] = seq & 0xFF
    body[2] = mode
    body[3] = n
    for j in range(n):
        put_i32(body, 4 + 4 * j, int(np.round(values[j] * FIXED_SCALE)))
    return 4 + 4 * n


@njit(cache=True, nogil=True)
def put_state(body, seq, flags, ack_seq, q, qd, tau, n):
    """STATE body from q (rad), qd (rad/s), tau (Nm), each [n]. Returns n_body."""
    body[0] = MSG_STATE
    body[1] = seq & 0xFF
    body[2] = flags
    body[3] = ack_seq & 0xFF
    body[4] = n
    for j in range(n):
        put_i32(body, 5 + 12 * j, int(np.round(q[j] * FIXED_SCALE)))
        put_i32(body, 9 + 12 * j, int(np.round(qd[j] * FIXED_SCALE)))
        put_i32(body, 13 + 12 * j, int(np.round(tau[j] * FIXED_SCALE)))
    return 5 + 12 * n


@njit(cache=True, nogil=True)
def get_state(body, n_body, q, qd, tau):
    """Parse a STATE body into q, qd, tau (SI). Returns (flags, ack_seq, n) or n = -1 if the
    joint count does not fit the body or the arrays."""
    n = body[4]
    if n_body != 5 + 12 * n or n > q.size:
        return 0, 0, -1
    for j in range(n):
        q[j] = get_i32(body, 5 + 12 * j) / FIXED_SCALE
        qd[j] = get_i32(body, 9 + 12 * j) / FIXED_SCALE
        tau[j] = get_i32(body, 13 + 12 * j) / FIXED_SCALE
    return body[2], body[3], n


def encode(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    """One wire frame (Python convenience for build time, emulators and tests)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"framed payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = np.zeros(MAX_BODY, dtype=np.uint8)
    body[0], body[1] = msg_type, seq & 0xFF
    body[2:2 + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
    wire = np.zeros(MAX_WIRE, dtype=np.uint8)
    m = frame_encode(body, 2 + len(payload), wire)
    return wire[:m].tobytes()


class FrameReader:
    """Python-side stream decoder over next_frame: feed bytes, get (type, seq, payload) frames."""

    def __init__(self):
        self.acc = np.zeros(MAX_WIRE, dtype=np.uint8)
        self.st = np.zeros(1, dtype=np.int64)
        self.body = np.zeros(MAX_BODY, dtype=np.uint8)
        self.corrupt = 0

    def feed(self, data: bytes) -> list:
        arr = np.frombuffer(data, dtype=np.uint8)
        frames, pos = [], 0
        while pos < arr.size:
            pos, r = next_frame(self.acc, self.st, arr, pos, arr.size, self.body)
            if r == CORRUPT:
                self.corrupt += 1
            elif r > 0:
                frames.append((int(self.body[0]), int(self.body[1]), self.body[2:r].tobytes()))
        return frames
