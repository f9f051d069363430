"""The learned feedforward changes the movement: curl-field adaptation in the hand's path.

Two whole sessions of the shipped configs/curl_adaptation.toml, run as a user would
(`rtcore run --fast`), read through their summary.json: baseline -> curl field (Shadmehr &
Mussa-Ivaldi 1994, 15% catch trials) -> washout, with the feedforward learning (taught by the
residual force, rtcore/cerebellum/feedforward.py) and with its learning rate at 0 (the control; the
forward model learns in both). The measure is the task's per-trial perpendicular error at peak
speed, signed toward the field, relative to each target's baseline (`field_error_m`).
"""
import pathlib
import uuid

import numpy as np
import pytest

from enginecli import fast_sessions, summary

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "curl_adaptation.toml"
EDGE = 16  # early / late exposure windows, trials
N_TARGETS = 8


def _trials(s: dict) -> dict:
    tr = s["task"]["trials"]
    return {k: np.array([np.nan if v is None else v for v in tr[k]], float)
            for k in ("trial", "block", "catch", "target_deg", "perp_error_m", "field_error_m", "success")}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """{'learn': summary, 'control': summary}: both sessions run at once (one per core)."""
    runs = fast_sessions(tmp_path_factory, {"learn": (CONFIG, []), "control": (CONFIG, ["feedforward.learning_rate=0"])}, "ff")
    result = {}
    for label, (out, code, text) in runs.items():
        assert code == 0 and "task done" in text, text  # --fast: every row recorded, verdict ok
        result[label] = summary(out)
        result[label]["_out"] = str(out)
    return result


def exposure(t: dict, catch: bool = False) -> np.ndarray:
    sel = (t["block"] == 1) & ((t["catch"] == 1) == catch)
    return t["field_error_m"][sel]


def test_summary_carries_per_trial_and_block_measures(sessions):
    s = sessions["learn"]
    assert s["exit_reason"].startswith("task")
    t = _trials(s)
    n = s["task"]["n_trials"]
    assert t["trial"].size == n == 16 + 128 + 24
    assert np.isfinite(t["field_error_m"]).all() and set(np.unique(t["catch"])) == {0.0, 1.0}
    # every reach ends in the target: the field no longer leaves the hand resting off target while the
    # Smith estimate says it is there (36% of exposure trials timed out before the forward model's fix)
    for label in ("learn", "control"):
        assert _trials(sessions[label])["success"].mean() >= 0.98, label
    blocks = s["task"]["blocks"]
    assert [b["name"] for b in blocks] == ["baseline", "exposure", "washout"]
    assert blocks[1]["n_catch"] == int(exposure(t, catch=True).size) > 0
    np.testing.assert_allclose(blocks[1]["mean_field_error_m"], exposure(t).mean())
    # baseline is the reference: its field-signed errors average to zero per target
    assert abs(blocks[0]["mean_field_error_m"]) < 1e-12
    assert s["config"]["feedforward"]["learning_rate"] > 0
    assert sessions["control"]["config"]["feedforward"]["learning_rate"] == 0


def test_errors_fall_over_exposure(sessions):
    t, c = _trials(sessions["learn"]), _trials(sessions["control"])
    e, ec = exposure(t), exposure(c)
    early, late = e[:EDGE].mean(), e[-EDGE:].mean()
    base_sd = t["field_error_m"][t["block"] == 0].std()
    assert early > 3 * base_sd  # the field is a surprise, well above baseline scatter
    assert late <= 2 / 3 * early, (early, late)
    a = sessions["learn"]["task"]["adaptation"]
    np.testing.assert_allclose([a["early_exposure_m"], a["late_exposure_m"]], [early, late])
    # the control adapts far less (only through the forward model's estimate): its late error stays
    # above the learner's, and falls by a smaller fraction (measured 0.69 of early against 0.37)
    assert ec[-EDGE:].mean() > 1.3 * late
    assert ec[-EDGE:].mean() / ec[:EDGE].mean() > late / early + 0.1


def _late_catch(t: dict) -> tuple:
    """(early exposure error, catch-trial errors after the first two target cycles of exposure)."""
    early = exposure(t)[:EDGE].mean()
    expo = np.flatnonzero(t["block"] == 1)[2 * N_TARGETS:]
    return early, t["field_error_m"][expo][t["catch"][expo] == 1]


def test_catch_trials_mirror_the_early_error(sessions):
    for label in ("learn", "control"):
        t = _trials(sessions[label])
        early, catch = _late_catch(t)
        assert catch.size >= 8
        opposite = np.mean(np.sign(catch) == -np.sign(early))
        a = sessions[label]["task"]["adaptation"]
        assert a["n_catch_after_skip"] == catch.size and a["catch_opposite_fraction"] == pytest.approx(opposite)
        if label == "learn":  # after-effect: the learned compensation pushes the hand the other way
            assert opposite >= 0.9, catch  # measured 16 of 16
            assert -catch.mean() >= early / 3, (catch.mean(), early)
        else:  # no learned feedforward: a far smaller after-effect (the forward model's estimate alone)
            assert -catch.mean() < early / 3, (opposite, catch.mean(), early)


def test_washout_after_effect_decays_to_baseline(sessions):
    t, c = _trials(sessions["learn"]), _trials(sessions["control"])
    early = exposure(t)[:EDGE].mean()
    wash, wash_c = t["field_error_m"][t["block"] == 2], c["field_error_m"][c["block"] == 2]
    base_sd = t["field_error_m"][t["block"] == 0].std()
    first, last = wash[:4].mean(), wash[-8:].mean()
    assert first < -max(2 * base_sd, early / 5), (first, early)  # after-effect, opposite to the field
    assert abs(last) < abs(first) / 2 and abs(last) < 2 * base_sd + 0.001, (first, last)  # back to baseline
    assert wash_c[:4].mean() > first + abs(first) / 2  # the control has (almost) none


def test_joint_torque_plant_is_refused_with_one_line():
    """The feedforward is an endpoint-force command: a joint-torque arm is a config error, named."""
    from rtcore import pipeline
    from rtcore.config import validate
    raw = {"session": {"name": f"ff-joint-{uuid.uuid4().hex[:8]}"}, "loop": {"realtime": False},
           "plant": {"kind": "two_link_arm", "command_space": "joint"},
           "task": {"kind": "center_out"}, "block": [{"name": "baseline", "n_trials": 1}],
           "controller": {"kind": "passthrough", "input": "target"}, "feedforward": {}}
    with pytest.raises(ValueError, match=r"feedforward: the command has 2 channels \(shoulder, elbow, N\*m\).*command_space = 'endpoint'"):
        pipeline.build(validate(raw))
