"""The parent's timing statistics (rtcore.summary.Distribution): fixed memory whatever the session's
length, and summary.json's percentiles within half a bin of np.percentile's exact figures."""
import numpy as np

from rtcore.summary import Distribution, percentiles


def test_memory_is_fixed_and_percentiles_stay_within_half_a_bin():
    rng = np.random.default_rng(7)
    d = Distribution()
    nbytes = d.counts.nbytes
    chunks = [rng.lognormal(3.0, 1.5, 1000) for _ in range(1000)]  # 10^6 distinct wake latencies, us
    for c in chunks:
        d.add(c.astype(np.float32))  # as the parent drains them
    assert d.counts.nbytes == nbytes < 400_000 and d.size == 1_000_000
    exact = percentiles(np.concatenate(chunks).astype(np.float32))
    got = d.percentiles()
    assert got["max"] == exact["max"]
    for key in ("p50", "p99"):
        assert abs(got[key] - exact[key]) <= 3.4e-4 * exact[key] + 1e-3, (key, got, exact)


def test_zero_tiny_non_finite_and_empty_values():
    assert Distribution().percentiles() == {"p50": None, "p99": None, "max": None}
    d = Distribution()
    d.add(np.zeros(100))
    d.add([])
    assert d.percentiles() == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    d.add(np.full(100, 1e-4))  # below a nanosecond: counted as 0
    d.add([250.0, np.nan, np.inf])  # a non-finite value is not counted
    assert d.size == 201 and d.percentiles()["p50"] == 0.0 and d.percentiles()["max"] == 250.0
