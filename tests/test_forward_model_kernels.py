"""Compiled cerebellar kernels against slow, readable Python references; NaN and huge errors stay bounded.

Covers the feedback delay line, the granule basis bank, the NLMS and RLS Purkinje updates and
the whole forward-model step (Smith estimate, SPE, eligibility-trace learning) tick by tick, and a
lesion's smooth estimate error.
"""
import numpy as np
import pytest
from scipy.signal import lfilter

from rtcore import status
import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.cerebellum import feedback_delay, forward_model
from rtcore.cerebellum.feedback_delay import FeedbackConfig, feedback_delay_step
from rtcore.cerebellum.forward_model import ForwardModelConfig, forward_model_step
from rtcore.cerebellum.granule_basis import decay_factors, granule_reset, granule_step, time_constants_s
from rtcore.cerebellum.purkinje import nlms_update, rls_update
from rtcore.stage import BuildContext

DT_S = 0.001
rng = np.random.default_rng(7)


def context(n_x=4, n_u=2, extra_delay=False):
    ctx = BuildContext(bus=Bus(), dt_s=DT_S, seed=0, realtime=False)
    ctx.bus.add("command", n_u, "N", [f"u{c}" for c in range(n_u)])
    ctx.bus.add("state", n_x, "m", [f"x{j}" for j in range(n_x)])
    if extra_delay:
        ctx.bus.add("extra_delay_ticks", 1, "ticks")
    return ctx


# --- feedback delay line ------------------------------------------------------------------

def test_delay_line_matches_reference_with_groups_and_extra_delay():
    ctx = context(extra_delay=True)
    cfg = FeedbackConfig(channel_group={"x0": "visual", "x1": "visual"}, max_delay_s=0.2)
    st = feedback_delay.build(cfg, ctx, write_estimate=True)
    assert st.info["delay_s"] == [0.1, 0.1, 0.05, 0.05]
    bus = ctx.bus.array()
    x_sig, out, est, extra = (ctx.bus.signals[n] for n in ("state", "feedback", "estimate", "extra_delay_ticks"))
    xs = rng.standard_normal((600, 4))
    extras = np.where(np.arange(600) > 300, 40.0, 0.0)
    extras[500:] = 500.0  # beyond the ring: clipped to max_delay_s
    base = np.array([100, 100, 50, 50])
    for k in range(600):
        bus[x_sig.slice], bus[extra.slice] = xs[k], extras[k]
        assert feedback_delay_step(st.f, st.s, st.i, bus) == status.OK
        d = np.minimum(base + int(extras[k]), 200)
        want = xs[np.maximum(k - d, 0), np.arange(4)]  # before the first sample: the first sample
        np.testing.assert_array_equal(bus[out.slice], want)
        np.testing.assert_array_equal(bus[est.slice], want)


def test_delay_line_holds_previous_sample_on_nan():
    ctx = context()
    st = feedback_delay.build(FeedbackConfig(delay_s=0.0), ctx, write_estimate=False)
    bus = ctx.bus.array()
    x_sig, out = ctx.bus.signals["state"], ctx.bus.signals["feedback"]
    bus[x_sig.slice] = [1.0, 2.0, 3.0, 4.0]
    feedback_delay_step(st.f, st.s, st.i, bus)
    bus[x_sig.slice] = [np.nan, 5.0, np.inf, 6.0]
    assert feedback_delay_step(st.f, st.s, st.i, bus) == status.BAD_SAMPLE
    np.testing.assert_array_equal(bus[out.slice], [1.0, 5.0, 3.0, 6.0])


def test_delay_line_config_errors_name_the_key():
    ctx = context()
    with pytest.raises(ValueError, match=r"feedback.delay_s: 3 delays for 4 state channels"):
        feedback_delay.build(FeedbackConfig(delay_s=[0.1, 0.1, 0.1]), ctx, write_estimate=False)
    with pytest.raises(ValueError, match=r"feedback.channel_group: no state channel 'hand_z'"):
        feedback_delay.build(FeedbackConfig(channel_group={"hand_z": "visual"}), ctx, write_estimate=False)
    with pytest.raises(ValueError):
        FeedbackConfig(delay_s=0.5)


