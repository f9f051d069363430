"""A trial-level learner that combines error-, reward- and use-dependent learning into a hand angle.

Per trial n (angles in deg; f = perturbation, the hand shift that cancels it):

    p     = x_f + x_s + x_e + x_e0 + aim                   implicit (SPE) + explicit re-aiming + reward-learned aim
    p    += lambda_ud (mu - p)                             use-dependent pull (Diedrichsen 2010)
    plan  = p + rho * operant_pull(Q, p, e_cue)            after a miss, recall of rewarded actions (Huang 2011)
    h     = plan + xi + eta,   xi ~ N(0, sd_explore), eta ~ N(0, sd_motor)
    e_task = f - h;   SPE = f - (x_f + x_s) - eta   (implicit_error = "spe": the learner's own aim,
           exploration and retrieval are predicted, so only the perturbation and motor noise are
           sensory prediction errors; Mazzoni & Krakauer 2006, J Neurosci 26:3642)
         or SPE = e_task (implicit_error = "target": the implicit system competes with the explicit
           strategy for one error; Albert et al. 2022, eLife 11:e65361)
    then: two-state update on SPE (rtcore.learning.two_state); explicit re-aiming from the seen task
    error, x_e <- A_e x_e + B_e e_task (Taylor & Ivry 2011; McDougle et al. 2015, J Neurosci
    35:9568; B_e = 0 leaves a fixed strategy x_e0); actor-critic on the binary reward
    and memory of rewarded actions (rtcore.learning.reward), movement prior update
    (rtcore.learning.use_dependent).

Which updates run depends on the trial's feedback code (rtcore.learning.schedules). Lesions scale
B (spe_learning_gain), A (retention), sd_motor (motor_noise_gain) and g_DA (rpe_gain); see
rtcore.learning.lesions. The random draws come from np.random.default_rng(seed) up front, so the
compiled kernel and the Python reference see the same noise.
"""
import math
from typing import Literal, NamedTuple

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.configbase import Strict
from rtcore.layout import Layout
from rtcore.learning.lesions import LesionConfig, LesionEffects, lesion_effects
from rtcore.learning.reward import actor_critic_update, binary_reward, operant_encode, operant_pull
from rtcore.learning.schedules import FB_CHANNEL, FB_CLAMP, FB_FULL, FB_NONE, FB_REWARD, Schedule
from rtcore.learning.two_state import TwoStateParams, two_state_trial
from rtcore.learning.use_dependent import use_dependent_bias, use_dependent_update


