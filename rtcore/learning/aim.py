"""The aim (role "aim", after "learning", [aim]): the planned reach, pulled toward recently repeated
movements, moved by reward, and turned by implicit adaptation and explicit re-aiming.

Use-dependent learning (rtcore.learning.use_dependent; Verstynen & Sabes 2011, J Neurosci
31:10050; Diedrichsen, White, Newman & Lally 2010, J Neurosci 30:5159) in the session. A movement
prior m (a vector in the plane, |m| <= 1) tracks the directions the hand has taken, error or not:

    m(n+1) = A_ud m(n) + B_ud (u_h(n) - m(n))       u_h: unit vector of reach n's displacement
    beta(n) = lambda_ud (u_p x m(n))  (rad)          u_p: unit vector from the reach's start to its target

beta = lambda |m| sin(angle(m) - angle(u_p)): the plan turns toward the prior's direction, the
more the more concentrated the recent movements were (reaches in every direction leave m ~ 0) and
the closer the target is to 90 deg from it (the pull of a von Mises prior on a von Mises plan).
The aim the controller reaches for is the target turned by beta about the reach's start, the turn
fading as exp(-t / tau) over the reach (t from the go cue): the initial direction carries the
bias, online correction toward the seen target removes it by the end, as in Verstynen & Sabes
2011 (biased initial directions, accurate endpoints). Outside the reach and hold the aim is the
target.

Reward learning (basal ganglia; rtcore.learning.reward, the actor-critic of Sutton & Barto 2018 as
Therrien, Wolpert & Bastian 2016, Brain 139:101 fit it; Izawa & Shadmehr 2011, PLoS Comput Biol
7:e1002012). On a binary-reward trial (the task's `outcome` says so at the go cue) the plan
explores: it turns by the learned aim a plus xi ~ N(0, sd_explore) (deg), a deviation the learner
knows; on other trials it turns by a alone. After the trial's hit or miss r (0/1, `outcome`):

    delta = r - V,   V <- V + alpha_V delta,   a <- a + alpha_aim g_DA delta xi

so a rewarded exploration pulls the aim toward itself. g_DA is the dopamine gain ([lesion]
rpe_gain: Parkinson's lowers it). This turn does not fade over the reach: with only hit or miss to
go by there is no seen error to correct online toward. The aim is a command, not a prediction: the
forward model never sees it (Izawa & Shadmehr 2011).

Implicit adaptation and explicit re-aiming compete for the same target error (Albert, Jang,
Modchalingam, 't Hart, Henriques, Lerner, Della-Maggiore, Haith, Krakauer & Shadmehr 2022, eLife
11:e65361). After each trial with a seen error e (deg: the fed-back hand's direction at peak speed
minus the target's, `outcome`; a visuomotor rotation r makes it about r + the turn):

    x_i <- a_i x_i - b_i e,    x_e <- a_e x_e - b_e e

and the plan turns by x_i + x_e + s, s the block's instructed strategy (Mazzoni & Krakauer 2006),
fading over the reach as the use-dependent turn does: the plan sets the initial direction, and
online correction brings the seen hand onto the target (a rotation's target is still hit).
At steady state x_i = -b_i (r + x_e + s) / (1 - a_i + b_i): the more the strategy takes, the
less error is left for the implicit system, so it learns less. Exclusion trials (the block's
aim_directly) turn by x_i alone and teach nothing: the implicit component, in the movement.

u_h is the direction from the fed-back hand at the go cue to the fed-back hand when the reach
ends (the hold begins); a trial without a reach (a timeout) leaves m as it was. The start is the
task's target during the center phase. Updates run once per reach, at its end, in O(1).

Signals: reads `trial` [3] (trial, block, phase), `target` [2] (m), `feedback` [>= 2] (the fed-back
hand, m), `outcome` [5] (center_out, rtcore.learning.outcome; absent: no reward, implicit or
explicit learning); writes `aim` [2] (m), which a controller reads with `target = "aim"`.
Per-reach rows (trial, m, beta in deg) in summary.json under `use_dependent`, per reward trial
(trial, a, xi in deg, r, delta) under `reward_learning`, and per trial with a seen error (trial,
x_i, x_e, e in deg, after the update) under `error_learning`.
"""
import math

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import T_S
from rtcore.learning.outcome import N_OUTCOME, O
from rtcore.learning.reward import actor_critic_update
from rtcore.rng import normal, seed_state
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal

PH_REACH, PH_HOLD, PH_BETWEEN = 2.0, 3.0, 4.0  #: task phases (sims.paradigms.center_out PH_*)
MIN_REACH_M = 0.01  #: a shorter displacement has no direction worth learning from


class AimConfig(Strict):
    """[aim]: the planned reach, with use-dependent learning (Verstynen & Sabes 2011)."""

    use_dependent_rate: float = Field(0.05, ge=0.0, le=1.0, description="B_ud, per reach: how far the movement prior moves toward the reach's direction")
    use_dependent_retention: float = Field(0.98, ge=0.0, le=1.0, description="A_ud, per reach: how much of the movement prior is kept")
    use_dependent_weight: float = Field(0.2, ge=0.0, le=2.0, description="lambda_ud: plan turn per unit of (u_p x m), rad")
    correction_tau_s: float = Field(0.2, gt=0.0, le=10.0, description="time constant of the turn's fading over a reach, s")
    explore_sd_deg: float = Field(0.0, ge=0.0, le=45.0, description="SD of the exploration around the aim on binary-reward trials, deg (0: no reward learning)")
    aim_rate: float = Field(0.3, ge=0.0, le=5.0, description="alpha_aim, actor learning rate per unit RPE (Therrien 2016)")
    value_rate: float = Field(0.1, ge=0.0, le=1.0, description="alpha_V, critic learning rate per trial")
    implicit_rate: float = Field(0.0, ge=0.0, le=1.0, description="b_i, implicit adaptation per unit seen target error (0: none; Albert 2022 fits ~0.2-0.3)")
    implicit_retention: float = Field(0.98, ge=0.0, le=1.0, description="a_i, implicit retention per trial")
    explicit_rate: float = Field(0.0, ge=0.0, le=1.0, description="b_e, explicit re-aiming per unit seen target error (0: only an instructed strategy)")
    explicit_retention: float = Field(0.98, ge=0.0, le=1.0, description="a_e, explicit retention per trial")


#: f: B_ud, A_ud, lambda_ud, tau (s), exploration SD (deg), alpha_aim, alpha_V, g_DA, b_i, a_i, b_e, a_e.
#: s: last tick's phase, the go cue's time (s), the reach's start (ox, oy, m), the fed-back hand at
#: the go cue (gx, gy, m), the prior m (mx, my), this reach's turn beta (rad), reaches done, the
#: reward-learned aim a (deg), the critic V, this trial's exploration xi (deg), reward trials done,
#: x_i, x_e and this trial's strategy (deg), error-learning rows done, then one row per reach
#: (trial, mx, my, beta deg after its update), one per reward trial (trial, a before its update,
#: xi, r, delta) and one per trial with a seen error (trial, x_i, x_e, e after the update).
#: i: bus offsets (outcome: -1 without a task that writes one), table rows and columns, the exploration's
#: generator state (rtcore.rng).
LAYOUT = stage_layout(
    "aim",
    f="rate retention weight tau_s explore_sd aim_rate value_rate dopamine implicit_rate implicit_retention "
      "explicit_rate explicit_retention",
    s="phase t_go ox oy gx gy mx my beta n_done aim_deg value explore n_rewarded implicit explicit strategy "
      "n_errors table[rows,row_cols] rewards[rows,reward_cols] errors[rows,error_cols]",
    i="trial target feedback aim outcome rows row_cols reward_cols error_cols rng")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT
ROW_COLS = 4
REWARD_COLS = 5  #: trial, a (deg), xi (deg), r, delta
ERROR_COLS = 4  #: trial, x_i, x_e, e (deg)