# --- granular layer -----------------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 2])
def test_granule_bank_matches_lfilter(order):
    n_in, n_b, n = 3, 7, 400
    a = decay_factors(time_constants_s(n_b, 0.002, 0.75), DT_S)
    x = rng.standard_normal((n, n_in))
    g, phi = np.zeros(n_in * n_b * order), np.zeros(1 + n_in * n_b)
    granule_reset(g, phi, x[0], n_in, n_b, order)
    got = np.zeros((n, phi.size))
    got[0] = phi
    for k in range(1, n):
        granule_step(g, phi, x[k], a, n_in, n_b, order)
        got[k] = phi
    assert np.all(got[:, 0] == 1.0)
    for c in range(n_in):
        for b in range(n_b):
            y = x[:, c]
            for _ in range(order):  # cascade of first-order low-passes starting at steady state
                y = lfilter([1 - a[b]], [1, -a[b]], y[1:], zi=[a[b] * y[0]])[0]
                y = np.concatenate([[x[0, c]], y])
            np.testing.assert_allclose(got[:, 1 + c * n_b + b], y, rtol=1e-12, atol=1e-12)


# --- Purkinje learning rules --------------------------------------------------------------

def test_nlms_update_matches_reference_and_clips():
    n_x, n_f = 3, 11
    W, x, e = rng.standard_normal(n_x * n_f), rng.standard_normal(n_f), np.array([0.3, -5.0, 0.01])
    want = W.reshape(n_x, n_f) + 0.5 * np.outer(np.clip(e, -1.0, 1.0), x) / (1e-6 + x @ x)
    nlms_update(W, x, e, n_x, n_f, 0.5, 1e-6, 1.0, 1e3)
    np.testing.assert_allclose(W.reshape(n_x, n_f), want, rtol=1e-12)
    nlms_update(W, x * 0 + 1e-9, np.array([1.0, 1.0, 1.0]), n_x, n_f, 1.0, 1e-30, 1.0, 2.5)
    assert np.abs(W).max() <= 2.5


def test_rls_update_matches_reference_and_solves_least_squares():
    n_x, n_f, lam = 2, 5, 0.999
    W, P, Px = np.zeros(n_x * n_f), 100.0 * np.eye(n_f).ravel(), np.zeros(n_f)
    W_true = rng.standard_normal((n_x, n_f))
    Wr, Pr = np.zeros((n_x, n_f)), 100.0 * np.eye(n_f)
    for _ in range(300):
        x = rng.standard_normal(n_f)
        e = W_true @ x - W.reshape(n_x, n_f) @ x
        rls_update(W, P, Px, x, e, n_x, n_f, 1.0, lam, 1e9, 1e9, 1e12, 100.0)
        k = Pr @ x / (lam + x @ Pr @ x)  # textbook RLS (Haykin, Adaptive Filter Theory, ch. 10)
        Wr += np.outer(W_true @ x - Wr @ x, k)
        Pr = (Pr - np.outer(k, x @ Pr)) / lam
        np.testing.assert_allclose(W.reshape(n_x, n_f), Wr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W.reshape(n_x, n_f), W_true, atol=1e-3)  # noiseless: only the P0 prior remains


def test_rls_stops_forgetting_without_excitation():
    n_f = 4
    W, P, Px = np.zeros(n_f), np.eye(n_f).ravel(), np.zeros(n_f)
    x = np.array([1.0, 0.0, 0.0, 0.0])  # only one direction excited: P grows in the others
    for _ in range(20000):
        rls_update(W, P, Px, x, np.array([0.0]), 1, n_f, 1.0, 0.99, 1.0, 1e3, 1e4, 1.0)
    assert np.isfinite(P).all() and np.trace(P.reshape(n_f, n_f)) < 1e4 * 1.02


# --- the whole forward-model step ---------------------------------------------------------