class LearnerParams(Strict):
    """Parameters of the combined trial-level learner (angles in deg, rates per trial)."""

    a_fast: float = Field(0.92, ge=0.0, le=1.0, description="A_f, fast-state retention per trial (Smith 2006)")
    b_fast: float = Field(0.03, ge=0.0, le=1.0, description="B_f, fast-state learning rate per unit SPE")
    a_slow: float = Field(0.996, ge=0.0, le=1.0, description="A_s, slow-state retention per trial")
    b_slow: float = Field(0.004, ge=0.0, le=1.0, description="B_s, slow-state learning rate per unit SPE")
    implicit_error: Literal["spe", "target"] = Field("spe", description="error the two-state process learns from: spe (aim-relative) or target (Albert 2022 competition)")
    explicit_deg: float = Field(0.0, ge=-180.0, le=180.0, description="fixed explicit re-aiming strategy x_e0, deg")
    explicit_rate: float = Field(0.05, ge=0.0, le=1.0, description="B_e, explicit re-aiming learning rate per unit seen task error (0 = fixed strategy)")
    explicit_retention: float = Field(0.98, ge=0.0, le=1.0, description="A_e, explicit re-aiming retention per trial")
    explore_sd_deg: float = Field(3.0, ge=0.0, le=45.0, description="SD of exploration around the aim (known to the learner), deg")
    motor_noise_sd_deg: float = Field(2.0, ge=0.0, le=45.0, description="SD of motor noise (unknown to the learner), deg")
    reward_window_deg: float = Field(5.0, gt=0.0, le=90.0, description="a movement is rewarded if |task error| <= this, deg")
    value_rate: float = Field(0.1, ge=0.0, le=1.0, description="alpha_V, critic learning rate per trial")
    aim_rate: float = Field(0.3, ge=0.0, le=5.0, description="alpha_aim, actor learning rate per unit RPE")
    dopamine_gain: float = Field(1.0, ge=0.0, le=5.0, description="g_DA, dopamine gain on RPE learning (times the lesion's rpe_gain)")
    use_dependent_weight: float = Field(0.1, ge=0.0, le=1.0, description="lambda_ud, pull of the movement prior on the plan")
    use_dependent_rate: float = Field(0.05, ge=0.0, le=1.0, description="B_ud, rate at which the prior tracks the hand")
    use_dependent_retention: float = Field(0.99, ge=0.0, le=1.0, description="A_ud, retention of the movement prior per trial")
    operant_rate: float = Field(0.05, ge=0.0, le=1.0, description="alpha_op, reinforcement of a rewarded action per unit positive RPE")
    operant_gain: float = Field(1.0, ge=0.0, le=1.0, description="rho, retrieval gain of reinforced actions (0 = off)")
    operant_width_deg: float = Field(5.0, gt=0.0, le=90.0, description="w, width of an action memory, deg")
    operant_baseline: float = Field(1.0, ge=0.0, le=100.0, description="strength of the overlearned memory of the unperturbed action (0 deg) at the start")
    operant_retention: float = Field(0.999, ge=0.0, le=1.0, description="A_op, retention of action memories per trial")
    operant_range_deg: float = Field(90.0, gt=0.0, le=180.0, description="action memories span -range..range, deg")
    operant_spacing_deg: float = Field(2.5, gt=0.0, le=45.0, description="spacing of action memory centres, deg")

    def two_state(self) -> TwoStateParams:
        return TwoStateParams(self.a_fast, self.b_fast, self.a_slow, self.b_slow)

    def with_lesion(self, effects: LesionEffects) -> "LearnerParams":
        """Copy with B scaled by spe_learning_gain, A^(1/retention), sd_motor x motor_noise_gain,
        g_DA x rpe_gain (rtcore.learning.lesions)."""
        ts = self.two_state().scaled(effects.spe_learning_gain, effects.retention)
        return self.model_copy(update=dict(
            a_fast=ts.a_fast, b_fast=ts.b_fast, a_slow=ts.a_slow, b_slow=ts.b_slow,
            motor_noise_sd_deg=self.motor_noise_sd_deg * effects.motor_noise_gain,
            dopamine_gain=self.dopamine_gain * effects.rpe_gain))

    @property
    def n_memories(self) -> int:
        return 2 * int(round(self.operant_range_deg / self.operant_spacing_deg)) + 1


class LearnerTrace(NamedTuple):
    """Per-trial values, [n_trials] each (deg unless noted), before each trial's updates."""

    hand: np.ndarray  #: h, executed hand angle
    plan: np.ndarray  #: planned angle, before exploration and motor noise
    fast: np.ndarray  #: x_f, fast SPE state
    slow: np.ndarray  #: x_s, slow SPE state
    explicit: np.ndarray  #: x_e + x_e0, explicit re-aiming
    aim: np.ndarray  #: reward-learned aim (a command change: not in the forward model)
    value: np.ndarray  #: V, expected reward (0..1)
    prior: np.ndarray  #: mu, use-dependent movement prior
    operant: np.ndarray  #: pull toward reinforced actions
    task_error: np.ndarray  #: f - h (the clamped error on clamp trials, 0 on channel trials)
    spe: np.ndarray  #: error that drove the two-state update (0 without feedback)
    reward: np.ndarray  #: r (0/1; 0 when no reward feedback)
    rpe: np.ndarray  #: delta = r - V (0 when no reward feedback)
    memory: np.ndarray  #: [n_memories] action-memory strengths Q after the last trial

    @property
    def forward_model(self) -> np.ndarray:
        """x_f + x_s: the shift the forward model has learned (what an SPE-based learner predicts)."""
        return self.fast + self.slow


