"""The EMG demo (configs/emg_demo.toml) runs as written: a synthetic EMG user over real LSL (a companion process)
drives the MuJoCo arm through the engine, in real time, and the arm reaches its targets."""
import pathlib

from rtcore import recording
from enginecli import assert_finished, run_cli

DEMO = pathlib.Path(__file__).resolve().parent.parent / "configs" / "emg_demo.toml"


def test_demo_closes_the_loop_through_lsl(tmp_path):
    out = tmp_path / "demo"
    r = run_cli("run", DEMO, "--duration", 12, "--out", out, "--quiet")
    s = assert_finished(r, out)
    assert s["ticks"] == 12000
    # the EMG stream flowed the whole time: no safe hold, no lost stream
    assert s["hold_ticks"] == 0
    assert "source" not in s["status_counts"]
    # the user reached targets by EMG alone (baseline block: no perturbation yet)
    base = s["task"]["blocks"][0]
    assert base["name"] == "baseline" and base["n_done"] >= 3 and base["success_rate"] >= 0.75
    rec = recording.load(out)
    assert rec["rows"].shape[0] == 12000
    assert rec["input"].shape[1] == 4 and abs(rec["input"]).max() > 0  # raw EMG reached the tick
    assert (out / "companion-emg-user.log").read_text().count("following session 'demo'") == 1
