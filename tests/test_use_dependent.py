"""Use-dependent learning: after the hand is moved repeatedly along a channel toward 8 deg, free
movements without feedback are biased toward it, with no error and no reward involved
(Diedrichsen, White, Newman & Lally 2010, J Neurosci 30:5159)."""
import numpy as np

import rtcore  # noqa: F401
from rtcore.learning import LearnerParams, schedules, simulate_learner


def _probe_bias(weight):
    sched = schedules.blocks(("baseline", 30, 0.0, "none"), ("channel", 100, 8.0, "channel"),
                             ("probe", 10, 0.0, "none"))
    params = LearnerParams(use_dependent_weight=weight)
    runs = [simulate_learner(sched, params, seed=s) for s in range(20)]
    assert all(np.all(r.spe == 0.0) and np.all(r.reward == 0.0) for r in runs)
    return float(np.mean([r.plan[sched.trials("probe")].mean() for r in runs]))


def test_repetition_biases_later_movements_toward_it():
    bias = _probe_bias(0.2)
    # toward the channel, at most lambda_ud * 8 deg (the prior mu approaches 8 deg, then relaxes
    # back toward the probes' own directions)
    assert 0.5 < bias < 0.2 * 8.0
    assert _probe_bias(0.0) == 0.0
