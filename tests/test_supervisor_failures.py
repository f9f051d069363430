"""The parent survives whatever the loop process does: Ctrl-C, a fatal status, abort(), a hang.

Each case must end with a summary.json that says what happened, the recording so far kept,
and the verdict's exit code (README: ok 0, failed 1, degraded 3, stopped 130).
"""
import os
import signal
import subprocess
import time

from rtcore import recording
from enginecli import EXIT, RTCORE, last_line, run_cli, summary, write_config

LONG = """
    [session]
    name = "sup"
    duration_s = 600
    [loop]
    heartbeat_timeout_s = 1.0
"""


def _wait_for_ticks(out, n_rows, timeout=300):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        try:
            if recording.load(out)["rows"].shape[0] >= n_rows:
                return
        except (OSError, KeyError, ValueError):  # not started yet, or caught mid-flush
            pass
        time.sleep(0.1)
    raise AssertionError("session never started ticking")


def test_ctrl_c_to_the_process_group_stops_cleanly(tmp_path):
    path = write_config(tmp_path, LONG)
    out = tmp_path / "out"
    proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_ticks(out, 300)
    os.killpg(proc.pid, signal.SIGINT)
    text, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT["stopped"], text
    s = summary(out)
    assert s["verdict"] == "stopped" and s["exit_reason"] == "stopped by Ctrl-C" and not s["ok"]
    assert s["reasons"][0] == "stopped by Ctrl-C" and last_line(text).startswith("stopped (exit code 130): stopped by Ctrl-C")
    assert s["ticks"] >= 300
    assert s["recorded_rows"] == s["ticks"] == recording.load(out)["rows"].shape[0]


def test_fatal_status_in_a_stage_exits_nonzero_with_reason(tmp_path):
    path = write_config(tmp_path, """
        [session]
        duration_s = 5
        [test]
        crash_at_tick = 300
    """)
    out = tmp_path / "out"
    r = run_cli("run", path, "--out", out, "--quiet")
    assert r.returncode == EXIT["failed"]
    s = summary(out)
    assert s["exit_reason"] == "test: injected crash (test.crash_at_tick)" and s["ticks"] == 301
    assert s["verdict"] == "failed" and s["reasons"][0] == s["exit_reason"]
    assert last_line(r.stdout) == "failed (exit code 1): " + "; ".join(s["reasons"])
    assert s["recorded_rows"] == 301


def test_child_abort_is_reported_and_the_recording_kept(tmp_path):
    path = write_config(tmp_path, """
        [session]
        duration_s = 5
        [test]
        crash_at_tick = 400
        crash_mode = "abort"
    """)
    out = tmp_path / "out"
    r = run_cli("run", path, "--out", out, "--quiet")
    assert r.returncode == EXIT["failed"]
    s = summary(out)
    assert s["exit_reason"].startswith("child died: killed by SIGABRT") and s["verdict"] == "failed"
    assert s["child_exit"] == "killed by SIGABRT" and not s["ok"]
    # everything the loop put in the ring before dying is on disk
    assert recording.load(out)["rows"].shape[0] == s["recorded_rows"] >= 390


def test_hung_child_is_killed_after_the_heartbeat_timeout(tmp_path):
    path = write_config(tmp_path, LONG + """
        [test]
        crash_at_tick = 200
        crash_mode = "hang"
    """)
    out = tmp_path / "out"
    r = run_cli("run", path, "--out", out, "--quiet", timeout=120)
    assert r.returncode == EXIT["failed"]
    s = summary(out)
    assert s["exit_reason"] == "child hung: no tick for 1.0 s; killed" and s["verdict"] == "failed"
    assert s["ticks"] == 200 and s["recorded_rows"] == 200
