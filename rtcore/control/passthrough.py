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


(I_IN, I_CMD, I_N, I_HOLD_LAST, I_RNG) = range(5)
(F_GAIN, F_LO, F_HI, F_NOISE) = range(4)


@njit(cache=True, nogil=True)
def passthrough_step(f, s, i, bus):
    """command = clip(gain * input + noise, lower, upper)."""
    src, cmd, n = i[I_IN], i[I_CMD], i[I_N]
    if bus[HOLD] != 0.0:
        if i[I_HOLD_LAST] == 0:
            for j in range(n):
                bus[cmd + j] = 0.0
        return status.OK
    code = status.OK
    for j in range(n):
        u = f[F_GAIN] * bus[src + j]
        if f[F_NOISE] > 0.0:
            u += f[F_NOISE] * normal(i, I_RNG)
        if not np.isfinite(u):
            u = 0.0
            code = status.BAD_SAMPLE
        if u < f[F_LO]:
            u = f[F_LO]
            code = status.LIMIT_CLIPPED
        elif u > f[F_HI]:
            u = f[F_HI]
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
    f = [cfg.gain, lo, hi, cfg.motor_noise_sd * effects.motor_noise_gain]
    i = [src.offset, cmd.offset, cmd.width, 1 if cfg.on_hold == "last" else 0, seed_state(ctx.seed, 0xC0119)]
    return Stage(where, SPEC.kind, np.array(f), np.zeros(0),
                 np.array(i, dtype=np.int64), info={"input": cfg.input, "gain": cfg.gain})


SPEC = StageSpec(kind=54, name="passthrough", step=passthrough_step, config=PassthroughConfig, build=build)
