"""The bus budget refuses, before any port is opened, a loop the serial line cannot carry, with one line
that names the key and the rate that would fit; the wire times follow the e-Manual packet sizes; the
engine reads with the faster FAST_SYNC_READ when the servos answer it."""
import numpy as np
import pytest

from rtcore.bus import Bus
from rtcore.stage import BuildContext
from devices.serial import bus_budget, dynamixel_arm, framed_arm
from enginecli import run_cli, write_config

NO_PORT = "/dev/ttyRTCORE_NO_SUCH_PORT"  # the budget is checked first: this is never opened


def test_wire_times_follow_the_packet_sizes():
    t = bus_budget.dynamixel_transaction(6, 57600, goal_bytes=4, return_delay_us=500.0)
    # SYNC_WRITE 14 + 6 x 5, SYNC_READ 14 + 6 + 6 x (11 + 10); 10 bits per byte; 6 return delays
    assert t["sync_read"]["bytes"] == 44 + 20 + 126
    assert t["sync_read"]["s"] == pytest.approx(190 * 10 / 57600 + 6 * 500e-6)
    assert t["fast_sync_read"]["s"] == pytest.approx((44 + 20 + 8 + 6 * 14) * 10 / 57600 + 500e-6)  # one delay
    assert t["fast_sync_read"]["s"] < t["sync_read"]["s"] < t["bulk_read"]["s"]
    assert bus_budget.framed_transaction(2, 115200)["bytes"] == 16 + 33  # COMMAND + STATE frames, COBS + 0x00


def test_a_loop_the_bus_cannot_carry_is_refused_before_the_start(tmp_path):
    cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=NO_PORT, ids=[1, 2, 3, 4, 5, 6], baud=57600,
                                        device_rate_hz=100.0, return_delay_us=500.0, read_instruction="sync_read")
    ctx = BuildContext(bus=Bus(), dt_s=1e-3, seed=0)
    with pytest.raises(ValueError) as e:
        dynamixel_arm.build(cfg, ctx)
    assert "plant.device_rate_hz = 100: a sync write + sync read of 6 servos is 190 B, 35.99 ms" in str(e.value)
    assert "set device_rate_hz <= 22" in str(e.value) and "fast sync read would allow" in str(e.value)
    fcfg = framed_arm.FramedArmConfig(kind="framed_arm", port=NO_PORT, baud=115200, device_rate_hz=500.0)
    with pytest.raises(ValueError, match=r"COMMAND \+ STATE of 2 joints is 49 B, 4.25 ms"):
        framed_arm.build(fcfg, BuildContext(bus=Bus(), dt_s=1e-3, seed=0))
    # as a user sees it: one line, no traceback, nothing started
    path = write_config(tmp_path, f"""
        [session]
        name = "budget"
        [plant]
        kind = "dynamixel"
        port = "{NO_PORT}"
        ids = [1, 2, 3, 4, 5, 6]
        baud = 57600
        device_rate_hz = 100
        return_delay_us = 500         # "auto": the budget of the fastest read, fast sync read, must hold
    """)
    r = run_cli("run", path, "--out", tmp_path / "out", "--quiet")
    assert r.returncode != 0 and "Traceback" not in r.stdout + r.stderr
    assert "plant.device_rate_hz = 100: a sync write + fast sync read of 6 servos is 156 B" in r.stdout + r.stderr


def test_the_engine_reads_with_fast_sync_read_when_the_servos_answer_it():
    from devices.emulators.dynamixel_bus import DynamixelBusEmulator
    from devices.protocols import dynamixel
    from serial_loop import Chain
    with DynamixelBusEmulator(ids=(1, 2, 3), tau_s=0.02) as em:
        cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2, 3], watchdog_ms=200.0)
        ch = Chain(dynamixel_arm.build, cfg)
        try:
            assert ch.stage.info["bus_budget"]["used"] == "fast_sync_read"
            ch.run(np.tile([0.3, -0.2, 0.1], (600, 1)))
            np.testing.assert_allclose(ch.q(), [0.3, -0.2, 0.1], atol=3 * dynamixel.RAD_PER_TICK)
        finally:
            ch.close()
        snap = em.snapshot()
    assert snap["fast_sync_reads"] >= 100  # 200 Hz for 0.6 s, one FAST_SYNC_READ per transaction
