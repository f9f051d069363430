"""The velocity Kalman filter: compiled update = textbook KF, least-squares fit recovers the model,
and a KF fitted on an observation block decodes held-out intended velocity (R^2 >= 0.7)."""
import numpy as np
import pytest

import bci_task as h
from rtcore.decoders import kalman, kalman_fit


def reference_kf(model, counts):
    """Wu et al. 2006 KF, written plainly: K = P- H^T (H P- H^T + Q)^-1, position rows of P- zeroed."""
    A, W, H, Q = model.A, model.W, model.H, np.diag(model.q)
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    P = np.zeros((5, 5))
    out = []
    for y in counts:
        xp = A @ x
        Pp = A @ P @ A.T + W
        Pp[:2, :] = 0.0
        Pp[:, :2] = 0.0
        K = Pp @ H.T @ np.linalg.inv(H @ Pp @ H.T + Q)
        x = xp + K @ (y - H @ xp)
        P = (np.eye(5) - K @ H) @ Pp
        out.append(x[2:4].copy())
    return np.array(out), K


@pytest.fixture(scope="module")
def linear_gaussian():
    """Counts from a known linear-Gaussian model (so the fit has a closed-form answer)."""
    g = np.random.default_rng(7)
    n, T, bin_s = 24, 6000, 0.05
    v = np.zeros((T, 2))
    for t in range(1, T):
        v[t] = 0.95 * v[t - 1] + g.normal(0, 0.1, 2)
    Hz = np.column_stack([g.normal(0, 2.0, (n, 2)), g.uniform(0.3, 1.0, n)])
    q = g.uniform(0.2, 0.6, n)
    y = np.column_stack([v, np.ones(T)]) @ Hz.T + g.normal(0, 1, (T, n)) * np.sqrt(q)
    return v, y, Hz, q, bin_s


def test_least_squares_fit_recovers_the_generating_model(linear_gaussian):
    v, y, Hz, q, bin_s = linear_gaussian
    m = kalman_fit.fit_kalman(v, y, bin_s)
    assert np.allclose(m.H[:, 2:], Hz, atol=0.12)  # ~4 standard errors
    assert np.allclose(m.q, q, rtol=0.08)
    assert np.allclose(m.A[2:4, 2:4], 0.95 * np.eye(2), atol=0.01)
    assert np.allclose(m.W[2:4, 2:4], 0.1 ** 2 * np.eye(2), rtol=0.1, atol=3e-4)
    assert m.A[0, 2] == m.A[1, 3] == bin_s and np.all(m.H[:, :2] == 0.0)


def test_compiled_update_matches_the_textbook_filter_and_steady_state_gain(linear_gaussian):
    v, y, _, _, bin_s = linear_gaussian
    m = kalman_fit.fit_kalman(v, y, bin_s)
    ref, K_last = reference_kf(m, y[:400])
    fast = kalman.decode_counts(m, y[:400])
    assert np.max(np.abs(fast - ref)) < 1e-10
    steady = kalman.decode_counts(m, y[:400], steady_state=True)
    # the Riccati recursion converges: after ~2 s of bins the two filters agree
    assert np.max(np.abs(steady[40:] - ref[40:])) < 1e-8
    f, s, i = kalman.state_arrays(m, True, None, bin_s)
    L, B = kalman.LAYOUT.view((f, s, i), "Lss"), kalman.LAYOUT.view((f, s, i), "B")
    assert np.allclose(L @ B, K_last, atol=1e-9)  # K = L H^T Q^-1


def test_fit_refuses_bad_blocks_with_one_line_errors(linear_gaussian):
    v, y, _, _, bin_s = linear_gaussian
    with pytest.raises(ValueError, match="too few bins") as e:
        kalman_fit.fit_kalman(v[:20], y[:20], bin_s)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="barely moved"):
        kalman_fit.fit_kalman(np.zeros_like(v), y, bin_s)
    bad = y.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kalman_fit.fit_kalman(v, bad, bin_s)


