"""Synthetic EMG user: a reaching controller whose muscle activations become raw surface EMG.

Controller (what the user wants): desired hand force toward the target,
    F* = kp (target - p) - kd v                       (N; p, v from the previous tick's `state`)
shared among muscles with pulling directions u_m (evenly spread in the plane, or +/- on a line):
    a*_m = c0 + max(0, u_m . F*) / (kappa f_max),     kappa = sum_m u_mx max(0, u_mx)
so that f_max sum_m u_m (a*_m - c0) = F* (the decoder's map is W = f_max U). Activation
dynamics are first order, da/dt = (a* - a) / tau, with tau_rise_s or tau_fall_s (Zajac 1989;
Manal & Buchanan 2003). EMG (De Luca 1997; Farina & Merletti 2000, J Electromyogr Kinesiol):
each muscle's signal is a unit-variance band-limited Gaussian carrier (white noise through a
Butterworth band-pass, band_hz ~ 20-450 Hz) scaled by gain_mv * a_m; electrode c records
    emg_c = sum_m X[c, m] e_m + noise,  X = I + crosstalk on the neighbouring electrodes,
and a dropped electrode (hazard dropout_per_min, lasting dropout_s) records the noise only.
Calibration prompts (bus `prompt`, when a stage or `rtcore source emg` writes it): PROMPT_REST
relaxes every muscle (a* = 0), PROMPT_MVC contracts every muscle fully (a* = 1), PROMPT_NONE
(0) leaves the reaching controller in charge; the activation dynamics still apply.

As a source stage (kind "synthetic_emg") it writes, per tick, the rate_hz * dt new samples:
    input [n_channels] (mV, newest), input_block [max_per_tick * n_channels], input_n [1],
    input_time [1] (session time, s), intended_activation [n_channels] (a, 0..1, the truth).
"""
import math
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from rtcore import rng, status
from rtcore.configbase import Strict
from rtcore.filters.sos import SOS_STATE, design_butter, sos_sample
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal


class SyntheticEmgConfig(Strict):
    """[source] kind = "synthetic_emg": a simulated EMG user reaching for the target (in-process)."""

    kind: Literal["synthetic_emg"]
    n_channels: int = Field(8, ge=1, le=64, description="electrodes = muscles (6-16 typical)")
    rate_hz: float = Field(2000.0, ge=200.0, le=10000.0, description="EMG sampling rate, Hz (1-2 kHz typical)")
    band_hz: tuple[float, float] = Field((20.0, 450.0), description="carrier band-pass corners, Hz")
    gain_mv: float = Field(1.0, gt=0.0, le=100.0, description="EMG RMS at full activation, mV")
    noise_mv: float = Field(0.005, ge=0.0, le=10.0, description="electrode noise RMS (white), mV")
    crosstalk: float = Field(0.1, ge=0.0, le=0.5, description="fraction of each muscle seen by the neighbouring electrodes")
    dropout_per_min: float = Field(0.0, ge=0.0, le=600.0, description="electrode drop-out hazard per channel, 1/min")
    dropout_s: float = Field(1.0, gt=0.0, le=600.0, description="duration of a drop-out, s")
    dims: Literal[1, 2] = Field(2, description="task dimensions: 2 = planar hand, 1 = a joint angle")
    kp_n_per_m: float = Field(60.0, ge=0.0, description="controller stiffness kp, N/m (or N m/rad with dims = 1)")
    kd_n_s_per_m: float = Field(8.0, ge=0.0, description="controller damping kd, N s/m (or N m s/rad)")
    max_force_n: float = Field(10.0, gt=0.0, description="force of one fully active muscle along its direction (f_max), N")
    cocontraction: float = Field(0.05, ge=0.0, le=0.5, description="baseline activation c0 of every muscle")
    tau_rise_s: float = Field(0.015, gt=0.0, le=1.0, description="activation time constant, rising, s")
    tau_fall_s: float = Field(0.05, gt=0.0, le=1.0, description="activation time constant, falling, s")
    position: str = Field("state", description="bus signal with the hand position / joint angle")
    position_index: int = Field(0, ge=0, description="index of the position in `position`")
    velocity_index: int = Field(2, ge=0, description="index of the velocity in `position` (state = [p, v])")
    target: str = Field("target", description="bus signal with the target")
    prompt: str = Field("prompt", description="bus signal with the calibration prompt (0 task, 1 rest, 2 MVC); absent: follow the task")
    seed: int = Field(0, ge=0, description="stream key mixed with session.seed")

    @model_validator(mode="after")
    def _band(self):
        lo, hi = self.band_hz
        if not 0.0 < lo < hi < 0.5 * self.rate_hz:
            raise ValueError(f"band_hz must satisfy 0 < low < high < rate_hz / 2 = {0.5 * self.rate_hz:g}")
        return self


