"""A closed-loop BCI rig scripted on the public API (rtcore.api), for the decoder tests.

Synthetic neural user (sims.users.neural) -> KF decoder (rtcore.decoders.kalman, optional CLDA)
-> cursor (sims.plants.cursor), on one chain at 100 Hz, with a minimal center-out-and-back cursor
task written in Python and run at the task's place in each tick (Session.run(task=...)):
8 targets at 0.1 m in a golden-ratio sequence; acquire = stay inside target_radius_m for hold_s;
a trial ends unsuccessfully after timeout_s. Without a decoder (an observation block) the task
also moves the cursor toward the target, v = d/|d| min(auto_speed, |d| / auto_tau_s): its
kinematics are the fit's labels, as in a real calibration where the user only watches.
"""
import math

import numpy as np

from rtcore import api
from rtcore.decoders import kalman, kalman_fit
from sims.plants import cursor
from sims.users import neural

RATE_HZ = 100.0
BIN_S = 0.05
N_TARGETS = 8
TARGET_DIST_M = 0.1
TARGET_RADIUS_M, HOLD_S, TIMEOUT_S = 0.02, 0.1, 5.0
AUTO_SPEED_M_S, AUTO_TAU_S = 0.12, 0.35
GOLDEN = 0.6180339887498949
RECORD = ("input", "input_n", "intended_velocity", "state", "target", "intent")


def cursor_task(n_trials: int, timeout_s: float = TIMEOUT_S) -> str:
    """TOML of the cursor and the engine's center-out task for a BCI session through `rtcore run`: the
    cursor moves at the decoded velocity (intent), targets as the rig's (TARGET_RADIUS_M, HOLD_S),
    one block "bci" of n_trials."""
    return f"""
        [plant]
        kind = "cursor"
        velocity_signal = "intent"

        [task]
        kind = "center_out"
        target_tolerance_m = {TARGET_RADIUS_M}
        hold_s = {HOLD_S}
        timeout_s = {timeout_s}

        [[block]]
        name = "bci"
        n_trials = {n_trials}
    """


class CenterOutAndBack:
    """The task, called once per tick with the Session; events: [(t_s, success 0/1, acquisition_s)]."""

    def __init__(self, sess: api.Session, seed: int, auto: bool):
        self.state, self.target, self.intent = sess.view("state"), sess.view("target"), sess.view("intent")
        self.t_s = sess.view("t")
        self.radius_m, self.hold_s, self.timeout_s = TARGET_RADIUS_M, HOLD_S, TIMEOUT_S
        self.auto = auto
        self.k = -1  # target index, -1 = center
        self.t_on, self.t_in = 0.0, -1.0
        self.phase = (seed * 0.37) % 1.0  # position in the golden-ratio sequence
        self.events = []

    def __call__(self, sess) -> None:
        px, py = self.state[0], self.state[1]
        tx, ty = self.target[0], self.target[1]
        if self.auto:
            self.intent[:] = neural.intended_velocity(px, py, tx, ty, AUTO_SPEED_M_S, AUTO_TAU_S)
        t = self.t_s[0]
        dx, dy = tx - px, ty - py
        done = -1
        if math.sqrt(dx * dx + dy * dy) <= self.radius_m:
            if self.t_in < 0:
                self.t_in = t
            if t - self.t_in >= self.hold_s:
                done = 1
        else:
            self.t_in = -1.0
        if done < 0 and t - self.t_on >= self.timeout_s:
            done = 0
        if done < 0:
            return
        self.events.append((t, done, t - self.t_on))
        if self.k < 0:
            self.phase = (self.phase + GOLDEN) % 1.0
            self.k = int(self.phase * N_TARGETS)
            a = 2 * math.pi * self.k / N_TARGETS
            self.target[:] = (TARGET_DIST_M * math.cos(a), TARGET_DIST_M * math.sin(a))
        else:
            self.k = -1
            self.target[:] = 0.0
        self.t_on, self.t_in = t, -1.0


class Sim:
    """One simulated user + cursor + task; with model=None an observation block (no decoder)."""

    def __init__(self, model, n_units=64, seed=3, clda=None, steady_state=False, user=None, tmp=None):
        ch = api.chain(dt_s=1.0 / RATE_HZ, seed=seed)
        # the subjects these tests were checked on (before population_seed, tuning came from seed * 1_000_003)
        user = {"population_seed": seed * 1_000_003, **(user or {})}
        ucfg = neural.SyntheticNeuralConfig(kind="synthetic_neural", n_units=n_units, bin_s=BIN_S, **user)
        ch.add(neural.build(ucfg, ch.ctx))
        if model is None:
            ch.signal("intent", 2, "m/s", ("vx", "vy"))  # written by the task
        else:
            path = kalman_fit.save_kalman(f"{tmp}/seed_decoder", model)
            ch.add(kalman.build(kalman.KalmanDecoderConfig(kind="kalman", decoder_file=path, bin_s=BIN_S,
                                                           clda=clda, steady_state=steady_state), ch.ctx))
        ch.add(cursor.build(cursor.CursorConfig(kind="cursor", velocity_signal="intent"), ch.ctx))
        ch.signal("target", 2, "m", ("x", "y"))
        self.sess = ch.finish()
        self.decoder = self.sess.stage("decoder") if model is not None else None
        self.task = CenterOutAndBack(self.sess, seed, auto=model is None)

    def load(self, model):
        """Hot-load a decoder: it swaps in at the next bin boundary."""
        kalman.hot_load(self.decoder, model)

    def run(self, seconds: float):
        """Run; returns (recording {signal: [ticks, width]}, events [(t_s, success, acquisition_s)] of this run)."""
        first = len(self.task.events)
        rec = self.sess.run(int(round(seconds * RATE_HZ)), record=RECORD, task=self.task)
        return rec, np.array(self.task.events[first:], dtype=float).reshape(-1, 3)


def bins(rec):
    """Per finished bin: counts [T, n], cursor velocity [T, 2] (mean over the bin), intended velocity [T, 2]."""
    ends = np.flatnonzero(rec["input_n"][:, 0] > 0.5)
    ends = ends[ends >= 5]
    per = int(round(BIN_S * RATE_HZ))
    counts = rec["input"][ends]
    # the cursor velocity over the ticks whose spikes the bin holds
    vel = np.stack([rec["state"][e - per + 1:e + 1, 2:4].mean(axis=0) for e in ends])
    iv = np.stack([rec["intended_velocity"][e - per + 1:e + 1].mean(axis=0) for e in ends])
    return counts, vel, iv


def observation_fit(n_units=64, seed=3, seconds=300.0, user=None):
    """Plain KF fitted on an automatic-cursor observation block; returns (model, sim, bins)."""
    sim = Sim(None, n_units=n_units, seed=seed, user=user)
    rec, _ = sim.run(seconds)
    counts, vel, iv = bins(rec)
    return kalman_fit.fit_kalman(vel, counts, BIN_S), sim, (counts, vel, iv)


def success_per_min(ev, t0, t1):
    sel = (ev[:, 0] >= t0) & (ev[:, 0] < t1)
    return float(ev[sel, 1].sum()) / ((t1 - t0) / 60.0)
