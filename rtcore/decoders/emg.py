"""EMG myocontrol decoder: raw EMG samples -> muscle activations -> plant actuators, per sample.

Per channel and per sample (De Luca et al. 2010, J Biomech 43:1573; Farrell & Weir 2007):
    band-pass (Butterworth, ~20-450 Hz) -> |.| (full-wave rectification)
    -> low-pass envelope (~10 Hz) -> u = clip((env - rest) / (mvc - rest), 0, 1)
    -> a[k] = a[k-1] + alpha (u - a[k-1]),  alpha = 1 - exp(-dt_sample / tau),
       tau = tau_rise_s while u > a, else tau_fall_s  (first-order activation dynamics).
The mapping y = M a (M [n_out, n_ch]) sends activations to the plant's actuators: one channel per
muscle (the muscle elbow's 6 activations), or joint torques from agonist/antagonist pairs,
tau_j = gain_j (a_agonist - a_antagonist). With no mapping, y = a.

Filter coefficients are designed once at build time (rtcore.filters.sos); the tick runs every
sample that arrived (`input_block`/`input_n`, or `input` as one sample per tick), keeping filter
memories and activations across ticks. rest/mvc come from `rtcore calibrate emg`
(rtcore.decoders.calibration).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.configbase import Strict
from rtcore.decoders import persistence
from rtcore.filters.sos import SOS_STATE, design_butter, sos_sample
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal

CALIBRATION_KIND = "emg_calibration"  #: kind of a calibration file (rtcore.decoders.persistence)


class EmgDecoderConfig(Strict):
    """[decoder] kind = "emg"."""

    kind: Literal["emg"]
    input_rate_hz: float | None = Field(None, gt=0, le=20000, description="EMG sample rate, Hz (default: the tick rate, one sample per tick)")
    bandpass_hz: tuple[float, float] = Field((20.0, 450.0), description="band-pass corners [low, high], Hz (De Luca 2010: high-pass ~20 Hz)")
    bandpass_order: int = Field(4, ge=1, le=8, description="Butterworth order of the band-pass (sections = order)")
    envelope_hz: float = Field(10.0, gt=0, description="low-pass corner of the rectified envelope, Hz")
    envelope_order: int = Field(2, ge=1, le=8, description="Butterworth order of the envelope low-pass")
    tau_rise_s: float = Field(0.015, gt=0, le=1.0, description="activation time constant while activation rises, s (12-20 ms)")
    tau_fall_s: float = Field(0.05, gt=0, le=2.0, description="activation time constant while activation falls, s (24-200 ms)")
    calibration_file: str | None = Field(None, description=".npz from `rtcore calibrate emg` (rest, mvc per channel); none: env used as is")
    muscles: list[int] | None = Field(None, description="per output actuator, the EMG channel that drives it (-1: none)")
    pairs: list[tuple[int, int]] | None = Field(None, description="per output joint, [agonist, antagonist] EMG channels (torque mode)")
    torque_gain_nm: float | list[float] = Field(1.0, description="torque per unit activation difference in pair mode, N*m")
    input: str = Field("input", description="bus signal of the latest EMG sample [n_ch], V")
    output: str = Field("intent", description="bus signal written: 'intent', or 'command' to drive the plant directly")


#: f: band-pass and envelope low-pass SOS sections, rest level and 1 / (MVC - rest) per channel (V),
#: the activation rise/fall factors, the output map M [n_out, n_ch]. s: filter memories, activations.
#: i: bus offsets (-1: not wired; block and n_off with a multi-sample source), sizes.
LAYOUT = stage_layout(
    "emg",
    f="bp[n_bp,6] lp[n_lp,6] rest[n_ch] inv[n_ch] alpha[2] map[n_out,n_ch]",
    s=f"z_bp[n_ch,n_bp,{SOS_STATE}] z_lp[n_ch,n_lp,{SOS_STATE}] act[n_ch]",
    i="block=-1 n_off=-1 input=-1 n_ch out=-1 n_out n_bp n_lp max_n=1")
I, AT = LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def emg_envelope(f, s, i, ch, x):
    """One raw sample x (V) of channel ch: band-pass, rectify, low-pass; returns the envelope (V)."""
    n_bp, n_lp = i[I.n_bp], i[I.n_lp]
    bp = sos_sample(f, AT.f_bp, n_bp, s, AT.s_z_bp + ch * n_bp * SOS_STATE, x)
    return sos_sample(f, i[I.f_lp], n_lp, s, i[I.s_z_lp] + ch * n_lp * SOS_STATE, abs(bp))


@njit(cache=True, nogil=True)
def emg_sample(f, s, i, ch, x):
    """One raw sample x (V) of channel ch through the chain; returns the activation a (0..1)."""
    env = emg_envelope(f, s, i, ch, x)
    u = (env - f[i[I.f_rest] + ch]) * f[i[I.f_inv] + ch]
    u = min(max(u, 0.0), 1.0)
    k = i[I.s_act] + ch
    a = s[k]
    alpha = f[i[I.f_alpha]] if u > a else f[i[I.f_alpha] + 1]
    a += alpha * (u - a)
    s[k] = a
    return a


@njit(cache=True)
def emg_envelope_block(f, s, i, raw):
    """Envelopes of a recording, off the hot path (calibration): raw, result [n_samples, n_ch], V."""
    out = np.empty_like(raw)
    for k in range(raw.shape[0]):
        for ch in range(raw.shape[1]):
            out[k, ch] = emg_envelope(f, s, i, ch, raw[k, ch])
    return out


@njit(cache=True, nogil=True)
def emg_step(f, s, i, bus):
    """All EMG samples of this tick through the chain, then y = M a to the output signal.

    Reads input_block [max_n * n_ch] with input_n [1] (oldest first) when wired, else input [n_ch].
    A NaN/Inf sample is skipped on its channel (state held) and reported as BAD_SAMPLE.
    """
    n_ch = i[I.n_ch]
    code = status.OK
    if i[I.n_off] >= 0:
        n = int(bus[i[I.n_off]])
        n = min(max(n, 0), i[I.max_n])
        base = i[I.block]
    else:
        n = 1
        base = i[I.input]
    for k in range(n):
        row = base + k * n_ch
        for ch in range(n_ch):
            x = bus[row + ch]
            if np.isfinite(x):
                emg_sample(f, s, i, ch, x)
            else:
                code = status.BAD_SAMPLE
    n_out, m, act = i[I.n_out], i[I.f_map], i[I.s_act]
    for r in range(n_out):
        acc = 0.0
        for ch in range(n_ch):
            acc += f[m + r * n_ch + ch] * s[act + ch]
        bus[i[I.out] + r] = acc
    return code


def mapping_matrix(cfg: EmgDecoderConfig, n_ch: int, where: str) -> np.ndarray:
    """M [n_out, n_ch] from `muscles` (one channel per actuator), `pairs` (torques) or identity."""
    if cfg.muscles is not None and cfg.pairs is not None:
        raise ValueError(f"{where}: give either muscles or pairs, not both")

    def check(ch, key):
        if not -1 <= ch < n_ch:
            raise ValueError(f"{where}.{key}: channel {ch} does not exist (input has {n_ch} channels, 0..{n_ch - 1})")

    if cfg.muscles is not None:
        M = np.zeros((len(cfg.muscles), n_ch))
        for r, ch in enumerate(cfg.muscles):
            check(ch, "muscles")
            if ch >= 0:
                M[r, ch] = 1.0
        return M
    if cfg.pairs is not None:
        gains = np.broadcast_to(np.asarray(cfg.torque_gain_nm, dtype=np.float64), (len(cfg.pairs),)) \
            if np.ndim(cfg.torque_gain_nm) == 0 or len(cfg.torque_gain_nm) == len(cfg.pairs) else None
        if gains is None:
            raise ValueError(f"{where}.torque_gain_nm: {len(cfg.torque_gain_nm)} gains for {len(cfg.pairs)} pairs")
        M = np.zeros((len(cfg.pairs), n_ch))
        for r, (ag, an) in enumerate(cfg.pairs):
            check(ag, "pairs")
            check(an, "pairs")
            M[r, ag] += gains[r]
            M[r, an] -= gains[r]
        return M
    return np.eye(n_ch)


def chain_arrays(cfg: EmgDecoderConfig, n_ch: int, rate_hz: float, rest, mvc, M, where: str):
    """f, s, i of the chain (bus offsets left unset): filters designed, tau -> per-sample alpha."""
    bp = design_butter("bandpass", cfg.bandpass_hz, cfg.bandpass_order, rate_hz, f"{where}.bandpass_hz")
    lp = design_butter("lowpass", cfg.envelope_hz, cfg.envelope_order, rate_hz, f"{where}.envelope_hz")
    dt = 1.0 / rate_hz
    alpha = np.array([1.0 - np.exp(-dt / cfg.tau_rise_s), 1.0 - np.exp(-dt / cfg.tau_fall_s)])
    rest, mvc = np.asarray(rest, dtype=np.float64), np.asarray(mvc, dtype=np.float64)
    return LAYOUT.fill(f=dict(bp=bp, lp=lp, rest=rest, inv=1.0 / (mvc - rest), alpha=alpha, map=M),
                       i=dict(n_ch=n_ch, n_out=M.shape[0], n_bp=bp.shape[0], n_lp=lp.shape[0]))


def load_emg_calibration(path, n_ch: int, where: str) -> dict:
    """rest, mvc [n_ch] from a calibration file; errors name the key and file."""
    arrays, meta = persistence.load(path, CALIBRATION_KIND, ("rest", "mvc"), where)
    if arrays["rest"].shape != (n_ch,) or arrays["mvc"].shape != (n_ch,):
        raise ValueError(f"{where}: '{path}' calibrates {arrays['rest'].size} channels, the input has {n_ch}; "
                         f"calibrate this stream again")
    if np.any(arrays["mvc"] <= arrays["rest"]):
        raise ValueError(f"{where}: '{path}' has a channel with mvc <= rest; calibrate again")
    return {"rest": arrays["rest"], "mvc": arrays["mvc"], "meta": meta}


def build(cfg: EmgDecoderConfig, ctx, where="decoder") -> Stage:
    """EMG chain on the bus: designs the filters, loads the calibration, wires input and output."""
    bus = ctx.bus
    x = bus.get(cfg.input, who=where)
    n_ch = x.width
    block = bus.signals.get("input_block") if cfg.input == "input" else None
    if block is not None:
        n_sig = bus.get("input_n", 1, who=where)
        if block.width % n_ch:
            raise ValueError(f"{where}: input_block has {block.width} values, not a multiple of {n_ch} channels")
        if cfg.input_rate_hz is None:
            raise ValueError(f"{where}.input_rate_hz: the source delivers several samples per tick; "
                             f"set the EMG sample rate in Hz")
        rate_hz = cfg.input_rate_hz
    else:
        rate_hz = cfg.input_rate_hz or ctx.rate_hz
    if cfg.calibration_file:
        cal = load_emg_calibration(cfg.calibration_file, n_ch, f"{where}.calibration_file")
        rest, mvc = cal["rest"], cal["mvc"]
    else:
        rest, mvc = np.zeros(n_ch), np.ones(n_ch)
    M = mapping_matrix(cfg, n_ch, where)
    f, s, i = chain_arrays(cfg, n_ch, rate_hz, rest, mvc, M, where)
    n_out = M.shape[0]
    i[I.input] = x.offset
    if block is not None:
        i[I.block], i[I.n_off], i[I.max_n] = block.offset, n_sig.offset, block.width // n_ch
    stage = Stage(where, SPEC.kind, f, s, i,
                  info={"n_ch": n_ch, "n_out": n_out, "input_rate_hz": rate_hz, "output": cfg.output,
                        "calibrated": bool(cfg.calibration_file)})

    if bus.has(cfg.output) or cfg.output == "command":  # the plant registers `command` after the decoder
        bind_signal(ctx, stage, I.out, cfg.output, 0, n_out, f"{where}.output")
    else:
        stage.i[I.out] = (bus.add(cfg.output, n_out, "N*m") if cfg.pairs is not None
                          else bus.add(cfg.output, n_out, "a.u.", types="activation")).offset
    return stage


#: Learned state (rtcore.checkpoint): the EMG calibration in use, rest and inv = 1 / (mvc - rest) per channel.
SPEC = StageSpec(kind=30, name="emg", step=emg_step, config=EmgDecoderConfig, build=build, layout=LAYOUT,
                 learned={"rest": "kept", "inv": "kept"})
