"""The compiled MuJoCo plant step equals a slow, readable Python MuJoCo loop: endpoint force through
J^T, the curl field F = B v and a constant load force at the hand (reference: mj_applyFT, an
independent route to the same external force), an added point mass at the hand (reference: a model
compiled with that mass); plus HOLD, torque limits and instability status codes."""
import mujoco
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import status
from rtcore.bus import HOLD, Bus
from rtcore.stage import BuildContext
from sims.paradigms.blocks import CURL_B
from sims.plants import two_link_arm
from sims.plants.mujoco_plant import mujoco_plant_step

DT = 0.001
N_TICKS = 400


def build(substeps=2, **kw):
    ctx = BuildContext(bus=Bus(), dt_s=DT, seed=0)
    st = two_link_arm.build(two_link_arm.TwoLinkArmConfig(kind="two_link_arm", substeps=substeps, **kw), ctx)
    bus = ctx.bus.array()
    return ctx, st, bus


def command(k):
    """A smooth, non-trivial endpoint force profile, N."""
    t = k * DT
    return np.array([6.0 * np.sin(9 * t), 4.0 * np.cos(7 * t) - 2.0])


def reference(xml_payload_kg, curl, load_force, substeps, q0):
    """Readable Python loop: ctrl = J^T F, F_ext = B v + F_load applied with mj_applyFT."""
    spec = open(two_link_arm.MODEL_PATH).read().replace('mass="1e-9"', f'mass="{xml_payload_kg}"')
    m = mujoco.MjModel.from_xml_string(spec)
    m.opt.timestep = DT / substeps
    d = mujoco.MjData(m)
    d.qpos[:] = q0
    mujoco.mj_forward(m, d)
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "hand")
    jacp = np.zeros((3, m.nv))
    traj = []
    for k in range(N_TICKS):
        for _ in range(substeps):
            mujoco.mj_jacSite(m, d, jacp, None, site)
            d.ctrl[:] = np.clip(jacp[:2].T @ command(k), m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
            v = jacp[:2] @ d.qvel
            f_ext = np.array(curl).reshape(2, 2) @ v + load_force
            d.qfrc_applied[:] = 0.0
            mujoco.mj_applyFT(m, d, np.array([f_ext[0], f_ext[1], 0.0]), np.zeros(3), d.site_xpos[site].copy(),
                              m.site_bodyid[site], d.qfrc_applied)
            mujoco.mj_step2(m, d)
            mujoco.mj_step1(m, d)
        mujoco.mj_jacSite(m, d, jacp, None, site)
        traj.append(np.concatenate([d.site_xpos[site, :2], jacp[:2] @ d.qvel, d.qpos, d.qvel]))
    return np.array(traj)


def compiled(curl, load):
    ctx, st, bus = build()
    sig = ctx.bus.signals
    bus[sig["curl"].slice] = curl
    bus[sig["load"].slice] = load
    traj = []
    for k in range(N_TICKS):
        bus[sig["command"].slice] = command(k)
        assert mujoco_plant_step(st.f, st.s, st.i, bus) == status.OK
        traj.append(np.concatenate([bus[sig["state"].slice], bus[sig["joint"].slice]]))
    return ctx, np.array(traj)


@pytest.mark.parametrize("payload_kg", [0.0, 1.2])
def test_compiled_plant_matches_python_reference(payload_kg):
    load_force = np.array([1.5, -0.5])
    ctx, got = compiled(CURL_B, [payload_kg, *load_force])
    q0 = ctx.plant.arm.start_q_rad
    want = reference(payload_kg if payload_kg > 0 else 1e-9, CURL_B, load_force, 2, q0)
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=1e-9)
    # the perturbations matter: without them the hand ends elsewhere
    plain = reference(1e-9, np.zeros(4), np.zeros(2), 2, q0)
    assert np.abs(plain[-1, :2] - want[-1, :2]).max() > 5e-3


def test_hold_sends_zero_command():
    ctx, st, bus = build()
    sig = ctx.bus.signals
    bus[sig["command"].slice] = (20.0, -10.0)
    bus[HOLD] = 1.0
    start = bus[sig["state"].slice].copy()
    for _ in range(200):
        mujoco_plant_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(ctx.plant.data.ctrl, 0.0)
    np.testing.assert_allclose(bus[sig["state"].slice], (*ctx.plant.start_hand_m, 0.0, 0.0), atol=1e-12)
    assert np.isfinite(start).all()


def test_torque_limit_clips_and_reports():
    ctx, st, bus = build(torque_limit_nm=(5.0, 4.0), command_space="joint")
    sig = ctx.bus.signals
    bus[sig["command"].slice] = (30.0, -1.0)
    assert mujoco_plant_step(st.f, st.s, st.i, bus) == status.LIMIT_CLIPPED
    np.testing.assert_allclose(ctx.plant.data.ctrl, (5.0, -1.0))
    bus[sig["command"].slice] = (2.0, -1.0)
    assert mujoco_plant_step(st.f, st.s, st.i, bus) == status.OK


def test_gain_change_scales_the_command():
    ctx, st, bus = build(command_space="joint")
    sig = ctx.bus.signals
    bus[sig["command"].slice] = (2.0, -1.0)
    bus[sig["gain_change"].slice] = 0.5
    mujoco_plant_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(ctx.plant.data.ctrl, (3.0, -1.5))


def test_non_finite_command_is_rejected():
    ctx, st, bus = build(command_space="joint")
    bus[ctx.bus.signals["command"].slice] = (np.nan, 3.0)
    assert mujoco_plant_step(st.f, st.s, st.i, bus) == status.BAD_SAMPLE
    np.testing.assert_allclose(ctx.plant.data.ctrl, 0.0)


def test_blow_up_is_fatal():
    """A strongly energy-injecting field (B positive definite, 1e6 N s/m) makes Euler diverge."""
    ctx, st, bus = build()
    bus[ctx.bus.signals["command"].slice] = (5.0, 0.0)
    bus[ctx.bus.signals["curl"].slice] = (1e6, 0.0, 0.0, 1e6)
    codes = [mujoco_plant_step(st.f, st.s, st.i, bus) for _ in range(50)]
    assert codes[-1] == status.PLANT_UNSTABLE, codes
