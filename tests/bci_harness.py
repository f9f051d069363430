"""Closed-loop BCI harness for the decoder tests: synthetic neural user -> KF decoder -> cursor.

The real stages (sims.users.neural source, rtcore.decoders.kalman, sims.plants.cursor) are built
on one Bus and stepped in RUN order by a small compiled loop, with a minimal center-out-and-back
cursor task (8 targets at 0.1 m; acquire = stay inside target_radius_m for hold_s; timeout_s).
In the observation block the cursor moves automatically toward the target (it does not read the
decoder): v = d/|d| min(auto_speed, |d| / auto_tau_s); its kinematics are the fit's labels,
as in a real calibration where the user only watches.
"""
import math

import numpy as np
from numba import njit

import rtcore  # noqa: F401  (sets the numba cache dir first)
from rtcore import bus as B
from rtcore.bus import Bus
from rtcore.decoders import kalman, kalman_fit
from rtcore.stage import BuildContext
from sims.plants import cursor
from sims.users import neural
from rtcore.stage import run_links

RATE_HZ = 100.0
BIN_S = 0.05
N_TARGETS = 8
TARGET_DIST_M = 0.1
# task f: target_radius_m, hold_s, timeout_s, dt, auto_speed, auto_tau_s
TARGET_RADIUS_M, HOLD_S, TIMEOUT_S = 0.02, 0.1, 5.0
AUTO_SPEED_M_S, AUTO_TAU_S = 0.12, 0.35


@njit(cache=True)
def _task(tf, ts, bus, tgt, st, ev, n_ev):
    """Center-out-and-back. ts = [target k (-1 center), t_on, t_in, sequence phase, unused]; ev rows = (t, success, acq_s)."""
    t = bus[B.T_S]
    px, py = bus[st], bus[st + 1]
    dx, dy = bus[tgt] - px, bus[tgt + 1] - py
    inside = math.sqrt(dx * dx + dy * dy) <= tf[0]
    done = -1
    if inside:
        if ts[2] < 0:
            ts[2] = t
        if t - ts[2] >= tf[1]:
            done = 1
    else:
        ts[2] = -1.0
    if done < 0 and t - ts[1] >= tf[2]:
        done = 0
    if done >= 0:
        if n_ev[0] < ev.shape[0]:
            ev[n_ev[0], 0] = t
            ev[n_ev[0], 1] = done
            ev[n_ev[0], 2] = t - ts[1]
            n_ev[0] += 1
        if ts[0] < 0:
            ts[3] = (ts[3] + 0.6180339887498949) % 1.0  # golden-ratio sequence over the targets
            ts[0] = int(ts[3] * N_TARGETS)
            a = 2 * math.pi * ts[0] / N_TARGETS
            bus[tgt] = TARGET_DIST_M * math.cos(a)
            bus[tgt + 1] = TARGET_DIST_M * math.sin(a)
        else:
            ts[0] = -1
            bus[tgt] = 0.0
            bus[tgt + 1] = 0.0
        ts[1] = t
        ts[2] = -1.0


@njit(cache=True)
def _run(n_ticks, auto, bus, nf, ns, ni, kf, ks, ki, cf, cs, ci, tf, ts, tgt, st, vel, rec_idx, rec, ev, n_ev, t0):
    for k in range(n_ticks):
        tick = t0 + k
        bus[B.TICK] = tick
        bus[B.T_S] = tick * bus[B.DT_S]
        neural.neural_step(nf, ns, ni, bus)
        if auto:
            vx, vy = neural.intended_velocity(bus[st], bus[st + 1], bus[tgt], bus[tgt + 1], tf[3], tf[4])
            bus[vel] = vx
            bus[vel + 1] = vy
        else:
            kalman.kalman_step(kf, ks, ki, bus)
        _task(tf, ts, bus, tgt, st, ev, n_ev)
        cursor.cursor_step(cf, cs, ci, bus)
        for j in range(rec_idx.size):
            rec[k, j] = bus[rec_idx[j]]