@njit(cache=True, nogil=True)
def aim_step(f, s, i, bus):
    """Plan turn at the go cue, the aim over the reach, the prior's update at the reach's end."""
    phase = bus[i[I.trial] + 2]
    tgt, fb, out = i[I.target], i[I.feedback], i[I.aim]
    tx, ty = bus[tgt], bus[tgt + 1]
    if phase < PH_REACH:
        s[S.ox], s[S.oy] = tx, ty  # the center: where the next reach starts
    elif phase == PH_REACH and s[S.phase] != PH_REACH:  # the go cue
        s[S.t_go] = bus[T_S]
        s[S.gx], s[S.gy] = bus[fb], bus[fb + 1]
        px, py = tx - s[S.ox], ty - s[S.oy]
        norm = math.hypot(px, py)
        s[S.beta] = f[F.weight] * (px * s[S.my] - py * s[S.mx]) / norm if norm > 0.0 else 0.0
        o = i[I.outcome]
        explores = o >= 0 and bus[o + O.reward_trial] != 0.0 and f[F.explore_sd] > 0.0
        s[S.explore] = f[F.explore_sd] * normal(i, I.rng) if explores else 0.0
        excluded = o >= 0 and bus[o + O.exclude] != 0.0
        s[S.strategy] = 0.0 if o < 0 or excluded else bus[o + O.strategy_deg] + s[S.explicit]
    elif phase == PH_HOLD and s[S.phase] == PH_REACH:  # the reach ended: learn its direction
        hx, hy = bus[fb] - s[S.gx], bus[fb + 1] - s[S.gy]
        norm = math.hypot(hx, hy)
        if np.isfinite(norm) and norm > MIN_REACH_M:
            a, b = f[F.retention], f[F.rate]
            s[S.mx] = a * s[S.mx] + b * (hx / norm - s[S.mx])
            s[S.my] = a * s[S.my] + b * (hy / norm - s[S.my])
            done = int(s[S.n_done])
            if done < i[I.rows]:
                row = i[I.s_table] + done * i[I.row_cols]
                s[row], s[row + 1], s[row + 2] = bus[i[I.trial]], s[S.mx], s[S.my]
                s[row + 3] = math.degrees(s[S.beta])
                s[S.n_done] = done + 1
    elif phase == PH_BETWEEN and (s[S.phase] == PH_REACH or s[S.phase] == PH_HOLD):
        _reward_update(f, s, i, bus)
        _error_update(f, s, i, bus)
    s[S.phase] = phase
    turn = 0.0
    if phase == PH_REACH or phase == PH_HOLD:
        fade = math.exp(-(bus[T_S] - s[S.t_go]) / f[F.tau_s])
        turn = (s[S.beta] + math.radians(s[S.implicit] + s[S.strategy])) * fade + math.radians(s[S.aim_deg] + s[S.explore])
    if turn != 0.0:
        c, sn = math.cos(turn), math.sin(turn)
        dx, dy = tx - s[S.ox], ty - s[S.oy]
        bus[out] = s[S.ox] + c * dx - sn * dy
        bus[out + 1] = s[S.oy] + sn * dx + c * dy
    else:  # outside the reach, or no turn: the target itself, to the last bit
        bus[out], bus[out + 1] = tx, ty
    return status.OK


@njit(cache=True, nogil=True)
def _reward_update(f, s, i, bus):
    """A trial ended: after a reward trial's hit or miss, the actor-critic update of the aim and a row
    (none for a trial abandoned before its end: no outcome)."""
    o = i[I.outcome]
    if o < 0 or bus[o + O.reward_trial] == 0.0 or f[F.explore_sd] <= 0.0 or not np.isfinite(bus[o + O.reward]):
        s[S.explore] = 0.0
        return
    aim_before = s[S.aim_deg]
    r = bus[o + O.reward]
    delta = actor_critic_update(s, S.value, S.aim_deg, r, s[S.explore], f[F.value_rate], f[F.aim_rate], f[F.dopamine])
    done = int(s[S.n_rewarded])
    if done < i[I.rows]:
        row = i[I.s_rewards] + done * i[I.reward_cols]
        s[row], s[row + 1], s[row + 2], s[row + 3], s[row + 4] = bus[i[I.trial]], aim_before, s[S.explore], r, delta
        s[S.n_rewarded] = done + 1
    s[S.explore] = 0.0


@njit(cache=True, nogil=True)
def _error_update(f, s, i, bus):
    """A trial ended: implicit and explicit learning from its seen target error (none on exclusion
    and reward trials, or without a reach), and a row."""
    o = i[I.outcome]
    if o < 0 or (f[F.implicit_rate] <= 0.0 and f[F.explicit_rate] <= 0.0):
        return
    e = bus[o + O.seen_error_deg]
    if bus[o + O.exclude] != 0.0 or bus[o + O.reward_trial] != 0.0 or not np.isfinite(e):
        return
    s[S.implicit] = f[F.implicit_retention] * s[S.implicit] - f[F.implicit_rate] * e
    s[S.explicit] = f[F.explicit_retention] * s[S.explicit] - f[F.explicit_rate] * e
    done = int(s[S.n_errors])
    if done < i[I.rows]:
        row = i[I.s_errors] + done * i[I.error_cols]
        s[row], s[row + 1], s[row + 2], s[row + 3] = bus[i[I.trial]], s[S.implicit], s[S.explicit], e
        s[S.n_errors] = done + 1