def muscle_directions(n: int, dims: int) -> np.ndarray:
    """Pulling directions U [dims, n]: evenly spread unit vectors (dims 2), alternating +/-1 (dims 1)."""
    if dims == 1:
        return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[None, :]
    ang = 2.0 * np.pi * np.arange(n) / n
    return np.vstack([np.cos(ang), np.sin(ang)])


def crosstalk_matrix(n: int, crosstalk: float) -> np.ndarray:
    """X [n, n]: 1 on the diagonal, `crosstalk` on the neighbouring electrodes (a ring)."""
    X = np.eye(n)
    if n > 1:
        for c in range(n):
            X[c, (c + 1) % n] += crosstalk
            X[c, (c - 1) % n] += crosstalk if n > 2 else 0.0
    return X


def carrier_scale(sos: np.ndarray) -> float:
    """1 / RMS of unit white noise through sos, so the carrier has unit variance."""
    from scipy import signal
    _, h = signal.sosfreqz(sos, worN=8192)
    return 1.0 / math.sqrt(float(np.mean(np.abs(h) ** 2)))


#: f: constants (s, N/m, N*s/m, N, s, mV), then the muscle directions U [dims, n], the crosstalk
#: X [n, n] and the carrier band-pass SOS. s: sample-phase accumulator, then per muscle the activation
#: a, the muscle signal e of this sample, the dropout ticks left, and the SOS memories. i: bus offsets
#: (pos, vel, tgt, prompt: -1 until linked), sizes, tick count, RNG state.
LAYOUT = stage_layout(
    "synthetic_emg",
    f="dt ratio kp kd fmax_kappa c0 rise fall gain noise scale drop_p drop_ticks U[dims,n] X[n,n] sos[nsec,6]",
    s=f"phase a[n] e[n] drop_left[n] z[n,nsec,{SOS_STATE}]",
    i="n dims nsec pos=-1 vel=-1 tgt=-1 prompt=-1 input block n_off time act max ticks=0 rng")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT
PROMPT_NONE, PROMPT_REST, PROMPT_MVC = 0.0, 1.0, 2.0  #: values of the `prompt` signal


@njit(cache=True, nogil=True)
def emg_user_step(f, s, i, bus):
    """One tick: controller -> activations -> rate_hz * dt EMG samples into input_block."""
    n, dims, nsec = i[I.n], i[I.dims], i[I.nsec]
    u_off, x_off, c_off = AT.f_U, i[I.f_X], i[I.f_sos]
    a_off, e_off, drop_off, z_off = AT.s_a, i[I.s_e], i[I.s_drop_left], i[I.s_z]
    # controller on the previous tick's state and target: F* = kp (target - p) - kd v
    fx = 0.0
    fy = 0.0
    if i[I.pos] >= 0 and i[I.tgt] >= 0:
        fx = f[F.kp] * (bus[i[I.tgt]] - bus[i[I.pos]]) - f[F.kd] * bus[i[I.vel]]
        if dims == 2:
            fy = f[F.kp] * (bus[i[I.tgt] + 1] - bus[i[I.pos] + 1]) - f[F.kd] * bus[i[I.vel] + 1]
    prompt = bus[i[I.prompt]] if i[I.prompt] >= 0 else PROMPT_NONE
    dt = f[F.dt]
    for m in range(n):
        drive = f[u_off + m] * fx + (f[u_off + n + m] * fy if dims == 2 else 0.0)
        target_a = min(1.0, f[F.c0] + max(0.0, drive) / f[F.fmax_kappa])
        if prompt == PROMPT_REST:
            target_a = 0.0
        elif prompt == PROMPT_MVC:
            target_a = 1.0
        a = s[a_off + m]
        tau = f[F.rise] if target_a > a else f[F.fall]
        a += (target_a - a) * (1.0 - math.exp(-dt / tau))
        s[a_off + m] = a
        bus[i[I.act] + m] = a
        if s[drop_off + m] > 0.0:
            s[drop_off + m] -= 1.0
        elif f[F.drop_p] > 0.0 and rng.uniform(i, I.rng) < f[F.drop_p]:
            s[drop_off + m] = f[F.drop_ticks]
    # samples due this tick
    s[S.phase] += f[F.ratio]
    count = min(int(math.floor(s[S.phase])), i[I.max])
    s[S.phase] -= math.floor(s[S.phase])
    blk = i[I.block]
    for r in range(count):
        for m in range(n):
            carrier = f[F.scale] * sos_sample(f, c_off, nsec, s, z_off + m * nsec * 2, rng.normal(i, I.rng))
            s[e_off + m] = f[F.gain] * s[a_off + m] * carrier
        for c in range(n):
            v = 0.0
            if s[drop_off + c] <= 0.0:
                row = x_off + c * n
                for m in range(n):
                    v += f[row + m] * s[e_off + m]
            if f[F.noise] > 0.0:
                v += f[F.noise] * rng.normal(i, I.rng)
            bus[blk + r * n + c] = v
    i[I.ticks] += 1
    bus[i[I.n_off]] = count
    if count > 0:
        last = blk + (count - 1) * n
        for c in range(n):
            bus[i[I.input] + c] = bus[last + c]
        bus[i[I.time]] = i[I.ticks] * dt
    return status.OK