#: Parameter vector of the compiled kernel (`pack`). It starts with A_f, B_f, A_s, B_s, and the
#: state with x_f, x_s, because two_state_trial reads them there.
PARAMS = Layout("a_fast b_fast a_slow b_slow target_error explicit explicit_rate explicit_retention explore_sd "
                "motor_sd window value_rate aim_rate dopamine ud_weight ud_rate ud_retention op_rate op_gain "
                "op_width op_retention op_lo op_spacing", "learner.params")
#: State vector: two-state, explicit, aim, value, movement prior, cue error, then the action memories.
STATE = Layout("fast slow explicit aim value prior cue memory[n_memories]", "learner.state")
#: Columns of the per-trial output, one per LearnerTrace field (memory aside).
COLUMNS = Layout(" ".join(LearnerTrace._fields[:-1]), "learner.columns")
P, S, C = PARAMS.slots, STATE.slots, COLUMNS.slots
N_PARAMS, N_COLUMNS = PARAMS.size({}), COLUMNS.size({})
MEMORY = STATE.offsets({"n_memories": 0})["memory"]  #: start of the action memories in the state
assert P[:4] == (0, 1, 2, 3) and S[:2] == (0, 1), "two_state_trial reads A_f, B_f, A_s, B_s and x_f, x_s first"


