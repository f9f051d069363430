"""The official dynamixel-sdk client against the emulated X-series bus: ping, Protocol Type, bulk read,
fast sync read, reg write/action, clear multi-turn and factory reset answer as the e-Manual says;
a host at the wrong line speed gets no reply; bytes and Return Delay Time take their time."""
import struct
import time

import pytest
from dynamixel_sdk import COMM_RX_TIMEOUT, COMM_SUCCESS, GroupBulkRead, GroupSyncRead, PacketHandler, PortHandler

from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from devices.protocols import dynamixel


@pytest.fixture
def bus():
    with DynamixelBusEmulator(ids=(1, 2, 3), q0_rad=[0.1, -0.2, 0.3]) as em:
        port = PortHandler(em.path)
        assert port.openPort() and port.setBaudRate(1_000_000)
        yield em, port, PacketHandler(2.0)
        port.closePort()


def ticks(q_rad):
    return int(round(q_rad / dynamixel.RAD_PER_TICK)) + dynamixel.POSITION_CENTER


def test_ping_and_protocol_type(bus):
    em, port, ph = bus
    assert ph.ping(port, 2) == (dynamixel.XM430_W350_MODEL, COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 3, dynamixel.PROTOCOL_TYPE_ADDR) == (2, COMM_SUCCESS, 0)


def test_bulk_read_and_fast_sync_read(bus):
    em, port, ph = bus
    bulk = GroupBulkRead(port, ph)
    assert bulk.addParam(1, dynamixel.PRESENT_POSITION_ADDR, 4)
    assert bulk.addParam(3, dynamixel.PRESENT_TEMPERATURE_ADDR, 1)
    assert bulk.txRxPacket() == COMM_SUCCESS
    assert bulk.getData(1, dynamixel.PRESENT_POSITION_ADDR, 4) == ticks(0.1)
    assert bulk.getData(3, dynamixel.PRESENT_TEMPERATURE_ADDR, 1) == 30
    fast = GroupSyncRead(port, ph, dynamixel.PRESENT_BLOCK_ADDR, dynamixel.PRESENT_BLOCK_LEN)
    for k in (1, 2, 3):
        assert fast.addParam(k)
    assert fast.fastSyncRead() == COMM_SUCCESS  # one packet, running CRCs, checked by the SDK
    got = [fast.getData(k, dynamixel.PRESENT_POSITION_ADDR, 4) for k in (1, 2, 3)]
    assert got == [ticks(q) for q in (0.1, -0.2, 0.3)]


def test_reg_write_waits_for_action_and_clear_multi_turn(bus):
    em, port, ph = bus
    goal = ticks(0.1) + 300
    assert ph.regWriteTxRx(port, 1, dynamixel.GOAL_POSITION_ADDR, 4, list(struct.pack("<i", goal))) == (COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 1, dynamixel.REGISTERED_INSTRUCTION_ADDR)[0] == 1
    assert ph.read4ByteTxRx(port, 1, dynamixel.GOAL_POSITION_ADDR)[0] == ticks(0.1)  # not applied yet
    ph.action(port, dynamixel.BROADCAST_ID)  # broadcast: no status packet
    time.sleep(0.02)
    assert ph.read4ByteTxRx(port, 1, dynamixel.GOAL_POSITION_ADDR)[0] == goal
    assert ph.read1ByteTxRx(port, 1, dynamixel.REGISTERED_INSTRUCTION_ADDR)[0] == 0
    assert ph.action(port, 2) == COMM_SUCCESS  # the SDK waits for no status after ACTION ...
    time.sleep(0.02)
    # ... and none was pending
    assert ph.read1ByteTxRx(port, 2, dynamixel.REGISTERED_INSTRUCTION_ADDR) == (0, COMM_SUCCESS, 0)
    assert ph.clearMultiTurn(port, 3) == (COMM_SUCCESS, 0)


def test_factory_reset_restores_the_emanual_table(bus):
    em, port, ph = bus
    assert ph.write1ByteTxRx(port, 2, dynamixel.RETURN_DELAY_TIME_ADDR, 0) == (COMM_SUCCESS, 0)
    assert ph.factoryReset(port, 2, dynamixel.FACTORY_RESET_EXCEPT_ID_BAUD) == (COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 2, dynamixel.RETURN_DELAY_TIME_ADDR)[0] == 250  # 500 us, the factory value
    assert ph.read1ByteTxRx(port, 2, dynamixel.BAUD_RATE_ADDR)[0] == 3  # kept: still at 1 Mbit/s
    assert ph.factoryReset(port, 3, dynamixel.FACTORY_RESET_ALL) == (COMM_SUCCESS, 0)  # answers at the old ID and rate
    assert ph.ping(port, 3)[1] == COMM_RX_TIMEOUT  # now ID 1 at 57600 bit/s
    assert em.snapshot()["ids"] == [1, 2, 1]
    assert port.setBaudRate(57600)
    t0 = time.monotonic()
    assert ph.ping(port, 1) == (dynamixel.XM430_W350_MODEL, COMM_SUCCESS, 0)  # only the reset servo hears 57600
    rtt = time.monotonic() - t0
    wire_s = (10 + 14) * 10 / 57600 + 250 * 2e-6  # PING 10 B + status 14 B at 57600, + 500 us return delay
    assert rtt >= wire_s  # the bytes took their time on the line (4.7 ms here)


def test_a_host_at_the_wrong_baud_rate_gets_no_reply(bus):
    em, port, ph = bus
    assert port.setBaudRate(115200)
    assert ph.ping(port, 1)[1] == COMM_RX_TIMEOUT
    assert em.snapshot()["unheard_bytes"] >= 10
    assert port.setBaudRate(1_000_000)
    assert ph.ping(port, 1)[1] == COMM_SUCCESS
