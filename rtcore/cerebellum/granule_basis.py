"""Granular layer: a bank of temporal basis filters over the mossy-fibre inputs.

p_i(t) = (G_i * m)(t) with G_i a first-order low-pass (order 1) or an alpha function
t/tau exp(-t/tau) (order 2: two identical first-order stages), unit DC gain, time constants
log-spaced from tau_min_s to tau_max_s (typically 20-50 per input over about 2 ms to 750 ms;
Dean, Porrill, Ekerot & Jornell 2010, Nat Rev Neurosci 11:30; Fujita 1982, Biol Cybern 45:195).
Per tick and stage: g <- a g + (1 - a) x, a = exp(-dt_s / tau).

Feature vector granule_basis (phi), length n_f = 1 + n_in * n_basis: a constant bias 1.0,
then input c's bank at [1 + c*n_basis, 1 + (c+1)*n_basis).
"""
import numpy as np
from numba import njit


def time_constants_s(n_basis: int, tau_min_s: float, tau_max_s: float) -> np.ndarray:
    """Log-spaced time constants (n_basis,), s."""
    if n_basis == 1:
        return np.array([tau_min_s])
    return np.geomspace(tau_min_s, tau_max_s, n_basis)


def decay_factors(taus_s: np.ndarray, dt_s: float) -> np.ndarray:
    """a = exp(-dt_s / tau) per basis filter."""
    return np.exp(-dt_s / np.asarray(taus_s, dtype=float))


@njit(cache=True, nogil=True)
def granule_reset(g, phi, mossy, n_in, n_basis, order):
    """Set every filter to its steady state for constant input `mossy` (no start-up transient).

    g: (n_in * n_basis * order,) filter memories; phi: (1 + n_in * n_basis,); mossy: (n_in,).
    """
    phi[0] = 1.0
    for c in range(n_in):
        for k in range(n_basis):
            base = (c * n_basis + k) * order
            for o in range(order):
                g[base + o] = mossy[c]
            phi[1 + c * n_basis + k] = mossy[c]


@njit(cache=True, nogil=True)
def granule_step(g, phi, mossy, a, n_in, n_basis, order):
    """One tick of the bank: g <- a g + (1 - a) x, cascaded `order` times; phi <- last stage.

    g: (n_in * n_basis * order,); phi: (1 + n_in * n_basis,); mossy: (n_in,); a: (n_basis,).
    """
    phi[0] = 1.0
    for c in range(n_in):
        x_in = mossy[c]
        for k in range(n_basis):
            ak = a[k]
            base = (c * n_basis + k) * order
            x = x_in
            for o in range(order):
                x = ak * g[base + o] + (1.0 - ak) * x
                g[base + o] = x
            phi[1 + c * n_basis + k] = x
