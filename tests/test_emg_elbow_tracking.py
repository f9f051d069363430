"""EMG drives the MyoSuite elbow to target angles in closed loop: the shipped configs/emg_elbow.toml
(synthetic EMG user -> EMG decoder -> six muscle excitations -> MuJoCo elbow, one-joint tracking
task), run as a user would with `rtcore run --fast`, reaches and holds its targets."""
import numpy as np

from enginecli import assert_finished, run_cli


def test_emg_reaches_and_holds_the_elbow_targets(tmp_path):
    out = tmp_path / "elbow"
    r = run_cli("run", "configs/emg_elbow.toml", "--fast", "--quiet", "--out", out,
                "--set", "session.name=wf-elbow-fast")
    s = assert_finished(r, out)
    task = s["task"]
    tr = {k: np.array([np.nan if v is None else v for v in col], float) for k, col in task["trials"].items()}
    ok = tr["success"] > 0
    print(f"\nelbow tracking: {int(ok.sum())}/{task['n_done']} targets, movement time "
          f"{np.nanmedian(tr['movement_time_s']):.2f} s (median), end error {np.median(tr['endpoint_error_deg']):.1f} deg")
    assert task["n_done"] == 16
    assert ok.mean() >= 0.8
    assert np.ptp(tr["target_deg"]) >= 60.0  # flexion and extension over most of the range
    assert np.all(tr["endpoint_error_deg"][ok] < 8.0)  # held inside the 8 deg tolerance
    assert s["exit_reason"].startswith("task")  # it ended because every trial was done
