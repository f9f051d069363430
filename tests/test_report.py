"""The session report a scientist reads, in bounded memory, and recordings decimated per signal.

- A Dynamixel session (the pty emulator, a joint-space center-out task, the target passed through
  as the servos' goal position) gets only panels with data, among them commanded vs measured joints.
- The report of a 4x longer session takes no more memory (thinned streams, histograms); the page has
  the resolved config, the blocks and a per-trial table with rounded numbers.
- record.every_ticks decimates engine outputs in session.xdf (held between samples on load) while the
  input stays complete, and a replay of that file still reproduces the recorded outputs exactly.
(The 1 h figures are in benchmarks/report_memory.py.)
"""
import re
import tracemalloc

import numpy as np
import pytest

from devices.emulators.dynamixel_bus import DynamixelBusEmulator
from enginecli import SYNTHETIC_EMG, assert_finished, dynamixel_session, emg_arm, run_cli, summary, toml, write_config
from lsl_helpers import unique

EMG_ARM_HEAD = """
    [session]
    name = "{name}"

    [record]
    every_ticks = {{ prediction = 10, spe = 10 }}
"""


def _data_artists(ax) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.collections) + len(ax.images) + len(ax.child_axes)


def test_dynamixel_session_report_has_no_empty_panel(tmp_path):
    from rtcore import report
    with DynamixelBusEmulator(ids=(1, 2), tau_s=0.03) as em:
        path = write_config(tmp_path, toml(dynamixel_session(unique('dxlreport'), em.path, 3.0), """
            [controller]
            kind = "passthrough"
            input = "target"
            [task]
            kind = "center_out"
            center_m = [0.0, 0.0]
            radius_m = 0.3
            target_tolerance_m = 0.05
            hold_s = 0.1
            [[block]]
            name = "joint reaches"
            n_trials = 20
        """))
        out = tmp_path / "out"
        r = run_cli("run", path, "--out", out, "--quiet")
    assert_finished(r, out)
    fig = report.figure(str(out))
    titled = [ax for ax in fig.axes if ax.get_title()]
    titles = [ax.get_title() for ax in titled]
    assert "Commanded vs measured joints" in titles and any(t.startswith("Timing") for t in titles), titles
    assert not any(t.startswith("Hand paths") for t in titles)  # joint angles are not a hand
    for ax in titled:
        assert _data_artists(ax) > 0, f"empty panel: {ax.get_title()}"
        assert not [t for t in ax.texts if t.get_text().startswith("no ")], ax.get_title()
    joints = titled[titles.index("Commanded vs measured joints")]
    measured = [ln.get_ydata() for ln in joints.lines if ln.get_label().endswith("measured")]
    assert len(measured) == 2 and max(np.ptp(y) for y in measured) > 0.05  # the joints moved


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two offline sessions of the same chain, 15 s and 60 s."""
    tmp = tmp_path_factory.mktemp("report")
    out = {}
    for seconds in (15, 60):
        cfg = write_config(tmp, toml(EMG_ARM_HEAD.format(name=unique("report")), SYNTHETIC_EMG, emg_arm(200)),
                           f"s{seconds}.toml")
        out[seconds] = tmp / f"run{seconds}"
        r = run_cli("run", cfg, "--fast", "--duration", seconds, "--out", out[seconds], "--quiet")
        assert_finished(r, out[seconds])
    return out


def _peak_bytes(run_dir) -> int:
    from rtcore import report
    tracemalloc.start()
    try:
        report.figure(str(run_dir), max_points=3000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_report_memory_does_not_grow_with_session_length(runs):
    from rtcore import report
    short, long = _peak_bytes(runs[15]), _peak_bytes(runs[60])
    assert long < 1.25 * short, (short, long)
    _png, page = report.write(str(runs[60]))
    text = open(page).read()
    assert "<h2>Trials (" in text and "<h2>Blocks</h2>" in text and "[forward_model]" in text
    numbers = re.findall(r"\d+\.\d+", text.split("<h2>Resolved config</h2>")[0])
    long_ = [x for x in numbers if len(x.replace(".", "").lstrip("0")) > 4]
    assert numbers and not long_, long_  # rounded to 4 significant digits (0.007196 is 4 of them)
    s = summary(runs[60])
    assert text.count("<tr>") >= s["task"]["n_done"] + 2


def test_decimated_outputs_hold_and_inputs_stay_full(runs):
    import pyxdf
    from rtcore import recording
    run = runs[15]
    ticks = summary(run)["ticks"]
    streams, _ = pyxdf.load_xdf(str(run / "session.xdf"))
    by = {s["info"]["name"][0]: s for s in streams}
    assert len(by["spe"]["time_stamps"]) == len(by["prediction"]["time_stamps"]) == -(-ticks // 10)
    assert float(by["spe"]["info"]["nominal_srate"][0]) == 100.0
    assert len(by["state"]["time_stamps"]) == len(by["input_n"]["time_stamps"]) == ticks
    assert len(by["input"]["time_stamps"]) == int(np.sum(by["input_n"]["time_series"]))
    rec = recording.load(str(run))
    assert rec["spe"].shape[0] == ticks
    np.testing.assert_array_equal(rec["spe"][10:20], np.repeat(by["spe"]["time_series"][1:2], 10, axis=0))
    r = run_cli("replay", run / "session.xdf", "--out", run / "replay")
    assert r.returncode == 0, r.stdout + r.stderr
    diffs = summary(run / "replay")["replay_max_abs_diff"]
    assert "spe" in diffs and all(d == 0.0 for d in diffs.values()), diffs
