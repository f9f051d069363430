"""The trial sequencing and acquire-and-hold rule of the reaching tasks (center_out, joint_tracking),
and their trial phases.

At a trial boundary `next_trial` gives the trial to start, or ends the task (PH_DONE, TASK_DONE).

Per tick in the reach or hold phase: entering the target starts the hold (ACQUIRED, the first
entry time kept as the acquisition time), leaving it during the hold goes back to reaching
(LEFT_TARGET), and hold_ticks consecutive ticks inside complete the hold (the caller then ends
the trial as a success).
"""
import numpy as np
from numba import njit

from rtcore.bus import MARKER, T_S
from sims.paradigms import markers

PH_CENTER, PH_REACH, PH_HOLD, PH_BETWEEN, PH_DONE, PH_PAUSED = 1, 2, 3, 4, 5, 6  #: trial phases (the `trial` signal's [2]; paused: center_out)


@njit(cache=True, nogil=True)
def next_trial(s, phase_at, trial_at, n, bus):
    """At the start (phase 0) or after a trial (PH_BETWEEN): the index of the trial to start, or -1
    once all n have run (then s[phase_at] = PH_DONE and the TASK_DONE marker is set)."""
    k = 0 if s[phase_at] == 0.0 else int(s[trial_at]) + 1
    if k < n:
        return k
    s[phase_at] = PH_DONE
    bus[MARKER] = markers.TASK_DONE
    return -1


@njit(cache=True, nogil=True)
def target_hold(s, phase_at, count_at, t_acq_at, inside, hold_ticks, bus):
    """Advance s[phase_at] between PH_REACH and PH_HOLD; True once the hold has lasted hold_ticks.

    s[count_at]: ticks held so far; s[t_acq_at]: first entry time, s (NaN until then)."""
    phase = s[phase_at]
    if phase == PH_REACH and inside:
        s[phase_at] = PH_HOLD
        s[count_at] = 0.0
        if np.isnan(s[t_acq_at]):
            s[t_acq_at] = bus[T_S]
        bus[MARKER] = markers.ACQUIRED
    elif phase == PH_HOLD and not inside:
        s[phase_at] = PH_REACH
        bus[MARKER] = markers.LEFT_TARGET
    if s[phase_at] == PH_HOLD:
        s[count_at] += 1.0
        return s[count_at] >= hold_ticks
    return False
