"""Dynamixel Protocol 2.0 packets, CRC and stuffing equal the dynamixel-sdk's, and the emulator
answers the SDK as a servo would."""
import rtcore  # noqa: F401
import struct
import time

import numpy as np
import pytest
from dynamixel_sdk import GroupSyncRead, GroupSyncWrite, PacketHandler, PortHandler

from devices.protocols import dynamixel

SDK = PacketHandler(2.0)


class CapturePort:
    """The SDK's port interface, capturing what it would write (no hardware)."""

    baudrate = 1_000_000

    @property
    def is_using(self):  # never busy: nothing is read back
        return False

    @is_using.setter
    def is_using(self, value):
        pass

    def __init__(self):
        self.tx = []

    def clearPort(self):
        pass

    def writePort(self, packet):
        self.tx.append(bytes(packet))
        return len(packet)

    def getBaudRate(self):
        return self.baudrate

    def setPacketTimeout(self, n):
        pass

    def setPacketTimeoutMillis(self, ms):
        pass


def sdk_packet(dxl_id, inst, params):
    """The SDK's own stuffing and CRC (its txPacket drops the stuffed copy: see the last test)."""
    pkt = [0xFF, 0xFF, 0xFD, 0x00, dxl_id, 0, 0, inst] + list(params) + [0, 0]
    pkt[5], pkt[6] = (len(params) + 3) & 0xFF, (len(params) + 3) >> 8
    pkt = SDK.addStuffing(pkt)
    total = pkt[5] + (pkt[6] << 8) + 7
    crc = SDK.updateCRC(0, pkt, total - 2)
    pkt[total - 2], pkt[total - 1] = crc & 0xFF, crc >> 8
    return bytes(pkt[:total])


def test_crc_matches_sdk():
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = rng.integers(0, 256, int(rng.integers(0, 300))).astype(np.uint8)
        assert dynamixel.crc16_dxl(d, d.size) == SDK.updateCRC(0, d.tolist(), d.size)


def test_instruction_packets_equal_the_sdk_builders():
    port = CapturePort()
    SDK.writeTxOnly(port, 3, dynamixel.GOAL_POSITION_ADDR, 4, [0x00, 0x08, 0x00, 0x00])
    assert port.tx[-1] == dynamixel.packet(3, dynamixel.INST_WRITE,
                                           struct.pack("<Hi", dynamixel.GOAL_POSITION_ADDR, 2048))
    SDK.readTx(port, 5, dynamixel.PRESENT_POSITION_ADDR, 4)
    assert port.tx[-1] == dynamixel.packet(5, dynamixel.INST_READ,
                                           struct.pack("<HH", dynamixel.PRESENT_POSITION_ADDR, 4))
    SDK.txPacket(port, [0, 0, 0, 0, 7, 3, 0, dynamixel.INST_PING, 0, 0])
    assert port.tx[-1] == dynamixel.packet(7, dynamixel.INST_PING)

    ids, goals = np.array([1, 2, 3]), np.array([1000, 2048, 4000])
    sw = GroupSyncWrite(port, SDK, dynamixel.GOAL_POSITION_ADDR, 4)
    for k, g in zip(ids, goals):
        sw.addParam(int(k), list(struct.pack("<i", int(g))))
    sw.txPacket()
    params = np.zeros(64, np.uint8)
    n = dynamixel.sync_write_params(params, dynamixel.GOAL_POSITION_ADDR, 4, ids, goals, 3)
    assert port.tx[-1] == dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_WRITE, params[:n].tobytes())

    sw = GroupSyncWrite(port, SDK, dynamixel.GOAL_CURRENT_ADDR, 2)  # negative current, two's complement
    sw.addParam(1, list(struct.pack("<h", -300)))
    sw.txPacket()
    n = dynamixel.sync_write_params(params, dynamixel.GOAL_CURRENT_ADDR, 2, np.array([1]), np.array([-300]), 1)
    assert port.tx[-1] == dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_WRITE, params[:n].tobytes())

    sr = GroupSyncRead(port, SDK, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN)
    for k in ids:
        sr.addParam(int(k))
    sr.txPacket()
    n = dynamixel.sync_read_params(params, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN, ids, 3)
    assert port.tx[-1] == dynamixel.packet(dynamixel.BROADCAST_ID, dynamixel.INST_SYNC_READ, params[:n].tobytes())


