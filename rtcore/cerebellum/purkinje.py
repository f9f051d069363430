"""Purkinje readout and its climbing-fibre learning rules (NLMS, RLS), bounded.

Readout: z_j = sum_i w_ji phi_i (purkinje_weights W, (n_x, n_f); granule_basis phi, (n_f,)).
Learning from the error e (n_x, state units; the climbing-fibre signal) against the eligible
granule activity x (n_f,) (Fujita 1982; Dean, Porrill, Ekerot & Jornell 2010):
- NLMS: W_j += mu e_j x / (eps + x.x)          (the covariance/LMS rule, normalised)
- RLS:  k = P x / (lam + x.P x);  W_j += mu e_j k;  P <- (P - k (P x)^T) / lam
Bounds, so a large or repeated error never blows the weights up: e is clipped to +-err_max,
every weight to +-w_max, and RLS stops forgetting (no division by lam) while trace(P) > p_trace_max
and restarts from P = p0 I if rounding ever makes x.P x negative or non-finite (absurd inputs).
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def purkinje_readout(W, phi, z, n_x, n_f):
    """z = W phi. W: (n_x * n_f,) C order; phi: (n_f,); z: (n_x,).

    Rows go four at a time through one pass over phi, then one at a time: each z_j still sums its
    terms in order k = 0..n_f-1 (the same result to the bit), but the four rows' add chains run side
    by side instead of one after the other."""
    j = 0
    while j + 4 <= n_x:
        r0, r1, r2, r3 = j * n_f, (j + 1) * n_f, (j + 2) * n_f, (j + 3) * n_f
        a0 = a1 = a2 = a3 = 0.0
        for k in range(n_f):
            a0 += W[r0 + k] * phi[k]
            a1 += W[r1 + k] * phi[k]
            a2 += W[r2 + k] * phi[k]
            a3 += W[r3 + k] * phi[k]
        z[j], z[j + 1], z[j + 2], z[j + 3] = a0, a1, a2, a3
        j += 4
    for rest in range(j, n_x):
        row, acc = rest * n_f, 0.0
        for k in range(n_f):
            acc += W[row + k] * phi[k]
        z[rest] = acc


@njit(cache=True, nogil=True)
def _clip(v, lim):
    if v > lim:
        return lim
    if v < -lim:
        return -lim
    return v


@njit(cache=True, nogil=True)
def nlms_update(W, x, e, n_x, n_f, mu, eps, err_max, w_max):
    """W_j += mu clip(e_j) x / (eps + x.x), weights clipped to +-w_max."""
    xx = eps
    for k in range(n_f):
        xx += x[k] * x[k]
    for j in range(n_x):
        g = mu * _clip(e[j], err_max) / xx
        row = j * n_f
        for k in range(n_f):
            W[row + k] = _clip(W[row + k] + g * x[k], w_max)


@njit(cache=True, nogil=True)
def rls_update(W, P, Px, x, e, n_x, n_f, mu, lam, err_max, w_max, p_trace_max, p0):
    """Exponentially weighted RLS (one P shared by all outputs: same regressors).

    P: (n_f * n_f,) inverse correlation; Px: (n_f,) scratch. Forgetting is suspended while
    trace(P) > p_trace_max, which bounds P when the input stops exciting some direction.
    """
    denom = lam
    for r in range(n_f):
        acc = 0.0
        row = r * n_f
        for c in range(n_f):
            acc += P[row + c] * x[c]
        Px[r] = acc
        denom += x[r] * acc
    if not (denom >= lam and np.isfinite(denom)):  # P lost positive definiteness: restart it
        for r in range(n_f):
            for c in range(n_f):
                P[r * n_f + c] = p0 if r == c else 0.0
        return
    trace = 0.0
    for r in range(n_f):
        trace += P[r * n_f + r]
    inv_lam = 1.0 / lam if trace < p_trace_max else 1.0
    for j in range(n_x):
        g = mu * _clip(e[j], err_max) / denom
        row = j * n_f
        for k in range(n_f):
            W[row + k] = _clip(W[row + k] + g * Px[k], w_max)
    for r in range(n_f):
        kr = Px[r] / denom
        row = r * n_f
        for c in range(n_f):
            P[row + c] = (P[row + c] - kr * Px[c]) * inv_lam