class ReferenceForwardModel:
    """A readable, dictionary-by-tick version of the forward model (see forward_model.py)."""

    def __init__(self, st, cfg, n_x, n_u):
        f = st.f
        self.n_x, self.n_u = n_x, n_u
        view = forward_model.LAYOUT.view
        self.Ad, self.Bd, self.Phi = view(st, "Ad"), view(st, "Bd"), view(st, "Phi")
        self.a, self.scale = view(st, "a"), view(st, "scale")
        self.cfg, self.f = cfg, f
        self.d = forward_model.LAYOUT.view(st, "delays").copy()
        self.D, self.lag = int(self.d.max()), int(st.i[forward_model.I.lag])
        self.n_in = n_u + (n_x if cfg.mossy_state else 0)
        self.W = np.zeros((n_x, 1 + self.n_in * cfg.n_basis))
        self.k = 0
        self.P, self.Y, self.U, self.PHI, self.E = {}, {}, {}, {}, {}
        self.g = None

    def get(self, hist, t):
        return hist[t] if t in hist else hist["init"]

    def filt(self, m):
        cfg = self.cfg
        phi = [1.0]
        for c in range(self.n_in):
            for b in range(cfg.n_basis):
                x = m[c]
                for o in range(cfg.basis_order):
                    self.g[c][b][o] = self.a[b] * self.g[c][b][o] + (1 - self.a[b]) * x
                    x = self.g[c][b][o]
                phi.append(x)
        return np.array(phi)

    def step(self, u, y):
        k, cfg, f = self.k, self.cfg, self.f
        xhat_prev = y if k == 0 else self.xhat
        m = np.concatenate([u, xhat_prev if cfg.mossy_state else []]) * self.scale
        if k == 0:
            self.g = [[[m[c]] * cfg.basis_order for _ in range(cfg.n_basis)] for c in range(self.n_in)]
            phi = np.concatenate([[1.0], np.repeat(m, cfg.n_basis)])
            p = y.copy()
            self.P["init"], self.Y["init"], self.E["init"] = y.copy(), y.copy(), y.copy()
            self.P.update({t: y.copy() for t in range(-self.D, 0)})  # stored predictions before the start
        else:
            phi = self.filt(m)
            p = self.Ad @ self.p + self.Bd @ u + self.W @ phi
        self.Y[k], self.U[k], self.PHI[k] = y.copy(), u.copy(), phi
        self.P[k] = p.copy()
        mismatch = np.array([y[j] - self.get(self.P, k - self.d[j])[j] for j in range(self.n_x)])
        xhat = p + self.Phi @ mismatch
        prediction = p.copy()
        spe = np.array([y[j] - (self.get(self.E, k - self.d[j])[j] if self.d[j] > 0 else prediction[j])
                        for j in range(self.n_x)])
        delta = f[forward_model.F.kappa] * (xhat - p)
        p = p + delta
        for d in range(1, self.D):  # the predictions still to be read move with the anchor
            if k - d in self.P:
                self.P[k - d] = self.P[k - d] + np.linalg.matrix_power(np.linalg.inv(self.Ad), d) @ delta
        self.P[k], self.E[k], self.p, self.xhat = p, xhat, p, xhat
        estimate = self.get(self.E, k - self.lag) if cfg.predict else y
        if cfg.learn and k >= self.D + 1:
            n = k - self.D
            xm = np.array([self.Y[n + self.d[j]][j] for j in range(self.n_x)])
            xm1 = np.array([self.Y[n - 1 + self.d[j]][j] for j in range(self.n_x)])
            e = xm - (self.Ad @ xm1 + self.Bd @ self.U[n] + self.W @ self.PHI[n])
            x = self.PHI[n] if cfg.eligibility_trace else phi
            e = np.clip(e, -cfg.max_error, cfg.max_error)
            self.W = np.clip(self.W + f[forward_model.F.mu] * np.outer(e, x) / (cfg.nlms_eps + x @ x),
                             -cfg.max_weight, cfg.max_weight)
        self.W *= f[forward_model.F.leak]
        self.k += 1
        return prediction, estimate, spe


def build_fm(cfg, delays_ticks=(30, 30, 12, 0), lag_s=0.0):
    ctx = context()
    ctx.bus.add("feedback", 4, "m", [f"feedback_x{j}" for j in range(4)])
    st = forward_model.build(cfg, ctx, np.array(delays_ticks), estimate_lag_s=lag_s)
    return ctx, st


