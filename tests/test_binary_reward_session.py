"""Reward learning from hit or miss in whole sessions (Izawa & Shadmehr 2011; Therrien, Wolpert &
Bastian 2016), and its lesions (Parkinson's lowers the dopamine gain; cerebellar damage spares it).

The shipped configs/binary_reward.toml, run as a user would (`rtcore run --fast`): 16 ordinary
reaches, then 160 scored only as hit or miss, a hit ending within 5 deg of the target's direction
turned 10 deg counter-clockwise. Beside it, on the same seed and schedule: the control (the aim's
learning rate at 0: the same explorations, never learned from), Parkinson's and cerebellar lesions.
Measured on the hand: its direction at peak speed minus the target's (angle_error_deg), over the
last 80 reward trials, relative to the control (which has the same reaches' noise and rests).
"""
import pathlib

import numpy as np
import pytest

from enginecli import fast_sessions, summary

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "binary_reward.toml"
RUNS = {"healthy": [], "control": ["aim.aim_rate=0"], "parkinson": ["lesion.kind=parkinson"],
        "cerebellar": ["lesion.kind=cerebellar"]}
ROTATION_DEG = 10.0  #: the rewarded direction, from the target's (the config's reward_rotation_deg)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """{label: summary}: the four sessions, at once."""
    out = {}
    for label, (run, code, text) in fast_sessions(tmp_path_factory, {k: (CONFIG, v) for k, v in RUNS.items()}, "rw").items():
        assert code == 0 and "task done" in text, (label, text)  # --fast: every row recorded, verdict ok
        out[label] = summary(run)
    return out


def late(s: dict) -> dict:
    """{'angle': mean angle error (deg), 'hits': hit rate} over the last 80 reward trials; 'baseline':
    the baseline block's success rate."""
    t = {k: np.array([np.nan if v is None else v for v in col], float) for k, col in s["task"]["trials"].items()}
    reward = np.flatnonzero(t["block"] == 1)[-80:]
    return {"angle": float(np.nanmean(t["angle_error_deg"][reward])), "hits": float(t["success"][reward].mean()),
            "baseline": float(t["success"][t["block"] == 0].mean())}


def test_the_reach_turns_toward_the_rewarded_direction(sessions):
    healthy, control = late(sessions["healthy"]), late(sessions["control"])
    assert healthy["angle"] - control["angle"] >= 0.6 * ROTATION_DEG, (healthy, control)  # measured 11.9 vs 1.2 deg (seed 0)
    assert healthy["hits"] >= 0.6 and control["hits"] <= 0.25, (healthy, control)  # measured 0.84 vs 0.06
    rl = sessions["healthy"]["reward_learning"]
    assert len(rl["trial"]) == 160 and abs(rl["final_aim_deg"] - ROTATION_DEG) < 5.0, rl["final_aim_deg"]
    assert sessions["control"]["reward_learning"]["final_aim_deg"] == 0.0


def test_parkinson_loses_reward_learning_and_cerebellar_damage_spares_it(sessions):
    """Both lesioned arms still reach (>= 90% of the healthy baseline's targets). Parkinson's: the
    dopamine gain (rpe_gain) scales the actor's step, so the aim barely moves. Cerebellar: SPE
    learning is lost but reward learning is within 20% of healthy (Therrien 2016)."""
    healthy, control = late(sessions["healthy"]), late(sessions["control"])
    learned = healthy["angle"] - control["angle"]
    for lesion in ("parkinson", "cerebellar"):
        assert late(sessions[lesion])["baseline"] >= 0.9 * healthy["baseline"], lesion
    # measured (seed 0): learned 10.7 deg; parkinson 0.5 deg, cerebellar 10.4 deg (baseline 15/16 reached)
    assert late(sessions["parkinson"])["angle"] - control["angle"] <= 0.3 * learned, late(sessions["parkinson"])
    cerebellar = late(sessions["cerebellar"])["angle"] - control["angle"]
    assert abs(cerebellar - learned) <= 0.2 * learned, (cerebellar, learned)
