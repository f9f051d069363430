"""Explicit re-aiming competes with implicit adaptation, in whole sessions (Albert et al. 2022,
eLife 11:e65361; Mazzoni & Krakauer 2006; exclusion trials as Werner et al. 2015).

The shipped configs/reaiming.toml, run as a user would (`rtcore run --fast`): 16 baseline reaches,
120 under a 30 deg rotation of the seen hand, then 8 exclusion trials (straight at the target, no
strategy, nothing learned). Beside it the same session with an instructed strategy (aim 20 deg
clockwise, block.1.strategy_deg = -20). Measured on the true hand: its direction at peak speed
minus the target's (angle_error_deg). Both sessions compensate the rotation alike, but with the
strategy taking most of it, the implicit process has less error to learn from: the exclusion
trials, the implicit component alone, turn far less.
"""
import pathlib

import numpy as np
import pytest

from enginecli import fast_sessions, summary

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "reaiming.toml"
RUNS = {"implicit": [], "strategy": ["block.1.strategy_deg=-20"]}
ROTATION, EXCLUSION = 1, 2  # block indices


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """{label: per-trial columns}: the two sessions, at once."""
    out = {}
    for label, (run, code, text) in fast_sessions(tmp_path_factory, {k: (CONFIG, v) for k, v in RUNS.items()}, "reaim").items():
        assert code == 0 and "task done" in text, (label, text)  # --fast: every row recorded, verdict ok
        trials = summary(run)["task"]["trials"]
        out[label] = {k: np.array([np.nan if v is None else v for v in col], float) for k, col in trials.items()}
    return out


def mean_angle(t: dict, block: int, last: int | None = None) -> float:
    sel = np.flatnonzero(t["block"] == block)
    return float(np.nanmean(t["angle_error_deg"][sel[-last:] if last else sel]))


def test_both_compensate_the_rotation_and_still_hit_the_targets(sessions):
    for label, t in sessions.items():
        assert t["success"][t["block"] == ROTATION].mean() >= 0.9, label
        assert mean_angle(t, ROTATION, last=40) <= -20.0, (label, mean_angle(t, ROTATION, last=40))  # measured -27.7, -29.5


def test_a_strategy_leaves_less_implicit_adaptation(sessions):
    """Exclusion trials (one per target): measured -18.7 deg without a strategy, -4.6 with it."""
    implicit, strategy = mean_angle(sessions["implicit"], EXCLUSION), mean_angle(sessions["strategy"], EXCLUSION)
    assert implicit <= -10.0, implicit
    assert abs(strategy) < 0.5 * abs(implicit), (strategy, implicit)
