"""A supervised session leaves session.xdf (spec-conformant, read by pyxdf), a report, and a
recording whose replay through the same config and seed reproduces every output to the bit."""
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from enginecli import RTCORE, assert_finished, run_cli, summary
from lsl_helpers import unique

BENCH = str(Path(__file__).resolve().parent.parent / "configs/bench/tick.toml")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("xdf") / "run"
    r = run_cli("run", BENCH, "--duration", 2, "--quiet", "--out", out)
    assert_finished(r, out)
    return out


@pytest.fixture(scope="module")
def rec(session):
    from rtcore import xdf
    return xdf.load(str(session / "session.xdf"))


def test_pyxdf_reads_every_stream_with_its_channels(session, rec):
    s = summary(session)
    ticks = s["ticks"]
    expect = {"command": 2, "state": 4, "prediction": 4, "spe": 4, "feedback": 4, "estimate": 4, "trial": 3,
              "target": 2, "input_n": 1, "input_time": 1, "hold": 1, "timing": 4, "input": 4, "purkinje_norm": 2}
    for name, nch in expect.items():
        info = rec[name]["info"]
        assert int(info["channel_count"][0]) == nch, name
        assert np.asarray(rec[name]["time_series"]).shape[1] == nch, name
        if name != "input":
            assert len(rec[name]["time_stamps"]) == ticks, name
    # every EMG sample (2 kHz into a 1 kHz loop) is in the input stream, labelled with its unit
    assert len(rec["input"]["time_stamps"]) == int(np.asarray(rec["input_n"]["time_series"]).sum())
    assert abs(len(rec["input"]["time_stamps"]) - 2 * ticks) <= 2
    ch = rec["state"]["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in ch] == ["hand_x", "hand_y", "hand_vx", "hand_vy"] or len(ch) == 4
    assert float(rec["state"]["info"]["nominal_srate"][0]) == 1000.0
    # markers are strings at the tick they happened; the timing stream matches the summary
    assert rec["markers"]["info"]["channel_format"][0] == "string"
    assert {m[0] for m in rec["markers"]["time_series"]} >= {"block_start", "go"}
    assert int(rec["timing"]["footer"]["info"]["sample_count"][0]) == ticks
    assert int(rec["timing"]["footer"]["info"]["ring_dropped_rows"][0]) == s["ring_dropped_rows"] == 0
    # each tick is stamped with its wake time on the local clock: minus the wake latency, on the 1 ms grid
    deadline = np.asarray(rec["command"]["time_stamps"]) - np.asarray(rec["timing"]["time_series"])[:, 2] * 1e-6
    grid = (deadline - deadline[0]) * 1e3
    assert np.abs(grid - np.round(grid)).max() < 1e-4 and round(grid[-1]) == ticks - 1 + s["deadline_misses"]


def test_summary_has_trials_and_learning_figures(session):
    s = summary(session)
    assert s["task"]["n_done"] >= 1 and len(s["task"]["trials"]["perp_error_m"]) == s["task"]["n_done"]
    spe = s["learning"]["spe_per_trial_m"]
    assert len(spe) >= s["task"]["n_done"] and all(v is None or 0 <= v < 0.5 for v in spe)
    assert len(s["learning"]["spe_per_block_m"]) >= 1
    assert s["learning"]["purkinje_norm_final"] > 0  # the forward model learned during the reaches


def test_replay_reproduces_the_recorded_outputs_exactly(session, rec):
    out = session / "replay"
    r = run_cli("replay", session / "session.xdf", "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    diffs = json.load(open(out / "summary.json"))["replay_max_abs_diff"]
    assert set(diffs) >= {"command", "state", "prediction", "spe", "purkinje_norm"}
    assert all(d == 0.0 for d in diffs.values()), diffs
    from rtcore import xdf
    again = xdf.load(str(out / "session.xdf"))
    np.testing.assert_array_equal(again["input"]["time_series"], rec["input"]["time_series"])
    assert [m[0] for m in again["markers"]["time_series"]] == [m[0] for m in rec["markers"]["time_series"]]


def test_run_writes_a_report_with_every_panel(session):
    from rtcore import report
    assert (session / "report.png").stat().st_size > 10_000
    assert "report.png" in (session / "report.html").read_text()
    titles = [ax.get_title() for ax in report.figure(str(session)).axes]
    for want in ("Learning curve", "SPE over time", "Timing", "Hand paths: baseline", "Decoder performance"):
        assert any(t.startswith(want) for t in titles), (want, titles)


def test_replay_through_a_new_decoder_changes_only_what_follows_it(session, tmp_path):
    # a lab re-decodes old data: same recorded EMG, half the decoder gain -> smaller commands
    cfg = tmp_path / "half_gain.toml"
    cfg.write_text((session / "config.toml").read_text().replace("torque_gain_nm = 8.0", "torque_gain_nm = 4.0"))
    assert "torque_gain_nm = 4.0" in cfg.read_text()
    out = tmp_path / "redecoded"
    r = run_cli("replay", session / "session.xdf", "--config", cfg, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    from rtcore import xdf
    old, new = xdf.load(str(session / "session.xdf")), xdf.load(str(out / "session.xdf"))
    np.testing.assert_array_equal(new["input"]["time_series"], old["input"]["time_series"])
    assert np.abs(np.asarray(new["command"]["time_series"]) - old["command"]["time_series"]).max() > 1e-3


def test_replay_as_an_lsl_outlet_sends_the_recorded_samples(session, rec):
    import pylsl
    name = unique("replay")
    p = subprocess.Popen(RTCORE + ["replay", str(session / "session.xdf"), "--lsl", name, "--speed", "4"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = pylsl.resolve_byprop("name", name, timeout=30)
        assert found, p.stdout.readline()
        inlet = pylsl.StreamInlet(found[0])
        assert inlet.info().channel_count() == 4 and inlet.info().nominal_srate() == 2000.0
        want = np.asarray(rec["input"]["time_series"])
        got = []
        t_end = time.monotonic() + 30
        while sum(len(c) for c in got) < want.shape[0] and time.monotonic() < t_end:
            chunk, _ = inlet.pull_chunk(timeout=0.5)
            if chunk:
                got.append(np.asarray(chunk))
        np.testing.assert_array_equal(np.concatenate(got), want)
        assert p.wait(30) == 0
    finally:
        p.kill()
        p.wait()
