"""One-joint target tracking: reach a target joint angle and hold it (role "task").

For a single joint (the MyoSuite elbow driven by EMG, an exoskeleton axis): each trial shows a
target angle, the joint must enter target +/- tolerance_deg and stay for hold_s (success) before
timeout_s (else failure); the next trial's target appears from wherever the joint is, as in
myoelectric target-tracking tests (Fitts-style, e.g. Scheme & Englehart 2013, IEEE TNSRE
21:1002; Wurth & Hargrove 2014, J NeuroEng Rehabil 11:91). Targets cycle through targets_deg,
each cycle shuffled with the session seed when random_order; a target never repeats the last one.
[[block]]s give the trial counts (perturbation "none" only).

Reads `state` [angle_index] (rad) and [velocity_index] (rad/s); writes `target` [1] (rad) and
`trial` [3] = [trial index, block index, phase] (phases PH_* of target_hold) and the header marker (GO, ACQUIRED,
LEFT_TARGET, SUCCESS, TIMEOUT, BLOCK_START, TASK_DONE; sims.paradigms.markers).
Per-trial metrics (one row per finished trial): target_deg, success 0/1, movement_time_s (go to
first entry, NaN if never), peak_speed_deg_s, endpoint_error_deg (|angle - target| at trial end),
t_go_s. Returns TASK_DONE once every block has run.
"""
import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import MARKER, T_S
from rtcore.configbase import Strict
from rtcore.layout import Layout, stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage
from sims.paradigms import markers
from sims.paradigms.target_hold import PH_BETWEEN, PH_DONE, PH_REACH, next_trial, target_hold

METRICS = ("trial", "block", "target_deg", "success", "movement_time_s", "peak_speed_deg_s",
           "endpoint_error_deg", "t_go_s")
#: One row of the per-trial metrics table, a column per METRICS name.
METRIC_ROW = Layout(" ".join(METRICS), "joint_tracking.metrics")
M, M_COLS = METRIC_ROW.slots, len(METRICS)
#: f: constants (ticks, rad), then the schedule [n_trials, 2] = (block, target angle rad) per trial.
#: s: the state machine and the current trial's movement, then the metrics [n_trials, M_COLS].
#: i: bus offsets of the angle, the angular velocity, the target and the trial signal; n_trials.
LAYOUT = stage_layout(
    "joint_tracking",
    f="hold_ticks timeout_ticks tol schedule[n_trials,2]",
    s=f"trial phase count ticks t_go t_acq peak n_done metrics[n_trials,{M_COLS}]",
    i="angle vel target trial_info n_trials")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT


class JointTrackingConfig(Strict):
    """[task] kind = "joint_tracking"."""

    kind: Literal["joint_tracking"]
    targets_deg: list[float] = Field([30.0, 90.0, 60.0, 110.0], min_length=2, description="target joint angles, deg (cycled)")
    tolerance_deg: float = Field(6.0, gt=0, le=90, description="the joint is on target when closer than this, deg")
    hold_s: float = Field(0.3, ge=0, le=10, description="time to hold the target, s")
    timeout_s: float = Field(4.0, gt=0, le=60, description="time from the target's appearance to complete the hold, s")
    random_order: bool = Field(True, description="shuffle each cycle of targets (session seed)")
    angle_index: int = Field(0, ge=0, description="channel of the joint angle in `state`, rad")
    velocity_index: int = Field(1, ge=0, description="channel of the joint velocity in `state`, rad/s")


@njit(cache=True, nogil=True)
def _go(f, s, bus, k):
    """Show trial k's target."""
    first_of_block = k == 0 or f[AT.f_schedule + 2 * k] != f[AT.f_schedule + 2 * (k - 1)]
    bus[MARKER] = markers.BLOCK_START if first_of_block else markers.GO
    s[S.trial] = k
    s[S.phase] = PH_REACH
    s[S.count] = 0.0
    s[S.ticks] = 0.0
    s[S.t_go] = bus[T_S]
    s[S.t_acq] = np.nan
    s[S.peak] = 0.0


@njit(cache=True, nogil=True)
def _finish(f, s, bus, success, angle):
    k = int(s[S.trial])
    m = AT.s_metrics + int(s[S.n_done]) * M_COLS
    target = f[AT.f_schedule + 2 * k + 1]
    s[m + M.trial] = k
    s[m + M.block] = f[AT.f_schedule + 2 * k]
    s[m + M.target_deg] = math.degrees(target)
    s[m + M.success] = 1.0 if success else 0.0
    s[m + M.movement_time_s] = s[S.t_acq] - s[S.t_go]
    s[m + M.peak_speed_deg_s] = math.degrees(s[S.peak])
    s[m + M.endpoint_error_deg] = math.degrees(abs(angle - target))
    s[m + M.t_go_s] = s[S.t_go]
    s[S.n_done] += 1.0
    bus[MARKER] = markers.SUCCESS if success else markers.TIMEOUT
    s[S.phase] = PH_BETWEEN


