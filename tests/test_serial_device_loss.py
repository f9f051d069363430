"""A serial device that goes silent, vanishes or was never there: safe hold, named status, clean end."""
import threading
import time

import numpy as np
import pytest

from rtcore import status
from rtcore.bus import HOLD
from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from devices.emulators.framed_arm import FramedArmEmulator
from devices.serial import dynamixel_arm, framed_arm

from serial_loop import Chain


def ticks(q, seconds, rate_hz=1000.0):
    return np.tile(np.asarray(q, float), (int(seconds * rate_hz), 1))


def test_closed_pty_ends_the_run_with_device_lost_and_hold():
    em = DynamixelBusEmulator(ids=(1, 2)).start()
    cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2], watchdog_ms=500.0)
    ch = Chain(dynamixel_arm.build, cfg)
    ch.run(ticks([0.2, 0.1], 0.2))
    threading.Timer(0.2, em.close).start()  # unplugged mid-run
    codes = ch.run(ticks([0.2, 0.1], 5.0))
    assert codes[-1] == status.DEVICE_LOST and len(codes) < 1000  # the loop ended within ~0.2 s + a tick
    assert ch.bus[HOLD] == 1.0 and ch.bus[ch.device.offset + 1] == 3  # safe hold, fault = port lost
    np.testing.assert_allclose(ch.q(), [0.2, 0.1], atol=0.01)  # the last state is kept on the bus
    assert ch.close() == status.DEVICE_LOST  # disable reports the port is gone, without raising
    assert ch.close() == status.OK  # idempotent


def test_silent_device_trips_the_engine_watchdog_then_resumes():
    with FramedArmEmulator(n_joints=2, watchdog_ms=2000.0) as em:
        cfg = framed_arm.FramedArmConfig(kind="framed_arm", port=em.path, n_joints=2, watchdog_ms=30.0)
        ch = Chain(framed_arm.build, cfg)
        try:
            ch.run(ticks([0.3, -0.3], 0.5))
            em.stop()  # the device stops answering, the port stays open
            codes = ch.run(ticks([0.3, -0.3], 0.15))
            assert list(codes).count(status.DEVICE_FAULT) == 1  # reported once, on entry
            k = list(codes).index(status.DEVICE_FAULT)
            assert 10 <= k <= 45  # 30 ms after the last state (which may predate the stop by a period)
            assert ch.bus[HOLD] == 1.0 and ch.bus[ch.device.offset + 1] == 1
            assert ch.bus[ch.device.offset + 3] >= 100.0  # state age, ms
            em.start()
            codes = ch.run(ticks([0.3, -0.3], 0.2))
            assert list(codes).count(status.RESUMED) == 1
            assert ch.bus[HOLD] == 0.0 and ch.bus[ch.device.offset + 1] == 0
        finally:
            ch.close()


def test_device_fault_bit_latches_hold():
    with DynamixelBusEmulator(ids=(1, 2)) as em:
        cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2], watchdog_ms=200.0)
        ch = Chain(dynamixel_arm.build, cfg)
        try:
            ch.run(ticks([0.0, 0.0], 0.2))
            em.inject_hardware_error(2)  # overload: the servo turns torque off and sets ERR_ALERT
            codes = list(ch.run(ticks([0.5, 0.5], 0.3)))
            assert codes.count(status.DEVICE_FAULT) == 1
            assert ch.bus[HOLD] == 1.0 and ch.bus[ch.device.offset + 1] == 2
            assert int(ch.bus[ch.device.offset]) & 0x80  # ERR_ALERT seen in the status packets
            held = ch.q()
            ch.run(ticks([0.5, 0.5], 0.2))  # under HOLD the targets are ignored: position held
            np.testing.assert_allclose(ch.q(), held, atol=0.01)
        finally:
            ch.close()


def test_missing_port_is_a_one_line_error_listing_ports():
    cfg = framed_arm.FramedArmConfig(kind="framed_arm", port="/dev/ttyRTCORE_NOPE", n_joints=2)
    from rtcore.bus import Bus
    from rtcore.stage import BuildContext
    with pytest.raises(ValueError) as e:
        framed_arm.build(cfg, BuildContext(bus=Bus(), dt_s=1e-3, seed=0))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("plant.port = /dev/ttyRTCORE_NOPE: no such port; available: ")
    assert "rtcore ports" in msg


def test_wrong_joint_count_is_refused_at_build():
    with FramedArmEmulator(n_joints=3) as em:
        cfg = framed_arm.FramedArmConfig(kind="framed_arm", port=em.path, n_joints=2)
        from rtcore.bus import Bus
        from rtcore.stage import BuildContext
        with pytest.raises(ValueError, match=r"the device has 3 joints; set plant.n_joints = 3"):
            framed_arm.build(cfg, BuildContext(bus=Bus(), dt_s=1e-3, seed=0))
        time.sleep(0.05)
        assert not em.snapshot()["enabled"]
