"""Synthetic intracortical user: a cosine-tuned Poisson population driven by intended velocity.

Each unit k fires at  r_k = max(0, b_k + m_k (cos(theta_k) v_x + sin(theta_k) v_y) / v_max)  (Hz)
(Georgopoulos et al. 1982, J Neurosci 2:1527; the cosine encoder of bmi3d), with baseline b_k
(~10 Hz), modulation depth m_k at speed v_max, preferred direction theta_k. The intended velocity
points from the cursor to the target with speed min(v_max, distance / approach_tau_s), so it
slows down near the target and is zero on it (as ReFIT assumes; Gilja et al. 2012, Nat Neurosci
15:1752). Counts per bin are Poisson with mean integral(r_k dt) over the bin.
The population (its tuning) is seeded by population_seed alone, fixed per simulated subject,
so a decoder fitted in one session decodes the same subject in a session with another
session.seed; the spikes, drift and unit loss are seeded by session.seed and `seed`. Knobs for CLDA:
preferred directions drift as a random walk (drift_rad_per_sqrt_s), units die at a hazard rate
(unit_loss_per_min) or all at once (drop_fraction at drop_at_s); a dead unit emits zero counts.
Between sessions: a resumed user (rtcore.checkpoint, part "source") keeps its tuning, lost units
and generator state, and its preferred directions drift over the break,
theta_k <- theta_k + N(0, (session_drift_rad * sqrt(break_h / 24))^2), as recorded tuning does
from day to day (Chestek et al. 2011, J Neural Eng 8:045005).

Public API (pure, importable; used by the decoders):
- intended_velocity(px, py, tx, ty, max_speed_m_s, approach_tau_s) -> (vx, vy)   m/s, compiled
- cosine_rate_hz(vx, vy, baseline_hz, depth_hz, pd_rad, max_speed_m_s) -> float   Hz, compiled
- cosine_rates_hz(vx, vy, baseline_hz[n], depth_hz[n], pd_rad[n], max_speed_m_s, alive[n], out[n])
- make_tuning(n_units, seed, ...) -> Tuning(baseline_hz[n], depth_hz[n], pd_rad[n])
- encode_counts(velocity[T, 2] m/s, bin_s, tuning, max_speed_m_s, seed) -> counts[T, n]  (offline)

As a source stage (kind "synthetic_neural") it reads the previous tick's cursor position
(`state`[position_index:+2]) and `target`[0:2], and writes
    input [n_units] counts of the last finished bin (held between bins), input_block [n_units]
    (the same, once per bin), input_n [1] (1 on the tick a bin ends, else 0), input_time [1]
    (session time of the bin end, s), intended_velocity [2] (m/s, every tick).
"""
import math
from typing import Literal, NamedTuple

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import rng, status
from rtcore.configbase import Strict
from rtcore.layout import seg, stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal


class SyntheticNeuralConfig(Strict):
    """[source] kind = "synthetic_neural": a simulated intracortical array (in-process)."""

    kind: Literal["synthetic_neural"]
    n_units: int = Field(64, ge=1, le=1024, description="number of units (arrays give about 25-192)")
    bin_s: float = Field(0.05, gt=0.0, le=1.0, description="spike-count bin, s (a multiple of the loop period; one period = spike events)")
    baseline_hz: float = Field(10.0, ge=0.0, le=200.0, description="mean baseline rate b, Hz")
    baseline_spread_hz: float = Field(4.0, ge=0.0, le=100.0, description="baselines drawn uniform in b +/- spread, Hz")
    depth_hz: float = Field(10.0, ge=0.0, le=200.0, description="mean modulation depth m at max_speed_m_s, Hz")
    depth_spread_hz: float = Field(4.0, ge=0.0, le=100.0, description="depths drawn uniform in m +/- spread, Hz")
    max_speed_m_s: float = Field(0.2, gt=0.0, le=5.0, description="speed of the intended velocity far from the target (v_max), m/s")
    approach_tau_s: float = Field(0.25, gt=0.0, le=10.0, description="slowing near the target: speed = min(v_max, distance / tau), s")
    drift_rad_per_sqrt_s: float = Field(0.0, ge=0.0, le=1.0, description="random-walk drift of preferred directions, rad/sqrt(s) (0 = stable)")
    unit_loss_per_min: float = Field(0.0, ge=0.0, le=60.0, description="hazard of losing each live unit, 1/min")
    drop_at_s: float | None = Field(None, ge=0.0, description="session time of a sudden loss of drop_fraction of the units, s")
    drop_fraction: float = Field(0.0, ge=0.0, le=1.0, description="fraction of units lost at drop_at_s")
    session_drift_rad: float = Field(0.0, ge=0.0, le=3.2, description="between sessions: sd of each preferred direction's change over a 24 h break, rad (grows with sqrt(break))")
    position: str = Field("state", description="bus signal with the cursor/hand position")
    position_index: int = Field(0, ge=0, description="index of x in `position` (y follows)")
    target: str = Field("target", description="bus signal with the target position [x, y], m")
    population_seed: int = Field(0, ge=0, description="the simulated subject: seeds baselines, depths and preferred directions (keep it fixed per subject; session.seed does not change it)")
    seed: int = Field(0, ge=0, description="stream key mixed with session.seed (spike noise, drift, unit loss)")