@njit(cache=True, nogil=True)
def joint_tracking_step(f, s, i, bus):
    """One tick of the tracking state machine (module docstring). Returns TASK_DONE at the end."""
    n = i[I.n_trials]
    angle, omega = bus[i[I.angle]], bus[i[I.vel]]
    phase = s[S.phase]
    code = status.OK
    if phase == 0.0 or phase == PH_BETWEEN:
        k = next_trial(s, S.phase, S.trial, n, bus)
        if k >= 0:
            _go(f, s, bus, k)
        else:
            code = status.TASK_DONE
    elif phase == PH_DONE:
        code = status.TASK_DONE
    else:
        target = f[AT.f_schedule + 2 * int(s[S.trial]) + 1]
        inside = abs(angle - target) < f[F.tol]
        s[S.ticks] += 1.0
        s[S.peak] = max(s[S.peak], abs(omega))
        if target_hold(s, S.phase, S.count, S.t_acq, inside, f[F.hold_ticks], bus):
            _finish(f, s, bus, True, angle)
        if s[S.phase] != PH_BETWEEN and s[S.ticks] >= f[F.timeout_ticks]:
            _finish(f, s, bus, False, angle)
    k = min(int(s[S.trial]), n - 1)
    bus[i[I.target]] = f[AT.f_schedule + 2 * k + 1]
    r = i[I.trial_info]
    bus[r], bus[r + 1], bus[r + 2] = s[S.trial], f[AT.f_schedule + 2 * k], s[S.phase]
    return code


def target_order(targets_rad: np.ndarray, n: int, random_order: bool, rng) -> np.ndarray:
    """n targets cycling through targets_rad (each cycle shuffled if random_order), no target twice in a row."""
    out = []
    while len(out) < n:
        cycle = list(targets_rad[rng.permutation(len(targets_rad))] if random_order else targets_rad)
        if out and cycle[0] == out[-1]:
            cycle.append(cycle.pop(0))
        out.extend(cycle)
    return np.array(out[:n])


def trial_metrics(stage: Stage) -> dict:
    """Finished trials' metrics: {METRICS name: float64[n_done]}."""
    n_done = int(LAYOUT.get(stage, "n_done"))
    table = LAYOUT.view(stage, "metrics")[:n_done]
    return {name: table[:, k].copy() for k, name in enumerate(METRICS)}


def build(cfg: JointTrackingConfig, blocks: list, ctx, where: str = "task") -> list:
    """The tracking task stage for these blocks (no observe stage: the joint is seen as it is)."""
    bus = ctx.bus
    if not blocks:
        raise ValueError(f"{where}: add at least one [[block]] (name, n_trials)")
    for b, blk in enumerate(blocks):
        if blk.perturbation != "none":
            raise ValueError(f"block[{b}] ('{blk.name}'): joint_tracking has no perturbations; "
                             f"set perturbation = \"none\"")
    state = bus.get("state", who=where)
    for key in ("angle_index", "velocity_index"):
        if getattr(cfg, key) >= state.width:
            raise ValueError(f"{where}.{key} = {getattr(cfg, key)}: the plant's state has {state.width} channels "
                             f"({', '.join(state.labels)})")
    rng = np.random.default_rng((ctx.seed, 6))
    sched = []
    for b, blk in enumerate(blocks):
        tgt = target_order(np.radians(cfg.targets_deg), blk.n_trials, cfg.random_order, rng)
        sched.extend((b, t) for t in tgt)
    n = len(sched)
    target = bus.add("target", 1, "rad", ("target_angle",))
    trial = bus.add("trial", 3, "1", ("trial", "block", "phase"))
    names = [blk.name for blk in blocks]
    f, s, i = LAYOUT.fill(
        f={"hold_ticks": max(1, round(cfg.hold_s / ctx.dt_s)), "timeout_ticks": max(1, round(cfg.timeout_s / ctx.dt_s)),
           "tol": math.radians(cfg.tolerance_deg), "schedule": np.array(sched, float).reshape(n, 2)},
        i={"angle": state.offset + cfg.angle_index, "vel": state.offset + cfg.velocity_index,
           "target": target.offset, "trial_info": trial.offset, "n_trials": n})
    stage = Stage(where, SPEC.kind, f, s, i, info={"kind": "joint_tracking", "n_trials": n, "blocks": names})

    def report():
        met = trial_metrics(stage)
        per_block = []
        for b, name in enumerate(names):
            sel = met["block"] == b
            mt = met["movement_time_s"][sel]
            per_block.append({"name": name, "n_done": int(sel.sum()),
                              "success_rate": float(met["success"][sel].mean()) if sel.any() else None,
                              "movement_time_s": float(np.nanmean(mt)) if np.isfinite(mt).any() else None,
                              "mean_endpoint_error_deg": float(met["endpoint_error_deg"][sel].mean()) if sel.any() else None})
        return {"task": {"n_trials": n, "n_done": int(met["trial"].size), "blocks": per_block,
                         "success_rate": float(met["success"].mean()) if met["trial"].size else None,
                         "trials": {k: [None if not np.isfinite(v) else float(v) for v in col] for k, col in met.items()}}}

    stage.report = report
    return [stage]


SPEC = StageSpec(kind=73, name="joint_tracking", step=joint_tracking_step, config=JointTrackingConfig, build=build)
