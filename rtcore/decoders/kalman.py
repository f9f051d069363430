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


# ---- i slots ----------------------------------------------------------------------------------
(I_N, I_IN, I_IN_W, I_BLOCK, I_NOFF, I_EVENTS, I_OUT, I_POS, I_TGT, I_BIN_TICKS, I_TICK_IN_BIN,
 I_STEADY, I_CLDA, I_BATCH_BINS, I_BIN_IN_BATCH, I_PENDING, I_VERSION, I_BINS, I_SKIPPED,
 I_S_OFF) = range(20)
# s segments, in order, their offsets stored at i[I_S_OFF + k]
SEG = ("x", "P", "A", "W", "H", "q", "B", "G", "Lss", "Pss", "counts",
       "R", "S", "T", "ess", "Rb", "Sb", "Tb", "nb",
       "xp", "Pp", "M", "Mi", "L", "T1", "v", "work",
       "stA", "stW", "stH", "stq", "stR", "stS", "stT", "stess")
(S_X, S_P, S_A, S_W, S_H, S_Q, S_B, S_G, S_LSS, S_PSS, S_COUNTS,
 S_R, S_S, S_T, S_ESS, S_RB, S_SB, S_TB, S_NB,
 S_XP, S_PP, S_M, S_MI, S_L, S_T1, S_V, S_WORK,
 S_STA, S_STW, S_STH, S_STQ, S_STR, S_STS, S_STT, S_STESS) = range(len(SEG))
I_LEN = I_S_OFF + len(SEG)
# f slots
F_RHO, F_LAM, F_RADIUS, F_DT_BIN = 0, 1, 2, 3


def seg_sizes(n: int) -> dict:
    d2, zn = D * D, Z * n
    sizes = {"x": D, "P": d2, "A": d2, "W": d2, "H": n * D, "q": n, "B": D * n, "G": d2, "Lss": d2, "Pss": d2,
             "counts": n, "R": Z * Z, "S": zn, "T": n, "ess": 1, "Rb": Z * Z, "Sb": zn, "Tb": n, "nb": 1,
             "xp": D, "Pp": d2, "M": d2, "Mi": d2, "L": d2, "T1": d2, "v": D, "work": d2}
    for k in ("A", "W", "H", "q", "R", "S", "T", "ess"):
        sizes["st" + k] = sizes[k]
    return sizes


@njit(cache=True, nogil=True)
def _seg(s, i, k, size):
    o = i[I_S_OFF + k]
    return s[o:o + size]


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
    n = i[I_N]
    H = _seg(s, i, S_H, n * D).reshape((n, D))
    q = _seg(s, i, S_Q, n)
    B = _seg(s, i, S_B, D * n).reshape((D, n))
    G = _seg(s, i, S_G, D * D).reshape((D, D))
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
    if i[I_STEADY] == 1:
        steady_state_gain(s, i)
    i[I_VERSION] += 1


