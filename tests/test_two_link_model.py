"""The shipped two-link arm has the Shadmehr & Mussa-Ivaldi 1994 dynamics, and the compiled
kinematics helper (sims/plants/two_link_kinematics.py) matches MuJoCo's hand site and Jacobian."""
import math

import mujoco
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.stage import BuildContext
from sims.plants import two_link_arm
from sims.plants.two_link_kinematics import (two_link_hand, two_link_hand_velocity, two_link_jacobian,
                                             two_link_joint_torque)

M1, M2, I1, I2, C1, C2, L1 = 1.93, 1.52, 0.0141, 0.0188, 0.165, 0.19, 0.30


def shadmehr_inertia(q2):
    """Two-link inertia matrix M(q) with the paper's parameters (closed form)."""
    a = I1 + I2 + M1 * C1**2 + M2 * (L1**2 + C2**2)
    b = M2 * L1 * C2
    d = I2 + M2 * C2**2
    return np.array([[a + 2 * b * math.cos(q2), d + b * math.cos(q2)], [d + b * math.cos(q2), d]])


@pytest.fixture(scope="module")
def arm():
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    two_link_arm.build(two_link_arm.TwoLinkArmConfig(kind="two_link_arm"), ctx)
    return ctx


def test_mjcf_inertia_is_the_papers(arm):
    m = arm.plant.model
    d = mujoco.MjData(m)
    for q2 in (0.3, 1.2, 2.0):
        d.qpos[:] = (0.4, q2)
        mujoco.mj_forward(m, d)
        full = np.zeros((2, 2))
        mujoco.mj_fullM(m, d, full)
        np.testing.assert_allclose(full, shadmehr_inertia(q2), rtol=1e-6, atol=1e-9)


def test_kinematics_match_mujoco(arm):
    m = arm.plant.model
    d = mujoco.MjData(m)
    geo = arm.plant.arm
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "hand")
    rng = np.random.default_rng(1)
    jac = np.zeros((2, 2))
    for _ in range(20):
        q = rng.uniform((-1.0, 0.1), (2.5, 2.6))
        qd = rng.normal(size=2)
        d.qpos[:], d.qvel[:] = q, qd
        mujoco.mj_forward(m, d)
        x, y = two_link_hand(q[0], q[1], geo.l1_m, geo.l2_m, *geo.shoulder_xy_m)
        np.testing.assert_allclose((x, y), d.site_xpos[site, :2], atol=1e-12)
        jacp = np.zeros((3, 2))
        mujoco.mj_jacSite(m, d, jacp, None, site)
        two_link_jacobian(q[0], q[1], geo.l1_m, geo.l2_m, jac)
        np.testing.assert_allclose(jac, jacp[:2], atol=1e-12)
        np.testing.assert_allclose(two_link_hand_velocity(q[0], q[1], qd[0], qd[1], geo.l1_m, geo.l2_m),
                                   jacp[:2] @ qd, atol=1e-12)
        np.testing.assert_allclose(two_link_joint_torque(q[0], q[1], 3.0, -2.0, geo.l1_m, geo.l2_m),
                                   jacp[:2].T @ (3.0, -2.0), atol=1e-12)


def test_start_hand_and_nominal_mass(arm):
    geo, nom = arm.plant.arm, arm.plant.nominal
    q1, q2 = geo.start_q_rad
    np.testing.assert_allclose(arm.plant.start_hand_m, two_link_hand(q1, q2, L1, 0.33, 0.0, 0.0), atol=1e-12)
    jac = np.zeros((2, 2))
    two_link_jacobian(q1, q2, L1, 0.33, jac)
    lam = np.linalg.inv(jac @ np.linalg.solve(shadmehr_inertia(q2), jac.T))  # endpoint inertia
    np.testing.assert_allclose(nom.mass_matrix_kg, lam, rtol=1e-6)
    assert nom.mass_kg == pytest.approx(np.trace(lam) / 2, rel=1e-6)
    assert 0.5 < nom.mass_kg < 3.0
