"""MyoSuite elbow (myo-sim myoelbow_1dof6muscles): one hinge driven by six Hill-type muscles.

command = 6 muscle excitations in [0, 1] (TRIlong, TRIlat, TRImed, BIClong, BICshort, BRA);
MuJoCo's first-order activation dynamics (tau 0.01 s rise / 0.04 s fall) turn them into
activations. state = [angle, angular_velocity] of r_elbow_flex (rad, rad/s; flexion positive,
range 0..2.27 rad). The natural target for EMG myocontrol. Model: Caggiano, Wang, Durandau et al.
2022, MyoSuite (L4DC); muscle model: MuJoCo muscle actuators (Todorov, Erez & Tassa 2012).
"""
import math
import pathlib
from typing import Literal

import mujoco
from pydantic import Field

from rtcore.configbase import Strict
from sims.plants import mujoco_plant
from sims.plants.mujoco_plant import MODE_ACTUATOR, SRC_QPOS, SRC_QVEL, Channels, build_plant, load_model

MUSCLES = ("TRIlong", "TRIlat", "TRImed", "BIClong", "BICshort", "BRA")  #: command channel order
FLEXORS = ("BIClong", "BICshort", "BRA")  #: the muscles that flex the elbow (the triceps extend it)
JOINT = "r_elbow_flex"


def model_path() -> pathlib.Path:
    """myoelbow_1dof6muscles.xml inside the installed myo_sim package."""
    import myo_sim
    return pathlib.Path(myo_sim.__file__).parent / "models" / "legacy" / "elbow" / "myoelbow_1dof6muscles.xml"


class MuscleElbowConfig(Strict):
    """[plant] kind = "muscle_elbow"."""

    kind: Literal["muscle_elbow"]
    start_deg: float = Field(60.0, description="start elbow flexion angle, deg (0 = extended)")
    substeps: int = Field(1, ge=1, le=100, description="physics steps per control tick (MuJoCo timestep = dt / substeps)")


def build(cfg: MuscleElbowConfig, ctx, where: str = "plant"):
    path = model_path()
    m = load_model(path, where)
    lo, hi = m.joint(JOINT).range
    q0 = math.radians(cfg.start_deg)
    if not lo <= q0 <= hi:
        raise ValueError(f"{where}.start_deg: {cfg.start_deg} deg is outside the elbow range "
                         f"[{math.degrees(lo):.0f}, {math.degrees(hi):.0f}] deg")
    acts = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in MUSCLES]
    jnt = m.joint(JOINT)
    qpos0 = m.qpos0.copy()
    qpos0[jnt.qposadr[0]] = q0
    outputs = [Channels("state", ("rad", "rad/s"), ("angle", "angular_velocity"),
                        [(SRC_QPOS, int(jnt.qposadr[0])), (SRC_QVEL, int(jnt.dofadr[0]))])]
    stage = build_plant(ctx, where, "muscle_elbow", m, model_path=path, mode=MODE_ACTUATOR, command_labels=MUSCLES,
                        command_unit="excitation", command_actuators=acts, outputs=outputs,
                        substeps=cfg.substeps, qpos0=qpos0)
    return stage


SPEC = mujoco_plant.SPEC.variant(name="muscle_elbow", config=MuscleElbowConfig, build=build)
