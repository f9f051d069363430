"""The reference firmware's framing, CRC and device logic (C, host gcc) agree with the Python side
both ways, and its watchdog disables the arm when commands stop."""
import rtcore  # noqa: F401
import pathlib
import shutil
import struct
import subprocess

import numpy as np
import pytest

from devices.protocols import framed

FW = pathlib.Path(__file__).resolve().parent.parent / "devices" / "firmware"
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")


class Harness:
    """devices/firmware/test/harness.c driven over stdin/stdout, one line per command."""

    def __init__(self, exe):
        self.p = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=5)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    exe = tmp_path_factory.mktemp("fw") / "harness"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-o", str(exe),
                    str(FW / "test" / "harness.c"), str(FW / "src" / "rtframe.c"), str(FW / "src" / "rtdevice.c")],
                   check=True)
    h = Harness(exe)
    yield h
    h.close()


def _hex(b: bytes) -> str:
    return b.hex() or "-"


def _payloads():
    rng = np.random.default_rng(5)
    out = [b"", b"\x00", b"\x01" * 240, bytes(range(1, 241)), b"\x00" * 240]
    for _ in range(60):
        p = rng.integers(0, 256, int(rng.integers(0, 241))).astype(np.uint8)
        p[rng.random(p.size) < 0.2] = 0
        out.append(p.tobytes())
    return out


def test_crc_c_equals_python(harness):
    rng = np.random.default_rng(4)
    assert harness.ask("crc " + b"123456789".hex()) == "crc 29b1"
    for _ in range(50):
        d = rng.integers(0, 256, int(rng.integers(1, 400))).astype(np.uint8)
        assert harness.ask("crc " + d.tobytes().hex()) == f"crc {framed.crc16_ccitt(d, d.size):04x}"


def test_c_encodes_what_python_decodes_and_back(harness):
    reader = framed.FrameReader()
    for seq, p in enumerate(_payloads()):
        c_wire = bytes.fromhex(harness.ask(f"enc {framed.MSG_STATE} {seq % 256} {_hex(p)}").split()[1])
        assert c_wire == framed.encode(framed.MSG_STATE, seq, p)  # byte-identical frames
        assert reader.feed(c_wire) == [(framed.MSG_STATE, seq % 256, p)]
        got = harness.ask("dec " + framed.encode(framed.MSG_COMMAND, seq, p).hex())
        assert got == f"ok {framed.MSG_COMMAND} {seq % 256} {_hex(p)};end"


def test_c_and_python_drop_the_same_corrupt_frames(harness):
    frames = [bytearray(framed.encode(framed.MSG_STATE, k, bytes([k + 1]) * 20)) for k in range(20)]
    for k in (3, 9, 15):
        frames[k][5] ^= 0x04
    stream = b"\x77\x31" + b"".join(bytes(w) for w in frames)
    reader = framed.FrameReader()
    py = [seq for _, seq, _ in reader.feed(stream)]
    out = harness.ask("dec " + stream.hex()).split(";")
    c = [int(x.split()[2]) for x in out if x.startswith("ok")]
    assert c == py == [k for k in range(1, 20) if k not in (3, 9, 15)]  # frame 0 carries the garbage prefix
    assert out.count("corrupt") == reader.corrupt >= 4  # a flip to 0x00 splits a frame into two drops


def _replies(h, out_line):
    wire = out_line.split()[1]
    return [] if wire == "-" else framed.FrameReader().feed(bytes.fromhex(wire))


def test_firmware_device_handshake_commands_and_watchdog(harness):
    h = harness
    assert h.ask("init 2 100") == "init"
    hello = framed.encode(framed.MSG_HELLO, 0, bytes([framed.PROTOCOL_VERSION]))
    (t, _, p), = _replies(h, h.ask("feed 0 " + hello.hex()))
    assert t == framed.MSG_HELLO_ACK and struct.unpack("<BBH", p) == (framed.PROTOCOL_VERSION, 2, 100)
    (t, _, p), = _replies(h, h.ask("feed 1 " + framed.encode(framed.MSG_HELLO, 1, b"\x07").hex()))
    assert (t, p) == (framed.MSG_FAULT, bytes([framed.FAULT_BAD_VERSION]))
    (t, _, p), = _replies(h, h.ask("feed 2 " + framed.encode(framed.MSG_ENABLE, 2).hex()))
    assert t == framed.MSG_STATE and p[0] == framed.FLAG_ENABLED
    assert "enabled=1" in h.ask("tick 500")  # not armed before the first COMMAND
    cmd = np.zeros(framed.MAX_BODY, np.uint8)
    nb = framed.put_command(cmd, 42, framed.MODE_POSITION, np.array([0.25, -0.5]), 2)
    wire = np.zeros(framed.MAX_WIRE, np.uint8)
    m = framed.frame_encode(cmd, nb, wire)
    (t, _, p), = _replies(h, h.ask(f"feed 1000 {wire[:m].tobytes().hex()}"))
    assert t == framed.MSG_STATE and p[1] == 42 and p[2] == 2  # acknowledges seq 42, two joints
    assert h.ask("tick 1100").split()[2] == "enabled=1"  # exactly the watchdog period: still fine
    line = h.ask("tick 1101")
    (t, _, p), = _replies(h, line)
    assert (t, p) == (framed.MSG_FAULT, bytes([framed.FAULT_WATCHDOG]))
    assert "enabled=0" in line and f"flags={framed.FLAG_WATCHDOG}" in line and "trips=1" in line
    bad = framed.encode(framed.MSG_HEARTBEAT, 5)[:-2] + b"\x00"  # truncated frame
    assert h.ask("feed 1200 " + bad.hex()) == "out -"
    assert "corrupt=1" in h.ask("tick 1200")


def test_firmware_sketch_compiles_on_the_host(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", "-c", "-o", str(tmp_path / "main.o"),
                    "-I", str(FW / "test" / "host_stub"), "-I", str(FW / "src"), str(FW / "src" / "main.cpp")],
                   check=True)
