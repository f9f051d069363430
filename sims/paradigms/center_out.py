"""Center-out reaching: the trial state machine, perturbation schedule and per-trial metrics (role "task").

Each trial: hold the fed-back hand (`observed`, else `state`) within target_tolerance_m of the
center for hold_s (else, after center_timeout_s, the trial fails as a center timeout and the next
one starts) -> go: a target appears at radius_m in one of n_targets directions -> reach
and hold it for hold_s (success) before timeout_s after the go cue (else failure). Without
return_to_center, the next target follows from the last one. Runs before the controller and
reads the hand as the plant/observe left it on the previous tick. Markers: sims.paradigms.markers.
Without return_to_center no trial repeats the previous target (`no_repeats`): a reach is never
zero-length.

The operator (rtcore.dashboard) can pause the task: the trial under way is abandoned (no metrics
row), the target is the center, and on resume that trial starts again; and skip the rest of the
block: the next block starts after the trial under way is abandoned (the task ends after the last
block). Both come on the bus header (PAUSE, SKIP_BLOCK) and are written to `operator` [2] every
tick, so they are recorded and a replay repeats them.

Writes `target` [2] (m), `trial` [3] = [trial index, block index, phase] (phases PH_*),
`visuomotor` [4] (the observe stage's map, see observe.py), `extra_delay_ticks` [1] (extra
feedback delay for the feedback delay line, 0 = none), and per trial the plant's perturbation
inputs `curl`, `load`, `gain_change` (when the plant has them). Returns TASK_DONE once every
block has run.

Per-trial metrics (true hand; one row per finished trial, M_* columns), as in force-field
studies (Shadmehr & Mussa-Ivaldi 1994; Smith, Ghazizadeh & Shadmehr 2006):
  perp_error_m: signed distance of the hand from the start->target line at peak speed
                (counter-clockwise / left of the reach +); angle_error_deg: hand direction at
                peak speed minus target direction; feedback_angle_error_deg: the same for the
                fed-back hand (what a learner sees); max_perp_error_m: largest signed deviation
                until movement end; endpoint_error_m: |hand - target| at movement end (first tick
                after the speed peak with speed < END_FRACTION peak, else trial end);
                movement_time_s: go cue to first target entry (NaN if never); success 0/1;
                center_timeout 0/1 (the center was never held: no go cue, movement metrics NaN);
  channel 0/1: a force-channel trial (blocks.py); on it the task holds the hand in a stiff channel
                along the line from the hand at the go cue to the target (a channel trial's reach
                origin: its path metrics and the feedforward's path follow that line; a wall on the
                line from the center would jolt a hand resting within the target tolerance off it,
                and the channel rings) by writing the channel's force to the plant's `load`
                force each tick, F = -(K d_perp + B v_perp) n (one tick late, stable for K <= 2e4
                N/m at 1 kHz), and measures channel_force_index: the lateral force the hand presses
                against the channel, f = K d_perp + B v_perp, regressed (through 0, from the go cue
                to movement end) on the lateral force that would cancel the reference field,
                f_ideal = -n . B_ref v: 1 = full compensation, 0 = none (Scheidt et al. 2000;
                Smith, Ghazizadeh & Shadmehr 2006, PLoS Biol 4:e179, Fig. 2); B_ref is the first
                curl block's field (0 without one: index NaN); NaN on other trials. The report
                adds adaptation_index: the same minus the target's baseline channel index (the
                arm's own dynamics press on the channel too; adaptation.channel_index).
                jump_deg: the target's jump about the reach start (0 = none; blocks.py);
                jump_correction_s: time from the jump until the true hand is within
                JUMP_REACHED_FRACTION of the jump's distance from the new target (NaN: never, or
                no jump): the online correction (Smith, Brandt & Shadmehr 2000, Nature 403:544).
                After a jump the path metrics refer to the new target's line.
On a binary-reward trial (blocks.py, perturbation "reward") the trial ends at movement end (no
target hold): success is the reward, a hit when the hand's direction from the reach start lies
within the window of the rewarded direction and the hand went at least REWARD_MIN_FRACTION of the
way to the target. The task writes `outcome` [5] (rtcore.learning.outcome): from the go cue the
trial's kind (reward trial, instructed strategy, exclusion), from its end what happened (reward,
the fed-back hand's direction error at peak speed), which the aim's learners read
(rtcore.learning.aim).
With a curl block, the report adds the field-signed error relative to each target's baseline and
the adaptation measures (sims/paradigms/adaptation.py).
"""
import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from rtcore import status
from rtcore.bus import MARKER, PAUSE, SKIP_BLOCK, T_S
from rtcore.configbase import Strict
from rtcore.layout import Layout, stage_layout
from rtcore.learning.outcome import N_OUTCOME, O, OUTCOME
from rtcore.registry import StageSpec
from rtcore.stage import Stage
from sims.paradigms import adaptation, markers
from sims.paradigms.target_hold import (PH_BETWEEN, PH_CENTER, PH_DONE, PH_HOLD, PH_PAUSED, PH_REACH, next_trial,
                                         target_hold)
