"""The viscous curl field F = B v (Shadmehr & Mussa-Ivaldi 1994, B = [[-10.1, -11.2], [-11.2, 11.1]]
N s/m) pushes each reach to the side that B predicts: for reach direction u and its left normal
n = (-u_y, u_x), the lateral force on a hand moving along u is (n . B u)|v|, so the extra
perpendicular deviation over the unperturbed reach has the sign of n . B u for every target.
Catch trials in an exposure block are unperturbed."""
import numpy as np
import pytest

from reach_rig import ReachRig
from sims.paradigms.blocks import CURL_B
from sims.paradigms.center_out import trial_metrics

TASK = {"n_targets": 8, "random_order": False, "timeout_s": 3.0}


def run(block):
    rig = ReachRig([block], task=TASK)
    rec, _ = rig.run(60000)
    return rig, rec, trial_metrics(rig.task)


@pytest.fixture(scope="module")
def runs():
    return run({"name": "baseline", "n_trials": 8}), run({"name": "exposure", "n_trials": 8, "perturbation": "curl"})


def test_deflection_side_matches_b(runs):
    (_, _, base), (_, _, curl) = runs
    b = np.array(CURL_B).reshape(2, 2)
    a = np.radians(curl["target_deg"])
    u = np.stack([np.cos(a), np.sin(a)], axis=1)
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    lateral = np.einsum("ki,ij,kj->k", n, b, u)  # n . B u, N s/m: 10.6 sin 2a - 11.2 cos 2a
    np.testing.assert_allclose(lateral, 10.6 * np.sin(2 * a) - 11.2 * np.cos(2 * a), atol=1e-9)
    assert np.all(np.abs(lateral) > 10.0)
    deflection = curl["max_perp_error_m"] - base["max_perp_error_m"]
    assert np.array_equal(np.sign(deflection), np.sign(lateral)), (deflection, lateral)
    assert np.all(np.abs(deflection) > 0.01)  # > 1 cm on a 10 cm reach
    assert np.all(np.abs(base["max_perp_error_m"]) < 0.01)


def test_exposure_drives_the_plant_field(runs):
    """The task writes B to the plant's `curl` input from the first tick of the block (the force
    F = B v itself is checked against MuJoCo in test_mujoco_plant_reference.py)."""
    _, (_, rec, _) = runs
    np.testing.assert_allclose(rec["curl"], np.tile(CURL_B, (rec["curl"].shape[0], 1)))


def test_catch_trials_are_unperturbed():
    rig = ReachRig([{"name": "exposure", "n_trials": 16, "perturbation": "curl", "catch_prob": 0.5}], task=TASK)
    rec, _ = rig.run(80000)
    met = trial_metrics(rig.task)
    catch = met["catch"] == 1
    assert 0 < catch.sum() < 16
    trial = rec["trial"][:, 0].astype(int)
    for k in range(16):
        field = rec["curl"][trial == k]
        expect = np.zeros(4) if catch[k] else np.array(CURL_B)
        np.testing.assert_allclose(field[-1], expect)
    assert np.all(np.abs(met["max_perp_error_m"][catch]) < 0.01)