@pytest.mark.parametrize("params", [b"\xff\xff\xfd", b"\x00\xff\xff\xfd\x01", b"\xff\xff\xfd\xfd\xff\xff\xfd",
                                    b"\xff\xfd\xff\xff", bytes([0xFF, 0xFF, 0xFD] * 5)])
def test_byte_stuffing_matches_sdk_and_destuffs(params):
    pkt = dynamixel.packet(2, dynamixel.INST_WRITE, params)
    assert pkt == sdk_packet(2, dynamixel.INST_WRITE, params)
    r = dynamixel.PacketReader()
    assert r.feed(pkt) == [(2, dynamixel.INST_WRITE, params)]


def test_parser_resyncs_after_garbage_and_bad_crc():
    good = [dynamixel.packet(k, dynamixel.INST_STATUS, bytes([0]) + struct.pack("<hii", -5 * k, 7 * k, 2048 + k))
            for k in range(1, 9)]
    bad = bytearray(good[3])
    bad[-1] ^= 0xFF  # CRC mismatch
    stream = b"\x00\x13\xff" + good[0] + good[1] + b"\xff\xff\xfd" + good[2] + bytes(bad) + b"".join(good[4:])
    r = dynamixel.PacketReader()
    got = []
    for k in range(0, len(stream), 5):  # split reads, headers split across them
        got += r.feed(stream[k:k + 5])
    assert [p[0] for p in got] == [1, 2, 3, 5, 6, 7, 8]
    assert r.corrupt >= 3  # leading garbage, the stray partial header, the bad CRC


def test_sdk_txpacket_does_not_stuff():
    """Documented SDK quirk: txPacket ignores addStuffing's (lengthened) result, so the oracle for
    stuffing is addStuffing itself, as sdk_packet does."""
    port = CapturePort()
    SDK.writeTxOnly(port, 3, 116, 4, [0xFF, 0xFF, 0xFD, 0x01])
    assert port.tx[-1] != dynamixel.packet(3, dynamixel.INST_WRITE, bytes([116, 0, 0xFF, 0xFF, 0xFD, 0x01]))


def test_emulator_answers_the_sdk_like_a_servo():
    from devices.emulators.dynamixel_bus import DynamixelBusEmulator
    with DynamixelBusEmulator(ids=(1, 2, 3), tau_s=0.02) as em:
        port = PortHandler(em.path)
        assert port.openPort() and port.setBaudRate(1_000_000)
        try:
            model, res, err = SDK.ping(port, 2)
            assert (model, res, err) == (dynamixel.XM430_W350_MODEL, 0, 0)
            assert SDK.ping(port, 9)[1] != 0  # no such servo: timeout
            assert SDK.write1ByteTxRx(port, 1, dynamixel.TORQUE_ENABLE_ADDR, 1) == (0, 0)
            # EEPROM locked
            assert SDK.write1ByteTxRx(port, 1, dynamixel.OPERATING_MODE_ADDR, 0)[1] == dynamixel.ERR_ACCESS
            assert SDK.write4ByteTxRx(port, 1, dynamixel.GOAL_POSITION_ADDR, 3072) == (0, 0)
            time.sleep(0.4)  # > 10 time constants at the velocity limit
            sr = GroupSyncRead(port, SDK, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN)
            for k in (1, 2, 3):
                sr.addParam(k)
            assert sr.txRxPacket() == 0
            pos = [sr.getData(k, dynamixel.PRESENT_POSITION_ADDR, 4) for k in (1, 2, 3)]
            assert abs(pos[0] - 3072) <= 2 and pos[1:] == [2048, 2048]  # servo 1 moved, torque-off ones did not
            em.inject_hardware_error(2)
            _, _, err = SDK.read1ByteTxRx(port, 2, dynamixel.HARDWARE_ERROR_STATUS_ADDR)
            assert err & dynamixel.ERR_ALERT
        finally:
            port.closePort()
