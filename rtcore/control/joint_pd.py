"""Joint PD controller for muscle plants (role "controller"): target angle to agonist/antagonist activations.

drive = g (kp (theta_target - theta_hat) - kd omega_hat);
a_agonist = clip(c0 + max(drive, 0) + noise, 0, a_max); a_antagonist = clip(c0 + max(-drive, 0) + noise, 0, a_max).
Other command channels get 0. theta_hat, omega_hat come from `estimate` (the muscle elbow's state
[angle, angular_velocity], rad, rad/s); activations are 0..1. g is the lesion's
online_correction_gain (Smith, Brandt & Shadmehr 2000); motor noise SD = motor_noise_sd times the
lesion's motor_noise_gain. While bus HOLD is set: "posture" holds the angle latched at hold onset,
"zero" relaxes every muscle. Defaults name the MyoSuite elbow's muscles (myoelbow_1dof6muscles);
its muscles are strong (0.5 activation sweeps the range in 0.6 s), so with a 50 ms feedback delay
the default gains are low and co-contraction supplies the damping (higher kp oscillates).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD
from rtcore.configbase import Strict
from rtcore.control.command_limits import hold_latch
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.rng import normal, seed_state
from rtcore.stage import Stage


class JointPDConfig(Strict):
    """[controller] kind = "joint_pd"."""

    kind: Literal["joint_pd"]
    kp_per_rad: float = Field(0.2, ge=0, le=1e3, description="activation per rad of angle error")
    kd_per_rad_s: float = Field(0.05, ge=0, le=1e3, description="activation per rad/s of angular velocity")
    co_contraction: float = Field(0.2, ge=0, le=1, description="baseline activation of both groups, 0..1 (muscle stiffness and damping)")
    max_activation: float = Field(1.0, gt=0, le=1, description="activation limit, 0..1")
    motor_noise_sd: float = Field(0.005, ge=0, le=1, description="SD of additive activation noise per muscle")
    angle_index: int = Field(0, ge=0, description="estimate channel of the joint angle, rad")
    velocity_index: int | None = Field(1, ge=0, description="estimate channel of the angular velocity, rad/s (none: kd unused)")
    target: str | None = Field(None, description="bus signal holding the target angle (rad) at channel target_index; none: target_rad")
    target_index: int = Field(0, ge=0, description="channel of `target` read as the angle, rad")
    target_rad: float = Field(1.0, ge=-10, le=10, description="constant target angle when `target` is none, rad")
    agonists: list[str] = Field(["BIClong", "BICshort", "BRA"], description="command channels driven by a positive drive (flexors)")
    antagonists: list[str] = Field(["TRIlong", "TRIlat", "TRImed"], description="command channels driven by a negative drive (extensors)")
    on_hold: Literal["posture", "zero"] = Field("posture", description="while HOLD: hold the latched angle, or relax all muscles")


#: f: gains and limits. s: the angle latched at hold onset, rad. i: bus offsets (tgt -1: target_rad),
#: estimate channels (vel -1: none), hold mode, latch flag, RNG state, and the command channels
#: driven: agonists then antagonists.
LAYOUT = stage_layout("joint_pd", f="kp kd c0 a_max noise target_rad", s="latched[1]",
                      i="est ang vel tgt cmd n_cmd on_hold latched_flag=0 rng n_ag n_ant n_ch channels[n_ch]")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def joint_pd_step(f, s, i, bus):
    """Activations from the PD drive (module docstring); LAYOUT names the arrays."""
    est, cmd, n_cmd = i[I.est], i[I.cmd], i[I.n_cmd]
    hold = bus[HOLD] != 0.0
    for c in range(n_cmd):
        bus[cmd + c] = 0.0
    if hold and i[I.on_hold] == 0:
        i[I.latched_flag] = 0
        return status.OK
    latched = s[AT.s_latched:AT.s_latched + 1]
    hold_latch(latched, i, I.latched_flag, hold, bus, est + i[I.ang], 1)
    target = latched[0] if hold else (bus[i[I.tgt]] if i[I.tgt] >= 0 else f[F.target_rad])
    omega = bus[est + i[I.vel]] if i[I.vel] >= 0 else 0.0
    drive = f[F.kp] * (target - bus[est + i[I.ang]]) - f[F.kd] * omega
    if not np.isfinite(drive):
        drive = 0.0
    code = status.OK
    n_ag = i[I.n_ag]
    channels = AT.i_channels
    for q in range(n_ag + i[I.n_ant]):
        a = f[F.c0] + (max(drive, 0.0) if q < n_ag else max(-drive, 0.0))
        if not hold and f[F.noise] > 0.0:
            a += f[F.noise] * normal(i, I.rng)
        if a > f[F.a_max]:
            a = f[F.a_max]
            code = status.LIMIT_CLIPPED
        bus[cmd + i[channels + q]] = max(a, 0.0)
    return code


def build(cfg: JointPDConfig, ctx, effects, where: str = "controller") -> Stage:
    """The controller stage; effects: rtcore.learning.lesions.LesionEffects (online_correction_gain, motor_noise_gain)."""
    est = ctx.bus.get("estimate", who=where)
    cmd = ctx.bus.get("command", who=where)
    for key, idx in (("angle_index", cfg.angle_index), ("velocity_index", cfg.velocity_index)):
        if idx is not None and idx >= est.width:
            raise ValueError(f"{where}.{key} = {idx}: the estimate has {est.width} channels ({', '.join(est.labels)})")
    channels = []
    for key, names in (("agonists", cfg.agonists), ("antagonists", cfg.antagonists)):
        for name in names:
            if name not in cmd.labels:
                raise ValueError(f"{where}.{key}: no command channel '{name}'; the plant's commands: {', '.join(cmd.labels)}")
            channels.append(cmd.labels.index(name))
    tgt_off = -1
    if cfg.target is not None:
        tgt = ctx.bus.get(cfg.target, who=where)
        if cfg.target_index >= tgt.width:
            raise ValueError(f"{where}.target_index = {cfg.target_index}: '{cfg.target}' has {tgt.width} channels")
        tgt_off = tgt.offset + cfg.target_index
    g = effects.online_correction_gain
    f, s, i = LAYOUT.fill(
        f=dict(kp=cfg.kp_per_rad * g, kd=cfg.kd_per_rad_s * g, c0=cfg.co_contraction, a_max=cfg.max_activation,
               noise=cfg.motor_noise_sd * effects.motor_noise_gain, target_rad=cfg.target_rad),
        i=dict(est=est.offset, ang=cfg.angle_index, vel=-1 if cfg.velocity_index is None else cfg.velocity_index,
               tgt=tgt_off, cmd=cmd.offset, n_cmd=cmd.width, on_hold=1 if cfg.on_hold == "posture" else 0,
               rng=seed_state(ctx.seed, 0xC0118), n_ag=len(cfg.agonists), n_ant=len(cfg.antagonists),
               n_ch=len(channels), channels=channels))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"agonists": cfg.agonists, "antagonists": cfg.antagonists, "kp_per_rad": f[F.kp]})


SPEC = StageSpec(kind=53, name="joint_pd", step=joint_pd_step, config=JointPDConfig, build=build)
