"""Autopilot controller (role "controller"): the cursor flies itself to the target, for observation blocks.

command = d/|d| min(speed_m_s, |d| / approach_tau_s),  d = target - position   (m/s)
A decoder calibration starts with an observation block: the computer moves the cursor to each
target while the participant watches and imagines moving it, so the cursor's velocity is the
intended kinematics the decoder is fitted to (Wu et al. 2006, Neural Comput 18:80; Gilja et al.
2012, Nat Neurosci 15:1752). The law is the synthetic user's intention (sims.users.neural
intended_velocity): fast far from the target, slowing down near it. The plant is a velocity-
commanded cursor (sims.plants.cursor, velocity_signal = "command"). While HOLD: zero velocity.
"""
from typing import Literal

from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage
from sims.users.neural import intended_velocity


class AutopilotConfig(Strict):
    """[controller] kind = "autopilot"."""

    kind: Literal["autopilot"]
    speed_m_s: float = Field(0.15, gt=0.0, le=5.0, description="cursor speed far from the target, m/s")
    approach_tau_s: float = Field(0.3, gt=0.0, le=10.0, description="slowing near the target: speed = min(speed_m_s, distance / tau), s")
    position: str = Field("state", description="bus signal with the cursor position [x, y, ...], m")
    target: str = Field("target", description="bus signal with the target [x, y], m")


#: f: speed (m/s), approach tau (s); i: bus offsets of the position, the target and the command.
LAYOUT = stage_layout("autopilot", f="speed tau", i="pos tgt cmd")
F, I = LAYOUT.F, LAYOUT.I


@njit(cache=True, nogil=True)
def autopilot_step(f, s, i, bus):
    """command = velocity toward the target (module docstring); 0 while HOLD."""
    cmd = i[I.cmd]
    if bus[HOLD] != 0.0:
        bus[cmd] = 0.0
        bus[cmd + 1] = 0.0
        return status.OK
    p, t = i[I.pos], i[I.tgt]
    vx, vy = intended_velocity(bus[p], bus[p + 1], bus[t], bus[t + 1], f[F.speed], f[F.tau])
    bus[cmd] = vx
    bus[cmd + 1] = vy
    return status.OK


def build(cfg: AutopilotConfig, ctx, effects=None, where: str = "controller") -> Stage:
    """The autopilot; it needs a 2-channel velocity `command` (a cursor plant), a position and a target."""
    cmd = ctx.bus.get("command", who=where)
    if cmd.width != 2 or not cmd.unit.startswith("m/s"):
        raise ValueError(f"{where}: autopilot commands a cursor's velocity [vx, vy] (m/s); the plant's command is "
                         f"[{', '.join(cmd.labels)}] ({cmd.unit}); use [plant] kind = \"cursor\"")
    pos = ctx.bus.get(cfg.position, who=f"{where}.position")
    tgt = ctx.bus.get(cfg.target, who=f"{where}.target")
    if pos.width < 2 or tgt.width < 2:
        raise ValueError(f"{where}: '{cfg.position}' and '{cfg.target}' need [x, y]; they have {pos.width} and {tgt.width} channels")
    f, s, i = LAYOUT.fill(f={"speed": cfg.speed_m_s, "tau": cfg.approach_tau_s},
                          i={"pos": pos.offset, "tgt": tgt.offset, "cmd": cmd.offset})
    return Stage(where, SPEC.kind, f, s, i, info={"kind": "autopilot", "speed_m_s": cfg.speed_m_s})


SPEC = StageSpec(kind=56, name="autopilot", step=autopilot_step, config=AutopilotConfig, build=build)
