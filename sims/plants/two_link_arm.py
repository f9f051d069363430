"""Planar two-link arm (shoulder, elbow) with torque motors: the classic reaching plant.

Segment parameters from Shadmehr & Mussa-Ivaldi 1994 (J Neurosci 14:3208): L 0.30/0.33 m,
m 1.93/1.52 kg, I 0.0141/0.0188 kg m^2, CoM 0.165/0.19 m (models/two_link_arm.xml), shoulder at
the origin, horizontal plane. Command space "endpoint" (default): command = hand force
[fx, fy] N, mapped to torques by J(q)^T at the true posture inside the compiled step; "joint":
command = [shoulder, elbow] torques N m. Writes state = [hand_x, hand_y, hand_vx, hand_vy]
(m, m/s) and joint = [q1, q2, qd1, qd2] (rad, rad/s).

Publishes at build time ctx.plant (rtcore.stage.PlantInfo) with arm = ArmGeometry(l1_m, l2_m,
shoulder_xy_m, start_q_rad) and nominal = NominalPlant(mass_matrix_kg): the endpoint inertia
Lambda = (J M^-1 J^T)^-1 at the start posture (its isotropic fit mass_kg = tr(Lambda)/2).
"""
import math
import pathlib
from dataclasses import replace
from typing import Literal

import mujoco
import numpy as np
from pydantic import Field

from rtcore.configbase import Strict
from rtcore.stage import ArmGeometry, NominalPlant
from sims.plants import mujoco_plant
from sims.plants.mujoco_plant import (MODE_ACTUATOR, MODE_ENDPOINT, SRC_HAND_POS, SRC_HAND_VEL, SRC_QPOS,
                                      SRC_QVEL, Channels, JointLimitsConfig, build_plant, load_model)

MODEL_PATH = pathlib.Path(__file__).parent / "models" / "two_link_arm.xml"
L1_M, L2_M = 0.30, 0.33  #: link lengths in the shipped MJCF (Shadmehr & Mussa-Ivaldi 1994)


class TwoLinkArmConfig(Strict):
    """[plant] kind = "two_link_arm"."""

    kind: Literal["two_link_arm"]
    command_space: Literal["endpoint", "joint"] = Field("endpoint", description="command = hand force [fx, fy] N (endpoint) or joint torques N m (joint)")
    start_deg: tuple[float, float] = Field((45.0, 90.0), description="start posture [shoulder, elbow], deg (shoulder from +x, elbow relative to the upper arm)")
    torque_limit_nm: tuple[float, float] = Field((50.0, 40.0), description="shoulder and elbow torque limits, N m (commands beyond are clipped)")
    substeps: int = Field(1, ge=1, le=100, description="physics steps per control tick (MuJoCo timestep = dt / substeps)")
    joint_limits: JointLimitsConfig = Field(JointLimitsConfig(), description="joint range and speed limits on the motors' torques (virtual wall, latched fault)")


def endpoint_inertia(m: mujoco.MjModel, d: mujoco.MjData, site: int) -> np.ndarray:
    """Endpoint inertia Lambda = (J M^-1 J^T)^-1 [2, 2] kg at d's posture (Khatib 1987)."""
    mass = np.zeros((m.nv, m.nv))
    mujoco.mj_fullM(m, d, mass)
    jacp = np.zeros((3, m.nv))
    mujoco.mj_jacSite(m, d, jacp, None, site)
    jac = jacp[:2]
    return np.linalg.inv(jac @ np.linalg.solve(mass, jac.T))


def build(cfg: TwoLinkArmConfig, ctx, where: str = "plant"):
    m = load_model(MODEL_PATH, where)
    for name, limit in zip(("shoulder", "elbow"), cfg.torque_limit_nm):
        if limit <= 0:
            raise ValueError(f"{where}.torque_limit_nm: {name} limit must be > 0 N m (got {limit})")
        m.actuator(name).ctrlrange[:] = (-limit, limit)
    q0 = np.radians(cfg.start_deg)
    for jnt, q in zip(("shoulder", "elbow"), q0):
        lo, hi = m.joint(jnt).range
        if not lo < q < hi:
            raise ValueError(f"{where}.start_deg: {jnt} {math.degrees(q):.1f} deg is outside its range "
                             f"[{math.degrees(lo):.0f}, {math.degrees(hi):.0f}] deg")
    endpoint = cfg.command_space == "endpoint"
    outputs = [Channels("state", ("m", "m", "m/s", "m/s"), ("hand_x", "hand_y", "hand_vx", "hand_vy"),
                        [(SRC_HAND_POS, 0), (SRC_HAND_POS, 1), (SRC_HAND_VEL, 0), (SRC_HAND_VEL, 1)]),
               Channels("joint", ("rad", "rad", "rad/s", "rad/s"), ("q1", "q2", "qd1", "qd2"),
                        [(SRC_QPOS, 0), (SRC_QPOS, 1), (SRC_QVEL, 0), (SRC_QVEL, 1)])]
    stage = build_plant(ctx, where, "two_link_arm", m, model_path=MODEL_PATH,
                        mode=MODE_ENDPOINT if endpoint else MODE_ACTUATOR,
                        command_labels=("fx", "fy") if endpoint else ("shoulder", "elbow"),
                        command_unit="N" if endpoint else "N*m", command_actuators=(0, 1),
                        outputs=outputs, substeps=cfg.substeps, hand_site="hand", payload_body="payload",
                        qpos0=q0, info={"command_space": cfg.command_space}, joint_limits=cfg.joint_limits)
    lam = endpoint_inertia(m, ctx.plant.data, mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "hand"))
    ctx.plant = replace(ctx.plant, nominal=NominalPlant(lam),
                        arm=ArmGeometry(L1_M, L2_M, (0.0, 0.0), tuple(float(q) for q in q0)))
    stage.info["start_hand_m"] = list(ctx.plant.start_hand_m)
    stage.info["nominal_mass_kg"] = ctx.plant.nominal.mass_kg
    return stage


SPEC = mujoco_plant.SPEC.variant(name="two_link_arm", config=TwoLinkArmConfig, build=build)
