"""Closed-loop decoder adaptation (CLDA) of the velocity Kalman filter (rtcore.decoders.kalman).

Runs inside the compiled step, at batch boundaries, in bounded time (O(n) per refit, no
allocation); the new H, Q swap in atomically before the next bin, so the loop never waits on
Python and offline runs are reproducible. Intention estimate: ReFIT (Gilja et al. 2012, Nat
Neurosci 15:1752), the decoded velocity rotated toward the target, zero inside the target.
    SmoothBatch (Orsborn et al. 2012, IEEE TNSRE 20:468): H <- (1 - rho) H_batch + rho H,
        rho = 0.5^(batch_s / half_life_s); Q likewise.
    RML (Dangi et al. 2014, Neural Comput 26:1811): R <- lam R + z z^T, S <- lam S + y z^T,
        T <- lam T + y y^T, ESS <- lam ESS + 1, lam = 0.5^(bin_s / half_life_s);
        H = S R^-1, Q = diag(T - H S^T) / ESS  (refit each batch).
Here z = [vx, vy, 1], the fitted columns of H.
"""
import math
from typing import Literal

from numba import njit
from pydantic import Field

from rtcore.configbase import Strict
from rtcore.decoders.kalman_fit import Q_FLOOR, Z
from rtcore.decoders.linalg import inv_small

FIT_COL0 = 2  #: state index of the first fitted column of H (vx; then vy, offset)


class CLDAConfig(Strict):
    """[decoder.clda]: closed-loop decoder adaptation.

    SmoothBatch needs batches of several seconds: each batch is a separate least-squares fit, and
    with ~1 s batches of 64 units the fits are noisy enough to destabilise the closed loop (seen in
    tests/test_clda_recovery.py experiments); RML accumulates across batches and can refit often.
    """

    method: Literal["smoothbatch", "rml"] = Field("rml", description="SmoothBatch (Orsborn 2012) or RML (Dangi 2014)")
    batch_s: float | None = Field(None, gt=0, le=600, description="time between decoder updates, s (a multiple of bin_s; default 0.1 for rml, 10 for smoothbatch)")
    half_life_s: float = Field(20.0, gt=0, le=3600, description="half-life of old data in the decoder, s")
    target_radius_m: float = Field(0.02, gt=0, description="ReFIT: intended velocity is zero while the cursor is this close to the target, m")


def batch_s(clda: CLDAConfig) -> float:
    """The batch length, s: as configured, else 0.1 s for RML and 10 s for SmoothBatch."""
    if clda.batch_s is not None:
        return clda.batch_s
    return 0.1 if clda.method == "rml" else 10.0


@njit(cache=True, nogil=True)
def refit_intention(vx, vy, px, py, tx, ty, radius_m):
    """ReFIT intended velocity: decoded speed along the direction to the target; 0 inside the target.

    v_int = |v_dec| (t - p) / |t - p|  if |t - p| > radius_m, else 0  (Gilja et al. 2012). m/s.
    """
    dx = tx - px
    dy = ty - py
    dist = math.sqrt(dx * dx + dy * dy)
    if dist <= radius_m:
        return 0.0, 0.0
    speed = math.sqrt(vx * vx + vy * vy)
    return speed * dx / dist, speed * dy / dist


@njit(cache=True, nogil=True)
def solve_h(Rm, Sm, Tm, ess, H, q, Hz, Mi, work, blend):
    """Hz = S R^-1, qz = (T - diag(Hz S^T)) / ess; then H[:, vx vy 1] <- (1-blend) Hz + blend H, q alike.

    Returns False (decoder unchanged) if R is singular (e.g. no movement in the data)."""
    n = q.size
    tr = Rm[0, 0] + Rm[1, 1] + Rm[2, 2]
    det = (Rm[0, 0] * (Rm[1, 1] * Rm[2, 2] - Rm[1, 2] * Rm[2, 1])
           - Rm[0, 1] * (Rm[1, 0] * Rm[2, 2] - Rm[1, 2] * Rm[2, 0])
           + Rm[0, 2] * (Rm[1, 0] * Rm[2, 1] - Rm[1, 1] * Rm[2, 0]))
    if not (ess > 0.0 and det > 1e-9 * tr * tr * tr):
        return False
    inv_small(Rm, Mi, work)
    for k in range(n):
        resid = Tm[k]
        for a in range(Z):
            acc = 0.0
            for b in range(Z):
                acc += Sm[k, b] * Mi[b, a]
            Hz[a] = acc
            resid -= acc * Sm[k, a]
        for a in range(Z):
            col = a + FIT_COL0
            H[k, col] = (1.0 - blend) * Hz[a] + blend * H[k, col]
        q[k] = (1.0 - blend) * max(resid / ess, Q_FLOOR) + blend * q[k]
    return True


@njit(cache=True, nogil=True)
def accumulate(Rm, Sm, Tm, ess, lam, z0, z1, y):
    """Add one bin to the sufficient statistics with forgetting factor lam (1.0: SmoothBatch's batch sums).

    R <- lam R + z z^T, S <- lam S + y z^T, T <- lam T + y^2, ess <- lam ess + 1; z = [z0, z1, 1]
    (intended velocity, m/s, and the offset). Rm [3, 3], Sm [n, 3], Tm [n], ess [1], y [n] counts."""
    zz = (z0, z1, 1.0)
    for a in range(Z):
        for b in range(Z):
            Rm[a, b] = lam * Rm[a, b] + zz[a] * zz[b]
    for k in range(y.size):
        for a in range(Z):
            Sm[k, a] = lam * Sm[k, a] + y[k] * zz[a]
        Tm[k] = lam * Tm[k] + y[k] * y[k]
    ess[0] = lam * ess[0] + 1.0
