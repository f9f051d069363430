"""summary.json's adaptation measures (sims/paradigms/adaptation.py) on a schedule with force-channel
probes: savings compares the same kind of trials in both exposures (field trials, not channel trials)."""
import numpy as np

from sims.paradigms import adaptation
from sims.paradigms.blocks import BlockConfig

BLOCKS = [BlockConfig(name="baseline", n_trials=8), BlockConfig(name="exposure", n_trials=20, perturbation="curl", channel_prob=0.2),
          BlockConfig(name="washout", n_trials=8), BlockConfig(name="reexposure", n_trials=20, perturbation="curl", channel_prob=0.2)]
EXPOSURE_ERROR_M, REEXPOSURE_ERROR_M = 0.006, 0.004  #: field-signed error of every field trial in each exposure


def trials() -> dict:
    """Per-trial metrics: eight targets in turn, every fifth curl trial a channel trial (no deviation)."""
    block = np.repeat(np.arange(len(BLOCKS)), [b.n_trials for b in BLOCKS]).astype(float)
    n = block.size
    target = (np.arange(n) % 8) * 45.0
    channel = np.zeros(n)
    for b in (1, 3):
        channel[np.flatnonzero(block == b)[::5]] = 1.0
    sign = adaptation.field_sign(target, np.array(BLOCKS[1].curl_b).reshape(2, 2))
    size = np.select([block == 1, block == 3], [EXPOSURE_ERROR_M, REEXPOSURE_ERROR_M], 0.0)
    perp = np.where(channel == 1, 0.0, sign * size)
    return {"block": block, "catch": np.zeros(n), "channel": channel, "perp_error_m": perp, "target_deg": target,
            "jump_deg": np.zeros(n)}


def test_savings_compares_field_trials_of_both_exposures():
    _blocks, out = adaptation.measures(trials(), BLOCKS, 8)
    assert out["first_exposure_early_m"] == out["early_exposure_m"]
    np.testing.assert_allclose(out["first_exposure_early_m"], EXPOSURE_ERROR_M)
    np.testing.assert_allclose(out["reexposure_early_m"], REEXPOSURE_ERROR_M)  # channel trials (0 m) not averaged in
    np.testing.assert_allclose(out["savings_m"], EXPOSURE_ERROR_M - REEXPOSURE_ERROR_M)
