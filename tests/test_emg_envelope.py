"""The compiled EMG chain: equals a slow scipy reference sample for sample, however samples are
split into ticks; a step in muscle activity gives an activation with the configured rise and fall
time constants; NaN samples are rejected; channels map to muscles or agonist/antagonist torques."""
import numpy as np
import pytest
from scipy import signal

from rtcore import status
import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.decoders import emg
from rtcore.stage import BuildContext

RATE_HZ = 2000.0


def build_chain(cfg, n_ch, per_tick, rate_hz=RATE_HZ):
    """An EMG stage on a bus with a multi-sample source (per_tick samples per tick)."""
    ctx = BuildContext(bus=Bus(), dt_s=per_tick / rate_hz, seed=0)
    ctx.bus.add("input", n_ch, "V")
    ctx.bus.add("input_block", per_tick * n_ch, "V")
    ctx.bus.add("input_n", 1)
    st = emg.build(cfg, ctx)
    return st, ctx.bus, ctx.bus.array()


def run_chain(st, layout, bus, raw, per_tick, activation=False):
    """Feed raw [samples, n_ch] per_tick at a time; returns the output per tick (and codes)."""
    blk, n_off, out = layout.signals["input_block"], layout.signals["input_n"].offset, layout.signals[st.info["output"] if "output" in st.info else "intent"]
    outs, codes = [], []
    for k in range(0, raw.shape[0], per_tick):
        chunk = raw[k:k + per_tick]
        bus[blk.offset:blk.offset + chunk.size] = chunk.ravel()
        bus[n_off] = chunk.shape[0]
        codes.append(emg.emg_step(st.f, st.s, st.i, bus))
        outs.append(bus[out.slice].copy())
    return np.array(outs), np.array(codes)


def reference(cfg, raw, rate_hz, rest, mvc):
    """Slow readable chain: scipy sosfilt, |.|, sosfilt, normalise, rise/fall first-order loop."""
    bp = signal.butter(cfg.bandpass_order, cfg.bandpass_hz, btype="bandpass", fs=rate_hz, output="sos")
    lp = signal.butter(cfg.envelope_order, cfg.envelope_hz, btype="lowpass", fs=rate_hz, output="sos")
    env = signal.sosfilt(lp, np.abs(signal.sosfilt(bp, raw, axis=0)), axis=0)
    u = np.clip((env - rest) / (mvc - rest), 0.0, 1.0)
    a = np.zeros_like(u)
    prev = np.zeros(raw.shape[1])
    ar, af = 1 - np.exp(-1 / (rate_hz * cfg.tau_rise_s)), 1 - np.exp(-1 / (rate_hz * cfg.tau_fall_s))
    for k in range(len(u)):
        alpha = np.where(u[k] > prev, ar, af)
        prev = prev + alpha * (u[k] - prev)
        a[k] = prev
    return a


def test_compiled_chain_equals_the_scipy_reference_for_any_samples_per_tick():
    g = np.random.default_rng(1)
    n = 4000
    level = np.repeat(g.uniform(0.0, 1.0, (8, 4)), n // 8, axis=0)  # activity steps per channel
    raw = g.standard_normal((n, 4)) * level
    cfg = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ)
    ref = reference(cfg, raw, RATE_HZ, 0.0, 1.0)
    for per_tick in (1, 2, 5):
        st, layout, bus = build_chain(cfg, 4, per_tick)
        out, codes = run_chain(st, layout, bus, raw, per_tick)
        assert np.max(np.abs(out - ref[per_tick - 1::per_tick])) < 1e-12
        assert np.all(codes == status.OK)


def time_constant(t, y):
    """tau from the slope of log(y) (y decays exponentially): least squares on log y."""
    return -1.0 / np.polyfit(t, np.log(y), 1)[0]