class Sim:
    """One simulated user + cursor + task, with a KF decoder stage (model) that can be swapped."""

    def __init__(self, model, n_units=64, seed=3, clda=None, steady_state=False, user=None, tmp=None):
        self.ctx = BuildContext(bus=Bus(), dt_s=1.0 / RATE_HZ, seed=seed, realtime=False)
        ucfg = neural.SyntheticNeuralConfig(kind="synthetic_neural", n_units=n_units, bin_s=BIN_S, **(user or {}))
        self.source = neural.build(ucfg, self.ctx)
        path = kalman_fit.save_kalman(f"{tmp}/seed_decoder", model)
        kcfg = kalman.KalmanDecoderConfig(kind="kalman", decoder_file=path, bin_s=BIN_S, clda=clda,
                                          steady_state=steady_state)
        self.decoder = kalman.build(kcfg, self.ctx)
        self.cursor = cursor.build(cursor.CursorConfig(kind="cursor", velocity_signal="intent"), self.ctx)
        self.tgt = self.ctx.bus.add("target", 2, "m", ("x", "y")).offset
        run_links(self.ctx)
        self.bus = self.ctx.bus.array()
        self.bus[B.DT_S] = self.ctx.dt_s
        sig = self.ctx.bus.signals
        self.st, self.vel = sig["state"].offset, sig["intent"].offset
        names = ["input", "input_n", "intended_velocity", "state", "target", "intent"]
        self.cols, idx = {}, []
        for name in names:
            self.cols[name] = slice(len(idx), len(idx) + sig[name].width)
            idx.extend(range(sig[name].offset, sig[name].offset + sig[name].width))
        self.rec_idx = np.array(idx, dtype=np.int64)
        self.tf = np.array([TARGET_RADIUS_M, HOLD_S, TIMEOUT_S, AUTO_SPEED_M_S, AUTO_TAU_S])
        self.ts = np.array([-1.0, 0.0, -1.0, (seed * 0.37) % 1.0, 0.0])
        self.tick = 0

    def load(self, model):
        """Hot-load a decoder: it swaps in at the next bin boundary."""
        kalman.hot_load(self.decoder, model)

    def run(self, seconds: float, auto: bool = False):
        """Run; returns (record [ticks, cols], events [(t_s, success, acquisition_s)])."""
        n = int(round(seconds * RATE_HZ))
        rec = np.zeros((n, self.rec_idx.size))
        ev = np.zeros((int(seconds) * 4 + 16, 3))
        n_ev = np.zeros(1, dtype=np.int64)
        s, d, c = self.source, self.decoder, self.cursor
        _run(n, auto, self.bus, s.f, s.s, s.i, d.f, d.s, d.i, c.f, c.s, c.i, self.tf, self.ts, self.tgt, self.st,
             self.vel, self.rec_idx, rec, ev, n_ev, self.tick)
        self.tick += n
        return rec, ev[:n_ev[0]]

    def bins(self, rec):
        """Per finished bin: counts [T, n], cursor velocity [T, 2] (mean over the bin), intended velocity [T, 2]."""
        ends = np.flatnonzero(rec[:, self.cols["input_n"]][:, 0] > 0.5)
        ends = ends[ends >= 5]
        per = int(round(BIN_S * RATE_HZ))
        counts = rec[ends][:, self.cols["input"]]
        # the cursor velocity over the ticks whose spikes the bin holds
        vel = np.stack([rec[e - per + 1:e + 1, self.cols["state"]][:, 2:4].mean(axis=0) for e in ends])
        iv = np.stack([rec[e - per + 1:e + 1, self.cols["intended_velocity"]].mean(axis=0) for e in ends])
        return counts, vel, iv


def observation_fit(n_units=64, seed=3, seconds=300.0, tmp=None, user=None):
    """Plain KF fitted on an automatic-cursor observation block; returns (model, sim, bins)."""
    seed_model = kalman_fit.random_decoder(n_units, BIN_S, seed)
    sim = Sim(seed_model, n_units=n_units, seed=seed, tmp=tmp, user=user)
    rec, _ = sim.run(seconds, auto=True)
    counts, vel, iv = sim.bins(rec)
    return kalman_fit.fit_kalman(vel, counts, BIN_S), sim, (counts, vel, iv)


def success_per_min(ev, t0, t1):
    sel = (ev[:, 0] >= t0) & (ev[:, 0] < t1)
    return float(ev[sel, 1].sum()) / ((t1 - t0) / 60.0)