from sims.paradigms.blocks import T, T_COLS, schedule

END_FRACTION = 0.1  #: movement end: speed below this fraction of the trial's peak speed
MIN_PEAK_M_S = 0.02  #: a speed peak below this is not a movement (no end detected yet)
REWARD_MIN_FRACTION = 0.5  #: a binary-reward reach that stops short of this fraction of the target distance misses
JUMP_REACHED_FRACTION = 0.25  #: a jump is corrected when the hand is this fraction of the jump's distance from the new target
#: state layouts the task reads as [x, y, vx, vy]: an arm's hand, a cursor (m), or the two joints of a
#: serial arm in joint space (rad; a joint-space reach, as on an exoskeleton)
HAND_STATES = (("hand_x", "hand_y", "hand_vx", "hand_vy"), ("x", "y", "vx", "vy"), ("q_j1", "q_j2", "qd_j1", "qd_j2"))

METRICS = ("trial", "block", "catch", "target_deg", "success", "movement_time_s", "peak_speed_m_s",
           "perp_error_m", "angle_error_deg", "feedback_angle_error_deg", "max_perp_error_m",
           "endpoint_error_m", "t_go_s", "center_timeout", "channel", "channel_force_index", "jump_deg",
           "jump_correction_s")
#: One row of the per-trial metrics table, a column per METRICS name.
METRIC_ROW = Layout(" ".join(METRICS), "center_out.metrics")
M, M_COLS = METRIC_ROW.slots, len(METRICS)
#: f: constants (ticks, m, s), the channel index's reference field B_ref (N s/m, row-major), then
#: the schedule [n_trials, T_COLS] (sims.paradigms.blocks).
#: s: the state machine and the current trial's movement (ch_fi, ch_ii: a channel trial's sums of
#: f f_ideal and f_ideal^2, N^2), then the metrics [n_trials, M_COLS].
#: i: bus offsets (curl, load, gain_change: -1 when the plant has no such input), n_trials.
LAYOUT = stage_layout(
    "center_out",
    f=f"hold_ticks timeout_ticks tol cx cy radius dt return_to_center center_timeout_ticks ref_b[4] "
      f"schedule[n_trials,{T_COLS}]",
    s=f"trial phase count reach_ticks ox oy tx ty t_go t_acq peak perp angle fb_angle max_perp end end_err n_done "
      f"ch_fi ch_ii t_jump jump_dist jump_corr skips paused_from metrics[n_trials,{M_COLS}]",
    i="state cursor target trial_info visuomotor extra_delay curl load gain_change operator outcome n_trials")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT


class CenterOutConfig(Strict):
    """[task] kind = "center_out"."""

    kind: Literal["center_out"]
    n_targets: int = Field(8, ge=1, le=64, description="targets evenly spaced on the circle")
    radius_m: float = Field(0.10, gt=0, le=1.0, description="center-to-target distance, m")
    first_target_deg: float = Field(0.0, description="direction of target 0 from the center, deg (counter-clockwise from +x)")
    hold_s: float = Field(0.2, ge=0, le=10, description="time to hold the center and the target, s")
    timeout_s: float = Field(2.0, gt=0, le=60, description="time from the go cue to complete the target hold, s")
    target_tolerance_m: float = Field(0.01, gt=0, le=0.5, description="target radius: the fed-back hand is in when closer, m")
    return_to_center: bool = Field(True, description="each trial starts at the center (false: reach on from the last target)")
    random_order: bool = Field(True, description="shuffle the target order in each cycle of n_targets (session seed)")
    center_m: tuple[float, float] | None = Field(None, description="center, m (default: the plant's start hand position)")
    center_timeout_s: float = Field(10.0, gt=0, le=600, description="time to complete the center hold before the trial fails as a center timeout, s")

    @model_validator(mode="after")
    def _reaches_have_length(self):
        if not self.return_to_center and self.n_targets < 2:
            raise ValueError("return_to_center = false needs n_targets >= 2 (each reach goes to another target)")
        return self


