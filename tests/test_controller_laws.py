"""Controller steps against their control laws: PD on the estimate, limits, HOLD, lesion gains."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import status
from rtcore.bus import HOLD, Bus
from rtcore.control import endpoint_pd, joint_pd, passthrough
from rtcore.control.endpoint_pd import EndpointPDConfig, endpoint_pd_step
from rtcore.control.joint_pd import JointPDConfig, joint_pd_step
from rtcore.control.passthrough import PassthroughConfig, passthrough_step
from rtcore.learning.lesions import LesionConfig, LesionEffects, lesion_effects
from rtcore.stage import BuildContext

MUSCLES = ("TRIlong", "TRIlat", "TRImed", "BIClong", "BICshort", "BRA")


def arm_ctx():
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=3, realtime=False)
    ctx.bus.add("command", 2, "N", ("fx", "fy"))
    ctx.bus.add("target", 2, "m")
    ctx.bus.add("estimate", 4, "m,m/s")
    return ctx


def test_endpoint_pd_law_limit_and_hold():
    ctx = arm_ctx()
    st = endpoint_pd.build(EndpointPDConfig(kind="endpoint_pd", kp_n_per_m=200, kd_ns_per_m=20, max_force_n=30,
                                            motor_noise_n=0.0), ctx, LesionEffects())
    bus, sig = ctx.bus.array(), ctx.bus.signals
    bus[sig["target"].slice] = [0.05, -0.02]
    bus[sig["estimate"].slice] = [0.01, 0.0, 0.1, -0.2]
    assert endpoint_pd_step(st.f, st.s, st.i, bus) == status.OK
    np.testing.assert_allclose(bus[sig["command"].slice], [200 * 0.04 - 20 * 0.1, 200 * -0.02 + 20 * 0.2])
    bus[sig["target"].slice] = [1.0, 0.0]  # 200 N wanted: scaled to the 30 N norm limit, direction kept
    assert endpoint_pd_step(st.f, st.s, st.i, bus) == status.LIMIT_CLIPPED
    u = bus[sig["command"].slice]
    assert np.linalg.norm(u) == pytest.approx(30.0) and u[1] > 0
    # HOLD (posture): track the estimate latched at hold onset, whatever the target does
    bus[HOLD] = 1.0
    bus[sig["estimate"].slice] = [0.02, 0.03, 0.0, 0.0]
    endpoint_pd_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(bus[sig["command"].slice], [0.0, 0.0], atol=1e-12)
    bus[sig["estimate"].slice] = [0.03, 0.03, 0.0, 0.0]
    bus[sig["target"].slice] = [-1.0, 0.0]
    endpoint_pd_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(bus[sig["command"].slice], [200 * -0.01, 0.0], atol=1e-12)


def test_endpoint_pd_zero_on_hold_and_huntington_gain_and_noise():
    ctx = arm_ctx()
    cfg = EndpointPDConfig(kind="endpoint_pd", on_hold="zero", motor_noise_n=0.5)
    fx = lesion_effects(LesionConfig(kind="huntington"))
    st = endpoint_pd.build(cfg, ctx, fx)
    assert st.f[endpoint_pd.F.kp] == pytest.approx(cfg.kp_n_per_m * fx.online_correction_gain)
    assert fx.online_correction_gain < 1.0
    bus, sig = ctx.bus.array(), ctx.bus.signals
    us = []
    for _ in range(4000):
        endpoint_pd_step(st.f, st.s, st.i, bus)
        us.append(bus[sig["command"].slice].copy())
    us = np.array(us)  # target = estimate = 0: the command is the motor noise alone
    assert np.std(us, axis=0) == pytest.approx([0.5, 0.5], rel=0.05)
    assert abs(np.corrcoef(us.T)[0, 1]) < 0.05
    bus[HOLD] = 1.0
    endpoint_pd_step(st.f, st.s, st.i, bus)
    np.testing.assert_array_equal(bus[sig["command"].slice], [0.0, 0.0])
    # cerebellar lesion doubles the noise SD
    st2 = endpoint_pd.build(cfg, arm_ctx(), lesion_effects(LesionConfig(kind="cerebellar")))
    assert st2.f[endpoint_pd.F.noise] == pytest.approx(2 * 0.5)


def test_endpoint_pd_intrinsic_impedance_acts_on_the_plant_state_and_no_lesion_scales_it():
    """command = g (kp (r - x_hat) - kd v_hat) + k_i (r - x) - b_i v: the muscles' delay-free
    viscoelasticity reads the plant's state; Huntington's gain g and the cerebellar lag leave it."""
    cfg = EndpointPDConfig(kind="endpoint_pd", kp_n_per_m=60, kd_ns_per_m=5, intrinsic_stiffness_n_per_m=80,
                           intrinsic_damping_ns_per_m=40, max_force_n=100, motor_noise_n=0.0)
    with pytest.raises(ValueError, match=r"controller.intrinsic_\*: .*needs a plant state"):
        endpoint_pd.build(cfg, arm_ctx(), LesionEffects())
    for fx in (LesionEffects(), lesion_effects(LesionConfig(kind="huntington"))):
        ctx = arm_ctx()
        ctx.bus.add("state", 4, "m,m/s", ("hand_x", "hand_y", "hand_vx", "hand_vy"))
        st = endpoint_pd.build(cfg, ctx, fx)
        bus, sig = ctx.bus.array(), ctx.bus.signals
        bus[sig["target"].slice] = [0.05, -0.02]
        bus[sig["estimate"].slice] = [0.01, 0.0, 0.1, -0.2]
        bus[sig["state"].slice] = [0.02, 0.01, 0.3, 0.1]
        endpoint_pd_step(st.f, st.s, st.i, bus)
        g = fx.online_correction_gain
        want = [g * (60 * 0.04 - 5 * 0.1) + 80 * 0.03 - 40 * 0.3, g * (60 * -0.02 + 5 * 0.2) + 80 * -0.03 - 40 * 0.1]
        np.testing.assert_allclose(bus[sig["command"].slice], want)


def elbow_ctx():
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0, realtime=False)
    ctx.bus.add("command", 6, "1", MUSCLES)
    ctx.bus.add("estimate", 2, "rad,rad/s", ("angle", "angular_velocity"))
    return ctx


def test_joint_pd_splits_drive_into_agonists_and_antagonists():
    ctx = elbow_ctx()
    st = joint_pd.build(JointPDConfig(kind="joint_pd", kp_per_rad=2.0, kd_per_rad_s=0.5, co_contraction=0.05,
                                      target_rad=1.0, motor_noise_sd=0.0), ctx, LesionEffects())
    bus, sig = ctx.bus.array(), ctx.bus.signals
    bus[sig["estimate"].slice] = [0.8, 0.2]  # drive = 2 * 0.2 - 0.5 * 0.2 = 0.3: flex
    assert joint_pd_step(st.f, st.s, st.i, bus) == status.OK
    np.testing.assert_allclose(bus[sig["command"].slice], [0.05, 0.05, 0.05, 0.35, 0.35, 0.35])
    bus[sig["estimate"].slice] = [1.5, 0.0]  # drive = -1.0: extend
    joint_pd_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(bus[sig["command"].slice], [1.0, 1.0, 1.0, 0.05, 0.05, 0.05])
    bus[sig["estimate"].slice] = [4.0, 0.0]  # saturates at max_activation
    assert joint_pd_step(st.f, st.s, st.i, bus) == status.LIMIT_CLIPPED
    assert bus[sig["command"].slice].max() == 1.0
    bus[HOLD] = 1.0  # posture: hold the angle at onset (4.0), drive 0 -> co-contraction only
    joint_pd_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(bus[sig["command"].slice], [0.05] * 6)


def test_joint_pd_names_unknown_muscle():
    with pytest.raises(ValueError, match=r"controller.agonists: no command channel 'BIC'"):
        joint_pd.build(JointPDConfig(kind="joint_pd", agonists=["BIC"]), elbow_ctx(), LesionEffects())


def test_passthrough_gain_limits_and_hold():
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0, realtime=False)
    ctx.bus.add("intent", 2, "a.u.")
    ctx.bus.add("command", 2, "N")
    st = passthrough.build(PassthroughConfig(kind="passthrough", gain=10.0, lower=-5.0, upper=5.0, on_hold="last"),
                           ctx, LesionEffects())
    bus, sig = ctx.bus.array(), ctx.bus.signals
    bus[sig["intent"].slice] = [0.2, -0.9]
    assert passthrough_step(st.f, st.s, st.i, bus) == status.LIMIT_CLIPPED
    np.testing.assert_allclose(bus[sig["command"].slice], [2.0, -5.0])
    bus[HOLD], bus[sig["intent"].slice] = 1.0, [0.0, 0.0]
    passthrough_step(st.f, st.s, st.i, bus)
    np.testing.assert_allclose(bus[sig["command"].slice], [2.0, -5.0])  # last command kept
    with pytest.raises(ValueError, match=r"controller.input: 'intent' has 2 channels"):
        c2 = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
        c2.bus.add("intent", 2)
        c2.bus.add("command", 6)
        passthrough.build(PassthroughConfig(kind="passthrough"), c2, LesionEffects())
