"""Trial-level motor learning: error-, reward- and use-dependent learning, schedules, lesions.

Standalone from Python:

    from rtcore.learning import schedules, simulate_two_state, simulate_learner, LesionConfig
    trace = simulate_two_state(schedules.savings())                 # Smith et al. 2006
    trace = simulate_learner(schedules.adaptation(size=30.0), lesion=LesionConfig(kind="parkinson"))

Modules: two_state (fast/slow SPE learning, closed-form steady state), reward (RPE actor-critic
and the memory of rewarded actions), use_dependent, learner (all of them into a hand angle),
schedules, lesions ([lesion] config and the multipliers it implies), bench.
The compiled per-trial steps (`two_state_trial`, `learner_trial`) allocate nothing, so a session
stage calls them at trial ends: trial_learning ([learning], role "learning") is that stage.
"""
from rtcore.learning import schedules, trial_learning
from rtcore.learning.learner import LearnerParams, LearnerTrace, simulate_learner, simulate_learner_reference
from rtcore.learning.lesions import LesionConfig, LesionEffects, lesion_effects
from rtcore.learning.two_state import (TwoStateParams, TwoStateTrace, simulate_two_state,
                                       simulate_two_state_reference, steady_state)

#: The session stage of this family (rtcore.families), built from [learning].
SPEC = trial_learning.SPEC
TrialLearningConfig = trial_learning.TrialLearningConfig


def build_from_session(cfg, ctx) -> list:
    """The learning stage for a [learning] section (none without one); [lesion] scales its rates.

    The dopamine gain (LesionEffects.rpe_gain) scales the slow state's learning rate B_s alone, as
    it scales the per-tick feedforward's slow rate: Parkinson's adapts with the fast state but
    keeps little for re-exposure (no savings; Marinelli et al. 2009, Leow et al. 2012).
    """
    if getattr(cfg, "learning", None) is None:
        return []
    fx = lesion_effects(getattr(cfg, "lesion", None) or LesionConfig())
    n_trials = sum(blk.n_trials for blk in getattr(cfg, "block", []))
    return [trial_learning.build(cfg.learning, ctx, n_trials, spe_learning_gain=fx.spe_learning_gain,
                                 retention=fx.retention, slow_gain=fx.rpe_gain)]


__all__ = ["TrialLearningConfig", "build_from_session", "schedules", "LearnerParams", "LearnerTrace", "simulate_learner", "simulate_learner_reference",
           "LesionConfig", "LesionEffects", "lesion_effects", "TwoStateParams", "TwoStateTrace",
           "simulate_two_state", "simulate_two_state_reference", "steady_state"]
