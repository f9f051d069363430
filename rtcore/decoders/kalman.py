"""Velocity Kalman filter decoder for intracortical spike counts, with online CLDA (compiled stage).

Model (Wu et al. 2006, Neural Comput 18:80), one step per bin of bin_s seconds:
    x_t = A x_{t-1} + w,  w ~ N(0, W)     x = [px, py, vx, vy, 1]  (m, m/s, offset)
    y_t = H x_t + q,      q ~ N(0, Q)     y = spike counts of n units in the bin
Predict/update per bin, in the information form that never inverts an n x n matrix:
    P- = A P A^T + W,  G = H^T Q^-1 H (5x5),  B = H^T Q^-1 (5xn)
    L = P- (I + G P-)^-1,  x = A x + L (B y - G A x),  P = P- - L G P-   (K = L B; push-through identity)
Cursor position is treated as known (Gilja et al. 2012, Nat Neurosci 15:1752): the position rows
and columns of P- are zeroed and H has zero position columns, so position never feeds back into
the velocity estimate. Q is diagonal (independent unit noise), which keeps every update and every
CLDA refit O(n) per bin, so they fit inside one tick. With steady_state = true, L is the fixed
point of the Riccati recursion (it converges within ~1-2 s of bins) and is recomputed only when
the decoder changes.

CLDA (closed-loop decoder adaptation: SmoothBatch, RML, ReFIT intention) is in rtcore.decoders.clda;
this step calls it at bin ends. A decoder can also be hot-loaded into a running stage
(`hot_load`): it is staged in the state array and swapped in at the next bin boundary.
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.configbase import Strict
from rtcore.decoders.clda import CLDAConfig, accumulate, batch_s, refit_intention, solve_h
from rtcore.decoders.kalman_fit import D, Q_FLOOR, Z, KalmanModel, load_kalman
from rtcore.decoders.linalg import inv_small, matmul
from rtcore.layout import seg, stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage, bind_signal


class KalmanDecoderConfig(Strict):
    """[decoder] kind = "kalman"."""

    kind: Literal["kalman"]
    decoder_file: str = Field(..., description=".npz decoder from an observation-block fit (rtcore.decoders.kalman_fit)")
    bin_s: float = Field(0.05, ge=0.01, le=0.1, description="spike-count bin, s (a whole number of loop periods)")
    input_format: Literal["counts", "events"] = Field("counts", description="input samples are counts per unit, or one unit index per spike event")
    steady_state: bool = Field(False, description="use the steady-state Kalman gain (recomputed when CLDA changes the decoder)")
    clda: CLDAConfig | None = Field(None, description="online adaptation; none: the decoder stays fixed")
    position: str = Field("state", description="bus signal with the cursor position (ReFIT intention)")
    position_index: int = Field(0, ge=0, description="index of x in `position` (y follows)")
    target: str = Field("target", description="bus signal with the target [x, y], m")
    input: str = Field("input", description="bus signal with the spike counts [n_units] or event unit index [1]")
    output: str = Field("intent", description="bus signal written: decoded velocity [vx, vy], m/s")


#: s: the filter (x, P), the live decoder (A, W, H, q) and its derived B, G and steady-state gain, the
#: bin's counts, the CLDA sufficient statistics (RML: R, S, T, ess; SmoothBatch batch: Rb, Sb, Tb, nb),
#: scratch, and the staging copy of a hot-loaded decoder (st*). f: SmoothBatch rho, RML lambda,
#: ReFIT radius (m), bin length (s). i: bus offsets (-1: not wired), sizes, flags and counters.
LAYOUT = stage_layout(
    "kalman",
    f="rho lam radius dt_bin",
    s=f"x[{D}] P[{D},{D}] A[{D},{D}] W[{D},{D}] H[n,{D}] q[n] B[{D},n] G[{D},{D}] Lss[{D},{D}] Pss[{D},{D}] counts[n] "
      f"R[{Z},{Z}] S[n,{Z}] T[n] ess[1] Rb[{Z},{Z}] Sb[n,{Z}] Tb[n] nb[1] "
      f"xp[{D}] Pp[{D},{D}] M[{D},{D}] Mi[{D},{D}] L[{D},{D}] T1[{D},{D}] v[{D}] work[{D},{D}] "
      f"stA[{D},{D}] stW[{D},{D}] stH[n,{D}] stq[n] stR[{Z},{Z}] stS[n,{Z}] stT[n] stess[1]",
    i="n input=-1 in_w=-1 block=-1 n_off=-1 events=-1 out=-1 pos=-1 tgt=-1 bin_ticks tick_in_bin=0 steady "
      "clda=0 batch_bins=-1 bin_in_batch=0 pending=0 version=0 bins=0 skipped=0")
F, I = LAYOUT.F, LAYOUT.I


@njit(cache=True, nogil=True)
def _predict_cov(A, W, P, Pp, T1):
    """Pp = A P A^T + W, with the position rows/columns zeroed (position known)."""
    matmul(A, P, T1)
    for r in range(D):
        for c in range(D):
            acc = W[r, c]
            for k in range(D):
                acc += T1[r, k] * A[c, k]
            Pp[r, c] = acc
    for k in range(D):
        for j in range(2):
            Pp[j, k] = 0.0
            Pp[k, j] = 0.0


@njit(cache=True, nogil=True)
def _gain(Pp, G, M, Mi, L, work):
    """L = Pp (I + G Pp)^-1."""
    matmul(G, Pp, M)
    for k in range(D):
        M[k, k] += 1.0
    inv_small(M, Mi, work)
    matmul(Pp, Mi, L)


@njit(cache=True, nogil=True)
def _posterior_cov(Pp, L, G, P, T1):
    """P = Pp - L G Pp."""
    matmul(L, G, T1)
    for r in range(D):
        for c in range(D):
            acc = Pp[r, c]
            for k in range(D):
                acc -= T1[r, k] * Pp[k, c]
            P[r, c] = acc


@njit(cache=True, nogil=True)
def refresh(s, i):
    """After H or Q changed: B = H^T Q^-1, G = B H, and the steady-state gain if used."""
    n = i[I.n]
    H = seg(s, i, I.s_H, n * D).reshape((n, D))
    q = seg(s, i, I.s_q, n)
    B = seg(s, i, I.s_B, D * n).reshape((D, n))
    G = seg(s, i, I.s_G, D * D).reshape((D, D))
    for k in range(n):
        if not q[k] >= Q_FLOOR:  # also catches NaN
            q[k] = Q_FLOOR
        inv_q = 1.0 / q[k]
        for j in range(D):
            B[j, k] = H[k, j] * inv_q
    for r in range(D):
        for c in range(D):
            acc = 0.0
            for k in range(n):
                acc += B[r, k] * H[k, c]
            G[r, c] = acc
    if i[I.steady] == 1:
        steady_state_gain(s, i)
    i[I.version] += 1


@njit(cache=True, nogil=True)
def steady_state_gain(s, i):
    """Iterate the Riccati recursion to its fixed point (<= 2000 bins): Pss (prior), Lss. Returns iterations."""
    A = seg(s, i, I.s_A, D * D).reshape((D, D))
    W = seg(s, i, I.s_W, D * D).reshape((D, D))
    G = seg(s, i, I.s_G, D * D).reshape((D, D))
    Pss = seg(s, i, I.s_Pss, D * D).reshape((D, D))
    Lss = seg(s, i, I.s_Lss, D * D).reshape((D, D))
    P = seg(s, i, I.s_P, D * D).reshape((D, D))
    M = seg(s, i, I.s_M, D * D).reshape((D, D))
    Mi = seg(s, i, I.s_Mi, D * D).reshape((D, D))
    T1 = seg(s, i, I.s_T1, D * D).reshape((D, D))
    work = seg(s, i, I.s_work, D * D).reshape((D, D))
    for r in range(D):
        for c in range(D):
            P[r, c] = 0.0
            Pss[r, c] = 0.0
    for it in range(2000):
        _predict_cov(A, W, P, M, T1)
        delta = 0.0
        scale = 1e-300
        for r in range(D):
            for c in range(D):
                delta = max(delta, abs(M[r, c] - Pss[r, c]))
                scale = max(scale, abs(M[r, c]))
                Pss[r, c] = M[r, c]
        _gain(Pss, G, M, Mi, Lss, work)
        _posterior_cov(Pss, Lss, G, P, T1)
        if delta <= 1e-12 * scale:
            return it + 1
    return 2000


@njit(cache=True, nogil=True)
def kf_bin(s, i, y):
    """One predict/update of the filter on counts y [n]; updates x (and P unless steady state)."""
    n = i[I.n]
    A = seg(s, i, I.s_A, D * D).reshape((D, D))
    B = seg(s, i, I.s_B, D * n).reshape((D, n))
    G = seg(s, i, I.s_G, D * D).reshape((D, D))
    x = seg(s, i, I.s_x, D)
    xp = seg(s, i, I.s_xp, D)
    v = seg(s, i, I.s_v, D)
    if i[I.steady] == 1:
        L = seg(s, i, I.s_Lss, D * D).reshape((D, D))
    else:
        W = seg(s, i, I.s_W, D * D).reshape((D, D))
        P = seg(s, i, I.s_P, D * D).reshape((D, D))
        Pp = seg(s, i, I.s_Pp, D * D).reshape((D, D))
        M = seg(s, i, I.s_M, D * D).reshape((D, D))
        Mi = seg(s, i, I.s_Mi, D * D).reshape((D, D))
        T1 = seg(s, i, I.s_T1, D * D).reshape((D, D))
        work = seg(s, i, I.s_work, D * D).reshape((D, D))
        L = seg(s, i, I.s_L, D * D).reshape((D, D))
        _predict_cov(A, W, P, Pp, T1)
        _gain(Pp, G, M, Mi, L, work)
        _posterior_cov(Pp, L, G, P, T1)
    for r in range(D):
        acc = 0.0
        for k in range(D):
            acc += A[r, k] * x[k]
        xp[r] = acc
    for r in range(D):  # v = B y - G xp
        acc = 0.0
        for k in range(n):
            acc += B[r, k] * y[k]
        for k in range(D):
            acc -= G[r, k] * xp[k]
        v[r] = acc
    for r in range(D):
        acc = xp[r]
        for k in range(D):
            acc += L[r, k] * v[k]
        x[r] = acc
    x[D - 1] = 1.0


@njit(cache=True, nogil=True)
def _clda_bin(f, s, i, bus, y):
    """CLDA for this bin (rtcore.decoders.clda): add (z, y) with the ReFIT intention; refit at batch ends."""
    n = i[I.n]
    x = seg(s, i, I.s_x, D)
    p, t = i[I.pos], i[I.tgt]
    tx, ty = bus[t], bus[t + 1]
    if not (np.isfinite(tx) and np.isfinite(ty)):
        return
    z0, z1 = refit_intention(x[2], x[3], bus[p], bus[p + 1], tx, ty, f[F.radius])
    rml = i[I.clda] == 2
    Rm = seg(s, i, I.s_R if rml else I.s_Rb, Z * Z).reshape((Z, Z))
    Sm = seg(s, i, I.s_S if rml else I.s_Sb, Z * n).reshape((n, Z))
    Tm = seg(s, i, I.s_T if rml else I.s_Tb, n)
    ess = seg(s, i, I.s_ess if rml else I.s_nb, 1)
    accumulate(Rm, Sm, Tm, ess, f[F.lam] if rml else 1.0, z0, z1, y)
    i[I.bin_in_batch] += 1
    if i[I.bin_in_batch] < i[I.batch_bins]:
        return
    i[I.bin_in_batch] = 0
    H = seg(s, i, I.s_H, n * D).reshape((n, D))
    q = seg(s, i, I.s_q, n)
    Hz = seg(s, i, I.s_v, D)
    Mi = seg(s, i, I.s_Mi, D * D)[:Z * Z].reshape((Z, Z))
    work = seg(s, i, I.s_work, D * D)[:Z * Z].reshape((Z, Z))
    blend = 0.0 if rml else f[F.rho]
    if solve_h(Rm, Sm, Tm, ess[0], H, q, Hz, Mi, work, blend):
        refresh(s, i)
    else:
        i[I.skipped] += 1
    if not rml:  # SmoothBatch: the next batch starts empty
        Rm[:, :] = 0.0
        Sm[:, :] = 0.0
        Tm[:] = 0.0
        ess[0] = 0.0


@njit(cache=True, nogil=True)
def _swap_in(s, i):
    """Copy a staged (hot-loaded) decoder into the live one and reset the filter state."""
    n = i[I.n]
    for dst, src, size in ((I.s_A, I.s_stA, D * D), (I.s_W, I.s_stW, D * D), (I.s_H, I.s_stH, n * D),
                           (I.s_q, I.s_stq, n), (I.s_R, I.s_stR, Z * Z), (I.s_S, I.s_stS, Z * n), (I.s_T, I.s_stT, n),
                           (I.s_ess, I.s_stess, 1)):
        a, b = i[dst], i[src]
        for k in range(size):
            s[a + k] = s[b + k]
    for k in range(D * D):
        s[i[I.s_P] + k] = 0.0
    refresh(s, i)
    i[I.pending] = 0


@njit(cache=True, nogil=True)
def kalman_step(f, s, i, bus):
    """Bin the counts of this tick; at a bin end, run the filter (and CLDA); write the velocity.

    Counts: input_block rows (input_n of them) if wired, else `input` every tick; events: each
    sample's first value is a unit index. Non-finite samples are dropped (BAD_SAMPLE).
    """
    n = i[I.n]
    counts = seg(s, i, I.s_counts, n)
    code = status.OK
    if i[I.n_off] >= 0:
        rows = int(bus[i[I.n_off]])
        base = i[I.block]
    else:
        rows = 1
        base = i[I.input]
    w = i[I.in_w]
    for r in range(rows):
        row = base + r * w
        if i[I.events] == 1:
            u = bus[row]
            if np.isfinite(u) and 0.0 <= u < n:
                counts[int(u)] += 1.0
            elif not np.isfinite(u):
                code = status.BAD_SAMPLE
        else:
            for k in range(n):
                c = bus[row + k]
                if np.isfinite(c):
                    counts[k] += c
                else:
                    code = status.BAD_SAMPLE
    i[I.tick_in_bin] += 1
    x = seg(s, i, I.s_x, D)
    if i[I.tick_in_bin] >= i[I.bin_ticks]:
        i[I.tick_in_bin] = 0
        if i[I.pending] == 1:
            _swap_in(s, i)
        if i[I.clda] > 0 and i[I.pos] >= 0 and i[I.tgt] >= 0:
            _clda_bin(f, s, i, bus, counts)
        kf_bin(s, i, counts)
        if i[I.pos] >= 0:  # position is known: take the cursor's
            x[0] = bus[i[I.pos]]
            x[1] = bus[i[I.pos] + 1]
        for k in range(n):
            counts[k] = 0.0
        i[I.bins] += 1
    bus[i[I.out]] = x[2]
    bus[i[I.out] + 1] = x[3]
    return code


def state_arrays(model, steady_state: bool, clda: CLDAConfig | None, dt_s: float):
    """f, s, i for a decoder (bus offsets left at -1): segments laid out, the model loaded, gains ready."""
    n = model.n_units
    f, i = {"dt_bin": model.bin_s, "rho": 0.0, "lam": 0.0, "radius": 0.0}, {}
    if clda is not None:
        batch_bins = max(1, round(batch_s(clda) / model.bin_s))
        i = {"clda": 1 if clda.method == "smoothbatch" else 2, "batch_bins": batch_bins}
        f.update(rho=0.5 ** (batch_bins * model.bin_s / clda.half_life_s), lam=0.5 ** (model.bin_s / clda.half_life_s),
                 radius=clda.target_radius_m)
    f, s, i = LAYOUT.fill(f=f, i=dict(n=n, bin_ticks=round(model.bin_s / dt_s), steady=int(steady_state), **i))
    stage_model(s, i, model)
    _swap_in(s, i)
    s[i[I.s_x] + D - 1] = 1.0
    return f, s, i


def stage_model(s, i, model) -> None:
    """Write a model into the staging segments of s (the step swaps it in at the next bin end)."""
    for slot, arr in ((I.s_stA, model.A), (I.s_stW, model.W), (I.s_stH, model.H), (I.s_stq, model.q),
                      (I.s_stR, model.R), (I.s_stS, model.S), (I.s_stT, model.T), (I.s_stess, np.array([model.ess]))):
        flat = np.ascontiguousarray(arr, dtype=np.float64).ravel()
        o = i[slot]
        s[o:o + flat.size] = flat


def hot_load(stage: Stage, model) -> None:
    """Hot-load a decoder into a built (possibly running, in-process) stage: staged, then swapped in
    atomically by the step at the next bin boundary (the pending flag is set last)."""
    if model.n_units != stage.i[I.n]:
        raise ValueError(f"hot-load: the decoder has {model.n_units} units, the running stage {int(stage.i[I.n])}")
    if abs(model.bin_s - stage.f[F.dt_bin]) > 1e-9:
        raise ValueError(f"hot-load: the decoder's bin is {model.bin_s} s, the running stage's {stage.f[F.dt_bin]} s")
    stage_model(stage.s, stage.i, model)
    stage.i[I.pending] = 1


def model_of(stage: Stage):
    """The live decoder of a stage (after CLDA), as a KalmanModel."""
    i = stage.i

    def live(name):
        return LAYOUT.view(stage, name).copy()

    return KalmanModel(live("A"), live("W"), live("H"), live("q"), live("R"), live("S"), live("T"), float(live("ess")[0]),
                       float(stage.f[F.dt_bin]), {"source": "closed-loop adaptation", "updates": int(i[I.version])})


@njit(cache=True)
def _decode(s, i, counts, out):
    for t in range(counts.shape[0]):
        kf_bin(s, i, counts[t])
        x = s[i[I.s_x]:i[I.s_x] + D]
        out[t, 0] = x[2]
        out[t, 1] = x[3]


def decode_counts(model, counts, steady_state: bool = False) -> np.ndarray:
    """Decoded velocity [T, 2] (m/s) for binned counts [T, n], off the hot path (same kf_bin)."""
    f, s, i = state_arrays(model, steady_state, None, model.bin_s)
    out = np.zeros((len(counts), 2))
    _decode(s, i, np.ascontiguousarray(counts, dtype=np.float64), out)
    return out


def build(cfg: KalmanDecoderConfig, ctx, where: str = "decoder") -> Stage:
    """The KF decoder on the bus: loads the decoder file, checks bin and units, wires the signals."""
    bus = ctx.bus
    bin_ticks = round(cfg.bin_s / ctx.dt_s)
    if bin_ticks < 1 or abs(bin_ticks * ctx.dt_s - cfg.bin_s) > 1e-9:
        raise ValueError(f"{where}.bin_s = {cfg.bin_s} is not a whole number of loop periods ({ctx.dt_s:g} s); "
                         f"use e.g. {max(1, bin_ticks) * ctx.dt_s:g}")
    model = load_kalman(cfg.decoder_file, f"{where}.decoder_file")
    if abs(model.bin_s - cfg.bin_s) > 1e-9:
        raise ValueError(f"{where}.bin_s = {cfg.bin_s} s, but '{cfg.decoder_file}' was fitted with "
                         f"{model.bin_s} s bins; refit or set bin_s = {model.bin_s}")
    if cfg.clda is not None:
        ratio = batch_s(cfg.clda) / cfg.bin_s
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"{where}.clda.batch_s = {batch_s(cfg.clda)} is not a whole number of bins ({cfg.bin_s} s)")
    x = bus.get(cfg.input, who=where)
    n = model.n_units
    if cfg.input_format == "counts" and x.width != n:
        raise ValueError(f"{where}: '{cfg.decoder_file}' decodes {n} units, bus signal '{cfg.input}' "
                         f"has {x.width} channels; refit the decoder for this array")
    f, s, i = state_arrays(model, cfg.steady_state, cfg.clda, ctx.dt_s)
    block = bus.signals.get("input_block") if cfg.input == "input" else None
    i[I.input], i[I.in_w], i[I.events] = x.offset, x.width, int(cfg.input_format == "events")
    if block is not None:
        i[I.block], i[I.n_off] = block.offset, bus.get("input_n", 1, who=where).offset
    y = bus.add(cfg.output, 2, "m/s", ("vx", "vy"))
    i[I.out] = y.offset
    stage = Stage(where, SPEC.kind, f, s, i,
                  info={"n_units": n, "bin_s": cfg.bin_s, "decoder_file": cfg.decoder_file,
                        "config_hash": model.meta.get("config_hash", ""),
                        "clda": cfg.clda.method if cfg.clda else "off", "steady_state": cfg.steady_state})
    stage.report = lambda: {"kalman": {"bins": int(stage.i[I.bins]), "updates": int(stage.i[I.version]) - 1,
                                       "skipped_batches": int(stage.i[I.skipped])}}
    bind_signal(ctx, stage, I.pos, cfg.position, cfg.position_index, 2, f"{where}.position",
                required=cfg.clda is not None)
    bind_signal(ctx, stage, I.tgt, cfg.target, 0, 2, f"{where}.target", required=cfg.clda is not None)
    return stage


#: Learned state (rtcore.checkpoint): the decoder as CLDA left it (A, W, H, q and the gains derived
#: from them, B, G, Lss, Pss) and CLDA's sufficient statistics (R, S, T, ess; the batch Rb, Sb, Tb, nb).
SPEC = StageSpec(kind=31, name="kalman", step=kalman_step, config=KalmanDecoderConfig, build=build, layout=LAYOUT,
                 learned=dict.fromkeys(("A", "W", "H", "q", "B", "G", "Lss", "Pss", "R", "S", "T", "ess",
                                        "Rb", "Sb", "Tb", "nb"), "kept"))
