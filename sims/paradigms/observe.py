"""What the senses report of the hand, after the block's feedback perturbation (role "observe").

Runs after the plant; writes `observed` from the true `state` [hand_x, hand_y, hand_vx, hand_vy, ...]
with the task's `visuomotor` = [angle_rad, clamp, origin_x, origin_y] (d = x - origin):
  rotation (clamp = 0):  x_obs = origin + R(angle) d,           v_obs = R(angle) v
  clamp (clamp = 1):     x_obs = origin + |d| u,                 v_obs = (d . v / |d|) u,
                         u = R(angle) (target - origin) / |target - origin|
so a clamped hand is seen moving straight along u at its true radial distance: the direction
error is fixed whatever the movement (Morehead, Taylor, Parvin & Ivry 2017, J Cogn Neurosci
29:1061). Angle 0 and clamp 0 give veridical feedback. Channels after the first four are copied.
"""
import math

from numba import njit

from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage


#: i: bus offsets of the state (n_x channels), the target, the visuomotor map and `observed`.
LAYOUT = stage_layout("observe", i="state n_x target visuomotor observed")
I = LAYOUT.I


@njit(cache=True, nogil=True)
def observe_step(f, s, i, bus):
    """observed = visuomotor map of state (module docstring; LAYOUT names i)."""
    x_off, n_x, t_off, v_off, o_off = i[I.state], i[I.n_x], i[I.target], i[I.visuomotor], i[I.observed]
    angle, clamp, ox, oy = bus[v_off], bus[v_off + 1], bus[v_off + 2], bus[v_off + 3]
    dx, dy = bus[x_off] - ox, bus[x_off + 1] - oy
    vx, vy = bus[x_off + 2], bus[x_off + 3]
    c, sn = math.cos(angle), math.sin(angle)
    if clamp != 0.0:
        tx, ty = bus[t_off] - ox, bus[t_off + 1] - oy
        norm = math.hypot(tx, ty)
        ux, uy = (tx / norm, ty / norm) if norm > 0.0 else (1.0, 0.0)
        ux, uy = c * ux - sn * uy, sn * ux + c * uy
        r = math.hypot(dx, dy)
        v_rad = (dx * vx + dy * vy) / r if r > 0.0 else 0.0
        bus[o_off], bus[o_off + 1] = ox + r * ux, oy + r * uy
        bus[o_off + 2], bus[o_off + 3] = v_rad * ux, v_rad * uy
    else:
        bus[o_off], bus[o_off + 1] = ox + c * dx - sn * dy, oy + sn * dx + c * dy
        bus[o_off + 2], bus[o_off + 3] = c * vx - sn * vy, sn * vx + c * vy
    for k in range(4, n_x):
        bus[o_off + k] = bus[x_off + k]
    return 0


def build(ctx, state, target, visuomotor) -> Stage:
    """The observe stage: registers `observed` with the state's width, unit and labels."""
    obs = ctx.bus.derive("observed", state, state.labels)
    f, s, i = LAYOUT.fill(i=dict(state=state.offset, n_x=state.width, target=target.offset,
                                 visuomotor=visuomotor.offset, observed=obs.offset))
    return Stage("observe", SPEC.kind, f, s, i)


SPEC = StageSpec(kind=72, name="observe", step=observe_step)
