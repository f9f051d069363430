"""The two-state model settles at its closed-form steady state; with an explicit strategy, at the
Albert et al. 2022 competition steady state b_i (r - x_e) / (1 - a_i + b_i)."""
import numpy as np
import pytest

import rtcore  # noqa: F401  (sets the Numba cache before any compiled code)
from rtcore.learning import LearnerParams, TwoStateParams, schedules, simulate_learner, simulate_two_state, steady_state


def test_constant_unit_perturbation_reaches_closed_form():
    sched = schedules.blocks(("exposure", 1000, 1.0, "full"))
    trace = simulate_two_state(sched)
    ss = steady_state(TwoStateParams(), 1.0)
    # Smith 2006 defaults: G = .03/.08 + .004/.004 = 1.375, x = G / (1 + G) = 0.5789
    assert ss["output"] == pytest.approx(1.375 / 2.375, rel=1e-12)
    for key, series in (("output", trace.output), ("fast", trace.fast), ("slow", trace.slow)):
        assert series[-1] == pytest.approx(ss[key], rel=0.01), key
    # and it is still short of it after 300 trials (the slow closed-loop time constant is ~146 trials)
    assert trace.output[300] < 0.97 * ss["output"]


def test_error_clamp_holds_zero_error_and_only_decays():
    sched = schedules.blocks(("exposure", 300, 1.0, "full"), ("clamp", 50, 0.0, "clamp"))
    tr = simulate_two_state(sched)
    c = sched.trials("clamp")
    assert np.all(tr.error[c] == 0.0)
    p = TwoStateParams()
    np.testing.assert_allclose(tr.fast[c[-1]], tr.fast[c[0]] * p.a_fast ** 49, rtol=1e-12)
    np.testing.assert_allclose(tr.slow[c[-1]], tr.slow[c[0]] * p.a_slow ** 49, rtol=1e-12)


@pytest.mark.parametrize("explicit_deg", [0.0, 10.0, 20.0])
def test_albert_competition_steady_state(explicit_deg):
    """Implicit learning from the target error shrinks as the explicit strategy grows (Albert 2022)."""
    r = 30.0
    params = LearnerParams(implicit_error="target", explicit_deg=explicit_deg, explicit_rate=0.0,
                           explore_sd_deg=0.0, motor_noise_sd_deg=0.0, dopamine_gain=0.0,
                           use_dependent_weight=0.0, operant_gain=0.0, a_fast=0.92, b_fast=0.0)
    trace = simulate_learner(schedules.blocks(("exposure", 3000, r, "full")), params)
    a_i, b_i = params.a_slow, params.b_slow
    albert = b_i * (r - explicit_deg) / (1.0 - a_i + b_i)
    assert trace.forward_model[-1] == pytest.approx(albert, rel=0.01)
    assert steady_state(params.two_state(), r, explicit_deg)["output"] == pytest.approx(albert, rel=1e-9)