def pack(params: LearnerParams) -> np.ndarray:
    """The kernel's float64 [N_PARAMS] parameter vector."""
    ts = params.two_state()
    return PARAMS.fill(
        a_fast=ts.a_fast, b_fast=ts.b_fast, a_slow=ts.a_slow, b_slow=ts.b_slow,
        target_error=1.0 if params.implicit_error == "target" else 0.0, explicit=params.explicit_deg,
        explicit_rate=params.explicit_rate, explicit_retention=params.explicit_retention,
        explore_sd=params.explore_sd_deg, motor_sd=params.motor_noise_sd_deg, window=params.reward_window_deg,
        value_rate=params.value_rate, aim_rate=params.aim_rate, dopamine=params.dopamine_gain,
        ud_weight=params.use_dependent_weight, ud_rate=params.use_dependent_rate,
        ud_retention=params.use_dependent_retention, op_rate=params.operant_rate, op_gain=params.operant_gain,
        op_width=params.operant_width_deg, op_retention=params.operant_retention,
        op_lo=-(params.n_memories // 2) * params.operant_spacing_deg, op_spacing=params.operant_spacing_deg)


@njit(cache=True, nogil=True)
def learner_trial(params, state, perturbation, feedback, explore_z, motor_z, out):
    """One trial of the combined learner, in place (equations in the module docstring).

    params: PARAMS; state: STATE; perturbation f (deg); feedback: FB_* code;
    explore_z, motor_z: standard-normal draws; out: [N_COLUMNS] row for this trial. Returns OK.
    """
    memory = state[MEMORY:]
    implicit = state[S.fast] + state[S.slow]
    explicit = state[S.explicit] + params[P.explicit]
    p = implicit + explicit + state[S.aim]
    p += use_dependent_bias(state[S.prior], p, params[P.ud_weight])
    pull = 0.0
    if params[P.op_gain] > 0.0:
        pull = params[P.op_gain] * operant_pull(memory, params[P.op_lo], params[P.op_spacing],
                                                params[P.op_width], p, state[S.cue], params[P.window])
    plan = p + pull
    explore = params[P.explore_sd] * explore_z
    noise = params[P.motor_sd] * motor_z
    hand = plan + explore + noise
    if feedback == FB_CHANNEL:
        hand = perturbation
    out[C.hand], out[C.plan], out[C.fast], out[C.slow], out[C.explicit] = hand, plan, state[S.fast], state[S.slow], explicit
    out[C.aim], out[C.value], out[C.prior], out[C.operant] = state[S.aim], state[S.value], state[S.prior], pull
    # errors: the task error (seen or not) and the two-state update through its own trial step
    if feedback == FB_CLAMP:
        task_error = perturbation
        spe = two_state_trial(params, state, perturbation, FB_CLAMP)
    elif feedback == FB_FULL:
        task_error = perturbation - hand
        if params[P.target_error] > 0.0:
            spe = two_state_trial(params, state, task_error + implicit, FB_FULL)
        else:
            spe = two_state_trial(params, state, perturbation - noise, FB_FULL)
    else:
        task_error = 0.0 if feedback == FB_CHANNEL else perturbation - hand
        spe = two_state_trial(params, state, 0.0, FB_NONE)
    state[S.explicit] *= params[P.explicit_retention]
    if feedback == FB_FULL:
        state[S.explicit] += params[P.explicit_rate] * task_error
    # reward: actor-critic and the memory of rewarded actions
    reward = 0.0
    delta = 0.0
    drive = 0.0
    if feedback == FB_FULL or feedback == FB_REWARD or feedback == FB_CLAMP:
        reward = binary_reward(task_error, params[P.window])
        delta = actor_critic_update(state, S.value, S.aim, reward, explore, params[P.value_rate],
                                    params[P.aim_rate], params[P.dopamine])
        if feedback != FB_CLAMP and delta > 0.0:
            drive = params[P.op_rate] * params[P.dopamine] * delta
    operant_encode(memory, params[P.op_lo], params[P.op_spacing], params[P.op_width], hand, drive,
                   params[P.op_retention])
    state[S.prior] = use_dependent_update(state[S.prior], hand, params[P.ud_rate], params[P.ud_retention])
    if feedback == FB_FULL or feedback == FB_CLAMP:
        state[S.cue] = task_error
    elif feedback == FB_REWARD:
        state[S.cue] = 0.0
    out[C.task_error], out[C.spe], out[C.reward], out[C.rpe] = task_error, spe, reward, delta
    return status.OK


@njit(cache=True, nogil=True)
def learner_run(params, perturbation, feedback, explore_z, motor_z, state, out):
    """Run n trials of the combined learner into out [n, N_COLUMNS]; state is updated in place."""
    for n in range(perturbation.shape[0]):
        learner_trial(params, state, perturbation[n], feedback[n], explore_z[n], motor_z[n], out[n])
    return status.OK


def initial_state(params: LearnerParams) -> np.ndarray:
    """State before the first trial: the familiar unperturbed movement is expected to hit (V = 1)
    and is an overlearned memory Q_k = operant_baseline K(c_k) centred on 0 deg (learned long
    before any lesion); everything else is 0."""
    state = STATE.alloc({"n_memories": params.n_memories})
    state[S.value] = 1.0
    centres = pack(params)[P.op_lo] + params.operant_spacing_deg * np.arange(params.n_memories)
    state[MEMORY:] = params.operant_baseline * np.exp(-centres ** 2 / (2.0 * params.operant_width_deg ** 2))
    return state


def _effects(lesion) -> LesionEffects:
    return lesion if isinstance(lesion, LesionEffects) else lesion_effects(lesion)


def _draws(n: int, seed: int):
    z = np.random.default_rng(seed).standard_normal((2, n))
    return np.ascontiguousarray(z[0]), np.ascontiguousarray(z[1])


def _trace(out: np.ndarray, memory: np.ndarray) -> LearnerTrace:
    cols = {name: np.ascontiguousarray(out[:, getattr(C, name)]) for name in COLUMNS.scalars}
    return LearnerTrace(**cols, memory=memory.copy())


def simulate_learner(schedule: Schedule, params: LearnerParams = LearnerParams(),
                     lesion: LesionConfig | LesionEffects = LesionConfig(), seed: int = 0) -> LearnerTrace:
    """The combined learner through a schedule (compiled), with a lesion and a noise seed."""
    eff = params.with_lesion(_effects(lesion))
    explore_z, motor_z = _draws(schedule.n_trials, seed)
    state = initial_state(eff)
    out = np.empty((schedule.n_trials, N_COLUMNS))
    learner_run(pack(eff), schedule.perturbation, schedule.feedback, explore_z, motor_z, state, out)
    return _trace(out, state[MEMORY:])


def simulate_learner_reference(schedule: Schedule, params: LearnerParams = LearnerParams(),
                               lesion: LesionConfig | LesionEffects = LesionConfig(), seed: int = 0) -> LearnerTrace:
    """The same learner as a readable Python loop (test oracle for `simulate_learner`)."""
    q = params.with_lesion(_effects(lesion))
    explore_z, motor_z = _draws(schedule.n_trials, seed)
    centres = [(k - q.n_memories // 2) * q.operant_spacing_deg for k in range(q.n_memories)]
    kernel = lambda d: math.exp(-d * d / (2.0 * q.operant_width_deg ** 2))  # noqa: E731
    memory = [q.operant_baseline * kernel(c) for c in centres]
    x_fast = x_slow = x_explicit = aim = prior = cue = 0.0
    value = 1.0
    rows = []
    for n in range(schedule.n_trials):
        f, code = float(schedule.perturbation[n]), int(schedule.feedback[n])
        implicit = x_fast + x_slow
        explicit = x_explicit + q.explicit_deg
        p = implicit + explicit + aim
        p += q.use_dependent_weight * (prior - p)
        num, den = 0.0, 1.0
        if abs(cue) > q.reward_window_deg:  # a miss recalls rewarded actions near p + cue
            for c, strength in zip(centres, memory):
                num += strength * kernel(c - (p + cue)) * (c - p)
                den += strength * kernel(c - (p + cue))
        pull = q.operant_gain * num / den if q.operant_gain > 0 else 0.0
        plan = p + pull
        explore, noise = q.explore_sd_deg * explore_z[n], q.motor_noise_sd_deg * motor_z[n]
        hand = f if code == FB_CHANNEL else plan + explore + noise
        row = dict(hand=hand, plan=plan, fast=x_fast, slow=x_slow, explicit=explicit, aim=aim, value=value,
                   prior=prior, operant=pull)
        if code == FB_CLAMP:
            task_error = spe = f
        elif code == FB_FULL:
            task_error = f - hand
            spe = task_error if q.implicit_error == "target" else f - noise - implicit
        else:
            task_error = 0.0 if code == FB_CHANNEL else f - hand
            spe = 0.0
        x_fast = q.a_fast * x_fast + q.b_fast * spe
        x_slow = q.a_slow * x_slow + q.b_slow * spe
        x_explicit = q.explicit_retention * x_explicit + (q.explicit_rate * task_error if code == FB_FULL else 0.0)
        reward = delta = drive = 0.0
        if code in (FB_FULL, FB_REWARD, FB_CLAMP):
            reward = 1.0 if abs(task_error) <= q.reward_window_deg else 0.0
            delta = reward - value
            value += q.value_rate * delta
            aim += q.aim_rate * q.dopamine_gain * delta * explore
            if code != FB_CLAMP and delta > 0:
                drive = q.operant_rate * q.dopamine_gain * delta
        memory = [q.operant_retention * m + drive * kernel(hand - c) for c, m in zip(centres, memory)]
        prior = q.use_dependent_retention * prior + q.use_dependent_rate * (hand - prior)
        if code in (FB_FULL, FB_CLAMP):
            cue = task_error
        elif code == FB_REWARD:
            cue = 0.0
        rows.append(COLUMNS.fill(**row, task_error=task_error, spe=spe, reward=reward, rpe=delta))
    out = np.array(rows, dtype=np.float64).reshape(schedule.n_trials, N_COLUMNS)
    return _trace(out, np.array(memory))