class Tuning(NamedTuple):
    """Tuning of a population: baseline_hz (b), depth_hz (m), pd_rad (theta), each [n_units]."""

    baseline_hz: np.ndarray
    depth_hz: np.ndarray
    pd_rad: np.ndarray


def make_tuning(n_units: int, seed: int, baseline_hz=10.0, baseline_spread_hz=4.0,
                depth_hz=10.0, depth_spread_hz=4.0) -> Tuning:
    """Seeded tuning: b ~ U(b0 +/- spread) (>= 0.5 Hz), m ~ U(m0 +/- spread) (>= 0), theta ~ U(0, 2 pi)."""
    g = np.random.default_rng([int(seed), 0x6E657572])
    b = np.maximum(0.5, baseline_hz + baseline_spread_hz * g.uniform(-1.0, 1.0, n_units))
    m = np.maximum(0.0, depth_hz + depth_spread_hz * g.uniform(-1.0, 1.0, n_units))
    pd = g.uniform(0.0, 2.0 * np.pi, n_units)
    return Tuning(b, m, pd)


@njit(cache=True, nogil=True)
def intended_velocity(px, py, tx, ty, max_speed_m_s, approach_tau_s):
    """Velocity the user intends, toward the target: v = d/|d| min(v_max, |d| / tau), d = target - pos. m/s."""
    dx = tx - px
    dy = ty - py
    dist = math.sqrt(dx * dx + dy * dy)
    if dist <= 0.0:
        return 0.0, 0.0
    speed = min(max_speed_m_s, dist / approach_tau_s)
    return dx / dist * speed, dy / dist * speed


@njit(cache=True, nogil=True)
def cosine_rate_hz(vx, vy, baseline_hz, depth_hz, pd_rad, max_speed_m_s):
    """Firing rate of one unit: r = max(0, b + m (cos(theta) vx + sin(theta) vy) / v_max), Hz."""
    r = baseline_hz + depth_hz * (math.cos(pd_rad) * vx + math.sin(pd_rad) * vy) / max_speed_m_s
    return r if r > 0.0 else 0.0


@njit(cache=True, nogil=True)
def cosine_rates_hz(vx, vy, baseline_hz, depth_hz, pd_rad, max_speed_m_s, alive, out):
    """Rates of the population into out [n] (Hz); units with alive[k] == 0 fire at 0."""
    for k in range(out.size):
        out[k] = cosine_rate_hz(vx, vy, baseline_hz[k], depth_hz[k], pd_rad[k], max_speed_m_s) if alive[k] > 0.0 else 0.0


@njit(cache=True)
def _encode(velocity, bin_s, b, m, pd, max_speed_m_s, st):
    n = b.size
    counts = np.zeros((velocity.shape[0], n))
    for t in range(velocity.shape[0]):
        for k in range(n):
            lam = bin_s * cosine_rate_hz(velocity[t, 0], velocity[t, 1], b[k], m[k], pd[k], max_speed_m_s)
            counts[t, k] = rng.poisson(lam, st, 0)
    return counts