@njit(cache=True, nogil=True)
def _start_trial(f, s, i, bus, k):
    """Enter trial k: copy its perturbation inputs to the plant; center phase (or go)."""
    row = AT.f_schedule + k * T_COLS
    if i[I.curl] >= 0:
        for j in range(4):
            bus[i[I.curl] + j] = f[row + T.curl + j]
    if i[I.load] >= 0:
        for j in range(3):
            bus[i[I.load] + j] = f[row + T.load + j]
    if i[I.gain_change] >= 0:
        bus[i[I.gain_change]] = f[row + T.gain_change]
    bus[i[I.extra_delay]] = f[row + T.delay_ticks]
    for j in range(N_OUTCOME):
        bus[i[I.outcome] + j] = 0.0
    # what happened is unknown until the trial ends: a trial abandoned by the operator teaches nothing
    bus[i[I.outcome] + O.reward], bus[i[I.outcome] + O.seen_error_deg] = np.nan, np.nan
    first_of_block = k == 0 or f[row + T.block] != f[row - T_COLS + T.block]
    bus[MARKER] = markers.BLOCK_START if first_of_block else markers.TRIAL_START
    s[S.trial] = k
    s[S.count] = 0.0
    s[S.reach_ticks] = 0.0  # the center phase's clock (center_timeout)
    if k == 0 or f[F.return_to_center] != 0.0:
        s[S.phase] = PH_CENTER
        s[S.tx], s[S.ty] = f[F.cx], f[F.cy]
    else:
        _go(f, s, i, bus, k)


@njit(cache=True, nogil=True)
def _go(f, s, i, bus, k):
    """Show trial k's target: the reach starts from the current target (a force-channel trial: from
    the hand, so the channel's wall does not jolt a hand resting off the line); feedback
    perturbation on."""
    row = AT.f_schedule + k * T_COLS
    if f[row + T.channel] > 0.0:
        s[S.ox], s[S.oy] = bus[i[I.state]], bus[i[I.state] + 1]
    else:
        s[S.ox], s[S.oy] = s[S.tx], s[S.ty]
    a = f[row + T.target_rad]
    s[S.tx] = f[F.cx] + f[F.radius] * math.cos(a)
    s[S.ty] = f[F.cy] + f[F.radius] * math.sin(a)
    v = i[I.visuomotor]
    bus[v], bus[v + 1], bus[v + 2], bus[v + 3] = f[row + T.visuo_rad], f[row + T.clamp], s[S.ox], s[S.oy]
    o = i[I.outcome]
    bus[o + O.reward_trial] = 1.0 if f[row + T.reward + 1] > 0.0 else 0.0
    bus[o + O.strategy_deg] = math.degrees(f[row + T.strategy_rad])
    bus[o + O.exclude] = f[row + T.exclude]
    if bus[MARKER] != markers.BLOCK_START:
        bus[MARKER] = markers.GO
    s[S.phase] = PH_REACH
    s[S.count] = 0.0
    s[S.reach_ticks] = 0.0
    s[S.t_go] = bus[T_S]
    s[S.t_acq] = np.nan
    s[S.peak] = 0.0
    s[S.perp] = 0.0
    s[S.angle] = 0.0
    s[S.fb_angle] = 0.0
    s[S.max_perp] = 0.0
    s[S.end] = 0.0
    s[S.end_err] = np.nan
    s[S.ch_fi] = 0.0
    s[S.ch_ii] = 0.0
    s[S.t_jump] = np.nan
    s[S.jump_corr] = np.nan


@njit(cache=True, nogil=True)
def _channel(f, s, i, bus, row, x, y, vx, vy, moving):
    """Force channel along the reach line: write its force to the plant's load force and, while
    moving (until movement end), add this tick to the adaptation-index sums (module docstring)."""
    ux, uy = s[S.tx] - s[S.ox], s[S.ty] - s[S.oy]
    norm = max(math.hypot(ux, uy), 1e-12)
    nx, ny = -uy / norm, ux / norm  # left normal of the reach
    d_perp = nx * (x - s[S.ox]) + ny * (y - s[S.oy])
    v_perp = nx * vx + ny * vy
    push = f[row + T.channel] * d_perp + f[row + T.channel + 1] * v_perp  # the hand's force on the wall
    bus[i[I.load] + 1], bus[i[I.load] + 2] = -push * nx, -push * ny
    if moving:
        b = AT.f_ref_b
        ideal = -(nx * (f[b] * vx + f[b + 1] * vy) + ny * (f[b + 2] * vx + f[b + 3] * vy))
        s[S.ch_fi] += push * ideal
        s[S.ch_ii] += ideal * ideal


