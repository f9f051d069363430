"""Use-dependent learning: the plan drifts toward the directions the hand has recently taken.

    mu(n+1) = A_ud mu(n) + B_ud (h(n) - mu(n)),     bias(n) = lambda_ud (mu(n) - p(n))

mu is a movement prior (deg) that tracks executed hand directions h whether or not there was an
error; the plan p is pulled toward it with weight lambda_ud (a Bayesian prior over movements,
Verstynen & Sabes 2011, J Neurosci 31:10050). Repeating a movement, even passively along a channel,
biases later movements toward it (Diedrichsen, White, Newman & Lally 2010, J Neurosci 30:5159).
"""
from numba import njit


@njit(cache=True, nogil=True)
def use_dependent_bias(prior, plan, weight):
    """bias = weight (prior - plan), deg: the pull of the movement prior on the plan."""
    return weight * (prior - plan)


@njit(cache=True, nogil=True)
def use_dependent_update(prior, hand, rate, retention):
    """mu(n+1) = retention mu + rate (hand - mu); returns the new prior (deg)."""
    return retention * prior + rate * (hand - prior)