def encode_counts(velocity, bin_s: float, tuning: Tuning, max_speed_m_s: float = 0.2, seed: int = 0) -> np.ndarray:
    """Poisson counts [T, n] for intended velocities [T, 2] (m/s), one row per bin of bin_s seconds.

    For fitting and testing decoders offline; the same rate law and generator as the stage."""
    v = np.ascontiguousarray(velocity, dtype=np.float64).reshape(-1, 2)
    st = np.array([rng.seed_state(seed, 0x656E63)], dtype=np.int64)
    return _encode(v, float(bin_s), np.asarray(tuning.baseline_hz, float), np.asarray(tuning.depth_hz, float),
                   np.asarray(tuning.pd_rad, float), float(max_speed_m_s), st)


#: f: per-tick constants (session_drift: between-session sd of pd over 24 h, rad), then baseline and
#: modulation depth per unit, Hz. s: preferred direction (rad),
#: the expected count so far this bin, alive flag (1/0) and drop rank per unit. i: bus offsets (pos,
#: tgt: -1 until linked), bin counters, the tick of the unit drop (-1: none), RNG state.
LAYOUT = stage_layout(
    "synthetic_neural",
    f="dt bin vmax tau drift loss drop_frac session_drift baseline[n] depth[n]",
    s="pd[n] lam[n] alive[n] drop_rank[n]",
    i="n pos=-1 tgt=-1 input block n_off time iv bin_ticks tick_in_bin=0 ticks=0 drop_tick rng")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def neural_step(f, s, i, bus):
    """One tick of the population: intended velocity, integrate rates, emit Poisson counts at bin ends."""
    n = i[I.n]
    pd, lam = s[AT.s_pd:AT.s_pd + n], seg(s, i, I.s_lam, n)
    alive, rank = seg(s, i, I.s_alive, n), seg(s, i, I.s_drop_rank, n)
    base, depth = f[AT.f_baseline:AT.f_baseline + n], seg(f, i, I.f_depth, n)
    vx = 0.0
    vy = 0.0
    if i[I.pos] >= 0 and i[I.tgt] >= 0:
        p, t = i[I.pos], i[I.tgt]
        vx, vy = intended_velocity(bus[p], bus[p + 1], bus[t], bus[t + 1], f[F.vmax], f[F.tau])
    bus[i[I.iv]] = vx
    bus[i[I.iv] + 1] = vy
    dt = f[F.dt]
    for k in range(n):
        if alive[k] > 0.0:
            lam[k] += dt * cosine_rate_hz(vx, vy, base[k], depth[k], pd[k], f[F.vmax])
    i[I.ticks] += 1
    if i[I.drop_tick] >= 0 and i[I.ticks] >= i[I.drop_tick]:
        for k in range(n):
            if rank[k] < f[F.drop_frac]:
                alive[k] = 0.0
        i[I.drop_tick] = -1
    i[I.tick_in_bin] += 1
    if i[I.tick_in_bin] < i[I.bin_ticks]:
        bus[i[I.n_off]] = 0.0
        return status.OK
    i[I.tick_in_bin] = 0
    for k in range(n):
        c = rng.poisson(lam[k], i, I.rng) if alive[k] > 0.0 else 0.0
        bus[i[I.input] + k] = c
        bus[i[I.block] + k] = c
        lam[k] = 0.0
        if f[F.drift] > 0.0:
            pd[k] += f[F.drift] * rng.normal(i, I.rng)
        if f[F.loss] > 0.0 and alive[k] > 0.0 and rng.uniform(i, I.rng) < f[F.loss]:
            alive[k] = 0.0
    bus[i[I.n_off]] = 1.0
    bus[i[I.time]] = i[I.ticks] * dt
    return status.OK