@njit(cache=True, nogil=True)
def _jump(f, s, bus, k):
    """Trial k's target jump: the target turns its jump_rad about the reach start; reach again."""
    a = f[AT.f_schedule + k * T_COLS + T.jump_rad]
    c, sn = math.cos(a), math.sin(a)
    dx, dy = s[S.tx] - s[S.ox], s[S.ty] - s[S.oy]
    tx, ty = s[S.ox] + c * dx - sn * dy, s[S.oy] + sn * dx + c * dy
    s[S.jump_dist] = math.hypot(tx - s[S.tx], ty - s[S.ty])
    s[S.tx], s[S.ty] = tx, ty
    s[S.t_jump] = bus[T_S]
    s[S.phase] = PH_REACH
    s[S.count] = 0.0


@njit(cache=True, nogil=True)
def _from_line(ux, uy, dx, dy):
    """Signed angle of the displacement (dx, dy) from the direction (ux, uy), rad (counter-clockwise +)."""
    return math.atan2(ux * dy - uy * dx, ux * dx + uy * dy)


@njit(cache=True, nogil=True)
def _track(s, x, y, vx, vy, cx, cy):
    """Update the movement metrics from the true hand (x, y, vx, vy) and fed-back hand (cx, cy)."""
    ux, uy = s[S.tx] - s[S.ox], s[S.ty] - s[S.oy]
    norm = max(math.hypot(ux, uy), 1e-12)  # > 0: the schedule never repeats a target (no_repeats)
    ux, uy = ux / norm, uy / norm
    dx, dy = x - s[S.ox], y - s[S.oy]
    perp = ux * dy - uy * dx
    speed = math.hypot(vx, vy)
    if s[S.end] != 0.0:
        return
    if abs(perp) > abs(s[S.max_perp]):
        s[S.max_perp] = perp
    if speed > s[S.peak]:
        s[S.peak] = speed
        s[S.perp] = perp
        s[S.angle] = _from_line(ux, uy, dx, dy)
        s[S.fb_angle] = _from_line(ux, uy, cx - s[S.ox], cy - s[S.oy])
    elif s[S.peak] > MIN_PEAK_M_S and speed < END_FRACTION * s[S.peak]:
        s[S.end] = 1.0
        s[S.end_err] = math.hypot(x - s[S.tx], y - s[S.ty])


@njit(cache=True, nogil=True)
def _rewarded(f, s, row, x, y):
    """A binary-reward reach's outcome at its end: its direction from the reach start within the
    window of the target's direction turned by the rewarded rotation, and long enough."""
    ux, uy = s[S.tx] - s[S.ox], s[S.ty] - s[S.oy]
    norm = max(math.hypot(ux, uy), 1e-12)
    dx, dy = x - s[S.ox], y - s[S.oy]
    if math.hypot(dx, dy) < REWARD_MIN_FRACTION * norm:
        return False
    return abs(_from_line(ux, uy, dx, dy) - f[row + T.reward]) <= f[row + T.reward + 1]


