"""Trial-level learning in the session (role "learning"): fast and slow states of a learned field.

The two-state model of Smith, Ghazizadeh & Shadmehr 2006 (PLoS Biol 4:e179, eq. 2) acting on the
movement. Its states are the feedforward's learned viscous field (motor primitives over hand
velocity, Thoroughman & Shadmehr 2000, Nature 407:742), an n x n matrix per state, N s/m:

    K = K_f + K_s;   u_ff += K v_d                     (added by the feedforward, v_d desired velocity)
    E(n) = sum_t e(t) v(t)^T / (eps + sum_t |v(t)|^2)  (trial error: motor error regressed on velocity)
    K_f(n+1) = A_f K_f(n) + B_f E(n),   K_s(n+1) = A_s K_s(n) + B_s E(n)

e(t) is the feedforward's `motor_error` (feedback-error learning's teaching signal, the corrective
force of a path controller on the sensed deviation, the climbing-fibre signal; Kawato & Gomi 1992)
and v(t) the sensed hand velocity (`feedback`, same moment), summed over the reach and target hold
of trial n (phases 2 and 3 of the task's `trial` signal). In a field F = B v the motor error is
about -(B + K) v, so K tends to -B: the error of Smith's e = f - x in force units, projected on the
direction reached (a reach in one direction teaches the field along it). The update runs once, at
the trial boundary (the tick the task's phase turns to "between"), in O(n^2): no allocation, no
loop over the trial. On a force-channel trial the hand cannot deviate, e(t) ~ 0 and E ~ 0: the
states only decay, which is the error clamp of Smith 2006 (spontaneous recovery). With no reach
(a center timeout) E = 0 too.

Defaults: A_f 0.85, B_f 0.2, A_s 0.999, B_s 0.06 per unit E, one simulated subject that shows
savings, spontaneous recovery and anterograde interference in whole sessions
(configs/channel_adaptation.toml, spontaneous_recovery.toml, interference.toml). Smith's fits
(A_f 0.92, B_f .03, A_s 0.996, B_s .004) are per unit of the full error; E here is a fraction
of it (the reach teaches one direction of the field, the motor error is part of the residual
force), so the rates are scaled up to learn a curl field in about a hundred trials. With
Smith's retentions the slow state holds about half of A when a counter-field ends and the
rebound in the clamp is 0.0-0.13 (4-10 counter-field trials) instead of 0.23. Lesions
(rtcore.learning.lesions) scale B by spe_learning_gain and the time constants by retention
(TwoStateParams.scaled); `slow_gain` (build argument) scales B_s alone, the hook for a
slow-process deficit.

The learned field acts on the reach and target hold only (`learned_field` is 0 in the center
phase: the return and the center hold are posture, not the learned reach).

Signals: reads `trial` [3] (trial, block, phase), `motor_error` [n] (N), `feedback` [>= 2n]
(velocity at n..2n, m/s); writes `learned_field` [n*n] (K, N s/m, row-major), read by the
feedforward. Per-trial states in summary.json under `trial_learning`. K_f and K_s are the stage's
learned state in a checkpoint (part "learning", classes "fast" and "slow"): resumed after a break,
K_f is forgotten and K_s mostly kept, as rtcore.learning.consolidation says.
"""
import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD
from rtcore.configbase import Strict
from rtcore.layout import seg, stage_layout
from rtcore.learning.schedules import FB_CLAMP
from rtcore.learning.two_state import TwoStateParams, two_state_trial
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal

PH_REACH, PH_HOLD, PH_BETWEEN = 2.0, 3.0, 4.0  #: task phases (sims.paradigms.center_out PH_*)
EPS_M2_S2 = 1.0  #: regulariser of the velocity sum, (m/s)^2 ticks (a reach sums about 20 at 1 kHz)


class TrialLearningConfig(Strict):
    """[learning]: trial-level two-state learning of the feedforward's field (Smith et al. 2006)."""

    a_fast: float = Field(0.85, ge=0.0, le=1.0, description="A_f, fast-state retention per trial")
    b_fast: float = Field(0.2, ge=0.0, le=1.0, description="B_f, fast-state learning rate per unit trial error E")
    a_slow: float = Field(0.999, ge=0.0, le=1.0, description="A_s, slow-state retention per trial")
    b_slow: float = Field(0.06, ge=0.0, le=1.0, description="B_s, slow-state learning rate per unit trial error E")
    max_field_ns_per_m: float = Field(50.0, gt=0, le=1e3, description="each state's entries clipped to +-this, N*s/m")


