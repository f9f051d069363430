"""Trial-level motor learning: error-, reward- and use-dependent learning, schedules, lesions.

Standalone from Python:

    from rtcore.learning import schedules, simulate_two_state, simulate_learner, LesionConfig
    trace = simulate_two_state(schedules.savings())                 # Smith et al. 2006
    trace = simulate_learner(schedules.adaptation(size=30.0), lesion=LesionConfig(kind="parkinson"))

Modules: two_state (fast/slow SPE learning, closed-form steady state), reward (RPE actor-critic
and the memory of rewarded actions), use_dependent, learner (all of them into a hand angle),
schedules, lesions ([lesion] config and the multipliers it implies), outcome (the task's per-trial
outcome on the bus, which the aim's learners read), bench.
The compiled per-trial steps (`two_state_trial`, `learner_trial`) allocate nothing, so a session
stage calls them at trial ends: trial_learning ([learning], role "learning") is that stage; aim
([aim], role "aim", next in the tick) plans the reach with use-dependent learning.
"""
from rtcore.learning import aim, schedules, trial_learning
from rtcore.learning.learner import LearnerParams, LearnerTrace, simulate_learner, simulate_learner_reference
from rtcore.learning.lesions import LesionConfig, LesionEffects, lesion_effects
from rtcore.learning.two_state import (TwoStateParams, TwoStateTrace, simulate_two_state,
                                       simulate_two_state_reference, steady_state)

#: The session stages of this family (rtcore.families): the learner built from [learning], the
#: aim from [aim].
SPEC = trial_learning.SPEC
MEMBERS = (aim,)  #: the aim ([aim]): use-dependent learning of the planned reach
TrialLearningConfig = trial_learning.TrialLearningConfig
AimConfig = aim.AimConfig


def build_from_session(cfg, ctx) -> list:
    """The trial-level learner for a [learning] section and the aim for an [aim] section (each none
    without its section); [lesion] scales the learner's rates and the aim's dopamine gain.

    The dopamine gain (LesionEffects.rpe_gain) scales the slow state's learning rate B_s alone, as
    it scales the per-tick feedforward's slow rate: Parkinson's adapts with the fast state but
    keeps little for re-exposure (no savings; Marinelli et al. 2009, Leow et al. 2012).
    """
    n_trials = sum(blk.n_trials for blk in getattr(cfg, "block", []))
    stages = []
    fx = lesion_effects(getattr(cfg, "lesion", None) or LesionConfig())
    if getattr(cfg, "learning", None) is not None:
        stages.append(trial_learning.build(cfg.learning, ctx, n_trials, spe_learning_gain=fx.spe_learning_gain,
                                           retention=fx.retention, slow_gain=fx.rpe_gain))
    if getattr(cfg, "aim", None) is not None:
        stages.append(aim.build(cfg.aim, ctx, n_trials, dopamine_gain=fx.rpe_gain))
    return stages


__all__ = ["TrialLearningConfig", "AimConfig", "build_from_session", "schedules", "LearnerParams", "LearnerTrace", "simulate_learner", "simulate_learner_reference",
           "LesionConfig", "LesionEffects", "lesion_effects", "TwoStateParams", "TwoStateTrace",
           "simulate_two_state", "simulate_two_state_reference", "steady_state"]
