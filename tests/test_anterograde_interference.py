"""Anterograde interference: learning B (f = -1) after A (f = +1) is slower than learning B naive,
because the slow state still holds A (Smith et al. 2006; Sing & Smith 2010)."""
import numpy as np

import rtcore  # noqa: F401
from rtcore.learning import schedules, simulate_two_state, steady_state


def test_learning_b_after_a_is_slower_than_naive_b():
    after_a = schedules.interference(n_baseline=10, n_a=200, n_b=200)
    naive = schedules.blocks(("b", 200, -1.0, "full"))
    tr_a, tr_n = simulate_two_state(after_a), simulate_two_state(naive)
    b = after_a.trials("b")
    half = -0.5 * steady_state()["output"]
    t_after_a = int(np.flatnonzero(tr_a.output[b] <= half)[0])
    t_naive = int(np.flatnonzero(tr_n.output <= half)[0])
    assert t_after_a > 2 * t_naive, (t_after_a, t_naive)
    assert np.abs(tr_a.error[b[:50]]).mean() > 1.2 * np.abs(tr_n.error[:50]).mean()
