"""Delayed-error learning needs an eligibility trace (Porrill & Dean 2007, PLoS Comput Biol 3:e197).

The forward model (no nominal model: everything is learned) predicts the cursor's response to a
periodic command (u_x = 0.1 sin(2 pi f t) m/s) from its granule-basis bank over the efference
copy, while the sensory feedback that teaches it arrives 100 ms late. Correlating the delayed
error with granule activity delayed to match (the eligibility trace) learns every frequency;
correlating it with current activity fails for f above about 1/(4 tau) = 2.5 Hz, where the
100 ms lag turns the update by more than 90 degrees.
"""
import numpy as np
import pytest

from rtcore import api, cerebellum
from rtcore.cerebellum import FeedbackConfig, ForwardModelConfig
from sims.plants import cursor

DELAY_S = 0.1
DT_S = 0.001
SECONDS = 20.0
F_LIMIT_HZ = 1.0 / (4.0 * DELAY_S)
FREQS_HZ = (1.0, 2.0, 3.5, 5.0, 6.0)


def relative_spe(f_hz: float, trace: bool) -> tuple[float, float]:
    """RMS spe / RMS state of the driven channels (x, vx), over 2 s early and the last 2 s."""
    ch = api.chain(dt_s=DT_S)
    ch.add(cursor.build(cursor.CursorConfig(kind="cursor", bound_m=10.0), ch.ctx))
    fm = ForwardModelConfig(nominal={"kind": "none"}, mossy_state=False, mossy_scale=[10.0, 10.0], learning_rate=0.1,
                            eligibility_trace=trace, weight_retention_tau_s=None)
    ch.add(cerebellum.build(FeedbackConfig(delay_s=DELAY_S), fm, None, ch.ctx))
    sess = ch.finish()
    n = int(SECONDS / DT_S)
    u = np.zeros((n, 2))
    u[:, 0] = 0.1 * np.sin(2 * np.pi * f_hz * np.arange(n) * DT_S)
    out = sess.run(inputs={"command": u}, record=["state", "spe"])

    def rel(sl):
        spe, x = out["spe"][sl][:, [0, 2]], out["state"][sl][:, [0, 2]]
        return float(np.sqrt(np.mean(spe ** 2)) / np.sqrt(np.mean(x ** 2)))
    return rel(slice(200, 2200)), rel(slice(n - 2000, n))


@pytest.fixture(scope="module")
def results():
    return {(f, trace): relative_spe(f, trace) for f in FREQS_HZ for trace in (True, False)}


@pytest.mark.parametrize("f_hz", FREQS_HZ)
def test_trace_learns_every_frequency(results, f_hz):
    early, late = results[(f_hz, True)]
    assert early > 0.2  # there was something to learn
    assert late < 0.02, f"with the trace the prediction error stays at {late:.3f} of the signal at {f_hz} Hz"


@pytest.mark.parametrize("f_hz", FREQS_HZ)
def test_without_trace_fails_above_quarter_delay_frequency(results, f_hz):
    _, late = results[(f_hz, False)]
    if f_hz < F_LIMIT_HZ:
        assert late < 0.02  # slow signals are learned without the trace too
    else:
        assert late > 1.0, f"at {f_hz} Hz (> {F_LIMIT_HZ} Hz) learning without the trace should fail, got {late:.3f}"
