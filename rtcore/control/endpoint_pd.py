"""Endpoint PD controller (role "controller"): target tracking on the state estimate, over the
arm's intrinsic impedance.

command = g (kp (target - x_hat) - kd v_hat) + k_i (target - x) - b_i v + motor noise,
|command| <= max_force_n, with x_hat = estimate[0:n], v_hat = estimate[n:2n] (n = target width;
the two-link arm's [hand_x, hand_y, hand_vx, hand_vy]) and command the endpoint force [fx, fy], N.
- The neural part g (kp, kd) (defaults 150 N/m, 40 N*s/m) is the delayed feedback correction: it
  acts on the forward model's estimate (or delayed feedback). g is the lesion's
  online_correction_gain (Huntington's: poor within-movement correction, Smith, Brandt & Shadmehr
  2000, Nature 403:544); a cerebellar lesion makes the estimate it acts on out of date and imprecise.
- The intrinsic part (k_i, b_i; default 0 = none) is the muscles' delay-free viscoelasticity
  about the equilibrium the descending command sets (the target: equilibrium-point control,
  Polit & Bizzi 1979, J Neurophysiol 42:183; hand impedance, Hogan 1985, J Dyn Syst Meas Control
  107:1; Mussa-Ivaldi, Hogan & Bizzi 1985, J Neurosci 5:2732). It reads the plant's own `state`
  (mechanics, not senses: one tick old, no sensory delay) and no lesion scales or lags it. It keeps
  the arm stable where the delayed loop alone cannot (a lagged estimate, a low correction gain in
  the curl field's +15.9 N*s/m of negative damping), as intrinsic viscosity does in patients.
Motor noise: N(0, sd^2) per channel, sd = motor_noise_n times the lesion's motor_noise_gain
(execution noise, van Beers, Haggard & Wolpert 2004, J Neurophysiol 91:1050). While bus HOLD is
set: "posture" holds the estimate latched at hold onset (no noise), "zero" sends zero force.
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD
from rtcore.configbase import Strict
from rtcore.control.command_limits import clip_norm, hold_latch
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.rng import normal, seed_state
from rtcore.stage import Stage


class EndpointPDConfig(Strict):
    """[controller] kind = "endpoint_pd"."""

    kind: Literal["endpoint_pd"]
    kp_n_per_m: float = Field(150.0, ge=0, le=1e5, description="position gain (stiffness), N/m")
    kd_ns_per_m: float = Field(40.0, ge=0, le=1e4, description="velocity gain (damping), N*s/m")
    intrinsic_stiffness_n_per_m: float = Field(0.0, ge=0, le=1e4, description="delay-free muscle stiffness about the target, on the plant's state, N/m")
    intrinsic_damping_ns_per_m: float = Field(0.0, ge=0, le=1e3, description="delay-free muscle viscosity, on the plant's state, N*s/m")
    max_force_n: float = Field(40.0, gt=0, le=1e4, description="limit on the command's norm, N")
    motor_noise_n: float = Field(0.1, ge=0, le=100, description="SD of additive force noise per channel, N")
    target: str = Field("target", description="bus signal of the target position, m")
    on_hold: Literal["posture", "zero"] = Field("posture", description="while HOLD: hold the latched position, or zero force")


#: f: gains (N/m, N*s/m), force limit (N), noise SD (N), intrinsic stiffness and viscosity (N/m,
#: N*s/m). s: the position latched at hold onset, m. i: bus offsets and widths, hold mode, latch
#: flag, RNG state, the plant state's offset (-1: no intrinsic impedance).
LAYOUT = stage_layout("endpoint_pd", f="kp kd f_max noise k_intrinsic b_intrinsic", s="latched[n]",
                      i="est n_x tgt n cmd on_hold latched_flag=0 rng state")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def endpoint_pd_step(f, s, i, bus):
    """command = kp (target - x_hat) - kd v_hat + k_i (target - x) - b_i v (+ noise), norm-limited;
    x, v: the plant's state (i[I.state] < 0: no intrinsic part). LAYOUT names the arrays."""
    est, n_x, tgt, n, cmd = i[I.est], i[I.n_x], i[I.tgt], i[I.n], i[I.cmd]
    hold = bus[HOLD] != 0.0
    if hold and i[I.on_hold] == 0:
        for j in range(n):
            bus[cmd + j] = 0.0
        i[I.latched_flag] = 0
        return status.OK
    latched = s[AT.s_latched:AT.s_latched + n]
    hold_latch(latched, i, I.latched_flag, hold, bus, est, n)
    for j in range(n):
        r = latched[j] if hold else bus[tgt + j]
        v = bus[est + n + j] if n_x >= 2 * n else 0.0
        u = f[F.kp] * (r - bus[est + j]) - f[F.kd] * v
        if i[I.state] >= 0:
            x0 = i[I.state]
            u += f[F.k_intrinsic] * (r - bus[x0 + j]) - f[F.b_intrinsic] * bus[x0 + n + j]
        if not hold and f[F.noise] > 0.0:
            u += f[F.noise] * normal(i, I.rng)
        bus[cmd + j] = u if np.isfinite(u) else 0.0
    return clip_norm(bus, cmd, n, f[F.f_max])


def build(cfg: EndpointPDConfig, ctx, effects, where: str = "controller") -> Stage:
    """The controller stage; effects: rtcore.learning.lesions.LesionEffects (online_correction_gain, motor_noise_gain)."""
    tgt = ctx.bus.get(cfg.target, who=where)
    n = tgt.width
    est = ctx.bus.get("estimate", who=where)
    if est.width < n:
        raise ValueError(f"{where}: estimate has {est.width} channels, fewer than the {n} target channels of '{cfg.target}'")
    if est.width < 2 * n and cfg.kd_ns_per_m > 0:
        raise ValueError(f"{where}.kd_ns_per_m: the estimate has no velocity channels ({est.width} for a {n}-D target); set kd_ns_per_m = 0")
    cmd = ctx.bus.get("command", n, who=where)
    state_off = -1
    if cfg.intrinsic_stiffness_n_per_m > 0 or cfg.intrinsic_damping_ns_per_m > 0:
        state = ctx.bus.get("state", who=where) if ctx.bus.has("state") else None
        if state is None or state.width < 2 * n:
            raise ValueError(f"{where}.intrinsic_*: the muscles' impedance needs a plant state with {n} positions and "
                             f"{n} velocities of the hand; set intrinsic_stiffness_n_per_m = intrinsic_damping_ns_per_m = 0")
        state_off = state.offset
    g = effects.online_correction_gain
    f, s, i = LAYOUT.fill(
        f=dict(kp=cfg.kp_n_per_m * g, kd=cfg.kd_ns_per_m * g, f_max=cfg.max_force_n,
               noise=cfg.motor_noise_n * effects.motor_noise_gain,
               k_intrinsic=cfg.intrinsic_stiffness_n_per_m, b_intrinsic=cfg.intrinsic_damping_ns_per_m),
        i=dict(est=est.offset, n_x=est.width, tgt=tgt.offset, n=n, cmd=cmd.offset,
               on_hold=1 if cfg.on_hold == "posture" else 0, rng=seed_state(ctx.seed, 0xC0117), state=state_off))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"kp_n_per_m": f[F.kp], "kd_ns_per_m": f[F.kd], "motor_noise_n": f[F.noise],
                       "intrinsic_stiffness_n_per_m": f[F.k_intrinsic], "intrinsic_damping_ns_per_m": f[F.b_intrinsic]})


SPEC = StageSpec(kind=52, name="endpoint_pd", step=endpoint_pd_step, config=EndpointPDConfig, build=build)
