"""Closed loops over a pty: the engine drives the emulated Dynamixel arm and the framed-protocol arm to
targets through the real protocols, within joint limits, surviving corrupt bytes on the line."""
import time

import numpy as np

from rtcore import status
from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from devices.emulators.framed_arm import FramedArmEmulator
from devices.protocols import dynamixel
from devices.serial import dynamixel_arm, framed_arm

from serial_loop import Chain

RATE_HZ = 1000.0


def hold(target, seconds):
    return np.tile(np.asarray(target, float), (int(seconds * RATE_HZ), 1))


def test_dynamixel_arm_reaches_targets_within_limits():
    with DynamixelBusEmulator(ids=(1, 2, 3), tau_s=0.03) as em:
        cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2, 3],
                                            velocity_max_rad_s=4.0, position_max_rad=[3.0, 3.0, 0.8],
                                            watchdog_ms=200.0)
        ch = Chain(dynamixel_arm.build, cfg, RATE_HZ)
        try:
            for target in ([0.6, -0.4, 0.3], [-0.2, 0.5, 1.5]):  # joint 3's second target is past its limit
                ch.run(hold(target, 0.8))
                expect = np.minimum(target, [3.0, 3.0, 0.8])
                # 1 position tick = 2 pi / 4096 rad: the servo settles within a tick or two
                np.testing.assert_allclose(ch.q(), expect, atol=3 * dynamixel.RAD_PER_TICK)
                np.testing.assert_allclose(em.snapshot()["q"], expect, atol=3 * dynamixel.RAD_PER_TICK)
            assert ch.count(status.LIMIT_CLIPPED) > 0  # the slew limit and joint 3's limit clipped
            assert ch.count(status.DEVICE_FAULT) == 0 and ch.count(status.CORRUPT_FRAME) == 0
            # device rate 200 Hz under the 1 kHz loop: one transaction per 5 ticks
            assert abs(em.snapshot()["sync_writes"] - ch.ticks / 5) < 0.1 * ch.ticks / 5
            assert em.snapshot()["bus_watchdog"] == [5, 5, 5]  # armed at 100 ms by the first tick
        finally:
            ch.close()
        time.sleep(0.05)
        assert em.snapshot()["torque_enable"] == [0, 0, 0]  # disable on close


def test_framed_arm_torque_pd_reaches_targets_and_survives_corrupt_bytes():
    with FramedArmEmulator(n_joints=2, tau_s=0.05, watchdog_ms=100.0) as em:
        cfg = framed_arm.FramedArmConfig(kind="framed_arm", port=em.path, n_joints=2, command_mode="torque",
                                         torque_max_nm=1.0, velocity_max_rad_s=10.0, watchdog_ms=200.0)
        ch = Chain(framed_arm.build, cfg, RATE_HZ, kp=2.0, kd=0.3)  # I = 0.01 kg m^2, b = 0.05 Nm s
        try:
            target = [0.5, -0.3]
            ch.run(hold(target, 1.0))
            np.testing.assert_allclose(ch.q(), target, atol=0.01)
            assert em.snapshot()["mode"] == 0  # the device ran in torque mode
            # noise on the line: garbage bytes, then replies with a flipped bit
            em.inject(b"\x13\x37\x00\xff\xfe\x00")
            em.corrupt_next = 5
            target = [-0.4, 0.2]
            ch.run(hold(target, 1.0))
            np.testing.assert_allclose(ch.q(), target, atol=0.01)
            corrupt = int(framed_arm.LAYOUT.get(ch.stage, "corrupt"))
            assert corrupt >= 7  # 2 garbage frames + 5 corrupted replies, each dropped
            assert ch.count(status.CORRUPT_FRAME) >= 1
            assert ch.count(status.DEVICE_FAULT) == 0 and em.snapshot()["enabled"]
            assert ch.bus[ch.device.offset + 2] == corrupt  # published on the bus for the recording
        finally:
            ch.close()
        time.sleep(0.05)
        assert not em.snapshot()["enabled"]


def test_dynamixel_current_mode_pd_reaches_target():
    with DynamixelBusEmulator(ids=(1, 2)) as em:
        cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2], command_mode="torque",
                                            torque_max_nm=1.0, velocity_max_rad_s=10.0, watchdog_ms=200.0)
        ch = Chain(dynamixel_arm.build, cfg, RATE_HZ, kp=2.0, kd=0.3)
        try:
            target = [0.4, -0.6]
            ch.run(hold(target, 1.2))
            # goal current is quantised to 2.69 mA (4.8 mNm): the PD settles within a few mrad
            np.testing.assert_allclose(ch.q(), target, atol=0.01)
            snap = em.snapshot()
            assert snap["torque_enable"] == [1, 1]
            np.testing.assert_allclose(snap["q"], target, atol=0.01)
        finally:
            ch.close()
