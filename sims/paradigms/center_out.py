"""Center-out reaching: the trial state machine, perturbation schedule and per-trial metrics (role "task").

Each trial: hold the fed-back hand (`observed`, else `state`) within target_tolerance_m of the
center for hold_s (else, after center_timeout_s, the trial fails as a center timeout and the next
one starts) -> go: a target appears at radius_m in one of n_targets directions -> reach
and hold it for hold_s (success) before timeout_s after the go cue (else failure). Without
return_to_center, the next target follows from the last one. Runs before the controller and
reads the hand as the plant/observe left it on the previous tick. Markers: sims.paradigms.markers.
Without return_to_center no trial repeats the previous target (`no_repeats`): a reach is never
zero-length.

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
                center_timeout 0/1 (the center was never held: no go cue, movement metrics NaN).
With a curl block, the report adds the field-signed error relative to each target's baseline and
the adaptation measures (sims/paradigms/adaptation.py).
"""
import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from rtcore import status
from rtcore.bus import MARKER, T_S
from rtcore.configbase import Strict
from rtcore.registry import StageSpec
from rtcore.stage import Stage
from sims.paradigms import adaptation, markers
from sims.paradigms.blocks import (T_BLOCK, T_CATCH, T_CLAMP, T_COLS, T_CURL, T_DELAY_TICKS, T_GAIN_CHANGE,
                                   T_LOAD, T_TARGET_RAD, T_VISUO_RAD, schedule)

PH_CENTER, PH_REACH, PH_HOLD, PH_BETWEEN, PH_DONE = 1, 2, 3, 4, 5  #: trial phases (trial[2])
END_FRACTION = 0.1  #: movement end: speed below this fraction of the trial's peak speed
MIN_PEAK_M_S = 0.02  #: a speed peak below this is not a movement (no end detected yet)
#: state layouts the task reads as [x, y, vx, vy]: an arm's hand, a cursor (m), or the two joints of a
#: serial arm in joint space (rad; a joint-space reach, as on an exoskeleton)
HAND_STATES = (("hand_x", "hand_y", "hand_vx", "hand_vy"), ("x", "y", "vx", "vy"), ("q_j1", "q_j2", "qd_j1", "qd_j2"))

# f: constants, then the schedule [n_trials, T_COLS]
F_N, F_HOLD_TICKS, F_TIMEOUT_TICKS, F_TOL, F_CX, F_CY, F_RADIUS, F_DT, F_RETURN, F_CENTER_TIMEOUT_TICKS = range(10)
F_HEADER = 10
# s: state, then the metrics table [n_trials, M_COLS]
(S_TRIAL, S_PHASE, S_COUNT, S_REACH_TICKS, S_OX, S_OY, S_TX, S_TY, S_T_GO, S_T_ACQ, S_PEAK, S_PERP,
 S_ANGLE, S_FB_ANGLE, S_MAX_PERP, S_END, S_END_ERR, S_N_DONE) = range(18)
S_HEADER = 18
# i: bus offsets (-1 = the plant has no such input)
I_STATE, I_CURSOR, I_TARGET, I_TRIAL, I_VISUO, I_DELAY, I_CURL, I_LOAD, I_GAIN = range(9)

METRICS = ("trial", "block", "catch", "target_deg", "success", "movement_time_s", "peak_speed_m_s",
           "perp_error_m", "angle_error_deg", "feedback_angle_error_deg", "max_perp_error_m",
           "endpoint_error_m", "t_go_s", "center_timeout")
(M_TRIAL, M_BLOCK, M_CATCH, M_TARGET_DEG, M_SUCCESS, M_MT, M_PEAK, M_PERP, M_ANGLE, M_FB_ANGLE,
 M_MAX_PERP, M_END_ERR, M_T_GO, M_CENTER_TIMEOUT) = range(len(METRICS))
M_COLS = len(METRICS)


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
    row = F_HEADER + k * T_COLS
    if i[I_CURL] >= 0:
        for j in range(4):
            bus[i[I_CURL] + j] = f[row + T_CURL + j]
    if i[I_LOAD] >= 0:
        for j in range(3):
            bus[i[I_LOAD] + j] = f[row + T_LOAD + j]
    if i[I_GAIN] >= 0:
        bus[i[I_GAIN]] = f[row + T_GAIN_CHANGE]
    bus[i[I_DELAY]] = f[row + T_DELAY_TICKS]
    first_of_block = k == 0 or f[row + T_BLOCK] != f[row - T_COLS + T_BLOCK]
    bus[MARKER] = markers.BLOCK_START if first_of_block else markers.TRIAL_START
    s[S_TRIAL] = k
    s[S_COUNT] = 0.0
    s[S_REACH_TICKS] = 0.0  # the center phase's clock (center_timeout)
    if k == 0 or f[F_RETURN] != 0.0:
        s[S_PHASE] = PH_CENTER
        s[S_TX], s[S_TY] = f[F_CX], f[F_CY]
    else:
        _go(f, s, i, bus, k)


