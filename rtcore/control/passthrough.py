"""Passthrough controller (role "controller"): command = gain * intent, for decoder-driven sessions.

command_j = clip(gain * intent_j + motor noise, lower, upper). The decoder's output drives the
plant directly (e.g. decoded endpoint force or muscle activations); intent and command must have
the same width. While bus HOLD is set: "zero" sends 0, "last" repeats the last command.
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.rng import normal, seed_state
from rtcore.stage import Stage


class PassthroughConfig(Strict):
    """[controller] kind = "passthrough"."""

    kind: Literal["passthrough"]
    input: str = Field("intent", description="bus signal passed to the plant")
    gain: float = Field(1.0, ge=-1e6, le=1e6, description="command units per input unit")
    lower: float | None = Field(None, description="lower command limit, command units (none: unlimited)")
    upper: float | None = Field(None, description="upper command limit, command units (none: unlimited)")
    motor_noise_sd: float = Field(0.0, ge=0, description="SD of additive noise per channel, command units")
    on_hold: Literal["zero", "last"] = Field("zero", description="while HOLD: zero command, or keep the last one")


#: f: gain, command limits, noise SD (command units). i: bus offsets, width, hold mode, RNG state.
LAYOUT = stage_layout("passthrough", f="gain lo hi noise", i="input cmd n hold_last rng")
F, I = LAYOUT.F, LAYOUT.I


@njit(cache=True, nogil=True)
def passthrough_step(f, s, i, bus):
    """command = clip(gain * input + noise, lower, upper)."""
    src, cmd, n = i[I.input], i[I.cmd], i[I.n]
    if bus[HOLD] != 0.0:
        if i[I.hold_last] == 0:
            for j in range(n):
                bus[cmd + j] = 0.0
        return status.OK
    code = status.OK
    for j in range(n):
        u = f[F.gain] * bus[src + j]
        if f[F.noise] > 0.0:
            u += f[F.noise] * normal(i, I.rng)
        if not np.isfinite(u):
            u = 0.0
            code = status.BAD_SAMPLE
        if u < f[F.lo]:
            u = f[F.lo]
            code = status.LIMIT_CLIPPED
        elif u > f[F.hi]:
            u = f[F.hi]
            code = status.LIMIT_CLIPPED
        bus[cmd + j] = u
    return code


def build(cfg: PassthroughConfig, ctx, effects, where: str = "controller") -> Stage:
    """The passthrough stage; effects: rtcore.learning.lesions.LesionEffects (motor_noise_gain)."""
    src = ctx.bus.get(cfg.input, who=where)
    cmd = ctx.bus.get("command", who=where)
    if src.width != cmd.width:
        raise ValueError(f"{where}.input: '{cfg.input}' has {src.width} channels but the plant's command has "
                         f"{cmd.width} ({', '.join(cmd.labels)}); use a decoder with n_out = {cmd.width}")
    lo = -np.inf if cfg.lower is None else cfg.lower
    hi = np.inf if cfg.upper is None else cfg.upper
    if lo > hi:
        raise ValueError(f"{where}: lower ({lo}) is above upper ({hi})")
    f, s, i = LAYOUT.fill(f=dict(gain=cfg.gain, lo=lo, hi=hi, noise=cfg.motor_noise_sd * effects.motor_noise_gain),
                          i=dict(input=src.offset, cmd=cmd.offset, n=cmd.width, hold_last=1 if cfg.on_hold == "last" else 0,
                                 rng=seed_state(ctx.seed, 0xC0119)))
    return Stage(where, SPEC.kind, f, s, i, info={"input": cfg.input, "gain": cfg.gain})


SPEC = StageSpec(kind=54, name="passthrough", step=passthrough_step, config=PassthroughConfig, build=build)
