"""Use-dependent learning in whole sessions (Verstynen & Sabes 2011; Diedrichsen et al. 2010).

The shipped configs/use_dependent.toml, run as a user would (`rtcore run --fast`): baseline to 8
targets, then a block where 6 of every 8 reaches go to 90 deg and the others to 45 and 135 deg.
Beside it the same session with the aim's weight at 0 (same seed, the same reaches' noise): the
plan never turns. Measured on the hand: its direction at peak speed minus the target's
(angle_error_deg), on the reaches to 45 and 135 deg, signed + toward 90 deg. The task measures
it from the center, and after reaches from 90 deg the hand rests in the 5 mm center window on
that side, so the control's reaches turn that way too (-1.2 -> 5.8 deg); the difference between
the sessions is the use-dependent turn.
"""
import pathlib

import numpy as np
import pytest

from enginecli import fast_sessions, summary

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "use_dependent.toml"
RUNS = {"use": [], "control": ["aim.use_dependent_weight=0"]}
REPEATED_DEG = 90.0


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """{label: summary}: the two sessions, at once."""
    out = {}
    for label, (run, code, text) in fast_sessions(tmp_path_factory, {k: (CONFIG, v) for k, v in RUNS.items()}, "ud").items():
        assert code == 0 and "task done" in text, text  # --fast: every row recorded, verdict ok
        out[label] = summary(run)
    return out


def toward_repeated(s: dict) -> dict:
    """{'baseline' | 'early' | 'late': mean angle error (deg) of the 45 and 135 deg reaches, + toward 90 deg}.

    early / late: the first and second half of the repeat block."""
    t = {k: np.array([np.nan if v is None else v for v in col], float) for k, col in s["task"]["trials"].items()}
    side = np.sign(REPEATED_DEG - t["target_deg"])
    probe = np.isin(np.round(t["target_deg"]), [45.0, 135.0]) & (t["success"] == 1)
    toward = side * t["angle_error_deg"]
    repeat = np.flatnonzero(t["block"] == 1)
    half = repeat[repeat.size // 2]
    return {"baseline": toward[probe & (t["block"] == 0)].mean(),
            "early": toward[probe & (t["block"] == 1) & (np.arange(t["block"].size) < half)].mean(),
            "late": toward[probe & (np.arange(t["block"].size) >= half)].mean()}


def test_reaches_turn_toward_the_repeated_direction(sessions):
    use, control = toward_repeated(sessions["use"]), toward_repeated(sessions["control"])
    assert abs(use["baseline"] - control["baseline"]) < 0.5, (use, control)  # reaches in every direction: m ~ 0
    assert use["late"] - control["late"] >= 2.0, (use, control)  # measured 3.8 deg (first half 2.8)
    assert use["late"] - control["late"] > use["early"] - control["early"], (use, control)  # it builds with use


def test_the_endpoints_stay_on_target_and_the_prior_points_at_the_repeated_direction(sessions):
    for label in RUNS:
        ok = np.array(sessions[label]["task"]["trials"]["success"], float)
        assert sessions[label]["task"]["n_done"] == ok.size == 112 and ok.mean() >= 0.95, (label, ok.mean())
    prior = np.array(sessions["use"]["use_dependent"]["prior"])
    angle = np.degrees(np.arctan2(prior[-1, 1], prior[-1, 0]))
    assert abs(angle - REPEATED_DEG) < 10.0 and np.hypot(*prior[-1]) > 0.5, prior[-1]
