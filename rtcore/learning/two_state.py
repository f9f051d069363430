"""Two-state (fast/slow) model of trial-by-trial adaptation to sensory prediction errors.

    x = x_f + x_s,  e(n) = f(n) - x(n),
    x_f(n+1) = A_f x_f(n) + B_f e(n),   x_s(n+1) = A_s x_s(n) + B_s e(n)

Defaults A_f 0.92, B_f 0.03, A_s 0.996, B_s 0.004 (Smith, Ghazizadeh & Shadmehr 2006, PLoS Biol
4:e179, eq. 2 and Fig. 2). The fast state learns quickly and forgets quickly; the slow state learns
slowly and keeps. Together they give savings, rapid unlearning, anterograde interference and
spontaneous recovery in an error clamp (e = 0). Feedback codes: rtcore.learning.schedules.

The compiled run (`two_state_run`) fills preallocated arrays; `simulate_two_state_reference` is
the same model as a plain Python loop, the oracle of the tests.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from rtcore import status
from rtcore.learning.schedules import FB_CLAMP, FB_FULL, Schedule


class TwoStateParams(NamedTuple):
    """Retention (A) and error sensitivity (B) per trial of the fast and slow states (Smith 2006)."""

    a_fast: float = 0.92  #: A_f, fast-state retention per trial
    b_fast: float = 0.03  #: B_f, fast-state learning rate per unit error
    a_slow: float = 0.996  #: A_s, slow-state retention per trial
    b_slow: float = 0.004  #: B_s, slow-state learning rate per unit error

    def scaled(self, spe_learning_gain: float = 1.0, retention: float = 1.0) -> "TwoStateParams":
        """Lesioned copy: B <- gain B; A <- A^(1/retention), so each state's time constant
        -1/ln A is multiplied by `retention` (see rtcore.learning.lesions)."""
        r = max(retention, 1e-6)
        return TwoStateParams(self.a_fast ** (1.0 / r), spe_learning_gain * self.b_fast,
                              self.a_slow ** (1.0 / r), spe_learning_gain * self.b_slow)

    def check(self) -> "TwoStateParams":
        """ValueError unless 0 <= A <= 1 and B >= 0 (a stable, forgetting learner)."""
        for name in self._fields:
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0 or (name.startswith("a_") and v > 1):
                raise ValueError(f"two_state.{name} = {v}: need 0 <= A <= 1 and B >= 0")
        return self


class TwoStateTrace(NamedTuple):
    """Per-trial states before each trial's update, [n_trials] each (output units)."""

    fast: np.ndarray  #: x_f(n)
    slow: np.ndarray  #: x_s(n)
    output: np.ndarray  #: x(n) = x_f + x_s, the adaptation expressed on trial n
    error: np.ndarray  #: e(n) that drove the update (0 on no-feedback trials)


@njit(cache=True, nogil=True)
def two_state_trial(params, state, perturbation, feedback):
    """One trial of the two-state model, in place; returns the error e that drove the update.

    e = f - (x_f + x_s) with full feedback, e = f on an error clamp, e = 0 otherwise (decay only).
    params: [A_f, B_f, A_s, B_s]; state: [x_f, x_s] (output units).
    """
    if feedback == FB_FULL:
        e = perturbation - (state[0] + state[1])
    elif feedback == FB_CLAMP:
        e = perturbation
    else:
        e = 0.0
    state[0] = params[0] * state[0] + params[1] * e
    state[1] = params[2] * state[1] + params[3] * e
    return e


@njit(cache=True, nogil=True)
def two_state_run(params, perturbation, feedback, state, fast, slow, error):
    """Run n trials of the two-state model into preallocated arrays; returns status.OK.

    params: [A_f, B_f, A_s, B_s]; perturbation: [n] f (output units); feedback: [n] FB_* codes;
    state: [x_f, x_s], updated in place to the state after the last trial;
    fast, slow, error: [n] outputs: x_f(n), x_s(n) before trial n's update, and e(n).
    """
    for n in range(perturbation.shape[0]):
        fast[n] = state[0]
        slow[n] = state[1]
        error[n] = two_state_trial(params, state, perturbation[n], feedback[n])
    return status.OK


def simulate_two_state(schedule: Schedule, params: TwoStateParams = TwoStateParams(),
                       x0=(0.0, 0.0)) -> TwoStateTrace:
    """The two-state model through a schedule (compiled). x0: initial (x_f, x_s)."""
    p = np.array(params.check(), dtype=np.float64)
    state = np.array(x0, dtype=np.float64)
    n = schedule.n_trials
    fast, slow, error = np.empty(n), np.empty(n), np.empty(n)
    two_state_run(p, schedule.perturbation, schedule.feedback, state, fast, slow, error)
    return TwoStateTrace(fast, slow, fast + slow, error)


def simulate_two_state_reference(schedule: Schedule, params: TwoStateParams = TwoStateParams(),
                                 x0=(0.0, 0.0)) -> TwoStateTrace:
    """The same model as a readable Python loop (test oracle for `simulate_two_state`)."""
    x_fast, x_slow = float(x0[0]), float(x0[1])
    rows = []
    for f, code in zip(schedule.perturbation.tolist(), schedule.feedback.tolist()):
        if code == FB_FULL:
            e = f - (x_fast + x_slow)
        elif code == FB_CLAMP:
            e = f
        else:
            e = 0.0
        rows.append((x_fast, x_slow, e))
        x_fast = params.a_fast * x_fast + params.b_fast * e
        x_slow = params.a_slow * x_slow + params.b_slow * e
    fast, slow, error = (np.array(c, dtype=np.float64) for c in zip(*rows)) if rows else (np.empty(0),) * 3
    return TwoStateTrace(fast, slow, fast + slow, error)


def steady_state(params: TwoStateParams = TwoStateParams(), perturbation: float = 1.0,
                 explicit: float = 0.0) -> dict:
    """Closed-form steady state under a constant perturbation with full feedback.

    Fixed point of the update with e = f - x_e - x:  x_f = B_f/(1-A_f) e,  x_s = B_s/(1-A_s) e,
    e = (f - x_e) / (1 + G),  G = B_f/(1-A_f) + B_s/(1-A_s),  x = G e.
    With an explicit strategy x_e that the implicit error includes, this is the competition
    steady state of Albert et al. 2022 (eLife 11:e65361, eq. 3), which for one state reads
    x_i = b_i (r - x_e) / (1 - a_i + b_i). Needs A < 1 (else the state integrates: x -> f - x_e).
    Returns dict(fast, slow, output, error) in output units.
    """
    g_fast = params.b_fast / (1.0 - params.a_fast)
    g_slow = params.b_slow / (1.0 - params.a_slow)
    e = (perturbation - explicit) / (1.0 + g_fast + g_slow)
    return {"fast": g_fast * e, "slow": g_slow * e, "output": (g_fast + g_slow) * e, "error": e}