@njit(cache=True, nogil=True)
def steady_state_gain(s, i):
    """Iterate the Riccati recursion to its fixed point (<= 2000 bins): Pss (prior), Lss. Returns iterations."""
    A = _seg(s, i, S_A, D * D).reshape((D, D))
    W = _seg(s, i, S_W, D * D).reshape((D, D))
    G = _seg(s, i, S_G, D * D).reshape((D, D))
    Pss = _seg(s, i, S_PSS, D * D).reshape((D, D))
    Lss = _seg(s, i, S_LSS, D * D).reshape((D, D))
    P = _seg(s, i, S_P, D * D).reshape((D, D))
    M = _seg(s, i, S_M, D * D).reshape((D, D))
    Mi = _seg(s, i, S_MI, D * D).reshape((D, D))
    T1 = _seg(s, i, S_T1, D * D).reshape((D, D))
    work = _seg(s, i, S_WORK, D * D).reshape((D, D))
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
    n = i[I_N]
    A = _seg(s, i, S_A, D * D).reshape((D, D))
    B = _seg(s, i, S_B, D * n).reshape((D, n))
    G = _seg(s, i, S_G, D * D).reshape((D, D))
    x = _seg(s, i, S_X, D)
    xp = _seg(s, i, S_XP, D)
    v = _seg(s, i, S_V, D)
    if i[I_STEADY] == 1:
        L = _seg(s, i, S_LSS, D * D).reshape((D, D))
    else:
        W = _seg(s, i, S_W, D * D).reshape((D, D))
        P = _seg(s, i, S_P, D * D).reshape((D, D))
        Pp = _seg(s, i, S_PP, D * D).reshape((D, D))
        M = _seg(s, i, S_M, D * D).reshape((D, D))
        Mi = _seg(s, i, S_MI, D * D).reshape((D, D))
        T1 = _seg(s, i, S_T1, D * D).reshape((D, D))
        work = _seg(s, i, S_WORK, D * D).reshape((D, D))
        L = _seg(s, i, S_L, D * D).reshape((D, D))
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
    n = i[I_N]
    x = _seg(s, i, S_X, D)
    p, t = i[I_POS], i[I_TGT]
    tx, ty = bus[t], bus[t + 1]
    if not (np.isfinite(tx) and np.isfinite(ty)):
        return
    z0, z1 = refit_intention(x[2], x[3], bus[p], bus[p + 1], tx, ty, f[F_RADIUS])
    rml = i[I_CLDA] == 2
    Rm = _seg(s, i, S_R if rml else S_RB, Z * Z).reshape((Z, Z))
    Sm = _seg(s, i, S_S if rml else S_SB, Z * n).reshape((n, Z))
    Tm = _seg(s, i, S_T if rml else S_TB, n)
    ess = _seg(s, i, S_ESS if rml else S_NB, 1)
    accumulate(Rm, Sm, Tm, ess, f[F_LAM] if rml else 1.0, z0, z1, y)
    i[I_BIN_IN_BATCH] += 1
    if i[I_BIN_IN_BATCH] < i[I_BATCH_BINS]:
        return
    i[I_BIN_IN_BATCH] = 0
    H = _seg(s, i, S_H, n * D).reshape((n, D))
    q = _seg(s, i, S_Q, n)
    Hz = _seg(s, i, S_V, D)
    Mi = _seg(s, i, S_MI, D * D)[:Z * Z].reshape((Z, Z))
    work = _seg(s, i, S_WORK, D * D)[:Z * Z].reshape((Z, Z))
    blend = 0.0 if rml else f[F_RHO]
    if solve_h(Rm, Sm, Tm, ess[0], H, q, Hz, Mi, work, blend):
        refresh(s, i)
    else:
        i[I_SKIPPED] += 1
    if not rml:  # SmoothBatch: the next batch starts empty
        Rm[:, :] = 0.0
        Sm[:, :] = 0.0
        Tm[:] = 0.0
        ess[0] = 0.0


@njit(cache=True, nogil=True)
def _swap_in(s, i):
    """Copy a staged (hot-loaded) decoder into the live one and reset the filter state."""
    n = i[I_N]
    for dst, src, size in ((S_A, S_STA, D * D), (S_W, S_STW, D * D), (S_H, S_STH, n * D), (S_Q, S_STQ, n),
                           (S_R, S_STR, Z * Z), (S_S, S_STS, Z * n), (S_T, S_STT, n), (S_ESS, S_STESS, 1)):
        a, b = i[I_S_OFF + dst], i[I_S_OFF + src]
        for k in range(size):
            s[a + k] = s[b + k]
    for k in range(D * D):
        s[i[I_S_OFF + S_P] + k] = 0.0
    refresh(s, i)
    i[I_PENDING] = 0


@njit(cache=True, nogil=True)
def kalman_step(f, s, i, bus):
    """Bin the counts of this tick; at a bin end, run the filter (and CLDA); write the velocity.

    Counts: input_block rows (input_n of them) if wired, else `input` every tick; events: each
    sample's first value is a unit index. Non-finite samples are dropped (BAD_SAMPLE).
    """
    n = i[I_N]
    counts = _seg(s, i, S_COUNTS, n)
    code = status.OK
    if i[I_NOFF] >= 0:
        rows = int(bus[i[I_NOFF]])
        base = i[I_BLOCK]
    else:
        rows = 1
        base = i[I_IN]
    w = i[I_IN_W]
    for r in range(rows):
        row = base + r * w
        if i[I_EVENTS] == 1:
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
    i[I_TICK_IN_BIN] += 1
    x = _seg(s, i, S_X, D)
    if i[I_TICK_IN_BIN] >= i[I_BIN_TICKS]:
        i[I_TICK_IN_BIN] = 0
        if i[I_PENDING] == 1:
            _swap_in(s, i)
        if i[I_CLDA] > 0 and i[I_POS] >= 0 and i[I_TGT] >= 0:
            _clda_bin(f, s, i, bus, counts)
        kf_bin(s, i, counts)
        if i[I_POS] >= 0:  # position is known: take the cursor's
            x[0] = bus[i[I_POS]]
            x[1] = bus[i[I_POS] + 1]
        for k in range(n):
            counts[k] = 0.0
        i[I_BINS] += 1
    bus[i[I_OUT]] = x[2]
    bus[i[I_OUT] + 1] = x[3]
    return code