def test_save_load_keeps_the_decoder_and_metadata(linear_gaussian, tmp_path):
    v, y, _, _, bin_s = linear_gaussian
    m = kalman_fit.fit_kalman(v, y, bin_s, settings={"task": "center_out"})
    path = kalman_fit.save_kalman(tmp_path / "kf", m)
    back = kalman_fit.load_kalman(path)
    for k in ("A", "W", "H", "q", "R", "S", "T"):
        assert np.array_equal(getattr(back, k), getattr(m, k))
    meta = back.meta
    assert meta["bin_s"] == bin_s and meta["n_units"] == 24 and len(meta["config_hash"]) == 12
    assert "fit_time" in meta and meta["units"]["H"].startswith("counts")
    with pytest.raises(ValueError, match="no such file"):
        kalman_fit.load_kalman(tmp_path / "missing")


@pytest.fixture(scope="module")
def observation():
    """A KF fitted on a 3-minute automatic-cursor observation block of the default population."""
    return h.observation_fit(seconds=180.0)


def test_observation_fit_decodes_held_out_intended_velocity(observation):
    model, sim, _ = observation
    assert model.n_units == 64  # the default synthetic population
    rec, _ = sim.run(60.0)  # held-out: a new block the fit never saw
    counts, _, intended = h.bins(rec)
    decoded = kalman.decode_counts(model, counts)
    r2 = 1.0 - ((decoded - intended) ** 2).sum() / ((intended - intended.mean(0)) ** 2).sum()
    print(f"held-out R^2 of intended velocity: {r2:.3f}")
    assert r2 >= 0.7


def test_hot_load_swaps_the_decoder_at_the_next_bin(observation, tmp_path):
    model, _, _ = observation
    sim = h.Sim(kalman_fit.random_decoder(64, h.BIN_S, 1), tmp=tmp_path)
    _, ev_poor = sim.run(30.0)
    sim.load(model)
    _, ev_good = sim.run(30.0)
    live = kalman.model_of(sim.decoder)
    assert np.array_equal(live.H, model.H) and np.allclose(live.q, np.maximum(model.q, kalman.Q_FLOOR))
    print(f"successes in 30 s: random decoder {ev_poor[:, 1].sum():.0f}, hot-loaded fit {ev_good[:, 1].sum():.0f}")
    assert ev_good[:, 1].sum() >= 20 > ev_poor[:, 1].sum() + 10


def test_event_stream_is_binned_like_counts(linear_gaussian, tmp_path):
    """Spike events (one unit index per sample, several per tick) give the same decode as counts."""
    from rtcore.bus import Bus
    from rtcore.stage import BuildContext
    v, y, _, _, bin_s = linear_gaussian
    m = kalman_fit.fit_kalman(v, y, bin_s)
    path = kalman_fit.save_kalman(tmp_path / "kf", m)
    ctx = BuildContext(bus=Bus(), dt_s=0.01, seed=0)
    ctx.bus.add("input", 1)
    ctx.bus.add("input_block", 64)
    ctx.bus.add("input_n", 1)
    st = kalman.build(kalman.KalmanDecoderConfig(kind="kalman", decoder_file=path, bin_s=bin_s,
                                                 input_format="events"), ctx)
    bus = ctx.bus.array()
    g = np.random.default_rng(5)
    counts = g.poisson(1.0, (40, m.n_units)).astype(float)
    blk, n_off, out = ctx.bus.signals["input_block"].offset, ctx.bus.signals["input_n"].offset, ctx.bus.signals["intent"]
    decoded = []
    for row in counts:  # spread each bin's spikes over its 5 ticks, in random order
        events = g.permutation(np.repeat(np.arange(m.n_units), row.astype(int)))
        for chunk in np.array_split(events, 5):
            bus[blk:blk + chunk.size] = chunk
            bus[n_off] = chunk.size
            kalman.kalman_step(st.f, st.s, st.i, bus)
        decoded.append(bus[out.slice].copy())
    assert np.allclose(decoded, kalman.decode_counts(m, counts), atol=1e-12)
