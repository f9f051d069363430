"""Feedback perturbations change what is seen, not what the arm does.

Rotation: with the controller on the true hand, the true path is the same as without rotation and
the fed-back hand is the true hand rotated by rotation_deg about the reach start. Clamp (Morehead
et al. 2017): the fed-back hand moves along a fixed line at clamp_deg from the target, so the
fed-back direction error is clamp_deg whatever the movement, here for reaches aimed 0 deg and
25 deg off target."""
import numpy as np
import pytest

from reach_rig import ReachRig
from sims.paradigms import markers as MK
from sims.paradigms.center_out import trial_metrics

TASK = {"n_targets": 4, "random_order": False}


def run(block, aim_deg=0.0, feedback="state"):
    rig = ReachRig([block], task=TASK)
    rec, _ = rig.run(30000, feedback=feedback, aim_deg=aim_deg)
    return rig, rec, trial_metrics(rig.task)


def rot(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


@pytest.fixture(scope="module")
def rotation():
    return run({"name": "base", "n_trials": 1}), run({"name": "rot", "n_trials": 1, "perturbation": "rotation",
                                                       "rotation_deg": 30.0})


def test_rotation_leaves_the_true_path_unchanged(rotation):
    (_, base, mb), (_, rot_rec, mr) = rotation
    go = np.flatnonzero(base["marker"][:, 0] == MK.GO)[0]
    acquired = np.flatnonzero(base["marker"][:, 0] == MK.SUCCESS)[0]
    assert go == np.flatnonzero(rot_rec["marker"][:, 0] == MK.GO)[0]
    np.testing.assert_allclose(rot_rec["state"][:acquired], base["state"][:acquired], atol=1e-12)
    assert mr["angle_error_deg"][0] == pytest.approx(mb["angle_error_deg"][0], abs=1e-9)


def test_rotation_rotates_the_fed_back_hand(rotation):
    _, (rig, rec, met) = rotation
    marks = rec["marker"][:, 0]
    go = np.flatnonzero(marks == MK.GO)[0]
    end = np.flatnonzero(np.isin(marks, (MK.SUCCESS, MK.TIMEOUT)))[0]
    center = np.array(rig.center)
    x, obs = rec["state"][go:end], rec["observed"][go:end]
    np.testing.assert_allclose(obs[:, :2] - center, (x[:, :2] - center) @ rot(30.0).T, atol=1e-12)
    np.testing.assert_allclose(obs[:, 2:], x[:, 2:] @ rot(30.0).T, atol=1e-12)
    assert met["feedback_angle_error_deg"][0] - met["angle_error_deg"][0] == pytest.approx(30.0, abs=1e-6)
    # before the go cue (center phase) the feedback is veridical
    np.testing.assert_allclose(rec["observed"][:go - 1], rec["state"][:go - 1], atol=1e-12)


@pytest.mark.parametrize("clamp_deg", [0.0, 10.0])
def test_clamp_error_is_independent_of_the_movement(clamp_deg):
    block = {"name": "clamp", "n_trials": 4, "perturbation": "clamp", "clamp_deg": clamp_deg}
    straight = run(block, aim_deg=0.0)[2]
    rig, rec, skewed = run(block, aim_deg=25.0)
    # the true hands went different ways ...
    assert np.all(np.abs(skewed["angle_error_deg"] - straight["angle_error_deg"]) > 15.0)
    # ... but the fed-back direction error is the clamp angle in both
    np.testing.assert_allclose(straight["feedback_angle_error_deg"], clamp_deg, atol=1e-6)
    np.testing.assert_allclose(skewed["feedback_angle_error_deg"], clamp_deg, atol=1e-6)
    # and the fed-back hand stays on the clamp line at the true radial distance
    marks = rec["marker"][:, 0]
    go = np.flatnonzero(marks == MK.GO)[0]
    end = np.flatnonzero(np.isin(marks, (MK.SUCCESS, MK.TIMEOUT)))[0]
    center = np.array(rig.center)
    d_true = rec["state"][go:end, :2] - center
    d_obs = rec["observed"][go:end, :2] - center
    a = np.radians(skewed["target_deg"][0] + clamp_deg)
    line = np.array([np.cos(a), np.sin(a)])
    np.testing.assert_allclose(d_obs, np.hypot(*d_true.T)[:, None] * line, atol=1e-12)
