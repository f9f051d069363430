"""The synthetic EMG user: a reaching controller whose activations become band-limited EMG.

Proves on the compiled source stage: the steady activations are the closed-form solution of the
controller (f_max U (a - c0) = kp (target - p)); the EMG spectrum is the designed 20-450 Hz
carrier (in-band power fraction equals the filter's closed form); the windowed RMS envelope of
every electrode tracks sqrt(sum_m X[c,m]^2 gain^2 a_m^2 + noise^2) as the target moves; and a
dropped electrode records only its noise floor.
"""
import numpy as np
import pytest
from scipy import signal

import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.stage import BuildContext
from sims.users import emg as synthetic_emg

DT = 0.001
RATE = 2000.0
N = 8


def build(**kw):
    bus = Bus()
    bus.add("state", 4, "m")
    target = bus.add("target", 2, "m")
    cfg = synthetic_emg.SyntheticEmgConfig(kind="synthetic_emg", n_channels=N, rate_hz=RATE, **kw)
    return bus, synthetic_emg.build(cfg, BuildContext(bus=bus, dt_s=DT, seed=5)), target, cfg


def run(bus, stage, target_of_t, seconds):
    """Step the stage; returns EMG samples [n, N] and per-tick activations [ticks, N]."""
    b = bus.array()
    tgt = bus.get("target").offset
    blk, n_off, act = bus.get("input_block").slice, bus.get("input_n").offset, bus.get("intended_activation").slice
    emg, acts, per_tick = [], [], []
    for k in range(int(seconds / DT)):
        b[tgt:tgt + 2] = target_of_t(k * DT)
        synthetic_emg.emg_user_step(stage.f, stage.s, stage.i, b)
        n = int(b[n_off])
        emg.append(b[blk].reshape(-1, N)[:n].copy())
        acts.append(b[act].copy())
        per_tick.append(n)
    return np.concatenate(emg), np.array(acts), np.array(per_tick)


def test_steady_activation_is_the_controllers_closed_form():
    bus, stage, _, cfg = build()
    emg, acts, per_tick = run(bus, stage, lambda t: (0.1, 0.05), 0.5)
    U = synthetic_emg.muscle_directions(N, 2)
    F = cfg.kp_n_per_m * np.array([0.1, 0.05])  # p = v = 0
    kappa = N / 4.0  # sum over evenly spread directions of cos * max(0, cos)
    a = cfg.cocontraction + np.maximum(0.0, U.T @ F) / (kappa * cfg.max_force_n)
    np.testing.assert_allclose(acts[-1], a, rtol=1e-6)
    np.testing.assert_allclose(cfg.max_force_n * U @ (acts[-1] - cfg.cocontraction), F, rtol=1e-6)
    assert np.all(per_tick == 2) and len(emg) == int(0.5 * RATE)  # 2 kHz at a 1 kHz loop


def test_spectrum_is_the_designed_band():
    bus, stage, _, cfg = build(noise_mv=0.0)
    emg, _, _ = run(bus, stage, lambda t: (0.1, 0.05), 4.0)
    f, pxx = signal.welch(emg[int(0.2 * RATE):], fs=RATE, nperseg=1024, axis=0)
    band = (f >= 20.0) & (f <= 450.0)
    measured = pxx[band].sum(axis=0) / pxx.sum(axis=0)
    sos = signal.butter(2, [20.0, 450.0], btype="bandpass", fs=RATE, output="sos")
    w, h = signal.sosfreqz(sos, worN=f, fs=RATE)
    designed = (np.abs(h[band]) ** 2).sum() / (np.abs(h) ** 2).sum()
    assert designed > 0.85
    np.testing.assert_allclose(measured, designed, atol=0.03)


def test_envelope_tracks_activation():
    bus, stage, _, cfg = build()
    dirs = [(0.1, 0.0), (0.0, 0.1), (-0.1, 0.0), (0.0, -0.1)]
    emg, acts, _ = run(bus, stage, lambda t: dirs[int(t / 0.5) % 4], 4.0)
    X = synthetic_emg.crosstalk_matrix(N, cfg.crosstalk)
    win = 50  # samples (25 ms at 2 kHz) = 25 ticks; the envelope is the windowed RMS
    n_win = len(emg) // win
    rms = np.sqrt((emg[:n_win * win].reshape(n_win, win, N) ** 2).mean(axis=1))
    a = acts[:n_win * 25].reshape(n_win, 25, N)
    expected = np.sqrt((cfg.gain_mv ** 2) * ((a ** 2).mean(axis=1) @ (X ** 2).T) + cfg.noise_mv ** 2)
    for c in range(N):
        assert np.corrcoef(rms[:, c], expected[:, c])[0, 1] > 0.9
    # on average the envelope is the expected RMS (chi-distributed windows: about 1 % bias)
    assert np.mean(rms) / np.mean(expected) == pytest.approx(1.0, abs=0.05)


def test_dropped_electrodes_record_their_noise_floor():
    bus, stage, _, cfg = build(dropout_per_min=600.0, dropout_s=60.0, noise_mv=0.01)
    emg, _, _ = run(bus, stage, lambda t: (0.1, 0.05), 2.0)
    last = emg[-1000:]  # after 1.5 s of a 10 /s hazard every electrode has dropped
    np.testing.assert_allclose(np.sqrt((last ** 2).mean(axis=0)), cfg.noise_mv, rtol=0.15)