@pytest.mark.parametrize("trace", [True, False])
def test_forward_model_step_matches_reference(trace):
    cfg = ForwardModelConfig(nominal={"kind": "point_mass", "mass_kg": 2.0, "damping_ns_per_m": 1.0}, n_basis=4,
                             learning_rate=0.3, eligibility_trace=trace, weight_retention_tau_s=2.0, anchor_tau_s=0.2)
    ctx, st = build_fm(cfg, lag_s=0.005)
    ref = ReferenceForwardModel(st, cfg, 4, 2)
    bus = ctx.bus.array()
    sig = ctx.bus.signals
    for k in range(250):
        u, y = rng.standard_normal(2), rng.standard_normal(4) * 0.1
        bus[sig["command"].slice], bus[sig["feedback"].slice] = u, y
        assert forward_model_step(st.f, st.s, st.i, bus) == status.OK
        pred, est, spe = ref.step(u, y)
        np.testing.assert_allclose(bus[sig["prediction"].slice], pred, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bus[sig["spe"].slice], spe, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bus[sig["estimate"].slice], est, rtol=1e-9, atol=1e-12)
    W = forward_model.LAYOUT.view(st, "W")
    assert np.abs(W).max() > 1e-4  # it did learn
    np.testing.assert_allclose(W, ref.W, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("rule", ["nlms", "rls"])
def test_forward_model_bounded_under_nan_and_huge_errors(rule):
    cfg = ForwardModelConfig(nominal={"kind": "point_mass", "mass_kg": 1.0}, n_basis=5, rule=rule, max_weight=50.0,
                             learning_rate=1.0)
    ctx, st = build_fm(cfg)
    bus = ctx.bus.array()
    sig = ctx.bus.signals
    for k in range(3000):
        u = rng.standard_normal(2)
        y = rng.standard_normal(4) * (1e8 if k % 97 == 0 else 1.0)  # bursts of absurd sensory errors
        if k % 50 == 7:
            u[1] = np.nan
        bus[sig["command"].slice], bus[sig["feedback"].slice] = u, y
        code = forward_model_step(st.f, st.s, st.i, bus)
        assert code == (status.BAD_SAMPLE if k % 50 == 7 else status.OK)
    W = forward_model.LAYOUT.view(st, "W")
    assert np.isfinite(st.s).all()
    assert np.abs(W).max() <= 50.0
    for name in ("prediction", "estimate", "spe"):
        assert np.isfinite(bus[sig[name].slice]).all()


def test_prediction_off_estimate_is_feedback():
    ctx, st = build_fm(ForwardModelConfig(predict=False, nominal={"kind": "point_mass", "mass_kg": 1.0}))
    bus = ctx.bus.array()
    sig = ctx.bus.signals
    for k in range(50):
        bus[sig["command"].slice], bus[sig["feedback"].slice] = rng.standard_normal(2), rng.standard_normal(4)
        forward_model_step(st.f, st.s, st.i, bus)
        np.testing.assert_array_equal(bus[sig["estimate"].slice], bus[sig["feedback"].slice])


def test_lesion_estimate_error_matches_reference_and_its_sd():
    """A lesion's smooth estimate error: two first-order stages over seeded white noise, SD as asked,
    the velocity channels carrying its rate; the estimate's mean is untouched."""
    from rtcore.rng import normal
    ctx = context()
    ctx.bus.add("feedback", 4, "m", [f"feedback_x{j}" for j in range(4)])
    cfg = ForwardModelConfig(predict=False, learn=False, nominal={"kind": "point_mass", "mass_kg": 1.0})
    st = forward_model.build(cfg, ctx, np.array([50, 50, 50, 50]), estimate_noise_m=0.01, estimate_noise_tau_s=0.01)
    bus, sig = ctx.bus.array(), ctx.bus.signals
    F = forward_model.F
    a, g, rng_ref = st.f[F.noise_a], st.f[F.noise_gain], st.i.copy()
    y1, e = np.zeros(2), np.zeros(2)
    y = np.array([0.1, -0.2, 0.0, 0.0])
    errs = np.empty((20000, 4))
    for k in range(len(errs)):
        bus[sig["command"].slice], bus[sig["feedback"].slice] = 0.0, y
        assert forward_model_step(st.f, st.s, st.i, bus) == status.OK
        errs[k] = bus[sig["estimate"].slice] - y
        if k < 300:  # the reference, tick by tick
            before = e.copy()
            for j in range(2):
                y1[j] = a * y1[j] + (1 - a) * g * normal(rng_ref, forward_model.I.rng)
                e[j] = a * e[j] + (1 - a) * y1[j]
            np.testing.assert_allclose(errs[k], np.concatenate([e, (e - before) / DT_S]), rtol=1e-9, atol=1e-15)
    pos = errs[500:, :2]
    assert np.all(np.abs(pos.std(axis=0) / 0.01 - 1) < 0.15), pos.std(axis=0)
    assert np.all(np.abs(pos.mean(axis=0)) < 0.002)
    np.testing.assert_allclose(errs[501:, 2:], np.diff(errs[500:, :2], axis=0) / DT_S, atol=1e-9)
