"""Hardware in the loop: the real firmware binary (devices/firmware, avr-gcc) on a simulated ATmega328P
(simavr), its UART on a pty. It fits the chip, `rtcore run` drives its simulated arm to targets
through the real protocol, it enforces its own joint limits, both sides count the corrupt frames
of a noisy line, and its watchdog disables the arm within its timeout, in simulated time, when
the engine is killed with SIGKILL."""
import os
import signal
import struct
import time
import uuid

import numpy as np
import pytest

from devices.emulators.firmware import FirmwareEmulator, build_firmware, missing_tools

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools()))


def wait_for(pred, timeout_s: float, what: str, proc=None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"engine exited while waiting for {what}: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_firmware_builds_and_fits_the_atmega328p():
    for baud in (115200, 1_000_000):
        sizes = build_firmware(baud).sizes()
        print(f"firmware {baud} bit/s: flash {sizes['flash_bytes']} B of {sizes['flash_total']}, "
              f"RAM {sizes['ram_bytes']} B of {sizes['ram_total']} (static; the stack uses the rest)")
        assert 1000 < sizes["flash_bytes"] < 0.5 * sizes["flash_total"]  # room left for a real driver
        assert 200 < sizes["ram_bytes"] < 0.5 * sizes["ram_total"]  # half the RAM left for the stack


def test_firmware_enforces_its_own_joint_limits():
    from devices.protocols import framed
    from devices.serial import framed_arm
    from devices.serial import plant_base
    with FirmwareEmulator(baud=115200) as fw:
        cfg = framed_arm.FramedArmConfig(kind="framed_arm", port=fw.path, baud=115200, timeout_s=2.0)
        drv = framed_arm.FramedArmDriver(cfg)
        flags, q, _, _ = plant_base.start(drv)  # open, HELLO (version handshake), ENABLE
        try:
            assert flags & framed.FLAG_ENABLED and drv.device_watchdog_ms == 100
            goal = struct.pack("<BB2i", framed.MODE_POSITION, 2, 3_000_000, -400_000)  # 3.0 rad: past the device's 2.5
            end = time.monotonic() + 1.5
            while time.monotonic() < end:  # commands at ~20 Hz keep the device watchdog fed
                t, p = drv._ask(framed.MSG_COMMAND, goal, (framed.MSG_STATE,))
                assert t == framed.MSG_STATE
                time.sleep(0.05)
            flags, q, _, _ = drv.read_state()
            counters = drv.read_counters()
        finally:
            drv.close()
        assert flags & framed.FLAG_LIMIT and flags & framed.FLAG_ENABLED
        np.testing.assert_allclose(q, [2.5, -0.4], atol=0.02)  # stopped at its own limit; joint 2 at its goal
        assert counters["limit_clips"] >= 20 and counters["corrupt_frames"] == 0
        wait_for(lambda: not fw.snapshot()["enabled"], 5.0, "the enable pin to fall after DISABLE")


def test_session_drives_the_firmware_arm_and_both_sides_count_corrupt_frames(tmp_path):
    from enginecli import RTCORE, summary, write_config
    import subprocess
    # watchdogs generous on both sides: a loaded test machine can stall the engine for 100+ ms, which
    # the firmware's 100 ms watchdog rightly answers by disabling (its own test is below)
    with FirmwareEmulator(baud=115200, watchdog_ms=1000) as fw:
        path = write_config(tmp_path, f"""
            [session]
            name = "hil-{uuid.uuid4().hex[:8]}"
            duration_s = 120.0
            [loop]
            rate_hz = 500
            [plant]
            kind = "framed_arm"
            port = "{fw.path}"
            baud = 115200
            device_rate_hz = 50          # 16 B COMMAND + 34 B STATE = 4.3 ms of a 20 ms period at 115200
            watchdog_ms = 1000.0         # engine side: a busy test machine slows the simulated chip
            timeout_s = 2.0
            [controller]
            kind = "passthrough"
            input = "target"
            [task]
            kind = "center_out"          # a joint-space reach: targets are joint angles, rad
            radius_m = 0.4
            center_m = [0.0, 0.0]
            target_tolerance_m = 0.03
            hold_s = 0.1
            timeout_s = 5.0              # generous: a loaded machine runs the chip slower than real time
            [[block]]
            name = "reach"
            n_trials = 8
        """)
        out = tmp_path / "out"
        proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # the loop is running once COMMANDs stream in (16 B each at 50 Hz)
            wait_for(lambda: fw.stats()["rx_bytes"] > 400, 900, "the session's commands", proc)
            fw.corrupt_to_device(3)  # line noise, both ways
            fw.corrupt_to_host(3)
            stdout, stderr = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.terminate()  # the supervisor disables the arm and ends its child
                proc.wait(60)
        stats = fw.stats()
    s = summary(out)
    print(f"harness: {stats}")
    assert s["exit_reason"] == "task: task done: all blocks run", stdout + stderr
    block, = s["task"]["blocks"]
    assert block["n_done"] == 8 and block["success_rate"] == 1.0  # every joint-space target reached and held
    dev = s["plant_device"]
    assert dev["corrupt_frames"] == 3  # the host dropped the 3 corrupted STATE frames
    assert dev["device_counters"]["corrupt_frames"] == 3  # the firmware dropped the 3 corrupted COMMANDs
    assert dev["device_counters"]["watchdog_trips"] == 0 and dev["fault"] == 0
    assert dev["device_counters"]["rx_frames"] >= dev["states"] > 50


def test_firmware_watchdog_disables_after_sigkill_in_simulated_time():
    from test_serial_watchdog_sigkill import start_engine
    with FirmwareEmulator(baud=1_000_000, watchdog_ms=100) as fw:
        eng = start_engine("framed_arm", fw.path)  # the compiled loop at 1 kHz, 200 Hz device rate, 1 Mbit/s
        try:
            wait_for(lambda: fw.stats()["rx_bytes"] > 2000, 600, "the engine's commands", eng)
            assert fw.snapshot()["enabled"]
            os.kill(eng.pid, signal.SIGKILL)
            eng.wait(5)
            wait_for(lambda: not fw.snapshot()["enabled"], 5.0, "the enable pin to fall")
        finally:
            eng.kill()
            eng.wait(5)
        snap = fw.snapshot()
    level, sim_s, since_rx_s = snap["enable_events"][-1]
    print(f"enable fell at simulated t = {sim_s:.6f} s, {since_rx_s * 1e3:.3f} ms after the last host frame")
    assert level == 0 and snap["watchdog_trips"] == 1
    # the firmware checks its millisecond clock: it trips in the first ms tick past 100 ms
    assert 0.100 < since_rx_s <= 0.1021
