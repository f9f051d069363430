"""MuJoCo plants hold their MJCF joint ranges and a speed limit, and latch a fault when they cannot.

Two whole sessions through `rtcore run --fast`, as a user would run them, on an MJCF of one hinge
with a motor (range +-0.5 rad), both at once:
- "wall": a random torque of 1..5 N m always pushing towards +0.5 rad (passthrough controller) on a
  link in the horizontal plane: the virtual wall and the velocity limit hold the joint (without
  them the motor drives it into MuJoCo's stop at about 10 rad/s); no fault, the session is ok.
- "fault": the same link hanging under gravity with a motor too weak to brake it (ctrlrange
  +-0.05 N m): it falls past velocity_max_rad_s by more than the tolerance; the plant latches the
  fault, holds for the rest of the session, and the verdict is `failed` (exit 1) naming the joint
  and the limit; the recording is kept whole.
"""
import os
import subprocess
import uuid

import numpy as np
import pytest

from enginecli import RTCORE, EXIT, summary, write_config
from rtcore import recording

POS_MAX, VEL_MAX = 0.5, 3.0

MJCF = """
<mujoco model="hinge">
  <compiler angle="radian"/>
  <option gravity="0 0 {gravity}"/>
  <worldbody>
    <body name="link">
      <joint name="hinge" type="hinge" axis="0 1 0" range="-0.5 0.5" damping="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1.0"/>
    </body>
  </worldbody>
  <actuator><motor name="motor" joint="hinge" gear="1" ctrlrange="-{ctrl} {ctrl}"/></actuator>
</mujoco>
"""

CONFIG = """
outlet = []
[session]
name = "{name}"
duration_s = 3.0
[plant]
kind = "mjcf"
model_path = "hinge.xml"
command = ["motor"]
state = ["qpos:hinge", "qvel:hinge"]
[plant.joint_limits]
velocity_max_rad_s = {vmax}
velocity_tolerance_rad_s = 0.5
[controller]
kind = "passthrough"
input = "command"
gain = 0.0
motor_noise_sd = 3.0
lower = {lower}
upper = {upper}
[record]
signals = ["hold", "state", "command"]
"""


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """{label: (returncode, output, summary, recording)} for the two sessions, run side by side."""
    tag = uuid.uuid4().hex[:8]
    cases = {"wall": dict(gravity=0, ctrl=8, lower=1.0, upper=5.0),
             "fault": dict(gravity=-9.81, ctrl=0.05, lower=-0.05, upper=0.05)}
    procs = {}
    for label, case in cases.items():
        d = tmp_path_factory.mktemp(label)
        (d / "hinge.xml").write_text(MJCF.format(gravity=case["gravity"], ctrl=case["ctrl"]))
        path = write_config(d, CONFIG.format(name=f"limits-{label}-{tag}", vmax=VEL_MAX, lower=case["lower"],
                                             upper=case["upper"]))
        out = d / "out"
        procs[label] = (out, subprocess.Popen(RTCORE + ["run", path, "--fast", "--quiet", "--out", str(out)],
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=d))
    result = {}
    try:
        for label, (out, p) in procs.items():
            text, _ = p.communicate(timeout=900)
            result[label] = (p.returncode, text, summary(out), recording.load(str(out)))
    finally:
        for _, p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.communicate(timeout=30)
    return result


def test_wall_and_velocity_limit_hold_the_joint(sessions):
    rc, text, s, rec = sessions["wall"]
    assert rc == EXIT["ok"] and s["verdict"] == "ok", text
    q, qd = rec["state"][:, 0], rec["state"][:, 1]
    assert q.max() > POS_MAX - 0.02  # driven into the wall ...
    assert q.max() < POS_MAX + 0.02, q.max()  # ... and held there
    assert np.abs(qd).max() < VEL_MAX + 0.3, np.abs(qd).max()  # the speed limit (unlimited: ~10 rad/s)
    assert np.abs(qd[-100:]).max() < 0.05  # at rest against the wall at the end, not bouncing off it
    assert "latched_faults" not in s and not rec["hold"].any()
    limits = s["config"]["plant"]["joint_limits"]
    assert limits["enabled"] and limits["velocity_max_rad_s"] == VEL_MAX


def test_a_joint_the_motor_cannot_hold_latches_a_fault(sessions):
    rc, text, s, rec = sessions["fault"]
    fault, = s["latched_faults"]
    assert fault["device"] == "plant (mjcf)" and fault["stopped_task"] is True
    assert fault["reason"].startswith("joint hinge at ") and "past velocity_max_rad_s = 3" in fault["reason"], fault
    assert s["verdict"] == "failed" and rc == EXIT["failed"], text
    assert "latched a fault" in text and "velocity_max_rad_s" in text, text
    # the recording is whole, and holds from the fault to the end
    assert s["recorded_rows"] == s["ticks"] == rec["state"].shape[0]
    at = int(round(fault["at_s"] * 1000))
    assert abs(rec["state"][at, 1]) > VEL_MAX + 0.5
    assert rec["hold"][at + 1:, 0].all() and not rec["hold"][:at, 0].any()
