"""Reward-prediction-error learning of the aim (basal ganglia):

- with binary reward and no cursor, the hand follows a gradual rotation while the forward model
  learns nothing: reward changes commands, not predictions (Izawa & Shadmehr 2011);
- more motor noise (which the learner cannot attribute) means less reward learning (Therrien,
  Wolpert & Bastian 2016); a lower dopamine gain means less too.
"""
import numpy as np

import rtcore  # noqa: F401
from rtcore.learning import LearnerParams, schedules, simulate_learner

SCHED = schedules.ramp(n_baseline=40, n_ramp=160, n_hold=100, size=15.0)
HOLD = SCHED.trials("hold")


def _learned(params, seeds=range(30)):
    runs = [simulate_learner(SCHED, params, seed=s) for s in seeds]
    return float(np.mean([r.hand[HOLD].mean() for r in runs])), runs


def test_reward_moves_the_hand_not_the_forward_model():
    learned, runs = _learned(LearnerParams())
    assert learned > 0.75 * 15.0
    assert all(np.all(r.forward_model == 0.0) for r in runs)
    assert all(np.all(r.spe == 0.0) for r in runs)
    # dopamine bursts follow hits, dips follow misses (delta = r - V with 0 <= V <= 1)
    r = runs[0]
    assert np.all(r.rpe[r.reward == 1.0] >= 0) and np.all(r.rpe[r.reward == 0.0] <= 0)
    assert np.sum(r.rpe > 0.3) > 10


def test_motor_noise_limits_reward_learning():
    quiet, _ = _learned(LearnerParams(motor_noise_sd_deg=1.0))
    noisy, _ = _learned(LearnerParams(motor_noise_sd_deg=6.0))
    assert noisy < quiet - 1.5  # deg less of the 15 deg learned


def test_dopamine_gain_scales_reward_learning():
    full, _ = _learned(LearnerParams())
    low, _ = _learned(LearnerParams(dopamine_gain=0.1))
    none, _ = _learned(LearnerParams(dopamine_gain=0.0))
    assert abs(none) < 1.0 and none < low < full
