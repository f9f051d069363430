"""Test helper: the two-link arm, a center-out task and a minimal endpoint PD, chained by hand.

The stages are built on one Bus and their compiled steps called in RUN order (task, controller,
plant, observe) every tick, which is the stage contract. The controller here is deliberately
tiny (PD on the true hand or on the fed-back hand, no delay, optional aim rotation) so the
plant and paradigm tests do not depend on the learning/control stack.
"""
import math

import numpy as np
from numba import njit

import rtcore  # noqa: F401  (sets the Numba cache directory before compiled code loads)
from rtcore import status
from rtcore.bus import DT_S, MARKER, T_S, TICK, Bus
from rtcore.stage import BuildContext
from sims import paradigms, plants
from sims.paradigms.blocks import BlockConfig
from sims.paradigms.center_out import CenterOutConfig, center_out_step
from sims.paradigms.observe import observe_step
from sims.plants.mujoco_plant import mujoco_plant_step
from sims.plants.two_link_arm import TwoLinkArmConfig

KP_N_PER_M = 150.0
KD_NS_PER_M = 30.0


@njit(cache=True)
def pd_force(bus, x_off, tgt_off, cmd_off, cx, cy, aim_rad):
    """command = kp (aim - x) - kd v, aim = center + R(aim_rad) (target - center)."""
    c, s = math.cos(aim_rad), math.sin(aim_rad)
    tx, ty = bus[tgt_off] - cx, bus[tgt_off + 1] - cy
    ax, ay = cx + c * tx - s * ty, cy + s * tx + c * ty
    bus[cmd_off] = KP_N_PER_M * (ax - bus[x_off]) - KD_NS_PER_M * bus[x_off + 2]
    bus[cmd_off + 1] = KP_N_PER_M * (ay - bus[x_off + 1]) - KD_NS_PER_M * bus[x_off + 3]


@njit(cache=True)
def run_ticks(tf, ts, ti, pf, ps, pi, of, os_, oi, bus, x_off, tgt_off, cmd_off, cx, cy, aim_rad,
              n_ticks, rec_idx, rec):
    """task -> PD -> plant -> observe per tick; records bus[rec_idx] per tick; returns (ticks, status)."""
    dt = bus[DT_S]
    for k in range(n_ticks):
        bus[TICK] = k
        bus[T_S] = k * dt
        bus[MARKER] = 0.0
        code = center_out_step(tf, ts, ti, bus)
        if code == status.OK:
            pd_force(bus, x_off, tgt_off, cmd_off, cx, cy, aim_rad)
            code = mujoco_plant_step(pf, ps, pi, bus)
        if code == status.OK or code == status.LIMIT_CLIPPED:
            observe_step(of, os_, oi, bus)
        for j in range(rec_idx.size):
            rec[k, j] = bus[rec_idx[j]]
        if code >= status.FATAL:
            return k + 1, code
    return n_ticks, status.OK


class ReachRig:
    """Plant + center-out task (+ observe) on one bus, driven by the PD above."""

    def __init__(self, blocks, task=None, plant=None, seed=0, dt_s=0.001):
        self.ctx = BuildContext(bus=Bus(), dt_s=dt_s, seed=seed, realtime=False)
        self.plant = plants.build(TwoLinkArmConfig(kind="two_link_arm", **(plant or {})), self.ctx)[0]
        self.task, self.observe = paradigms.build(CenterOutConfig(kind="center_out", **(task or {})),
                                                  [BlockConfig(**b) for b in blocks], self.ctx)
        self.bus = self.ctx.bus.array()
        self.bus[DT_S] = dt_s
        self.center = self.task.info["center_m"]

    def run(self, max_ticks, feedback="state", aim_deg=0.0,
            record=("state", "observed", "target", "trial", "marker", "curl", "command")):
        """Run until the task ends (or max_ticks); returns {signal: [ticks, width]}, status."""
        sig = self.ctx.bus.signals
        rec_idx = np.concatenate([np.arange(sig[n].offset, sig[n].offset + sig[n].width) for n in record])
        rec = np.zeros((max_ticks, rec_idx.size))
        t, p, o = self.task, self.plant, self.observe
        n, code = run_ticks(t.f, t.s, t.i, p.f, p.s, p.i, o.f, o.s, o.i, self.bus, sig[feedback].offset,
                            sig["target"].offset, sig["command"].offset, self.center[0], self.center[1],
                            math.radians(aim_deg), max_ticks, rec_idx.astype(np.int64), rec)
        out, col = {}, 0
        for name in record:
            out[name] = rec[:n, col:col + sig[name].width]
            col += sig[name].width
        return out, code