def build(cfg: SyntheticNeuralConfig, ctx, where: str = "source") -> Stage:
    """The population as the session's source stage (registers input, input_block, input_n, input_time, intended_velocity)."""
    bin_ticks = round(cfg.bin_s / ctx.dt_s)
    if bin_ticks < 1 or abs(bin_ticks * ctx.dt_s - cfg.bin_s) > 1e-9 * max(1.0, cfg.bin_s) + 1e-12:
        raise ValueError(f"{where}.bin_s = {cfg.bin_s} is not a whole number of loop periods ({ctx.dt_s:g} s); "
                         f"use e.g. {max(1, bin_ticks) * ctx.dt_s:g}")
    n = cfg.n_units
    seed = (ctx.seed, cfg.seed)
    tun = make_tuning(n, cfg.population_seed, cfg.baseline_hz, cfg.baseline_spread_hz, cfg.depth_hz, cfg.depth_spread_hz)
    bin_s = bin_ticks * ctx.dt_s
    labels = [f"unit{k}" for k in range(n)]
    sig_in = ctx.bus.add("input", n, "count", labels, "SpikeCounts")
    sig_block = ctx.bus.add("input_block", n, "count", labels, "SpikeCounts")
    sig_n = ctx.bus.add("input_n", 1, "samples", ["input_n"])
    sig_t = ctx.bus.add("input_time", 1, "s", ["input_time"])
    sig_iv = ctx.bus.add("intended_velocity", 2, "m/s", ["vx", "vy"])
    f, s, i = LAYOUT.fill(
        f=dict(dt=ctx.dt_s, bin=bin_s, vmax=cfg.max_speed_m_s, tau=cfg.approach_tau_s,
               drift=cfg.drift_rad_per_sqrt_s * math.sqrt(bin_s),  # per-bin step std, rad
               loss=1.0 - math.exp(-cfg.unit_loss_per_min * bin_s / 60.0),  # per-bin loss probability
               drop_frac=cfg.drop_fraction, session_drift=cfg.session_drift_rad, baseline=tun.baseline_hz,
               depth=tun.depth_hz),
        s=dict(pd=tun.pd_rad, alive=1.0,
               drop_rank=(np.random.default_rng([*seed, 0x64726F70]).permutation(n) + 0.5) / n),  # drop order
        i=dict(n=n, input=sig_in.offset, block=sig_block.offset, n_off=sig_n.offset, time=sig_t.offset,
               iv=sig_iv.offset, bin_ticks=bin_ticks,
               drop_tick=-1 if cfg.drop_at_s is None else round(cfg.drop_at_s / ctx.dt_s),
               rng=rng.seed_state(*seed, 0x73706B)))
    stage = Stage(where, SPEC.kind, f, s, i,
                  info={"kind": "synthetic_neural", "n_units": n, "bin_s": bin_s})
    stage.report = lambda: {"synthetic_neural": {"units_alive": int(LAYOUT.view(stage, "alive").sum()), "n_units": n}}
    bind_signal(ctx, stage, I.pos, cfg.position, cfg.position_index, 2, f"{where} (synthetic_neural).position")
    bind_signal(ctx, stage, I.tgt, cfg.target, 0, 2, f"{where} (synthetic_neural).target")
    return stage


def tuning_of(stage: Stage) -> Tuning:
    """The live tuning of a built stage (preferred directions drift during a run)."""
    view = LAYOUT.view
    return Tuning(view(stage, "baseline").copy(), view(stage, "depth").copy(), view(stage, "pd").copy())


def alive_of(stage: Stage) -> np.ndarray:
    """Which units are alive (1.0) or lost (0.0), [n_units]."""
    return LAYOUT.view(stage, "alive").copy()


def drift_over_break(stage: Stage, break_h: float, gen) -> None:
    """Between-session tuning drift: each preferred direction moves by N(0, (session_drift_rad sqrt(break_h / 24))^2) rad."""
    sd = LAYOUT.get(stage, "session_drift") * math.sqrt(break_h / 24.0)
    if sd > 0.0:
        pd = LAYOUT.view(stage, "pd")
        pd += gen.normal(0.0, sd, pd.shape)


#: Checkpointed (rtcore.checkpoint): the simulated person (tuning, lost units, generator state), so a
#: resumed session has the same user, who drifts over the break (drift_over_break).
SPEC = StageSpec(kind=12, name="synthetic_neural", step=neural_step, config=SyntheticNeuralConfig, build=build,
                 layout=LAYOUT, learned={"pd": "kept", "alive": "kept", "rng": "kept"},
                 over_break=drift_over_break)