@njit(cache=True, nogil=True)
def _finish(f, s, i, bus, success, x, y):
    """Record the trial's metrics row and emit SUCCESS or TIMEOUT; veridical feedback again."""
    k = int(s[S.trial])
    row = AT.f_schedule + k * T_COLS
    m = AT.s_metrics + int(s[S.n_done]) * M_COLS
    s[m + M.trial] = k
    s[m + M.block] = f[row + T.block]
    s[m + M.catch] = f[row + T.catch]
    s[m + M.target_deg] = math.degrees(f[row + T.target_rad])
    s[m + M.success] = 1.0 if success else 0.0
    s[m + M.movement_time_s] = s[S.t_acq] - s[S.t_go]
    s[m + M.peak_speed_m_s] = s[S.peak]
    s[m + M.perp_error_m] = s[S.perp]
    s[m + M.angle_error_deg] = math.degrees(s[S.angle])
    s[m + M.feedback_angle_error_deg] = math.degrees(s[S.fb_angle])
    s[m + M.max_perp_error_m] = s[S.max_perp]
    s[m + M.endpoint_error_m] = s[S.end_err] if s[S.end] != 0.0 else math.hypot(x - s[S.tx], y - s[S.ty])
    s[m + M.t_go_s] = s[S.t_go]
    s[m + M.center_timeout] = 0.0
    channel = f[row + T.channel] > 0.0
    s[m + M.channel] = 1.0 if channel else 0.0
    s[m + M.channel_force_index] = s[S.ch_fi] / s[S.ch_ii] if channel and s[S.ch_ii] > 0.0 else np.nan
    if channel:  # channel off: back to the trial's (zero) load force
        bus[i[I.load] + 1], bus[i[I.load] + 2] = f[row + T.load + 1], f[row + T.load + 2]
    s[m + M.jump_deg] = math.degrees(f[row + T.jump_rad])
    s[m + M.jump_correction_s] = s[S.jump_corr]
    s[S.n_done] += 1.0
    o = i[I.outcome]
    if bus[o + O.reward_trial] != 0.0:
        bus[o + O.reward] = 1.0 if success else 0.0
    bus[o + O.seen_error_deg] = math.degrees(s[S.fb_angle]) if s[S.peak] > MIN_PEAK_M_S else np.nan
    _veridical(s, i, bus)
    bus[MARKER] = markers.SUCCESS if success else markers.TIMEOUT
    s[S.phase] = PH_BETWEEN


@njit(cache=True, nogil=True)
def _center_timeout(f, s, bus):
    """The center hold was not completed in time: a failed trial with no reach (metrics NaN)."""
    k = int(s[S.trial])
    row = AT.f_schedule + k * T_COLS
    m = AT.s_metrics + int(s[S.n_done]) * M_COLS
    s[m:m + M_COLS] = np.nan
    s[m + M.trial] = k
    s[m + M.block] = f[row + T.block]
    s[m + M.catch] = f[row + T.catch]
    s[m + M.target_deg] = math.degrees(f[row + T.target_rad])
    s[m + M.success] = 0.0
    s[m + M.center_timeout] = 1.0
    s[m + M.channel] = 1.0 if f[row + T.channel] > 0.0 else 0.0
    s[m + M.jump_deg] = math.degrees(f[row + T.jump_rad])
    s[S.n_done] += 1.0
    bus[MARKER] = markers.CENTER_TIMEOUT
    s[S.phase] = PH_BETWEEN


@njit(cache=True, nogil=True)
def _next_block(f, s, i, after):
    """The first trial after trial `after` in another block than trial `after`'s (n_trials: none)."""
    n = i[I.n_trials]
    block = f[AT.f_schedule + max(after, 0) * T_COLS + T.block]
    k = after + 1
    while k < n and f[AT.f_schedule + k * T_COLS + T.block] == block:
        k += 1
    return k


@njit(cache=True, nogil=True)
def _operator(f, s, i, bus):
    """Apply the operator's pause (a level) and block skips (a count) at the start of the tick.
    Returns True when it marked an event (paused, resumed, block skipped): the marker slot holds one
    code a tick, so the next trial starts on the next tick, not over the operator's marker."""
    o = i[I.operator]
    bus[o], bus[o + 1] = bus[PAUSE], bus[SKIP_BLOCK]
    phase = s[S.phase]
    if phase == PH_DONE:
        return False
    marked = False
    under_way = phase == PH_CENTER or phase == PH_REACH or phase == PH_HOLD
    if bus[SKIP_BLOCK] > s[S.skips]:
        s[S.skips] = bus[SKIP_BLOCK]
        current = int(s[S.paused_from]) + 1 if phase == PH_PAUSED else int(s[S.trial])
        nxt = _next_block(f, s, i, current)
        if phase == PH_PAUSED:
            s[S.paused_from] = nxt - 1
        else:
            s[S.trial] = nxt - 1  # the trial under way is abandoned; PH_BETWEEN starts the next block
            s[S.phase] = phase = PH_BETWEEN
            under_way = False
        bus[MARKER] = markers.BLOCK_SKIPPED
        marked = True
        _veridical(s, i, bus)
    if bus[PAUSE] != 0.0 and phase != PH_PAUSED:
        s[S.paused_from] = s[S.trial] - 1.0 if under_way else (s[S.trial] if phase == PH_BETWEEN else -1.0)
        s[S.phase] = PH_PAUSED
        s[S.tx], s[S.ty] = f[F.cx], f[F.cy]
        bus[MARKER] = markers.PAUSED
        marked = True
        _veridical(s, i, bus)
    elif bus[PAUSE] == 0.0 and phase == PH_PAUSED:
        s[S.trial] = s[S.paused_from]
        s[S.phase] = PH_BETWEEN
        bus[MARKER] = markers.RESUMED
        marked = True
    return marked


