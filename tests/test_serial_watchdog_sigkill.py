"""When the engine process is killed with SIGKILL mid-session, the device's own watchdog puts it in its
safe state, and the parent's emergency disable reaches it afterwards."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from devices.emulators.framed_arm import FramedArmEmulator
from devices.protocols import dynamixel
from devices.protocols import framed
from devices.serial import dynamixel_arm, emergency_disable, framed_arm

TESTS = os.path.dirname(os.path.abspath(__file__))

ENGINE = textwrap.dedent("""
    import sys, numpy as np
    from serial_loop import Chain
    from devices.serial import dynamixel_arm, framed_arm
    kind, port = sys.argv[1], sys.argv[2]
    if kind == "framed_arm":
        cfg = framed_arm.FramedArmConfig(kind=kind, port=port, n_joints=2)
        ch = Chain(framed_arm.build, cfg)
    else:
        cfg = dynamixel_arm.DynamixelConfig(kind=kind, port=port, ids=[1, 2])
        ch = Chain(dynamixel_arm.build, cfg)
    print("running", flush=True)
    ch.run(np.tile([0.4, -0.4], (120_000, 1)))  # two minutes: it is killed long before
""")


def start_engine(kind, port):
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", ENGINE, kind, port], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until(pred, timeout_s, proc):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return
        if proc.poll() is not None:
            pytest.fail(f"engine exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    pytest.fail("engine never started commanding the device")


def test_framed_firmware_watchdog_fires_after_sigkill():
    with FramedArmEmulator(n_joints=2, watchdog_ms=100.0) as em:
        eng = start_engine("framed_arm", em.path)
        try:
            wait_until(lambda: em.snapshot()["commands"] > 100, 600, eng)
            assert em.snapshot()["enabled"] and em.snapshot()["watchdog_trips"] == 0
            os.kill(eng.pid, signal.SIGKILL)
            eng.wait(5)
            time.sleep(0.3)
            snap = em.snapshot()
            assert not snap["enabled"] and snap["flags"] & framed.FLAG_WATCHDOG and snap["watchdog_trips"] == 1
            assert 0.1 < snap["trip_after_s"] < 0.3  # 100 ms after the last frame (+ one emulator tick)
            assert not np.any(snap["qd"])  # safe state: zero torque, the joints stopped
        finally:
            eng.kill()
            eng.wait(5)


def test_dynamixel_bus_watchdog_fires_after_sigkill_and_parent_disables():
    with DynamixelBusEmulator(ids=(1, 2)) as em:
        eng = start_engine("dynamixel", em.path)
        try:
            wait_until(lambda: em.snapshot()["sync_writes"] > 100, 600, eng)
            os.kill(eng.pid, signal.SIGKILL)
            eng.wait(5)
            time.sleep(0.3)  # > the 100 ms bus watchdog
            snap = em.snapshot()
            assert snap["bus_watchdog"] == [0xFF, 0xFF] and snap["watchdog_trips"] == 2  # tripped, both servos
            assert snap["torque_enable"] == [1, 1]  # stopped and holding, not yet limp
            q = snap["q"]
            time.sleep(0.1)
            np.testing.assert_allclose(em.snapshot()["q"], q, atol=dynamixel.RAD_PER_TICK)  # holding where it was
            cfg = dynamixel_arm.DynamixelConfig(kind="dynamixel", port=em.path, ids=[1, 2])
            msg = emergency_disable(cfg)  # what the supervising parent does when the child died
            assert msg.startswith(f"plant.port = {em.path}: disable sent")
            time.sleep(0.05)
            assert em.snapshot()["torque_enable"] == [0, 0]
        finally:
            eng.kill()
            eng.wait(5)


def test_emergency_disable_ignores_sessions_without_a_serial_plant():
    class Session:
        plant = None
    assert emergency_disable(Session()) is None
    cfg = framed_arm.FramedArmConfig(kind="framed_arm", port="/dev/ttyRTCORE_NOPE")
    assert "could not reach the device" in emergency_disable(cfg)
