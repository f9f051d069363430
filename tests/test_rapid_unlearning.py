"""Rapid unlearning: after adaptation, a counter-perturbation undoes it faster, relative to how
fast it was learned, than any one-state learner can (Smith et al. 2006, Fig. 3): the fast state
flips sign within a few trials while the slow state still holds the learning."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.learning import TwoStateParams, schedules, simulate_two_state


def _unlearn_over_learn(params, n_a):
    """(trials from 0 to half of what was learned) / (trials to lose that half under f = -1)."""
    sched = schedules.blocks(("a", n_a, 1.0, "full"), ("b", 200, -1.0, "full"))
    x = simulate_two_state(sched, params).output
    a, b = sched.trials("a"), sched.trials("b")
    learned = x[b[0]]
    learn_t = int(np.flatnonzero(x[a] >= 0.5 * learned)[0])
    unlearn_t = int(np.flatnonzero(x[b] <= 0.5 * learned)[0])
    return unlearn_t / learn_t


@pytest.mark.parametrize("n_a", [300, 1000])
def test_two_state_unlearns_faster_than_one_state_models(n_a):
    two = _unlearn_over_learn(TwoStateParams(), n_a)
    assert two <= 0.35, two  # about 3x faster to lose half than to gain it
    for one_state in (TwoStateParams(0.99, 0.02, 0.0, 0.0), TwoStateParams(0.996, 0.034, 0.0, 0.0),
                      TwoStateParams(0.92, 0.03, 0.0, 0.0)):
        assert _unlearn_over_learn(one_state, n_a) >= 0.4