@njit(cache=True, nogil=True)
def _veridical(s, i, bus):
    """No feedback perturbation (between trials)."""
    v = i[I.visuomotor]
    bus[v], bus[v + 1], bus[v + 2], bus[v + 3] = 0.0, 0.0, s[S.tx], s[S.ty]


@njit(cache=True, nogil=True)
def center_out_step(f, s, i, bus):
    """One tick of the center-out state machine (module docstring). Returns TASK_DONE at the end."""
    operator_marked = _operator(f, s, i, bus)
    phase = s[S.phase]
    n = i[I.n_trials]
    x0 = i[I.state]
    x, y, vx, vy = bus[x0], bus[x0 + 1], bus[x0 + 2], bus[x0 + 3]
    cx, cy = bus[i[I.cursor]], bus[i[I.cursor] + 1]
    code = status.OK
    if operator_marked and phase == PH_BETWEEN:
        pass  # the next trial starts on the next tick (its marker would replace the operator's)
    elif phase == 0.0 or phase == PH_BETWEEN:
        k = next_trial(s, S.phase, S.trial, n, bus)
        if k >= 0:
            _start_trial(f, s, i, bus, k)
        else:
            code = status.TASK_DONE
    elif phase == PH_DONE:
        code = status.TASK_DONE
    elif phase == PH_PAUSED:
        pass  # the target is the center until the operator resumes
    else:
        inside = math.hypot(cx - s[S.tx], cy - s[S.ty]) < f[F.tol]
        if phase == PH_CENTER:
            s[S.count] = s[S.count] + 1.0 if inside else 0.0
            s[S.reach_ticks] += 1.0
            if s[S.count] >= f[F.hold_ticks]:
                _go(f, s, i, bus, int(s[S.trial]))
            elif s[S.reach_ticks] >= f[F.center_timeout_ticks]:
                _center_timeout(f, s, bus)
        else:
            s[S.reach_ticks] += 1.0
            k = int(s[S.trial])
            row = AT.f_schedule + k * T_COLS
            if f[row + T.jump_rad] != 0.0 and np.isnan(s[S.t_jump]) and bus[T_S] - s[S.t_go] >= f[row + T.jump_after_s]:
                _jump(f, s, bus, k)
                phase = PH_REACH
                inside = math.hypot(cx - s[S.tx], cy - s[S.ty]) < f[F.tol]
            if not np.isnan(s[S.t_jump]) and np.isnan(s[S.jump_corr]) and \
                    math.hypot(x - s[S.tx], y - s[S.ty]) < JUMP_REACHED_FRACTION * s[S.jump_dist]:
                s[S.jump_corr] = bus[T_S] - s[S.t_jump]
            _track(s, x, y, vx, vy, cx, cy)
            row = AT.f_schedule + int(s[S.trial]) * T_COLS
            if f[row + T.channel] > 0.0:
                _channel(f, s, i, bus, row, x, y, vx, vy, s[S.end] == 0.0)
            if f[row + T.reward + 1] > 0.0:  # binary reward: the trial ends with the movement, hit or miss
                if s[S.end] != 0.0:
                    _finish(f, s, i, bus, _rewarded(f, s, row, x, y), x, y)
            elif target_hold(s, S.phase, S.count, S.t_acq, inside, f[F.hold_ticks], bus):
                _finish(f, s, i, bus, True, x, y)
            if s[S.phase] != PH_BETWEEN and s[S.reach_ticks] >= f[F.timeout_ticks]:
                _finish(f, s, i, bus, False, x, y)
    t = i[I.target]
    bus[t], bus[t + 1] = s[S.tx], s[S.ty]
    r = i[I.trial_info]
    k = max(0, min(int(s[S.trial]), n - 1))
    bus[r], bus[r + 1], bus[r + 2] = s[S.trial], f[AT.f_schedule + k * T_COLS + T.block], s[S.phase]
    return code


def trial_metrics(stage: Stage) -> dict:
    """Finished trials' metrics from a center-out stage: {METRICS name: float64[n_done]}."""
    n_done = int(stage.s[S.n_done])
    table = LAYOUT.view(stage, "metrics")[:n_done]
    return {name: table[:, getattr(M, name)].copy() for name in METRICS}