@njit(cache=True, nogil=True)
def _go(f, s, i, bus, k):
    """Show trial k's target: the reach starts from the current target; feedback perturbation on."""
    row = F_HEADER + k * T_COLS
    s[S_OX], s[S_OY] = s[S_TX], s[S_TY]
    a = f[row + T_TARGET_RAD]
    s[S_TX] = f[F_CX] + f[F_RADIUS] * math.cos(a)
    s[S_TY] = f[F_CY] + f[F_RADIUS] * math.sin(a)
    v = i[I_VISUO]
    bus[v], bus[v + 1], bus[v + 2], bus[v + 3] = f[row + T_VISUO_RAD], f[row + T_CLAMP], s[S_OX], s[S_OY]
    if bus[MARKER] != markers.BLOCK_START:
        bus[MARKER] = markers.GO
    s[S_PHASE] = PH_REACH
    s[S_COUNT] = 0.0
    s[S_REACH_TICKS] = 0.0
    s[S_T_GO] = bus[T_S]
    s[S_T_ACQ] = np.nan
    s[S_PEAK] = 0.0
    s[S_PERP] = 0.0
    s[S_ANGLE] = 0.0
    s[S_FB_ANGLE] = 0.0
    s[S_MAX_PERP] = 0.0
    s[S_END] = 0.0
    s[S_END_ERR] = np.nan


@njit(cache=True, nogil=True)
def _track(s, x, y, vx, vy, cx, cy):
    """Update the movement metrics from the true hand (x, y, vx, vy) and fed-back hand (cx, cy)."""
    ux, uy = s[S_TX] - s[S_OX], s[S_TY] - s[S_OY]
    norm = max(math.hypot(ux, uy), 1e-12)  # > 0: the schedule never repeats a target (no_repeats)
    ux, uy = ux / norm, uy / norm
    dx, dy = x - s[S_OX], y - s[S_OY]
    perp = ux * dy - uy * dx
    speed = math.hypot(vx, vy)
    if s[S_END] != 0.0:
        return
    if abs(perp) > abs(s[S_MAX_PERP]):
        s[S_MAX_PERP] = perp
    if speed > s[S_PEAK]:
        s[S_PEAK] = speed
        s[S_PERP] = perp
        s[S_ANGLE] = math.atan2(perp, ux * dx + uy * dy)
        fx, fy = cx - s[S_OX], cy - s[S_OY]
        s[S_FB_ANGLE] = math.atan2(ux * fy - uy * fx, ux * fx + uy * fy)
    elif s[S_PEAK] > MIN_PEAK_M_S and speed < END_FRACTION * s[S_PEAK]:
        s[S_END] = 1.0
        s[S_END_ERR] = math.hypot(x - s[S_TX], y - s[S_TY])


@njit(cache=True, nogil=True)
def _finish(f, s, i, bus, success, x, y):
    """Record the trial's metrics row and emit SUCCESS or TIMEOUT; veridical feedback again."""
    k = int(s[S_TRIAL])
    row = F_HEADER + k * T_COLS
    m = S_HEADER + int(s[S_N_DONE]) * M_COLS
    s[m + M_TRIAL] = k
    s[m + M_BLOCK] = f[row + T_BLOCK]
    s[m + M_CATCH] = f[row + T_CATCH]
    s[m + M_TARGET_DEG] = math.degrees(f[row + T_TARGET_RAD])
    s[m + M_SUCCESS] = 1.0 if success else 0.0
    s[m + M_MT] = s[S_T_ACQ] - s[S_T_GO]
    s[m + M_PEAK] = s[S_PEAK]
    s[m + M_PERP] = s[S_PERP]
    s[m + M_ANGLE] = math.degrees(s[S_ANGLE])
    s[m + M_FB_ANGLE] = math.degrees(s[S_FB_ANGLE])
    s[m + M_MAX_PERP] = s[S_MAX_PERP]
    s[m + M_END_ERR] = s[S_END_ERR] if s[S_END] != 0.0 else math.hypot(x - s[S_TX], y - s[S_TY])
    s[m + M_T_GO] = s[S_T_GO]
    s[m + M_CENTER_TIMEOUT] = 0.0
    s[S_N_DONE] += 1.0
    v = i[I_VISUO]
    bus[v], bus[v + 1], bus[v + 2], bus[v + 3] = 0.0, 0.0, s[S_TX], s[S_TY]
    bus[MARKER] = markers.SUCCESS if success else markers.TIMEOUT
    s[S_PHASE] = PH_BETWEEN