def test_step_in_muscle_activity_rises_and_falls_with_the_configured_time_constants():
    tau_rise_s, tau_fall_s = 0.02, 0.1
    t = np.arange(int(1.5 * RATE_HZ)) / RATE_HZ
    on = (t >= 0.25) & (t < 0.85)  # a step of muscle activity, a 150 Hz carrier (in band)
    raw = (np.sin(2 * np.pi * 150.0 * t) * on)[:, None]
    out = {}
    for name, taus in (("u", (1e-5, 1e-5)), ("a", (tau_rise_s, tau_fall_s))):
        cfg = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ, envelope_hz=50.0, envelope_order=4,
                                   tau_rise_s=taus[0], tau_fall_s=taus[1])
        st, layout, bus = build_chain(cfg, 1, 2)
        out[name] = run_chain(st, layout, bus, raw, 2)[0][:, 0]
    u, a, tt = out["u"], out["a"], t[1::2]  # u: the normalised envelope (no activation lag)
    steady = (tt > 0.7) & (tt < 0.85)
    assert np.ptp(u[steady]) < 3e-3 * u[steady].mean()  # a smooth envelope: carrier ripple < 0.3%
    rise = (tt > 0.25 + 0.04) & (tt < 0.25 + 0.1)  # after the 50 Hz envelope has risen
    fall = (tt > 0.85 + 0.06) & (tt < 0.85 + 0.4)
    tau_r = time_constant(tt[rise], u[rise] - a[rise])
    tau_f = time_constant(tt[fall], a[fall] - u[fall])
    print(f"\nmeasured tau_rise {tau_r * 1e3:.1f} ms (set {tau_rise_s * 1e3:.0f}), "
          f"tau_fall {tau_f * 1e3:.1f} ms (set {tau_fall_s * 1e3:.0f})")
    assert abs(tau_r - tau_rise_s) < 0.05 * tau_rise_s
    assert abs(tau_f - tau_fall_s) < 0.05 * tau_fall_s


def test_nan_sample_is_rejected_and_the_channel_holds():
    cfg = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ)
    st, layout, bus = build_chain(cfg, 2, 2)
    raw = np.random.default_rng(2).standard_normal((400, 2))
    run_chain(st, layout, bus, raw, 2)
    before = st.s.copy()
    bad = np.array([[np.nan, 0.3], [np.inf, -0.2]])
    _, codes = run_chain(st, layout, bus, bad, 2)
    assert codes[0] == status.BAD_SAMPLE
    z_bp, z_bp_before = emg.LAYOUT.view(st, "z_bp"), emg.LAYOUT.view((st.f, before, st.i), "z_bp")
    assert np.array_equal(z_bp[0], z_bp_before[0]) and np.all(np.isfinite(st.s))  # channel 0's band-pass memories
    assert not np.array_equal(z_bp[1], z_bp_before[1])


def test_channels_map_to_muscles_or_agonist_antagonist_torques():
    g = np.random.default_rng(3)
    raw = g.standard_normal((2000, 4)) * np.array([1.0, 0.2, 0.5, 0.5])
    base = emg.EmgDecoderConfig(kind="emg", input_rate_hz=RATE_HZ)
    st, layout, bus = build_chain(base, 4, 2)
    a, _ = run_chain(st, layout, bus, raw, 2)
    pairs = base.model_copy(update={"pairs": [(0, 1), (3, 2)], "torque_gain_nm": [2.0, 5.0]})
    st, layout, bus = build_chain(pairs, 4, 2)
    tau, _ = run_chain(st, layout, bus, raw, 2)
    assert np.allclose(tau[:, 0], 2.0 * (a[:, 0] - a[:, 1])) and np.allclose(tau[:, 1], 5.0 * (a[:, 3] - a[:, 2]))
    assert tau[-1, 0] > 0.5  # the stronger agonist wins
    muscles = base.model_copy(update={"muscles": [1, 1, 1, 0, 0, -1]})
    st, layout, bus = build_chain(muscles, 4, 2)
    m, _ = run_chain(st, layout, bus, raw, 2)
    assert m.shape[1] == 6 and np.allclose(m[:, :3], a[:, [1]]) and np.allclose(m[:, 3:5], a[:, [0]]) and np.all(m[:, 5] == 0)
    with pytest.raises(ValueError, match=r"decoder\.pairs: channel 7 does not exist"):
        build_chain(base.model_copy(update={"pairs": [(0, 7)]}), 4, 2)
    with pytest.raises(ValueError, match=r"decoder\.bandpass_hz: .*Nyquist"):
        build_chain(base.model_copy(update={"input_rate_hz": 500.0}), 4, 2, rate_hz=500.0)
