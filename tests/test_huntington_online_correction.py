"""A Huntington's lesion impairs online correction; a target jump mid-reach exposes it.

Two-link arm, 50 ms feedback delay, forward model, endpoint PD. The target steps 10 cm to the
right; 120 ms into the reach it jumps 10 cm up. Healthy control redirects the hand within a few
hundred ms; with the lesion's online_correction_gain (Smith, Brandt & Shadmehr 2000, Nature
403:544) the hand is still far from the new target. Trial-to-trial (SPE) learning is untouched.
"""
import numpy as np

from rtcore import api, cerebellum, control
from rtcore.cerebellum import FeedbackConfig, ForwardModelConfig, forward_model
from rtcore.control.endpoint_pd import EndpointPDConfig
from rtcore.learning.lesions import LesionConfig, lesion_effects
from sims.plants import two_link_arm

DT_S = 0.001
T_STEP, T_JUMP, T_MEASURE = 0.1, 0.22, 0.70  # s


def reach(lesion: LesionConfig | None):
    ch = api.chain(dt_s=DT_S)
    ch.add(two_link_arm.build(two_link_arm.TwoLinkArmConfig(kind="two_link_arm"), ch.ctx))
    start = np.array(ch.ctx.plant.start_hand_m, dtype=float)
    ch.signal("target", 2, "m")
    stages = ch.add(cerebellum.build(FeedbackConfig(), ForwardModelConfig(learn=False), lesion, ch.ctx))
    ch.add(control.build(EndpointPDConfig(kind="endpoint_pd", motor_noise_n=0.0), ch.ctx, lesion))
    sess = ch.finish()
    n = int(1.0 / DT_S)
    t = np.arange(n) * DT_S
    target = np.tile(start, (n, 1))
    target[t >= T_STEP] = start + [0.10, 0.0]
    target[t >= T_JUMP] = start + [0.0, 0.10]
    out = sess.run(inputs={"target": target}, record=["state"])
    err = np.linalg.norm(out["state"][:, :2] - target, axis=1)
    return err, stages[1]


def test_huntington_worsens_online_correction():
    healthy, fm_h = reach(None)
    hd, fm_hd = reach(LesionConfig(kind="huntington"))
    k = int(T_MEASURE / DT_S)
    assert healthy[k] < 0.02  # redirected to within 2 cm of the jumped target 480 ms after the jump
    assert hd[k] > 2 * healthy[k], (hd[k], healthy[k])
    # the correction is slower all along, not only at one instant
    w = slice(int(T_JUMP / DT_S), k)
    assert hd[w].mean() > 1.2 * healthy[w].mean()
    # adaptation spared: the forward model's SPE learning rate is the healthy one
    assert fm_hd.f[forward_model.F.mu] == fm_h.f[forward_model.F.mu]
    assert lesion_effects(LesionConfig(kind="huntington")).spe_learning_gain == 1.0