def no_repeats(sched: np.ndarray) -> None:
    """Reorder targets in place so no trial's target equals the previous one (reaches from the last
    target: a repeat would be zero-length). A repeat at trial k takes the next different target
    from later in the schedule (the ones between shift on by one); a repeat with none later moves
    back to the latest place between two other targets. Only the target order changes."""
    tgt = sched[:, T.target_rad]
    for k in range(1, len(tgt)):
        if tgt[k] != tgt[k - 1]:
            continue
        later = np.flatnonzero(tgt[k + 1:] != tgt[k - 1])
        if later.size:
            j = k + 1 + int(later[0])
            tgt[k:j + 1] = np.roll(tgt[k:j + 1], 1)
            continue
        for p in range(k - 1, -1, -1):
            if tgt[p] != tgt[k] and (p == 0 or tgt[p - 1] != tgt[k]):
                tgt[p:k + 1] = np.roll(tgt[p:k + 1], 1)
                break


def _sd_about_target_means(x: np.ndarray, target_deg: np.ndarray) -> float | None:
    """SD of x about the mean of its own target (trial-to-trial variability, not the targets' spread)."""
    ok = np.isfinite(x)
    x, t = x[ok], np.round(target_deg[ok], 6)
    if x.size < 2:
        return None
    dev = x - np.array([x[t == v].mean() for v in t])
    return float(np.sqrt(np.sum(dev * dev) / max(1, x.size - np.unique(t).size)))


def block_summary(metrics: dict, block_names: list) -> list:
    """Per block: trials done, success rate, center timeouts, mean movement time, mean |perp error|
    (non-catch, non-channel), its SD about each target's mean in the block (non-catch, no jump:
    reach variability), mean endpoint error (dysmetria), target jumps and their mean correction
    time, and with channel trials their number and mean adaptation index."""
    out = []
    for b, name in enumerate(block_names):
        sel = metrics["block"] == b
        if not sel.any():
            out.append({"name": name, "n_done": 0})
            continue
        normal = sel & (metrics["catch"] == 0) & (metrics["channel"] == 0)
        mt = metrics["movement_time_s"][sel]
        jump = metrics["jump_correction_s"][sel & (metrics["jump_deg"] != 0)]
        plain = normal & (metrics["jump_deg"] == 0)
        out.append({"name": name, "n_done": int(sel.sum()),
                    "success_rate": float(metrics["success"][sel].mean()),
                    "center_timeouts": int(np.nansum(metrics["center_timeout"][sel])),
                    "movement_time_s": float(np.nanmean(mt)) if np.isfinite(mt).any() else None,
                    "mean_abs_perp_error_m": float(np.abs(metrics["perp_error_m"][normal]).mean()) if normal.any() else None,
                    "mean_endpoint_error_m": float(np.nanmean(metrics["endpoint_error_m"][sel]))
                    if np.isfinite(metrics["endpoint_error_m"][sel]).any() else None,
                    "sd_perp_error_m": _sd_about_target_means(metrics["perp_error_m"][plain], metrics["target_deg"][plain]),
                    "n_jump": int(jump.size),
                    "jump_correction_s": float(np.nanmean(jump)) if np.isfinite(jump).any() else None})
        index = metrics["adaptation_index"][sel & (metrics["channel"] == 1)]
        if index.size:
            out[-1].update({"n_channel": int(index.size),
                            "mean_adaptation_index": float(np.nanmean(index)) if np.isfinite(index).any() else None})
    return out


