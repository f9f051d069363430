"""The synthetic neural population is a subject: population_seed fixes its tuning, session.seed only
its noise, so a decoder fitted in one session decodes the same subject in a session with another seed."""
import numpy as np

import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.stage import BuildContext
from sims.users import neural


def population(session_seed: int, population_seed: int):
    bus = Bus()
    bus.add("state", 4, "m")
    bus.add("target", 2, "m")
    cfg = neural.SyntheticNeuralConfig(kind="synthetic_neural", n_units=32, population_seed=population_seed)
    stage = neural.build(cfg, BuildContext(bus=bus, dt_s=0.001, seed=session_seed))
    return neural.tuning_of(stage), int(neural.LAYOUT.get(stage, "rng"))


def test_same_population_seed_gives_the_same_tuning_whatever_the_session_seed():
    (tun_a, noise_a), (tun_b, noise_b) = population(1, 7), population(2, 7)
    for a, b in zip(tun_a, tun_b):
        np.testing.assert_array_equal(a, b)  # baselines, depths, preferred directions: one subject
    assert noise_a != noise_b  # the spike noise follows the session seed
    other, _ = population(1, 8)
    assert np.abs(other.pd_rad - tun_a.pd_rad).max() > 1.0  # another subject is another population
