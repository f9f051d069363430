"""Lesions at the trial level, through the public API (each averaged over seeds of noise):

- cerebellar: SPE learning abolished (the forward model learns ~nothing in a rotation) while
  learning from binary reward is spared (Therrien, Wolpert & Bastian 2016, Brain 139:101);
  trial-to-trial changes stop following the last error (Smith & Shadmehr 2005).
- parkinson: initial adaptation intact, savings lost (Leow et al. 2012; Tsay et al. 2022);
  levodopa/DBS on restores part of the savings.
- huntington: trial-to-trial adaptation spared (Smith & Shadmehr 2005); its online-correction
  deficit is a per-tick multiplier (checked here as exposed, used by the controller).
"""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.learning import LearnerParams, LesionConfig, lesion_effects, schedules, simulate_learner

SEEDS = range(30)
HEALTHY, CEREBELLAR = LesionConfig(), LesionConfig(kind="cerebellar")
PARKINSON_OFF, PARKINSON_ON = LesionConfig(kind="parkinson"), LesionConfig(kind="parkinson", therapy_on=True)
HUNTINGTON = LesionConfig(kind="huntington")


def _mean(schedule, lesion, field="hand", params=LearnerParams()):
    return np.mean([getattr(simulate_learner(schedule, params, lesion, seed=s), field) for s in SEEDS], axis=0)


@pytest.fixture(scope="module")
def savings_runs():
    """30 deg rotation: baseline, exposure, long washout, re-exposure."""
    sched = schedules.savings(n_baseline=50, n_exposure=150, n_washout=150, n_relearn=150, size=30.0)
    runs = {name: _mean(sched, les) for name, les in
            (("healthy", HEALTHY), ("pd_off", PARKINSON_OFF), ("pd_on", PARKINSON_ON))}
    ex, re = sched.trials("exposure")[:10], sched.trials("relearn")[:10]
    early = {k: h[ex].mean() for k, h in runs.items()}  # deg of the 30 deg learned, first 10 trials
    saved = {k: h[re].mean() - h[ex].mean() for k, h in runs.items()}  # savings, deg
    return early, saved


def test_parkinson_spares_initial_adaptation(savings_runs):
    early, _ = savings_runs
    assert early["healthy"] > 5.0
    assert early["pd_off"] == pytest.approx(early["healthy"], rel=0.05)


def test_parkinson_removes_savings_and_therapy_restores_part(savings_runs):
    _, saved = savings_runs
    assert saved["healthy"] > 5.0  # deg more in the first 10 trials of relearning
    assert saved["pd_off"] < 0.5 * saved["healthy"]
    assert saved["pd_off"] + 0.25 * (saved["healthy"] - saved["pd_off"]) < saved["pd_on"] < saved["healthy"]


def test_cerebellar_lesion_abolishes_spe_learning():
    sched = schedules.adaptation(n_baseline=20, n_exposure=150, n_washout=0, size=30.0)
    end = sched.trials("exposure")[-1]
    healthy, lesioned = _mean(sched, HEALTHY, "forward_model"), _mean(sched, CEREBELLAR, "forward_model")
    assert healthy[end] > 10.0
    assert abs(lesioned[end]) < 0.1 * healthy[end]


def test_cerebellar_lesion_spares_reward_learning():
    """Binary reward only, gradual 15 deg rotation (Therrien 2016): the hand follows in both."""
    sched = schedules.ramp(n_baseline=40, n_ramp=160, n_hold=100, size=15.0)
    hold = sched.trials("hold")
    healthy, lesioned = _mean(sched, HEALTHY)[hold].mean(), _mean(sched, CEREBELLAR)[hold].mean()
    assert healthy > 10.0
    assert lesioned > 0.7 * healthy
    assert np.abs(_mean(sched, CEREBELLAR, "forward_model")).max() == 0.0  # reward does not teach the forward model


def _error_slope(lesion):
    """Regression slope of the trial-to-trial change of plan on the last error, random perturbations
    (Smith & Shadmehr 2005): the error-based part of the learner alone (no explicit re-aiming, no
    reward learning or recall, as for force-field errors without a reward contingency)."""
    rng = np.random.default_rng(0)
    sched = schedules.blocks(("random", 400, rng.choice([-10.0, 0.0, 10.0], 400), "full"))
    params = LearnerParams(explicit_rate=0.0, dopamine_gain=0.0, operant_gain=0.0)
    slopes = []
    for s in range(10):
        tr = simulate_learner(sched, params, lesion, seed=s)
        slopes.append(np.polyfit(tr.task_error[:-1], np.diff(tr.plan), 1)[0])
    return float(np.mean(slopes))


def test_trial_to_trial_adaptation_spared_in_huntington_not_cerebellar():
    healthy, hd, cb = _error_slope(HEALTHY), _error_slope(HUNTINGTON), _error_slope(CEREBELLAR)
    assert healthy == pytest.approx(0.034, rel=0.3)  # B_f + B_s
    assert hd == pytest.approx(healthy, rel=0.1)
    assert abs(cb) < 0.25 * healthy


def test_huntington_impairs_online_correction_only():
    eff = lesion_effects(HUNTINGTON)
    assert eff.online_correction_gain < 0.5
    assert (eff.spe_learning_gain, eff.retention, eff.rpe_gain, eff.estimate_lag_s) == (1.0, 1.0, 1.0, 0.0)