def build(cfg: CenterOutConfig, blocks: list, ctx, where: str = "task") -> list:
    """The task and observe stages for a center-out session with these blocks."""
    from sims.paradigms import observe
    bus = ctx.bus
    if not blocks:
        raise ValueError(f"{where}: add at least one [[block]] (name, n_trials, perturbation)")
    state = bus.get("state", who=where)
    if state.labels[:4] not in HAND_STATES:
        raise ValueError(f"{where}: center_out needs a hand-space plant state [hand_x, hand_y, hand_vx, "
                         f"hand_vy, ...]; the plant's state is [{', '.join(state.labels)}]")
    plant = ctx.require_plant(where, "its start hand position and payload")
    center = cfg.center_m if cfg.center_m is not None else plant.start_hand_m
    if center is None:
        raise ValueError(f"{where}.center_m: give the center; the plant publishes no start hand position")
    for b, blk in enumerate(blocks):
        needs = {"curl": "curl", "load": "load", "gain": "gain_change"}.get(blk.perturbation)
        if needs and not bus.has(needs):
            raise ValueError(f"block[{b}] ('{blk.name}'): perturbation '{blk.perturbation}' needs a plant that "
                             f"reads bus signal '{needs}' (a MuJoCo plant with a hand)")
        if (blk.perturbation == "channel" or blk.channel_prob > 0) and not bus.has("load"):
            raise ValueError(f"block[{b}] ('{blk.name}'): force-channel trials need a plant that reads bus signal "
                             f"'load' (a MuJoCo plant with a hand)")
        if blk.perturbation == "load" and blk.load_kg > 0 and not plant.payload:
            raise ValueError(f"block[{b}] ('{blk.name}'): load_kg needs a plant with a payload body "
                             f"(two_link_arm); use load_force_n only")
    target_rad = np.radians(cfg.first_target_deg + 360.0 * np.arange(cfg.n_targets) / cfg.n_targets)
    sched = schedule(blocks, target_rad, cfg.random_order, ctx.seed, ctx.dt_s)
    if not cfg.return_to_center:
        no_repeats(sched)
    n = sched.shape[0]

    target = bus.add("target", 2, "m", ("target_x", "target_y"))
    trial = bus.add("trial", 3, "1", ("trial", "block", "phase"), "index")
    visuo = bus.add("visuomotor", 4, ("rad", "1", "m", "m"), ("angle_rad", "clamp", "origin_x", "origin_y"),
                    ("angle", "flag", "position", "position"))
    delay = bus.add("extra_delay_ticks", 1, "ticks", ("extra_delay_ticks",))
    operator = bus.add("operator", 2, "1", ("paused", "skip_requests"))
    outcome = bus.add("outcome", N_OUTCOME, ("1", "1", "deg", "deg", "1"), OUTCOME.names)
    obs_stage = observe.build(ctx, state, target, visuo)
    cursor = bus.get("observed", who=where)

    def off(name):
        return bus.get(name).offset if bus.has(name) else -1

    f, s, i = LAYOUT.fill(
        f=dict(hold_ticks=max(1, round(cfg.hold_s / ctx.dt_s)), timeout_ticks=max(1, round(cfg.timeout_s / ctx.dt_s)),
               tol=cfg.target_tolerance_m, cx=center[0], cy=center[1], radius=cfg.radius_m, dt=ctx.dt_s,
               return_to_center=float(cfg.return_to_center),
               center_timeout_ticks=max(1, round(cfg.center_timeout_s / ctx.dt_s)), schedule=sched,
               ref_b=next((blk.curl_b for blk in blocks if blk.perturbation == "curl"), (0.0,) * 4)),
        i=dict(state=state.offset, cursor=cursor.offset, target=target.offset, trial_info=trial.offset,
               operator=operator.offset, outcome=outcome.offset,
               visuomotor=visuo.offset, extra_delay=delay.offset, curl=off("curl"), load=off("load"),
               gain_change=off("gain_change"), n_trials=n))
    names = [blk.name for blk in blocks]
    stage = Stage(where, SPEC.kind, f, s, i, info={"kind": "center_out", "n_trials": n, "blocks": names,
                              "center_m": [float(c) for c in center]})

    def report():
        met = trial_metrics(stage)
        adaptation.channel_index(met, blocks)  # adds met["adaptation_index"]
        per_block = block_summary(met, names)
        field_blocks, adapt = adaptation.measures(met, blocks, cfg.n_targets)  # adds met["field_error_m"]
        for summary, extra in zip(per_block, field_blocks):
            summary.update(extra)
        out = {"n_trials": n, "n_done": int(met["trial"].size),
               "center_timeouts": int(np.nansum(met["center_timeout"])), "blocks": per_block,
               "trials": {k: [None if not np.isfinite(v) else float(v) for v in col] for k, col in met.items()}}
        if adapt is not None:
            out["adaptation"] = adapt
        return {"task": out}

    stage.report = report
    return [stage, obs_stage]


#: Checkpointed (rtcore.checkpoint): the trial counter, saved but not loaded (a session runs its own schedule).
SPEC = StageSpec(kind=71, name="center_out", step=center_out_step, config=CenterOutConfig, build=build,
                 layout=LAYOUT, learned={"n_done": "session"})
