"""2-D cursor for BCI tasks: the position integrates the commanded (decoded) velocity.

p[t] = clip(p[t-1] + dt v[t], -bound_m, bound_m),  v = command (m/s), 0 while bus[HOLD] is set.
state = [x, y, vx, vy] (m, m/s), the same layout as the two-link arm's hand, so tasks and the
synthetic neural user read it alike. With velocity_signal = "command" the cursor registers
`command` [2] (a controller or decoder passthrough writes it); any other name (e.g. "intent")
is read directly, so a decoder drives the cursor with no controller. As in the cursor tasks of
Gilja et al. 2012 (Nat Neurosci 15:1752) and bmi3d.
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
from rtcore.stage import PlantInfo, Stage


class CursorConfig(Strict):
    """[plant] kind = "cursor"."""

    kind: Literal["cursor"]
    start_m: tuple[float, float] = Field((0.0, 0.0), description="start position [x, y], m")
    bound_m: float = Field(0.2, gt=0, le=10.0, description="the cursor stays within +/- bound_m on each axis, m")
    velocity_signal: str = Field("command", description="bus signal with the velocity [vx, vy], m/s ('command' is registered here)")


#: f: dt_s, bound_m. s: position [x, y], m. i: bus offsets of the velocity and the state.
LAYOUT = stage_layout("cursor", f="dt bound", s="x y", i="v state")
F, S, I = LAYOUT.F, LAYOUT.S, LAYOUT.I


@njit(cache=True, nogil=True)
def cursor_step(f, s, i, bus):
    """Integrate the velocity one tick (LAYOUT names f, s, i)."""
    v, st = i[I.v], i[I.state]
    vx = bus[v]
    vy = bus[v + 1]
    if bus[HOLD] >= 0.5 or not (np.isfinite(vx) and np.isfinite(vy)):
        vx = 0.0
        vy = 0.0
    dt, lim = f[F.dt], f[F.bound]
    s[S.x] = min(max(s[S.x] + dt * vx, -lim), lim)
    s[S.y] = min(max(s[S.y] + dt * vy, -lim), lim)
    bus[st] = s[S.x]
    bus[st + 1] = s[S.y]
    bus[st + 2] = vx
    bus[st + 3] = vy
    return status.OK


def build(cfg: CursorConfig, ctx, where: str = "plant") -> Stage:
    """The cursor: registers `state` (and `command` unless velocity_signal names another signal)."""
    if max(abs(cfg.start_m[0]), abs(cfg.start_m[1])) > cfg.bound_m:
        raise ValueError(f"{where}.start_m: {list(cfg.start_m)} is outside +/- bound_m = {cfg.bound_m} m")
    if cfg.velocity_signal == "command":
        v = ctx.bus.add("command", 2, "m/s", ("vx", "vy"))
    else:
        v = ctx.bus.get(cfg.velocity_signal, 2, who=f"{where}.velocity_signal")
    st = ctx.bus.add("state", 4, ("m", "m", "m/s", "m/s"), ("x", "y", "vx", "vy"))
    ctx.plant = PlantInfo(kind="cursor", state_labels=st.labels, start_hand_m=tuple(float(v) for v in cfg.start_m))
    f, s, i = LAYOUT.fill(f=dict(dt=ctx.dt_s, bound=cfg.bound_m), s=dict(x=cfg.start_m[0], y=cfg.start_m[1]),
                          i=dict(v=v.offset, state=st.offset))
    return Stage(where, SPEC.kind, f, s, i, info={"kind": "cursor", "velocity_signal": cfg.velocity_signal})


SPEC = StageSpec(kind=85, name="cursor", step=cursor_step, config=CursorConfig, build=build)