#: f: A_f, B_f, A_s, B_s (first, in the order two_state_trial reads them), the states' bound (N s/m).
#: s: the task phase last tick, the trial's velocity sum (m/s)^2, updates done; x, one entry's
#: (fast, slow) pair while two_state_trial updates it; the states K_f and K_s (N s/m, row-major),
#: the sums of e v^T (N m/s), then one row per trial: trial index, K_f [n*n], K_s [n*n], E [n*n]
#: after its update. i: bus offsets, hand dims n, n*n, rows.
LAYOUT = stage_layout(
    "trial_learning",
    f="a_fast b_fast a_slow b_slow max_field",
    s="phase vv n_done x[2] fast[nn] slow[nn] ev[nn] table[rows,row_cols]",
    i="trial err vel field n nn rows row_cols")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def trial_learning_step(f, s, i, bus):
    """Accumulate the trial's error regression each tick; update the states at the trial boundary."""
    n, nn = i[I.n], i[I.nn]
    x = s[AT.s_x:AT.s_x + 2]
    fast, slow = s[AT.s_fast:AT.s_fast + nn], seg(s, i, I.s_slow, nn)
    ev = seg(s, i, I.s_ev, nn)
    phase = bus[i[I.trial] + 2]
    if bus[HOLD] == 0.0 and (phase == PH_REACH or phase == PH_HOLD):
        err, vel = i[I.err], i[I.vel]
        for q in range(n):
            v = bus[vel + q]
            if np.isfinite(v):
                s[S.vv] += v * v
                for j in range(n):
                    e = bus[err + j]
                    if np.isfinite(e):
                        ev[j * n + q] += e * v
    if phase == PH_BETWEEN and s[S.phase] != PH_BETWEEN:  # the trial just ended
        inv = 1.0 / (EPS_M2_S2 + s[S.vv])
        done = int(s[S.n_done])
        row = i[I.s_table] + done * i[I.row_cols] if done < i[I.rows] else -1
        for q in range(nn):
            x[0], x[1] = fast[q], slow[q]
            e = ev[q] * inv
            two_state_trial(f, x, e, FB_CLAMP)  # the error is measured, not f - x: E is given
            fast[q] = min(max(x[0], -f[F.max_field]), f[F.max_field])
            slow[q] = min(max(x[1], -f[F.max_field]), f[F.max_field])
            ev[q] = 0.0
            if row >= 0:
                s[row + 1 + q], s[row + 1 + nn + q], s[row + 1 + 2 * nn + q] = fast[q], slow[q], e
        if row >= 0:
            s[row] = bus[i[I.trial]]
            s[S.n_done] = done + 1
        s[S.vv] = 0.0
    s[S.phase] = phase
    out = i[I.field]
    reaching = phase == PH_REACH or phase == PH_HOLD
    for q in range(nn):
        bus[out + q] = fast[q] + slow[q] if reaching else 0.0
    return status.OK


def build(cfg: TrialLearningConfig, ctx, n_trials: int, spe_learning_gain: float = 1.0, retention: float = 1.0,
          slow_gain: float = 1.0, where: str = "learning") -> Stage:
    """The learning stage; registers `learned_field` [n*n] (n = the task's target width).

    n_trials: rows of the per-trial table (the session's trials). spe_learning_gain and retention:
    rtcore.learning.lesions.LesionEffects; slow_gain: extra multiplier of B_s.
    """
    bus = ctx.bus
    if not bus.has("trial") or not bus.has("target"):
        raise ValueError(f"{where}: trial-level learning needs a task's trials; add a [task] section")
    n = bus.get("target").width
    p = TwoStateParams(cfg.a_fast, cfg.b_fast, cfg.a_slow, cfg.b_slow).scaled(spe_learning_gain, retention)
    labels = [f"k_{a}{b}" for a in "xy"[:n] for b in "xy"[:n]] if n <= 2 else None
    field = bus.add("learned_field", n * n, "N*s/m", labels)
    nn = n * n
    f, s, i = LAYOUT.fill(
        f=dict(a_fast=p.a_fast, b_fast=p.b_fast, a_slow=p.a_slow, b_slow=p.b_slow * slow_gain,
               max_field=cfg.max_field_ns_per_m),
        i=dict(trial=bus.get("trial", 3, who=where).offset, err=-1, vel=-1, field=field.offset, n=n, nn=nn,
               rows=n_trials, row_cols=1 + 3 * nn))
    stage = Stage(where, SPEC.kind, f, s, i, info={"rule": "two_state", "a_fast": p.a_fast, "b_fast": p.b_fast,
                                                   "a_slow": p.a_slow, "b_slow": float(f[F.b_slow])})
    bind_signal(ctx, stage, I.err, "motor_error", 0, n, f"{where} (add a [feedforward] section: its motor error teaches)")
    bind_signal(ctx, stage, I.vel, "feedback", n, n, where)

    def report() -> dict:
        table = LAYOUT.view(stage, "table")[:int(LAYOUT.get(stage, "n_done"))]
        return {"trial_learning": {"trial": table[:, 0].astype(int).tolist(),
                                   "fast_field_ns_per_m": table[:, 1:1 + nn].tolist(),
                                   "slow_field_ns_per_m": table[:, 1 + nn:1 + 2 * nn].tolist(),
                                   "error_field_ns_per_m": table[:, 1 + 2 * nn:].tolist()}}

    stage.report = report
    return stage


SPEC = StageSpec(kind=110, name="learning", step=trial_learning_step, config=TrialLearningConfig, build=build,
                 layout=LAYOUT, learned={"fast": "fast", "slow": "slow"})