def build(cfg: SyntheticEmgConfig, ctx, where: str = "source") -> Stage:
    """The EMG user as the session's source stage."""
    n, dims = cfg.n_channels, cfg.dims
    sos = design_butter("bandpass", list(cfg.band_hz), 2, cfg.rate_hz, f"{where}.band_hz")
    nsec = sos.shape[0]
    U = muscle_directions(n, dims)
    kappa = float(np.sum(U[0] * np.maximum(0.0, U[0])))
    ratio = cfg.rate_hz * ctx.dt_s
    mx = int(math.ceil(ratio)) + 1
    labels = [f"emg{k}" for k in range(n)]
    sig_in = ctx.bus.add("input", n, "mV", labels, "EMG")
    sig_block = ctx.bus.add("input_block", mx * n, "mV", [f"{lab}@{r}" for r in range(mx) for lab in labels], "EMG")
    sig_n = ctx.bus.add("input_n", 1, "samples", ["input_n"])
    sig_t = ctx.bus.add("input_time", 1, "s", ["input_time"])
    sig_a = ctx.bus.add("intended_activation", n, "a.u.", [f"a{k}" for k in range(n)], "activation")
    f, s, i = LAYOUT.fill(
        f=dict(dt=ctx.dt_s, ratio=ratio, kp=cfg.kp_n_per_m, kd=cfg.kd_n_s_per_m, fmax_kappa=cfg.max_force_n * kappa,
               c0=cfg.cocontraction, rise=cfg.tau_rise_s, fall=cfg.tau_fall_s, gain=cfg.gain_mv, noise=cfg.noise_mv,
               scale=carrier_scale(sos), drop_p=1.0 - math.exp(-cfg.dropout_per_min / 60.0 * ctx.dt_s),
               drop_ticks=round(cfg.dropout_s / ctx.dt_s), U=U, X=crosstalk_matrix(n, cfg.crosstalk), sos=sos),
        s=dict(a=cfg.cocontraction),
        i=dict(n=n, dims=dims, nsec=nsec, input=sig_in.offset, block=sig_block.offset, n_off=sig_n.offset,
               time=sig_t.offset, act=sig_a.offset, max=mx, rng=rng.seed_state(ctx.seed, cfg.seed, 0x656D67)))
    stage = Stage(where, SPEC.kind, f, s, i, info={"kind": "synthetic_emg", "n_channels": n, "rate_hz": cfg.rate_hz,
                                                     "max_per_tick": mx, "force_map_W": (cfg.max_force_n * U).tolist()})
    who = f"{where} (synthetic_emg)"
    bind_signal(ctx, stage, I.pos, cfg.position, cfg.position_index, dims, who + ".position")
    bind_signal(ctx, stage, I.vel, cfg.position, cfg.velocity_index, dims, who + ".velocity_index")
    bind_signal(ctx, stage, I.tgt, cfg.target, 0, dims, who + ".target")
    bind_signal(ctx, stage, I.prompt, cfg.prompt, 0, 1, who + ".prompt", required=False)
    return stage


#: Checkpointed (rtcore.checkpoint): the generator state, so a resumed session continues the noise stream.
SPEC = StageSpec(kind=13, name="synthetic_emg", step=emg_user_step, config=SyntheticEmgConfig, build=build,
                 layout=LAYOUT, learned={"rng": "kept"})
