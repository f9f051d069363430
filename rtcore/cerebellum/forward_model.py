"""Cerebellar forward model (role "forward_model"): efference copy in, predicted state out.

Per tick k (after the plant, the observe stage and the feedback delay line):
1. Mossy inputs m = [command u[k] (efference copy), state estimate xhat[k-1]] * mossy_scale.
2. Granular layer: granule_basis phi[k] = bank of temporal basis filters over m (granule_basis.py).
3. Purkinje readout z[k] = W phi[k]; prediction p[k] = Ad p[k-1] + Bd u[k] + z[k]: the nominal
   plant model plus a learned residual (nominal.py; Dean, Porrill, Ekerot & Jornell 2010).
   p[k] predicts the state after this tick's command; it goes into a ring of past predictions.
4. Smith-predictor delay compensation (Smith 1957; Miall, Weir, Wolpert & Stein 1993): with
   the mismatch m_j = feedback_j[k] - p_j[k - D_j] (channel j delayed D_j ticks),
   xhat[k] = p[k] + Phi m, Phi column j = column j of Ad^{D_j}: the delayed measurement plus the
   prediction now minus the prediction made for the measured moment, rolled forward across the
   delay (Phi = I with roll_forward = false: the classic form). Then p[k] += kappa (xhat - p),
   kappa = dt_s / anchor_tau_s, keeps the internal simulation anchored to the senses (bounded
   over long sessions; with an exact model m = 0 and this changes nothing). The stored predictions
   still to be read move with it, p[k-d] += Ad^-d delta (delta = kappa (xhat - p), d < D): the
   shifted trajectory is the one the model would have run, so re-anchoring leaves the estimate
   unbiased (shifting p alone adds the last D shifts to xhat: a hand resting off target while
   the estimate says it is there).
   spe_j = feedback_j[k] - xhat_j[k - D_j]: the sensed state minus what the forward model
   estimated for that moment (from a ring of past estimates; the prediction p_j[k] if D_j = 0).
   `estimate` = xhat delayed by estimate_lag_s (cerebellar lesion, Miall et al. 2007, PLoS Biol
   5:e316), or = feedback when predict = false; plus, with a lesion's estimate_noise_m > 0, a
   smooth error e (state = [positions (n_x/2), velocities]): positions + e, velocities + de/dt,
   e = white noise through two first-order low-pass stages (time constant estimate_noise_tau_s
   each), scaled to SD estimate_noise_m (cerebellar patients sense their active movements less
   precisely: Bhanpuri, Okamura & Bastian 2013, J Neurosci 33:14301; rtcore.learning.lesions).
5. SPE learning with an eligibility trace (Porrill & Dean 2007, PLoS Comput Biol 3:e197): the
   error for moment n = k - D (D = the longest channel delay) is the one-step SPE
   e = x_meas[n] - (Ad x_meas[n-1] + Bd u[n] + W phi[n]), the part of the prediction error the
   readout made at that step (measured states come from a ring of feedback rows). It updates W
   against phi[n] (granule activity delayed by D: the eligibility trace, from a ring of phi);
   without the trace it uses phi[k], which fails for signals faster than about 1/(4 D dt_s).
   NLMS or RLS (purkinje.py), bounded; weights leak with weight_retention_tau_s if set.

Signals: reads `command` [n_u], `feedback` [n_x]; writes `prediction`, `estimate`, `spe` [n_x] and
`purkinje_norm` [2]: ||W||_F and its change this tick (the learning trace the recording keeps).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status
from rtcore.cerebellum.feedback_delay import MAX_DELAY_S
from rtcore.cerebellum.granule_basis import decay_factors, granule_reset, granule_step, time_constants_s
from rtcore.cerebellum.nominal import NominalConfig, continuous_matrices, discretise, roll_forward_matrix
from rtcore.cerebellum.purkinje import nlms_update, purkinje_readout, rls_update
from rtcore.configbase import Strict
from rtcore.layout import seg, stage_layout
from rtcore.registry import StageSpec
from rtcore.rng import normal, seed_state
from rtcore.stage import Stage


class ForwardModelConfig(Strict):
    """[forward_model]: the cerebellar forward model (granular bank, Purkinje readout, Smith estimate)."""

    predict: bool = Field(True, description="controller acts on the Smith estimate; false: on delayed feedback")
    nominal: NominalConfig = Field(NominalConfig(), description="known plant model the readout corrects")
    n_basis: int = Field(20, ge=1, le=64, description="temporal basis filters per mossy input")
    tau_min_s: float = Field(0.002, gt=0, le=1.0, description="shortest basis time constant, s")
    tau_max_s: float = Field(0.75, gt=0, le=5.0, description="longest basis time constant, s")
    basis_order: Literal[1, 2] = Field(2, description="1: first-order low-pass; 2: alpha function")
    mossy_state: bool = Field(True, description="feed the state estimate (not only the efference copy) into the granular layer")
    mossy_scale: list[float] | None = Field(None, description="gain per mossy input (commands, then state channels), 1/unit (default 1)")
    delay_s: list[float] | float | None = Field(None, description="assumed sensory delay per state channel, s (default: the feedback line's)")
    roll_forward: bool = Field(True, description="carry the delayed error forward through the nominal dynamics (false: classic Smith)")
    anchor_tau_s: float | None = Field(1.0, gt=0, description="re-anchoring time constant of the internal simulation, s (none: free-running)")
    learn: bool = Field(True, description="update the Purkinje weights from the SPE")
    rule: Literal["nlms", "rls"] = Field("nlms", description="learning rule")
    learning_rate: float = Field(0.005, ge=0, le=2.0, description="mu: NLMS step (0..2) or RLS gain (1 = standard); small = learning over trials")
    eligibility_trace: bool = Field(True, description="correlate the delayed error with granule activity delayed to match (false: current activity)")
    nlms_eps: float = Field(1e-6, gt=0, description="NLMS regulariser added to |phi|^2")
    rls_forgetting: float = Field(0.9995, gt=0.9, le=1.0, description="RLS forgetting factor lambda per tick")
    rls_p0: float = Field(100.0, gt=0, description="RLS initial P = p0 I")
    rls_p_trace_max: float = Field(1e6, gt=0, description="RLS stops forgetting while trace(P) exceeds this")
    max_error: float = Field(1.0, gt=0, description="learning error clipped to +-this, state units")
    max_weight: float = Field(1e3, gt=0, description="Purkinje weights clipped to +-this")
    weight_retention_tau_s: float | None = Field(300.0, gt=0, description="Purkinje weights decay to 0 with this time constant when no error drives them, s (none: kept)")


#: f: learning constants, then the nominal model (Ad, Bd), the roll-forward matrix Phi, the basis
#: decay factors a, the mossy gains and the back-propagators Ad^-d (d = 1..D-1). s: granular memories g, granule activity phi, Purkinje
#: weights W, the RLS matrix P (empty with NLMS) and Px, scratch, and the rings of past predictions,
#: granule activity, commands, feedback rows and estimates. i: bus offsets, sizes and flags.
LAYOUT = stage_layout(
    "forward_model",
    f="mu eps err_max w_max kappa lam p_trace_max leak p0 noise_a noise_gain inv_dt "
      "Ad[n_x,n_x] Bd[n_x,n_u] Phi[n_x,n_x] a[n_b] scale[n_in] back[n_back,n_x,n_x]",
    s="g[n_in,n_b,order] phi[n_f] W[n_x,n_f] P[n_p,n_p] Px[n_f] mossy[n_in] z[n_x] e[n_x] xm[n_x] xm1[n_x] "
      "p[n_x] xhat[n_x] ring_p[ring,n_x] ring_phi[ring,n_f] ring_u[ring,n_u] ring_y[ring,n_x] "
      "ring_est[n_ring_est,n_x] noise_lp[2,n_x]",
    i="u n_u y n_x pred est spe n_b order n_in n_f n_p mossy_state ring n_ring_est d_learn predict learn "
      "trace rule lag count=0 wnorm n_back rng delays[n_x]")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT
RULE_NLMS, RULE_RLS = 0, 1


@njit(cache=True, nogil=True)
def _finite(bus, off, n):
    for j in range(n):
        if not np.isfinite(bus[off + j]):
            return False
    return True


@njit(cache=True, nogil=True)
def forward_model_step(f, s, i, bus):
    """One tick of the forward model (module docstring, steps 1-5)."""
    n_u, n_x, n_in, n_f, n_b = i[I.n_u], i[I.n_x], i[I.n_in], i[I.n_f], i[I.n_b]
    u_off, y_off, R, k = i[I.u], i[I.y], i[I.ring], i[I.count]
    o_ad, o_bd, o_phi_m, o_a, o_scale = AT.f_Ad, i[I.f_Bd], i[I.f_Phi], i[I.f_a], i[I.f_scale]
    g = seg(s, i, I.s_g, n_in * n_b * i[I.order])
    phi = seg(s, i, I.s_phi, n_f)
    W = seg(s, i, I.s_W, n_x * n_f)
    mossy = seg(s, i, I.s_mossy, n_in)
    z = seg(s, i, I.s_z, n_x)
    e = seg(s, i, I.s_e, n_x)
    p = seg(s, i, I.s_p, n_x)
    xhat = seg(s, i, I.s_xhat, n_x)
    rp, rphi, ru, ry, re = i[I.s_ring_p], i[I.s_ring_phi], i[I.s_ring_u], i[I.s_ring_y], i[I.s_ring_est]
    delays = AT.i_delays
    lag = i[I.lag]
    if not (_finite(bus, u_off, n_u) and _finite(bus, y_off, n_x)):
        return status.BAD_SAMPLE  # outputs and memories held
    # 1. mossy inputs: efference copy and the previous state estimate
    for c in range(n_u):
        mossy[c] = bus[u_off + c] * f[o_scale + c]
    if i[I.mossy_state] == 1:
        for j in range(n_x):
            mossy[n_u + j] = (xhat[j] if k > 0 else bus[y_off + j]) * f[o_scale + n_u + j]
    r = k % R
    if k == 0:
        granule_reset(g, phi, mossy, n_in, n_b, i[I.order])
        for j in range(n_x):
            p[j] = bus[y_off + j]
            xhat[j] = p[j]
        for q in range(R):
            for j in range(n_x):
                s[rp + q * n_x + j] = p[j]
                s[ry + q * n_x + j] = p[j]
            for c in range(n_u):
                s[ru + q * n_u + c] = 0.0
            for c in range(n_f):
                s[rphi + q * n_f + c] = phi[c]
        for q in range(max(lag, i[I.d_learn]) + 1):
            for j in range(n_x):
                s[re + q * n_x + j] = p[j]
    else:
        # 2-3. granular layer, Purkinje readout, nominal model + residual
        granule_step(g, phi, mossy, f[o_a:o_a + n_b], n_in, n_b, i[I.order])
        purkinje_readout(W, phi, z, n_x, n_f)
        for j in range(n_x):
            acc = z[j]
            for q in range(n_x):
                acc += f[o_ad + j * n_x + q] * p[q]
            for c in range(n_u):
                acc += f[o_bd + j * n_u + c] * bus[u_off + c]
            e[j] = acc  # scratch: new prediction
        for j in range(n_x):
            p[j] = e[j]
    for j in range(n_x):
        s[rp + r * n_x + j] = p[j]
        s[ry + r * n_x + j] = bus[y_off + j]
    for c in range(n_u):
        s[ru + r * n_u + c] = bus[u_off + c]
    for c in range(n_f):
        s[rphi + r * n_f + c] = phi[c]
    # 4. Smith estimate from the open-loop model's mismatch over the delay
    kappa = f[F.kappa]
    for j in range(n_x):
        e[j] = bus[y_off + j] - s[rp + ((k - i[delays + j]) % R) * n_x + j]  # scratch: mismatch
    for j in range(n_x):
        corr = 0.0
        for q in range(n_x):
            corr += f[o_phi_m + j * n_x + q] * e[q]
        xhat[j] = p[j] + corr
        bus[i[I.pred] + j] = p[j]
    for j in range(n_x):
        e[j] = kappa * (xhat[j] - p[j])  # scratch: the re-anchoring shift delta
        p[j] += e[j]
        s[rp + r * n_x + j] = p[j]
    if kappa > 0.0:  # shift the stored predictions still to be read by Ad^-d delta: xhat stays unbiased
        o_inv = i[I.f_back]
        for d in range(1, i[I.d_learn]):
            row = rp + ((k - d) % R) * n_x
            m0 = o_inv + (d - 1) * n_x * n_x
            for j in range(n_x):
                acc = 0.0
                for q in range(n_x):
                    acc += f[m0 + j * n_x + q] * e[q]
                s[row + j] += acc
    # SPE against the estimate made for the measured moment (the prediction for now if undelayed)
    RE = max(lag, i[I.d_learn]) + 1
    for j in range(n_x):
        d = i[delays + j]
        before = s[re + ((k - d) % RE) * n_x + j] if d > 0 else bus[i[I.pred] + j]
        bus[i[I.spe] + j] = bus[y_off + j] - before
        s[re + (k % RE) * n_x + j] = xhat[j]
    est_row = re + ((k - lag) % RE) * n_x
    for j in range(n_x):
        bus[i[I.est] + j] = s[est_row + j] if i[I.predict] == 1 else bus[y_off + j]
    if f[F.noise_gain] > 0.0:
        _estimate_error(f, seg(s, i, I.s_noise_lp, 2 * n_x), i, bus, n_x)
    # 5. SPE learning for moment n = k - D, eligibility = phi[n]
    D = i[I.d_learn]
    if i[I.learn] == 1 and k >= D + 1:
        n = k - D
        rn = (n % R)
        xm = seg(s, i, I.s_xm, n_x)
        xm1 = seg(s, i, I.s_xm1, n_x)
        for j in range(n_x):
            dj = i[delays + j]
            xm[j] = s[ry + ((n + dj) % R) * n_x + j]
            xm1[j] = s[ry + ((n - 1 + dj) % R) * n_x + j]
        phi_n = s[rphi + rn * n_f:rphi + (rn + 1) * n_f]
        purkinje_readout(W, phi_n, z, n_x, n_f)
        for j in range(n_x):
            acc = z[j]
            for q in range(n_x):
                acc += f[o_ad + j * n_x + q] * xm1[q]
            for c in range(n_u):
                acc += f[o_bd + j * n_u + c] * s[ru + rn * n_u + c]
            e[j] = xm[j] - acc
        x = phi_n if i[I.trace] == 1 else phi
        if i[I.rule] == RULE_NLMS:
            nlms_update(W, x, e, n_x, n_f, f[F.mu], f[F.eps], f[F.err_max], f[F.w_max])
        else:
            rls_update(W, seg(s, i, I.s_P, n_f * n_f), seg(s, i, I.s_Px, n_f), x, e, n_x, n_f,
                       f[F.mu], f[F.lam], f[F.err_max], f[F.w_max], f[F.p_trace_max], f[F.p0])
    i[I.count] = k + 1
    wn = _leak_and_norm(W, n_x * n_f, f[F.leak])
    bus[i[I.wnorm] + 1] = wn - bus[i[I.wnorm]]
    bus[i[I.wnorm]] = wn
    return status.OK


@njit(cache=True, nogil=True)
def _leak_and_norm(W, n, leak):
    """W *= leak (if < 1), then ||W||_F in one pass. The norm is only reported (`purkinje_norm`), so
    it sums in four interleaved partial sums instead of one serial chain of n adds (with the readout's
    rows side by side, the whole stage went from 6.99 to 4.60 us per tick at 301 x 4 weights, best
    of 4 runs alternating with the serial code)."""
    a0 = a1 = a2 = a3 = 0.0
    m = n - n % 4
    for q in range(0, m, 4):
        if leak < 1.0:
            W[q] *= leak
            W[q + 1] *= leak
            W[q + 2] *= leak
            W[q + 3] *= leak
        a0 += W[q] * W[q]
        a1 += W[q + 1] * W[q + 1]
        a2 += W[q + 2] * W[q + 2]
        a3 += W[q + 3] * W[q + 3]
    for q in range(m, n):
        if leak < 1.0:
            W[q] *= leak
        a0 += W[q] * W[q]
    return np.sqrt((a0 + a1) + (a2 + a3))


@njit(cache=True, nogil=True)
def _estimate_error(f, lp, i, bus, n_x):
    """Add the lesion's smooth estimate error: position j + e_j, velocity j + (e_j - e_j_prev) / dt.

    Per position channel j < n_x/2: y1 <- a y1 + (1 - a) g w, e <- a e + (1 - a) y1, w ~ N(0, 1);
    a = exp(-dt / tau), g sets SD(e) (noise_gain). lp: [2, n_x] (y1, e), state units."""
    a, n_pos = f[F.noise_a], n_x // 2
    for j in range(n_pos):
        lp[j] = a * lp[j] + (1.0 - a) * f[F.noise_gain] * normal(i, I.rng)
        before = lp[n_x + j]
        lp[n_x + j] = a * before + (1.0 - a) * lp[j]
        bus[i[I.est] + j] += lp[n_x + j]
        bus[i[I.est] + n_pos + j] += (lp[n_x + j] - before) * f[F.inv_dt]


def smooth_noise_gain(sd: float, a: float) -> float:
    """g such that e (two first-order stages with pole a over g w, w ~ N(0, 1)) has SD sd: the
    AR(2) with a double pole a has variance (1 - a)^4 (1 + a^2) / (1 - a^2)^3 per unit input."""
    return sd / float(np.sqrt((1.0 - a) ** 4 * (1.0 + a * a) / (1.0 - a * a) ** 3)) if sd > 0 else 0.0


def back_propagators(Ad: np.ndarray, D: int) -> np.ndarray:
    """Ad^-d for d = 1 .. D-1, (max(D-1, 0), n_x, n_x): a shift delta of the prediction now is the
    shift Ad^-d delta of the prediction d ticks ago (ZOH Ad is invertible)."""
    n_x = Ad.shape[0]
    out = np.zeros((max(D - 1, 0), n_x, n_x))
    inv = np.linalg.inv(Ad) if n_x and np.linalg.matrix_rank(Ad) == n_x else np.zeros((n_x, n_x))
    acc = np.eye(n_x)
    for d in range(D - 1):
        acc = inv @ acc
        out[d] = acc
    return out


def _per_channel(value, n_x: int, key: str, labels) -> np.ndarray:
    d = np.full(n_x, float(value)) if isinstance(value, (int, float)) else np.asarray(value, dtype=float)
    if d.shape != (n_x,):
        raise ValueError(f"{key}: {d.size} values for {n_x} state channels ({', '.join(labels)})")
    if np.any(d < 0) or np.any(d > MAX_DELAY_S):
        raise ValueError(f"{key}: delays must be within 0..{MAX_DELAY_S} s (got {d.tolist()})")
    return d


def build(cfg: ForwardModelConfig, ctx, feedback_delay_ticks: np.ndarray, spe_learning_gain: float = 1.0,
          retention: float = 1.0, estimate_lag_s: float = 0.0, estimate_noise_m: float = 0.0,
          estimate_noise_tau_s: float = 0.1, where: str = "forward_model") -> Stage:
    """The forward model on `command` and `feedback`; registers `prediction`, `estimate`, `spe`, `purkinje_norm`.

    feedback_delay_ticks (n_x,): the delay line's per-channel delay, assumed unless cfg.delay_s is set.
    spe_learning_gain multiplies the learning rate, retention multiplies weight_retention_tau_s,
    estimate_lag_s delays the estimate the controller sees and estimate_noise_m (SD, position units)
    with estimate_noise_tau_s (s) adds its smooth error (rtcore.learning.lesions.LesionEffects).
    """
    dt = ctx.dt_s
    u = ctx.bus.get("command", who=where)
    y = ctx.bus.get("feedback", who=where)
    n_u, n_x = u.width, y.width
    state_labels = [lab.removeprefix("feedback_") for lab in y.labels]
    if cfg.tau_max_s < cfg.tau_min_s:
        raise ValueError(f"{where}.tau_max_s ({cfg.tau_max_s}) is below tau_min_s ({cfg.tau_min_s})")
    if cfg.delay_s is None:
        delays = np.asarray(feedback_delay_ticks, dtype=np.int64)
    else:
        delays = np.rint(_per_channel(cfg.delay_s, n_x, f"{where}.delay_s", state_labels) / dt).astype(np.int64)
    A, B = continuous_matrices(cfg.nominal, n_x, n_u, ctx, where)
    Ad, Bd = discretise(A, B, n_x, n_u, dt)
    Phi = roll_forward_matrix(Ad, delays, cfg.roll_forward)
    n_in = n_u + (n_x if cfg.mossy_state else 0)
    n_b, order = cfg.n_basis, cfg.basis_order
    n_f = 1 + n_in * n_b
    scale = np.ones(n_in) if cfg.mossy_scale is None else np.asarray(cfg.mossy_scale, dtype=float)
    if scale.shape != (n_in,):
        raise ValueError(f"{where}.mossy_scale: {scale.size} gains for {n_in} mossy inputs "
                         f"({n_u} commands{f' + {n_x} state channels' if cfg.mossy_state else ''})")
    a = decay_factors(time_constants_s(n_b, cfg.tau_min_s, cfg.tau_max_s), dt)
    D = int(delays.max()) if n_x else 0
    R = D + 2
    lag = int(round(estimate_lag_s / dt))
    tau_keep = cfg.weight_retention_tau_s
    leak = 1.0 if tau_keep is None else float(np.exp(-dt / (tau_keep * retention)))
    kappa = 0.0 if cfg.anchor_tau_s is None else min(1.0, dt / cfg.anchor_tau_s)
    n_p = n_f if cfg.rule == "rls" else 0
    if estimate_noise_m > 0 and n_x % 2:
        raise ValueError(f"{where}: a lesion's estimate_noise_m needs a state of positions and velocities "
                         f"(an even width), not [{', '.join(state_labels)}]; set lesion.estimate_noise_m = 0")
    noise_a = float(np.exp(-dt / estimate_noise_tau_s))
    pred = ctx.bus.derive("prediction", y, [f"prediction_{lab}" for lab in state_labels])
    est = ctx.bus.derive("estimate", y, [f"estimate_{lab}" for lab in state_labels])
    spe = ctx.bus.derive("spe", y, [f"spe_{lab}" for lab in state_labels])
    wnorm = ctx.bus.add("purkinje_norm", 2, "a.u.", ["w_norm", "w_change"])
    f, s, i = LAYOUT.fill(
        f=dict(mu=cfg.learning_rate * spe_learning_gain, eps=cfg.nlms_eps, err_max=cfg.max_error,
               w_max=cfg.max_weight, kappa=kappa, lam=cfg.rls_forgetting, p_trace_max=cfg.rls_p_trace_max,
               leak=leak, p0=cfg.rls_p0, noise_a=noise_a, noise_gain=smooth_noise_gain(estimate_noise_m, noise_a),
               inv_dt=1.0 / dt, Ad=Ad, Bd=Bd, Phi=Phi, a=a, scale=scale, back=back_propagators(Ad, D)),
        s=dict(P=cfg.rls_p0 * np.eye(n_p)),
        i=dict(u=u.offset, n_u=n_u, y=y.offset, n_x=n_x, pred=pred.offset, est=est.offset, spe=spe.offset,
               n_b=n_b, order=order, n_in=n_in, n_f=n_f, n_p=n_p, mossy_state=int(cfg.mossy_state), ring=R,
               n_ring_est=max(lag, D) + 1, d_learn=D, predict=int(cfg.predict), learn=int(cfg.learn),
               trace=int(cfg.eligibility_trace), rule=RULE_RLS if cfg.rule == "rls" else RULE_NLMS, lag=lag,
               wnorm=wnorm.offset, n_back=max(D - 1, 0), rng=seed_state(ctx.seed, 0xE57E), delays=delays))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"n_features": n_f, "rule": cfg.rule, "assumed_delay_s": [float(d * dt) for d in delays],
                       "nominal": cfg.nominal.kind, "predict": cfg.predict, "learn": cfg.learn,
                       "estimate_lag_s": lag * dt, "estimate_noise_m": estimate_noise_m,
                       "layout": {name: int(o) for name, o in LAYOUT.s.offsets(LAYOUT.dims(i)).items() if name}})


#: Learned state (rtcore.checkpoint): the Purkinje weights W (consolidated: forgotten over a break as
#: the slow state), the RLS covariance P and the eligibility trace ring_phi (the ring of granule activity;
#: restored, then re-anchored to the new session's first sample at its first tick).
SPEC = StageSpec(kind=51, name="forward_model", step=forward_model_step, config=ForwardModelConfig, build=build,
                 layout=LAYOUT, learned={"W": "slow", "P": "kept", "ring_phi": "kept"},
                 learned_on=("plant.kind",))
