"""Benchmark of trial-level learning: cost of one trial update, compiled vs the Python reference."""
import time

from rtcore.learning import schedules
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