def build(cfg: AimConfig, ctx, n_trials: int, dopamine_gain: float = 1.0, where: str = "aim") -> Stage:
    """The aim stage; registers `aim` [2] (m). n_trials: rows of the per-reach and per-reward-trial
    tables; dopamine_gain: g_DA of the reward learning ([lesion] rpe_gain)."""
    bus = ctx.bus
    if not bus.has("trial") or not bus.has("target"):
        raise ValueError(f"{where}: the aim needs a task's trials and targets; add a [task] section")
    if bus.get("target").width != 2:
        raise ValueError(f"{where}: the aim turns a planar target; 'target' has {bus.get('target').width} channels, not 2")
    aim = bus.add("aim", 2, "m", ["aim_x", "aim_y"])
    f, s, i = LAYOUT.fill(
        f=dict(rate=cfg.use_dependent_rate, retention=cfg.use_dependent_retention, weight=cfg.use_dependent_weight,
               tau_s=cfg.correction_tau_s, explore_sd=cfg.explore_sd_deg, aim_rate=cfg.aim_rate,
               value_rate=cfg.value_rate, dopamine=dopamine_gain, implicit_rate=cfg.implicit_rate,
               implicit_retention=cfg.implicit_retention, explicit_rate=cfg.explicit_rate,
               explicit_retention=cfg.explicit_retention),
        i=dict(trial=bus.get("trial", 3, who=where).offset, target=bus.get("target", 2, who=where).offset, feedback=-1,
               aim=aim.offset, outcome=bus.get("outcome", N_OUTCOME, who=where).offset if bus.has("outcome") else -1,
               rows=n_trials, row_cols=ROW_COLS, reward_cols=REWARD_COLS, error_cols=ERROR_COLS,
               rng=seed_state(ctx.seed, 0xA1A)))
    stage = Stage(where, SPEC.kind, f, s, i, info={"rule": "use_dependent", "rate": cfg.use_dependent_rate,
                                                   "retention": cfg.use_dependent_retention,
                                                   "weight": cfg.use_dependent_weight,
                                                   "explore_sd_deg": cfg.explore_sd_deg, "dopamine_gain": dopamine_gain})
    bind_signal(ctx, stage, I.feedback, "feedback", 0, 2, f"{where} (the fed-back hand: add a [feedback] section)")

    def report() -> dict:
        table = LAYOUT.view(stage, "table")[:int(LAYOUT.get(stage, "n_done"))]
        out = {"use_dependent": {"trial": table[:, 0].astype(int).tolist(), "prior": table[:, 1:3].tolist(),
                                 "turn_deg": table[:, 3].tolist()}}
        rewards = LAYOUT.view(stage, "rewards")[:int(LAYOUT.get(stage, "n_rewarded"))]
        if rewards.size:
            out["reward_learning"] = {"trial": rewards[:, 0].astype(int).tolist(), "aim_deg": rewards[:, 1].tolist(),
                                      "explore_deg": rewards[:, 2].tolist(), "reward": rewards[:, 3].tolist(),
                                      "rpe": rewards[:, 4].tolist(), "final_aim_deg": float(LAYOUT.get(stage, "aim_deg")),
                                      "dopamine_gain": dopamine_gain}
        errors = LAYOUT.view(stage, "errors")[:int(LAYOUT.get(stage, "n_errors"))]
        if errors.size:
            out["error_learning"] = {"trial": errors[:, 0].astype(int).tolist(), "implicit_deg": errors[:, 1].tolist(),
                                     "explicit_deg": errors[:, 2].tolist(), "seen_error_deg": errors[:, 3].tolist()}
        return out

    stage.report = report
    return stage


SPEC = StageSpec(kind=111, name="aim", step=aim_step, config=AimConfig, build=build, layout=LAYOUT,
                 learned={"mx": "fast", "my": "fast",  # the movement prior: use-dependent biases fade within minutes
                          "aim_deg": "slow", "value": "slow", "implicit": "slow", "explicit": "slow"})  # reward-learned aims are retained (Therrien 2016)
