"""Savings: relearning after de-adaptation is faster than naive learning (Kojima et al. 2004;
Smith et al. 2006, Fig. 5). De-adapting with the opposite perturbation just until the output is
back at baseline leaves the slow state holding the first learning, so relearning starts ahead."""
import numpy as np

import rtcore  # noqa: F401
from rtcore.learning import schedules, simulate_two_state, steady_state


def _first(series, level):
    return int(np.flatnonzero(series >= level)[0])


def test_relearning_is_faster_than_naive_learning():
    # de-adapt (f = -1) until the output is back at baseline (found on a first pass), then relearn
    probe = schedules.savings(n_baseline=10, n_exposure=200, n_washout=100, n_relearn=0, washout=-1.0)
    out = simulate_two_state(probe).output
    n_washout = int(np.flatnonzero(out[probe.trials("washout")] <= 0.0)[0])
    sched = schedules.savings(n_baseline=10, n_exposure=200, n_washout=n_washout, n_relearn=200, washout=-1.0)
    tr = simulate_two_state(sched)
    ex, re = sched.trials("exposure"), sched.trials("relearn")
    assert abs(tr.output[re[0]]) <= 0.05  # behaviourally back at baseline ...
    assert tr.slow[re[0]] > 0.15  # ... but the slow state still holds the first learning
    half = 0.5 * steady_state()["output"]
    naive_t, relearn_t = _first(tr.output[ex], half), _first(tr.output[re], half)
    assert relearn_t < 0.6 * naive_t, (naive_t, relearn_t)
    assert np.abs(tr.error[re[:20]]).mean() < 0.9 * np.abs(tr.error[ex[:20]]).mean()
