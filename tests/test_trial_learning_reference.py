"""The compiled trial-level kernels equal their readable Python references, trial by trial."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.learning import (LearnerParams, LesionConfig, TwoStateParams, schedules, simulate_learner,
                             simulate_learner_reference, simulate_two_state, simulate_two_state_reference)


def _all_feedback_codes():
    rng = np.random.default_rng(3)
    return schedules.blocks(
        ("baseline", 20, 0.0, "full"), ("exposure", 60, 30.0, "full"), ("clamp", 15, 0.0, "clamp"),
        ("fixed_clamp", 10, 5.0, "clamp"), ("probe", 10, 0.0, "none"), ("reward", 40, 15.0, "reward"),
        ("channel", 20, 8.0, "channel"), ("random", 40, rng.choice([-20.0, 0.0, 20.0], 40), "full"),
        ("relearn", 40, 30.0, "full"))


def test_two_state_kernel_equals_reference():
    sched = _all_feedback_codes()
    params = TwoStateParams(0.9, 0.05, 0.99, 0.01)
    fast, ref = simulate_two_state(sched, params, x0=(0.2, -0.1)), simulate_two_state_reference(sched, params, x0=(0.2, -0.1))
    for name, a, b in zip(fast._fields, fast, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", [
    dict(),
    dict(lesion=LesionConfig(kind="cerebellar", severity=0.7)),
    dict(lesion=LesionConfig(kind="parkinson", therapy_on=True)),
    dict(params=LearnerParams(implicit_error="target", explicit_deg=5.0, use_dependent_weight=0.3)),
])
def test_learner_kernel_equals_reference(case):
    sched = _all_feedback_codes()
    kw = dict(seed=11, **case)
    fast, ref = simulate_learner(sched, **kw), simulate_learner_reference(sched, **kw)
    for name, a, b in zip(fast._fields, fast, ref):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, err_msg=name)
    assert np.any(fast.reward > 0) and np.any(fast.operant != 0)  # the paths under test were exercised