@njit(cache=True, nogil=True)
def _center_timeout(f, s, bus):
    """The center hold was not completed in time: a failed trial with no reach (metrics NaN)."""
    k = int(s[S_TRIAL])
    row = F_HEADER + k * T_COLS
    m = S_HEADER + int(s[S_N_DONE]) * M_COLS
    s[m:m + M_COLS] = np.nan
    s[m + M_TRIAL] = k
    s[m + M_BLOCK] = f[row + T_BLOCK]
    s[m + M_CATCH] = f[row + T_CATCH]
    s[m + M_TARGET_DEG] = math.degrees(f[row + T_TARGET_RAD])
    s[m + M_SUCCESS] = 0.0
    s[m + M_CENTER_TIMEOUT] = 1.0
    s[S_N_DONE] += 1.0
    bus[MARKER] = markers.CENTER_TIMEOUT
    s[S_PHASE] = PH_BETWEEN


@njit(cache=True, nogil=True)
def center_out_step(f, s, i, bus):
    """One tick of the center-out state machine (module docstring). Returns TASK_DONE at the end."""
    phase = s[S_PHASE]
    n = int(f[F_N])
    x0 = i[I_STATE]
    x, y, vx, vy = bus[x0], bus[x0 + 1], bus[x0 + 2], bus[x0 + 3]
    cx, cy = bus[i[I_CURSOR]], bus[i[I_CURSOR] + 1]
    code = status.OK
    if phase == 0.0:
        _start_trial(f, s, i, bus, 0)
    elif phase == PH_BETWEEN:
        k = int(s[S_TRIAL]) + 1
        if k < n:
            _start_trial(f, s, i, bus, k)
        else:
            s[S_PHASE] = PH_DONE
            bus[MARKER] = markers.TASK_DONE
            code = status.TASK_DONE
    elif phase == PH_DONE:
        code = status.TASK_DONE
    else:
        inside = math.hypot(cx - s[S_TX], cy - s[S_TY]) < f[F_TOL]
        if phase == PH_CENTER:
            s[S_COUNT] = s[S_COUNT] + 1.0 if inside else 0.0
            s[S_REACH_TICKS] += 1.0
            if s[S_COUNT] >= f[F_HOLD_TICKS]:
                _go(f, s, i, bus, int(s[S_TRIAL]))
            elif s[S_REACH_TICKS] >= f[F_CENTER_TIMEOUT_TICKS]:
                _center_timeout(f, s, bus)
        else:
            s[S_REACH_TICKS] += 1.0
            _track(s, x, y, vx, vy, cx, cy)
            if phase == PH_REACH and inside:
                s[S_PHASE] = PH_HOLD
                s[S_COUNT] = 0.0
                if np.isnan(s[S_T_ACQ]):
                    s[S_T_ACQ] = bus[T_S]
                bus[MARKER] = markers.ACQUIRED
            elif phase == PH_HOLD and not inside:
                s[S_PHASE] = PH_REACH
                bus[MARKER] = markers.LEFT_TARGET
            if s[S_PHASE] == PH_HOLD:
                s[S_COUNT] += 1.0
                if s[S_COUNT] >= f[F_HOLD_TICKS]:
                    _finish(f, s, i, bus, True, x, y)
            if s[S_PHASE] != PH_BETWEEN and s[S_REACH_TICKS] >= f[F_TIMEOUT_TICKS]:
                _finish(f, s, i, bus, False, x, y)
    t = i[I_TARGET]
    bus[t], bus[t + 1] = s[S_TX], s[S_TY]
    r = i[I_TRIAL]
    k = min(int(s[S_TRIAL]), n - 1)
    bus[r], bus[r + 1], bus[r + 2] = s[S_TRIAL], f[F_HEADER + k * T_COLS + T_BLOCK], s[S_PHASE]
    return code


