"""Under a plain endpoint PD controller and no perturbation, the two-link arm reaches and holds
every target of a center-out block; the task's markers, phases and per-trial metrics agree with
the recorded hand path."""
import numpy as np
import pytest

from reach_rig import ReachRig
from rtcore import status
from sims.paradigms import markers as MK
from sims.paradigms.center_out import PH_DONE, trial_metrics

N_TARGETS = 8


@pytest.fixture(scope="module")
def run():
    rig = ReachRig([{"name": "baseline", "n_trials": N_TARGETS}],
                   task={"n_targets": N_TARGETS, "radius_m": 0.1, "hold_s": 0.2, "timeout_s": 2.0})
    rec, code = rig.run(40000)
    return rig, rec, code, trial_metrics(rig.task)


def test_every_target_reached_and_held(run):
    rig, rec, code, met = run
    assert code == status.TASK_DONE
    assert met["trial"].size == N_TARGETS
    assert met["success"].tolist() == [1.0] * N_TARGETS
    assert sorted(np.round(met["target_deg"]).tolist()) == [45.0 * k for k in range(N_TARGETS)]
    assert np.all(met["movement_time_s"] < 1.0)
    assert np.all(met["endpoint_error_m"] < 0.02)
    assert np.all(met["peak_speed_m_s"] > 0.2)
    assert rec["trial"][-1, 2] == PH_DONE


def test_markers_follow_the_trials(run):
    rig, rec, code, met = run
    marks = rec["marker"][:, 0]
    codes = marks[marks != 0].astype(int).tolist()
    assert codes[0] == MK.BLOCK_START and codes[-1] == MK.TASK_DONE
    assert codes.count(MK.GO) == N_TARGETS and codes.count(MK.SUCCESS) == N_TARGETS
    assert codes.count(MK.TIMEOUT) == 0
    # the go ticks are the trials' t_go, and the target is where the metrics say
    go_ticks = np.flatnonzero(marks == MK.GO)
    np.testing.assert_allclose(go_ticks * 0.001, met["t_go_s"], atol=1e-9)
    center = np.array(rig.center)
    for k, tick in enumerate(go_ticks):
        a = np.radians(met["target_deg"][k])
        np.testing.assert_allclose(rec["target"][tick], center + 0.1 * np.array([np.cos(a), np.sin(a)]), atol=1e-12)


def test_metrics_match_the_recorded_path(run):
    """Slow reference: peak speed and perpendicular error recomputed from the trace."""
    rig, rec, code, met = run
    marks = rec["marker"][:, 0]
    go = np.flatnonzero(marks == MK.GO)
    ends = np.flatnonzero(np.isin(marks, (MK.SUCCESS, MK.TIMEOUT)))
    center = np.array(rig.center)
    for k in range(N_TARGETS):
        # the task at tick t sees the state written at tick t-1
        x = rec["state"][go[k]:ends[k], :2]
        v = rec["state"][go[k]:ends[k], 2:]
        speed = np.hypot(v[:, 0], v[:, 1])
        a = np.radians(met["target_deg"][k])
        u = np.array([np.cos(a), np.sin(a)])
        d = x - center
        perp = u[0] * d[:, 1] - u[1] * d[:, 0]
        j = int(np.argmax(speed))
        assert met["peak_speed_m_s"][k] == pytest.approx(speed[j], rel=1e-12)
        assert met["perp_error_m"][k] == pytest.approx(perp[j], abs=1e-12)
