"""CLDA in closed loop with the synthetic neural user: from a poor decoder the success rate rises to
a plateau within a few simulated minutes, and after unit loss or tuning drift CLDA recovers what a
fixed decoder loses. The in-step RML statistics equal a slow weighted least-squares reference."""
import numpy as np
import pytest

import bci_task as h
from rtcore.decoders import kalman, kalman_fit
from rtcore.decoders.clda import CLDAConfig


def curve(ev, seconds, window_s):
    return [h.success_per_min(ev, a, a + window_s) for a in range(0, int(seconds), window_s)]


def poor_decoder():
    # random preferred directions, with the statistics of 15 s of data behind them (not forgotten at once)
    return kalman_fit.random_decoder(64, h.BIN_S, seed=11, prior_bins=300)


@pytest.mark.parametrize("method,batch_s,half_life_s", [("rml", 0.1, 20.0), ("smoothbatch", 10.0, 60.0)])
def test_success_rate_rises_from_near_zero_to_a_plateau(method, batch_s, half_life_s, tmp_path):
    clda = CLDAConfig(method=method, batch_s=batch_s, half_life_s=half_life_s)
    adapting = h.Sim(poor_decoder(), tmp=tmp_path, clda=clda)
    _, ev = adapting.run(240.0)
    fixed = h.Sim(poor_decoder(), tmp=tmp_path)
    _, ev_fixed = fixed.run(240.0)
    rate = curve(ev, 240, 10)
    print(f"\n{method} successes/min per 10 s: " + " ".join(f"{r:.0f}" for r in rate))
    print("no CLDA              per 10 s: " + " ".join(f"{r:.0f}" for r in curve(ev_fixed, 240, 10)))
    plateau = np.mean(rate[-6:])
    assert plateau >= 45.0  # about one target a second at the end
    assert rate[0] <= 0.25 * plateau  # starts near zero
    first_good = next(k for k, r in enumerate(rate) if r >= 0.8 * plateau)
    assert first_good * 10 <= 180  # within three simulated minutes
    assert min(rate[first_good + 3:]) >= 0.6 * plateau  # and stays there
    assert h.success_per_min(ev_fixed, 0, 240) <= 0.25 * plateau  # the same poor decoder without CLDA
    assert adapting.decoder.i[kalman.I.skipped] <= 2


@pytest.fixture(scope="module")
def fitted():
    model, _, _ = h.observation_fit(seconds=120.0)
    return model


@pytest.mark.parametrize("user", [{"drop_at_s": 60.0, "drop_fraction": 0.5},
                                  {"drift_rad_per_sqrt_s": 0.05}], ids=["unit_loss", "tuning_drift"])
def test_clda_recovers_after_unit_loss_or_tuning_drift(user, fitted, tmp_path):
    runs = {}
    for name, clda in (("rml", CLDAConfig(method="rml")), ("fixed", None)):
        sim = h.Sim(fitted, tmp=tmp_path, clda=clda, user=user)
        _, ev = sim.run(300.0)
        runs[name] = ev
        print(f"\n{name:5s} successes/min per 20 s: " + " ".join(f"{r:.0f}" for r in curve(ev, 300, 20)))
    before = h.success_per_min(runs["fixed"], 0, 60)
    late = {k: h.success_per_min(ev, 200, 300) for k, ev in runs.items()}
    assert late["fixed"] <= 0.85 * before  # the disturbance costs the fixed decoder
    assert late["rml"] >= 1.15 * late["fixed"]  # CLDA wins much of it back
    if "drop_at_s" in user:
        just_after = h.success_per_min(runs["rml"], 60, 120)
        assert late["rml"] > just_after  # recovery, not just a smaller drop


def test_rml_statistics_equal_weighted_least_squares(fitted, tmp_path):
    """R, S, T after a closed-loop run = sum_t lam^(N-1-t) z_t z_t^T etc. from the recorded bins."""
    clda = CLDAConfig(method="rml", batch_s=h.BIN_S, half_life_s=5.0)
    sim = h.Sim(fitted, tmp=tmp_path, clda=clda)
    rec, _ = sim.run(20.0)
    ends = np.flatnonzero(rec["input_n"][:, 0] > 0.5)
    lam = 0.5 ** (h.BIN_S / 5.0)
    R, S, T, ess = fitted.R.copy(), fitted.S.copy(), fitted.T.copy(), fitted.ess
    for e in ends:  # the decoder runs after the source, before the task and cursor of tick e
        vx, vy = rec["intent"][e - 1]
        px, py = rec["state"][e - 1, :2]
        tx, ty = rec["target"][e - 1]
        z = np.array([*kalman.refit_intention(vx, vy, px, py, tx, ty, clda.target_radius_m), 1.0])
        y = rec["input"][e]
        R, S, T, ess = lam * R + np.outer(z, z), lam * S + np.outer(y, z), lam * T + y * y, lam * ess + 1
    live = kalman.model_of(sim.decoder)
    assert np.allclose(live.R, R, rtol=1e-9) and np.allclose(live.S, S, rtol=1e-9, atol=1e-9)
    assert np.allclose(live.T, T, rtol=1e-9) and abs(live.ess - ess) < 1e-9
    H = np.linalg.solve(R, S.T).T
    q = np.maximum((T - (H * S).sum(axis=1)) / ess, kalman.Q_FLOOR)
    assert np.allclose(live.H[:, 2:], H, rtol=1e-7, atol=1e-9) and np.allclose(live.q, q, rtol=1e-7)
