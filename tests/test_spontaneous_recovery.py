"""Spontaneous recovery: after A (+1) and a brief counter-perturbation B (-1) that brings the
output to about 0, an error clamp (e = 0) lets the output rebound toward A, because the fast state
(holding B) decays faster than the slow one (holding A) (Smith et al. 2006, Fig. 4)."""
import numpy as np

import rtcore  # noqa: F401
from rtcore.learning import schedules, simulate_two_state


def test_output_rebounds_toward_a_in_the_clamp():
    sched = schedules.spontaneous_recovery(n_baseline=10, n_a=200, n_b=15, n_clamp=150)
    tr = simulate_two_state(sched)
    c = sched.trials("clamp")
    start = tr.output[c[0]]
    assert abs(start) < 0.05  # B brought the output back to about baseline
    assert tr.fast[c[0]] < 0 < tr.slow[c[0]]  # fast holds B, slow holds A
    peak = tr.output[c].max()
    assert peak > 0.15 and np.sign(peak) == np.sign(tr.output[sched.trials("a")[-1]])  # toward A
    k = int(tr.output[c].argmax())
    assert 10 < k < 100  # it rises, then decays with the slow state
    assert tr.output[c[-1]] < peak