def state_arrays(model, steady_state: bool, clda: CLDAConfig | None, dt_s: float):
    """f, s, i for a decoder (bus offsets left at -1): segments laid out, the model loaded, gains ready."""
    n = model.n_units
    sizes = seg_sizes(n)
    offs = np.concatenate([[0], np.cumsum([sizes[name] for name in SEG])])
    s = np.zeros(int(offs[-1]))
    i = np.full(I_LEN, -1, dtype=np.int64)
    i[I_S_OFF:] = offs[:-1]
    i[I_N] = n
    bin_ticks = round(model.bin_s / dt_s)
    i[[I_BIN_TICKS, I_TICK_IN_BIN, I_STEADY, I_CLDA, I_BIN_IN_BATCH, I_PENDING, I_VERSION, I_BINS, I_SKIPPED]] = \
        [bin_ticks, 0, int(steady_state), 0, 0, 0, 0, 0, 0]
    f = np.zeros(4)
    f[F_DT_BIN] = model.bin_s
    if clda is not None:
        i[I_CLDA] = 1 if clda.method == "smoothbatch" else 2
        i[I_BATCH_BINS] = max(1, round(batch_s(clda) / model.bin_s))
        f[F_RHO] = 0.5 ** (i[I_BATCH_BINS] * model.bin_s / clda.half_life_s)
        f[F_LAM] = 0.5 ** (model.bin_s / clda.half_life_s)
        f[F_RADIUS] = clda.target_radius_m
    stage_model(s, i, model)
    _swap_in(s, i)
    s[i[I_S_OFF + S_X] + D - 1] = 1.0
    return f, s, i


def stage_model(s, i, model) -> None:
    """Write a model into the staging segments of s (the step swaps it in at the next bin end)."""
    for seg, arr in ((S_STA, model.A), (S_STW, model.W), (S_STH, model.H), (S_STQ, model.q), (S_STR, model.R),
                     (S_STS, model.S), (S_STT, model.T), (S_STESS, np.array([model.ess]))):
        flat = np.ascontiguousarray(arr, dtype=np.float64).ravel()
        o = i[I_S_OFF + seg]
        s[o:o + flat.size] = flat


def hot_load(stage: Stage, model) -> None:
    """Hot-load a decoder into a built (possibly running, in-process) stage: staged, then swapped in
    atomically by the step at the next bin boundary (the pending flag is set last)."""
    if model.n_units != stage.i[I_N]:
        raise ValueError(f"hot-load: the decoder has {model.n_units} units, the running stage {int(stage.i[I_N])}")
    if abs(model.bin_s - stage.f[F_DT_BIN]) > 1e-9:
        raise ValueError(f"hot-load: the decoder's bin is {model.bin_s} s, the running stage's {stage.f[F_DT_BIN]} s")
    stage_model(stage.s, stage.i, model)
    stage.i[I_PENDING] = 1


def model_of(stage: Stage):
    """The live decoder of a stage (after CLDA), as a KalmanModel."""
    s, i, n = stage.s, stage.i, int(stage.i[I_N])

    def seg(k, shape):
        o = int(i[I_S_OFF + k])
        return s[o:o + int(np.prod(shape))].reshape(shape).copy()

    return KalmanModel(seg(S_A, (D, D)), seg(S_W, (D, D)), seg(S_H, (n, D)), seg(S_Q, (n,)), seg(S_R, (Z, Z)),
                       seg(S_S, (n, Z)), seg(S_T, (n,)), float(seg(S_ESS, (1,))[0]), float(stage.f[F_DT_BIN]),
                       {"source": "closed-loop adaptation", "updates": int(i[I_VERSION])})


@njit(cache=True)
def _decode(s, i, counts, out):
    for t in range(counts.shape[0]):
        kf_bin(s, i, counts[t])
        x = s[i[I_S_OFF + S_X]:i[I_S_OFF + S_X] + D]
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
    i[[I_IN, I_IN_W, I_EVENTS]] = [x.offset, x.width, int(cfg.input_format == "events")]
    if block is not None:
        i[[I_BLOCK, I_NOFF]] = [block.offset, bus.get("input_n", 1, who=where).offset]
    y = bus.add(cfg.output, 2, "m/s", ("vx", "vy"))
    i[I_OUT] = y.offset
    stage = Stage(where, SPEC.kind, f, s, i,
                  info={"n_units": n, "bin_s": cfg.bin_s, "decoder_file": cfg.decoder_file,
                        "config_hash": model.meta.get("config_hash", ""),
                        "clda": cfg.clda.method if cfg.clda else "off", "steady_state": cfg.steady_state})
    stage.report = lambda: {"kalman": {"bins": int(stage.i[I_BINS]), "updates": int(stage.i[I_VERSION]) - 1,
                                       "skipped_batches": int(stage.i[I_SKIPPED])}}
    bind_signal(ctx, stage, I_POS, cfg.position, cfg.position_index, 2, f"{where}.position",
                required=cfg.clda is not None)
    bind_signal(ctx, stage, I_TGT, cfg.target, 0, 2, f"{where}.target", required=cfg.clda is not None)
    return stage


SPEC = StageSpec(kind=31, name="kalman", step=kalman_step, config=KalmanDecoderConfig, build=build)
