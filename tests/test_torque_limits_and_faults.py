"""Torque-mode limits and latched device faults, through the CLI as a user triggers them: an emulator
started with `rtcore emulate ... [--fault ...]` on a pty, and `rtcore run` on a config that drives it.

- A random torque always pushing past position_max (passthrough controller, 1..5 Nm against a 2 Nm
  limit) on the 4-joint framed arm: the virtual wall and the velocity limit hold every joint within
  the limits (issue 21 repro: q reached 1.109 rad against 0.5, qd 3.2 against 3.0, no fault).
- Garbage on the framed link (`--fault garbage=0.5@1.5`) starves the device's watchdog, which
  disables the arm: the session latches the fault, holds, and says which device and why.
- CRC-corrupt replies on the Dynamixel bus (`--fault corrupt=120@1.5`): no state for longer than
  the engine watchdog latches the fault the same way.
"""
import os
import signal
import subprocess

import numpy as np
import pytest

from rtcore import recording
from enginecli import RTCORE, run_cli, summary, write_config

POS_MAX, VEL_MAX = 0.5, 3.0


@pytest.fixture
def emulator():
    """Start `rtcore emulate ARGS...`; yields a function returning the pty path; stops them after."""
    procs = []

    def start(*args):
        p = subprocess.Popen(RTCORE + ["emulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        procs.append(p)
        return p.stdout.readline().strip()

    yield start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)


def run_session(tmp_path, port, plant: str, controller: str = "", seconds: float = 3.0):
    path = write_config(tmp_path, f"""
        outlet = []
        [session]
        name = "safety-{os.getpid()}-{tmp_path.name}"
        duration_s = {seconds}
        [loop]
        rate_hz = 1000
        [plant]
        port = "{port}"
        {plant}
        {controller}
    """)
    out = tmp_path / "out"
    proc = run_cli("run", path, "--out", out, "--quiet", timeout=1500)
    return proc, summary(out), recording.load(str(out))


def test_torque_wall_and_velocity_limit_hold_on_the_framed_arm(tmp_path, emulator):
    port = emulator("framed", "--joints", "4")
    proc, s, rec = run_session(tmp_path, port, f"""
        kind = "framed_arm"
        n_joints = 4
        command_mode = "torque"
        position_max_rad = {POS_MAX}
        velocity_max_rad_s = {VEL_MAX}
        torque_max_nm = 2.0
        """, """
        [controller]
        kind = "passthrough"
        input = "device_torque"
        gain = 0.0
        motor_noise_sd = 3.0
        lower = 1.0
        upper = 5.0
        """)
    assert s["exit_reason"] == "duration reached" and proc.returncode in (0, 3), proc.stdout + proc.stderr  # 3: misses on a busy machine
    q, qd = rec["state"][:, :4], rec["state"][:, 4:]
    assert q.max() > POS_MAX - 0.05  # every joint was driven into the wall ...
    assert q.max() < POS_MAX + 0.05, q.max(axis=0)  # ... and stayed there (was 1.109 rad)
    assert np.abs(qd).max() < VEL_MAX + 0.3, np.abs(qd).max(axis=0)  # (was 3.2 rad/s, no fault)
    assert "latched_faults" not in s and s["plant_device"]["fault"] == 0


def test_garbage_on_the_framed_link_latches_a_device_fault(tmp_path, emulator):
    port = emulator("framed", "--joints", "2", "--fault", "garbage=0.5@1.5")
    proc, s, rec = run_session(tmp_path, port, 'kind = "framed_arm"\nn_joints = 2', seconds=4.0)
    fault, = s["latched_faults"]
    assert fault["device"] == f"plant ({port})" and fault["stopped_task"] is True
    assert "watchdog disabled the arm" in fault["reason"], fault
    assert 0.2 < fault["at_s"] < 3.0  # session time (ticks): behind the wall clock when ticks are skipped
    hold = rec["hold"][:, 0]
    at = int(fault["at_s"] * 1000)
    assert hold[at + 1:].all()  # safe hold from the fault to the end ...
    assert not hold[:at - 600].any()  # ... not before the noise (0.5 s: stale states, then the trip)
    assert s["plant_device"]["fault"] == 2
    assert s["verdict"] == "failed" and proc.returncode != 0, proc.stdout  # a latched fault that stopped the task


def test_corrupt_dynamixel_replies_latch_a_device_fault(tmp_path, emulator):
    port = emulator("dynamixel", "--ids", "1,2", "--fault", "corrupt=120@1.5")
    proc, s, rec = run_session(tmp_path, port, 'kind = "dynamixel"\nids = [1, 2]', seconds=4.0)
    fault, = s["latched_faults"]
    assert fault["device"] == f"plant ({port})" and "no state from the device" in fault["reason"], fault
    assert s["plant_device"]["corrupt_frames"] >= 50
    assert rec["hold"][-1, 0] == 1.0
    assert s["verdict"] == "failed" and proc.returncode != 0, proc.stdout
