"""The compiled framed protocol equals readable references (cobs, crcmod) and resyncs after corruption."""
import rtcore  # noqa: F401  (sets the numba cache dir before compiled code loads)
import cobs.cobs
import crcmod.predefined
import numpy as np
import pytest

from devices.protocols import framed

CRC_REF = crcmod.predefined.mkCrcFun("crc-ccitt-false")


def _payloads(rng, k=120):
    out = [b"", b"\x00", b"\x00" * 7, bytes(range(1, 255)), bytes(range(1, 256)) * 1]
    for _ in range(k):
        n = int(rng.integers(0, framed.MAX_PAYLOAD + 1))
        p = rng.integers(0, 256, n).astype(np.uint8)
        p[rng.random(n) < rng.random()] = 0
        out.append(p.tobytes())
    return [p[:framed.MAX_PAYLOAD] for p in out]


def test_crc_is_ccitt_false():
    assert framed.crc16_ccitt(np.frombuffer(b"123456789", np.uint8), 9) == 0x29B1  # catalogue check value
    rng = np.random.default_rng(1)
    for _ in range(200):
        d = rng.integers(0, 256, int(rng.integers(0, 700))).astype(np.uint8)
        assert framed.crc16_ccitt(d, d.size) == CRC_REF(d.tobytes())


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 600])
def test_cobs_matches_reference_at_block_edges(n):
    for fill in (1, 0):
        d = np.full(n, fill, np.uint8) if fill else np.zeros(n, np.uint8)
        dst = np.zeros(n + n // 254 + 2, np.uint8)
        m = framed.cobs_encode(d, n, dst)
        assert dst[:m].tobytes() == cobs.cobs.encode(d.tobytes())
        back = np.zeros(n + 1, np.uint8)
        assert framed.cobs_decode(dst, m, back) == n and back[:n].tobytes() == d.tobytes()


def test_frames_roundtrip_and_match_reference_encoding():
    rng = np.random.default_rng(2)
    r = framed.FrameReader()
    for seq, p in enumerate(_payloads(rng)):
        wire = framed.encode(framed.MSG_COMMAND, seq, p)
        body = bytes([framed.MSG_COMMAND, seq & 0xFF]) + p
        crc = CRC_REF(body)
        assert wire == cobs.cobs.encode(body + bytes([crc & 0xFF, crc >> 8])) + b"\x00"
        assert r.feed(wire) == [(framed.MSG_COMMAND, seq & 0xFF, p)]
    assert r.corrupt == 0


def test_corrupt_bytes_are_dropped_counted_and_the_stream_resyncs():
    rng = np.random.default_rng(3)
    frames = [framed.encode(framed.MSG_STATE, k, rng.integers(0, 256, 29).astype(np.uint8).tobytes())
              for k in range(60)]
    stream, spoiled = bytearray(), 0
    for k, w in enumerate(frames):
        w = bytearray(w)
        if k % 5 == 2:  # one flipped bit inside the frame: CRC (or COBS) failure
            w[int(rng.integers(0, len(w) - 1))] ^= 1 << int(rng.integers(0, 8))
            if 0 in w[:-1]:  # the flip made a delimiter: two fragments, both dropped
                spoiled += 1
            spoiled += 1
        stream += w
        if k % 7 == 3:
            stream += b"\x00"  # an empty frame: ignored, not corrupt
    stream += bytes([0x55] * 300) + b"\x00" + frames[0]  # overlong garbage, then a good frame
    r = framed.FrameReader()
    got = []
    for chunk in np.array_split(np.frombuffer(bytes(stream), np.uint8), 37):  # arbitrary read sizes
        got += r.feed(chunk.tobytes())
    assert [seq for _, seq, _ in got] == [k for k in range(60) if k % 5 != 2] + [0]
    assert r.corrupt == spoiled + 1


def test_state_message_fixed_point_roundtrip():
    n = 3
    q, qd, tau = np.array([0.5, -1.25, 3.0]), np.array([0.1, -2.0, 0.0]), np.array([1.5, -0.25, 0.003])
    body = np.zeros(framed.MAX_BODY, np.uint8)
    nb = framed.put_state(body, 9, framed.FLAG_ENABLED, 4, q, qd, tau, n)
    out = [np.zeros(n) for _ in range(3)]
    flags, ack, m = framed.get_state(body, nb, *out)
    assert (flags, ack, m) == (framed.FLAG_ENABLED, 4, n)
    for a, b in zip(out, (q, qd, tau)):
        np.testing.assert_allclose(a, b, atol=1e-6)  # 1e-6 fixed point
    assert framed.get_state(body, nb - 1, *out)[2] == -1  # a truncated state is refused
