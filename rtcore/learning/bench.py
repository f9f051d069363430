"""Benchmark of trial-level learning: cost of one trial update, compiled vs the Python reference,
and the session stage's cost per tick and at a trial boundary (rtcore/learning/trial_learning.py)."""
import time

import numpy as np
from numba import njit

from rtcore.bus import Bus
from rtcore.learning import schedules, trial_learning
from rtcore.learning.learner import LearnerParams, simulate_learner, simulate_learner_reference
from rtcore.learning.two_state import simulate_two_state, simulate_two_state_reference


def _us_per_trial(fn, schedule, repeats: int) -> float:
    fn(schedule)  # compile / warm up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(schedule)
        best = min(best, time.perf_counter() - t0)
    return best / schedule.n_trials * 1e6


def bench_trial_learning(n_trials: int = 2000, repeats: int = 3) -> dict:
    """us per trial of the two-state model and the combined learner, compiled and pure Python.

    Compiled times include the Python-side setup of one call (schedule arrays are reused), so they
    are upper bounds on the kernel's own per-trial cost.
    """
    sched = schedules.savings(n_baseline=n_trials // 10, n_exposure=n_trials * 4 // 10,
                              n_washout=n_trials // 10, n_relearn=n_trials * 4 // 10, size=30.0)
    params = LearnerParams()
    out = {
        "two_state_us_per_trial": _us_per_trial(simulate_two_state, sched, repeats),
        "two_state_python_us_per_trial": _us_per_trial(simulate_two_state_reference, sched, repeats),
        "learner_us_per_trial": _us_per_trial(lambda s: simulate_learner(s, params), sched, repeats),
        "learner_python_us_per_trial": _us_per_trial(lambda s: simulate_learner_reference(s, params), sched, 1),
        "learner_n_memories": params.n_memories,
        "n_trials": sched.n_trials,
    }
    out["two_state_speedup"] = out["two_state_python_us_per_trial"] / out["two_state_us_per_trial"]
    out["learner_speedup"] = out["learner_python_us_per_trial"] / out["learner_us_per_trial"]
    return out


@njit(cache=True, nogil=True)
def _drive(f, s, i, bus, phase_at, n_calls, boundary_every):
    """Call the learning stage n_calls times in the reach phase, ending a trial every boundary_every calls."""
    for k in range(n_calls):
        bus[phase_at] = trial_learning.PH_BETWEEN if (k + 1) % boundary_every == 0 else trial_learning.PH_REACH
        trial_learning.trial_learning_step(f, s, i, bus)


def bench_learning_stage(n_calls: int = 200_000, repeats: int = 3) -> dict:
    """us per tick of the learning stage (2-D arm): reach ticks only, and every other tick a trial
    boundary (phase 'between', the two-state update), compiled, on a bus of its own."""
    from rtcore.stage import BuildContext, run_links
    ctx = BuildContext(bus=Bus(), dt_s=1e-3, seed=0)
    for name, width in (("trial", 3), ("target", 2), ("motor_error", 2), ("feedback", 4)):
        ctx.bus.add(name, width)
    stage = trial_learning.build(trial_learning.TrialLearningConfig(), ctx, n_trials=1000)
    run_links(ctx)
    bus = ctx.bus.array()
    bus[ctx.bus.get("motor_error").slice] = (0.5, -0.2)
    bus[ctx.bus.get("feedback").slice] = (0.0, 0.0, 0.2, 0.1)
    phase_at = ctx.bus.get("trial").offset + 2

    def per_call(every):
        _drive(stage.f, stage.s, stage.i, bus, phase_at, 10, every)  # compile / warm up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            _drive(stage.f, stage.s, stage.i, bus, phase_at, n_calls, every)
            best = min(best, time.perf_counter() - t0)
        return best / n_calls * 1e6

    reach, alternating = per_call(n_calls + 1), per_call(2)
    return {"learning_stage_us_per_reach_tick": reach,
            "learning_stage_us_per_boundary": max(2 * alternating - reach, 0.0)}