def trial_metrics(stage: Stage) -> dict:
    """Finished trials' metrics from a center-out stage: {METRICS name: float64[n_done]}."""
    n_done = int(stage.s[S_N_DONE])
    table = stage.s[S_HEADER:S_HEADER + n_done * M_COLS].reshape(n_done, M_COLS)
    return {name: table[:, k].copy() for k, name in enumerate(METRICS)}


def no_repeats(sched: np.ndarray) -> None:
    """Reorder targets in place so no trial's target equals the previous one (reaches from the last
    target: a repeat would be zero-length). A repeat at trial k takes the next different target
    from later in the schedule (the ones between shift on by one); a repeat with none later moves
    back to the latest place between two other targets. Only the target order changes."""
    tgt = sched[:, T_TARGET_RAD]
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


def block_summary(metrics: dict, block_names: list) -> list:
    """Per block: trials done, success rate, center timeouts, mean movement time, mean |perp error| (non-catch)."""
    out = []
    for b, name in enumerate(block_names):
        sel = metrics["block"] == b
        if not sel.any():
            out.append({"name": name, "n_done": 0})
            continue
        normal = sel & (metrics["catch"] == 0)
        mt = metrics["movement_time_s"][sel]
        out.append({"name": name, "n_done": int(sel.sum()),
                    "success_rate": float(metrics["success"][sel].mean()),
                    "center_timeouts": int(np.nansum(metrics["center_timeout"][sel])),
                    "movement_time_s": float(np.nanmean(mt)) if np.isfinite(mt).any() else None,
                    "mean_abs_perp_error_m": float(np.abs(metrics["perp_error_m"][normal]).mean()) if normal.any() else None,
                    "mean_endpoint_error_m": float(np.nanmean(metrics["endpoint_error_m"][sel]))
                    if np.isfinite(metrics["endpoint_error_m"][sel]).any() else None})
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
        if blk.perturbation == "load" and blk.load_kg > 0 and not plant.payload:
            raise ValueError(f"block[{b}] ('{blk.name}'): load_kg needs a plant with a payload body "
                             f"(two_link_arm); use load_force_n only")
    target_rad = np.radians(cfg.first_target_deg + 360.0 * np.arange(cfg.n_targets) / cfg.n_targets)
    sched = schedule(blocks, target_rad, cfg.random_order, ctx.seed, ctx.dt_s)
    if not cfg.return_to_center:
        no_repeats(sched)
    n = sched.shape[0]

    target = bus.add("target", 2, "m", ("target_x", "target_y"))
    trial = bus.add("trial", 3, "1", ("trial", "block", "phase"))
    visuo = bus.add("visuomotor", 4, "rad,1,m", ("angle_rad", "clamp", "origin_x", "origin_y"))
    delay = bus.add("extra_delay_ticks", 1, "ticks", ("extra_delay_ticks",))
    obs_stage = observe.build(ctx, state, target, visuo)
    cursor = bus.get("observed", who=where)

    def off(name):
        return bus.get(name).offset if bus.has(name) else -1

    ints = np.array([state.offset, cursor.offset, target.offset, trial.offset, visuo.offset, delay.offset,
                     off("curl"), off("load"), off("gain_change")], np.int64)
    head = np.zeros(F_HEADER)
    head[F_N] = n
    head[F_HOLD_TICKS] = max(1, round(cfg.hold_s / ctx.dt_s))
    head[F_TIMEOUT_TICKS] = max(1, round(cfg.timeout_s / ctx.dt_s))
    head[F_TOL], head[F_CX], head[F_CY] = cfg.target_tolerance_m, center[0], center[1]
    head[F_RADIUS], head[F_DT], head[F_RETURN] = cfg.radius_m, ctx.dt_s, float(cfg.return_to_center)
    head[F_CENTER_TIMEOUT_TICKS] = max(1, round(cfg.center_timeout_s / ctx.dt_s))
    names = [blk.name for blk in blocks]
    stage = Stage(where, SPEC.kind, np.concatenate([head, sched.ravel()]), np.zeros(S_HEADER + n * M_COLS),
                  ints, info={"kind": "center_out", "n_trials": n, "blocks": names,
                              "center_m": [float(c) for c in center]})

    def report():
        met = trial_metrics(stage)
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


SPEC = StageSpec(kind=71, name="center_out", step=center_out_step, config=CenterOutConfig, build=build)
