"""Delay compensation: P control of a delayed integrator, with and without the forward model.

Plant: the 2-D cursor (x[k+1] = x[k] + dt u[k]) seen through a 100 ms feedback delay line,
controlled by endpoint_pd with kd = 0 (u = K (target - x_hat)). Without prediction the loop is
stable only while K T < pi/2 (Smith 1957; Miall, Weir, Wolpert & Stein 1993); with the forward
model's Smith estimate and the exact delay the delay leaves the characteristic equation, so far
higher gains are stable; a forward model that overestimates the delay loses that margin.
"""
import numpy as np
import pytest

from rtcore import api, cerebellum, control
from rtcore.cerebellum import FeedbackConfig, ForwardModelConfig
from rtcore.control.endpoint_pd import EndpointPDConfig
from sims.plants import cursor

DELAY_S = 0.1
DT_S = 0.001
K_CRIT = np.pi / 2 / DELAY_S  # continuous-time boundary, 1/s
STEP_M = 0.01
# The cursor integrates velocity: position integrates u, velocity channels are not modelled.
CURSOR_NOMINAL = {"kind": "linear", "A": [[0.0] * 4] * 4, "B": [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]}


def step_response(K: float, forward_model: bool, fm_delay_s: float | None = None, seconds: float = 20.0):
    """Position error (x - target) per tick after a 1 cm target step, [ticks]."""
    ch = api.chain(dt_s=DT_S)
    ch.add(cursor.build(cursor.CursorConfig(kind="cursor", bound_m=10.0), ch.ctx))
    ch.signal("target", 2, "m")
    fm = ForwardModelConfig(nominal=CURSOR_NOMINAL, learn=False, delay_s=fm_delay_s) if forward_model else None
    ch.add(cerebellum.build(FeedbackConfig(delay_s=DELAY_S), fm, None, ch.ctx))
    ch.add(control.build(EndpointPDConfig(kind="endpoint_pd", kp_n_per_m=K, kd_ns_per_m=0.0, motor_noise_n=0.0,
                                          max_force_n=1e4), ch.ctx))
    sess = ch.finish()
    sess.set("target", [STEP_M, 0.0])
    return sess.run(int(seconds / DT_S), record=["state"]).signal("state")[:, 0] - STEP_M


def growth(err: np.ndarray) -> float:
    """Peak |error| in the last 6 s over the peak 10 s earlier: >= 1 (not decaying, or pinned at the
    cursor's bound) means the loop is unstable."""
    n = err.size
    late = np.abs(err[n - 6000:]).max()
    early = np.abs(err[n - 16000:n - 10000]).max()
    return late / max(early, 1e-300)


def discrete_boundary(D: int) -> float:
    """K at which z^(D+1) - z^D + K dt = 0 (this loop: D ticks of delay, Euler integrator) gets a root on |z| = 1."""
    lo, hi = 1.0, 40.0
    for _ in range(40):
        K = 0.5 * (lo + hi)
        poly = np.zeros(D + 2)
        poly[0], poly[1], poly[-1] = 1.0, -1.0, K * DT_S
        lo, hi = (K, hi) if np.abs(np.roots(poly)).max() < 1.0 else (lo, K)
    return 0.5 * (lo + hi)


def test_without_prediction_unstable_near_pi_over_2():
    gains = K_CRIT * np.arange(0.80, 1.21, 0.02)
    ratios = np.array([growth(step_response(K, forward_model=False)) for K in gains])
    unstable = ratios >= 1.0
    assert not unstable[0] and unstable[-1]
    first = int(np.argmax(unstable))
    assert unstable[first:].all(), f"stability is not monotone in K: {ratios}"
    K_b = 0.5 * (gains[first - 1] + gains[first])
    # within 10% of K T = pi/2, and within one grid step of the exact discrete boundary
    assert abs(K_b - K_CRIT) / K_CRIT < 0.10, (K_b, K_CRIT)
    assert abs(K_b - discrete_boundary(round(DELAY_S / DT_S))) < 0.02 * K_CRIT


@pytest.mark.parametrize("factor", [3.0, 5.0])
def test_exact_delay_forward_model_stable_far_beyond(factor):
    err = step_response(factor * K_CRIT, forward_model=True)
    assert np.abs(err[-5000:]).max() < 1e-6 * STEP_M  # settled: no oscillation at all
    # undelayed P control of an integrator: the first-order step response, time constant 1/K
    t_half = np.argmax(np.abs(err) < 0.5 * STEP_M) * DT_S
    assert t_half == pytest.approx(np.log(2) / (factor * K_CRIT), abs=2 * DT_S)


def test_overestimated_delay_degrades():
    K = 3.0 * K_CRIT
    exact = step_response(K, forward_model=True)
    over = step_response(K, forward_model=True, fm_delay_s=1.5 * DELAY_S)
    assert growth(over) >= 1.0  # a 50% overestimate makes the same gain unstable
    assert np.abs(over[-5000:]).max() > 1e3 * np.abs(exact[-5000:]).max() + STEP_M
    # at a gain that was stable without prediction it still converges
    assert growth(step_response(0.9 * K_CRIT, forward_model=True, fm_delay_s=1.5 * DELAY_S)) < 1.0
