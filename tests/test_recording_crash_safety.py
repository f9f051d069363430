"""session.xdf survives kill -9: of the loop process (the parent closes the file) and of the
parent itself (the file is readable up to the last flush, and the orphaned loop stops)."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from enginecli import RTCORE, run_cli, summary

TICK = str(Path(__file__).resolve().parent.parent / "configs/bench/tick.toml")
with open(TICK) as _fh:
    BENCH = _fh.read()


def _load(path):
    from rtcore import xdf
    return xdf.load(str(path))


def test_child_sigabrt_keeps_a_complete_xdf(tmp_path):
    cfg = tmp_path / "crash.toml"
    cfg.write_text(BENCH + '\n[test]\ncrash_at_tick = 1200\ncrash_mode = "abort"\n')
    out = tmp_path / "out"
    r = run_cli("run", cfg, "--duration", 5, "--quiet", "--out", out)
    assert r.returncode == 1
    s = summary(out)
    assert s["child_exit"] == "killed by SIGABRT"
    rec = _load(out / "session.xdf")
    assert len(rec["command"]["time_stamps"]) == s["recorded_rows"] >= 1190
    assert int(rec["timing"]["footer"]["info"]["sample_count"][0]) == s["recorded_rows"]


def test_parent_sigkill_leaves_a_readable_xdf_and_the_loop_stops(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(RTCORE + ["run", TICK, "--duration", "60", "--quiet",
                                      "--out", str(out)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "session.xdf"
    t_end = time.monotonic() + 300
    while not (path.exists() and path.stat().st_size > 400_000):  # a few flushes of rows
        assert time.monotonic() < t_end and proc.poll() is None, "session never started recording"
        time.sleep(0.1)
    ready = json.load(open(out / "child_ready.json"))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t_end = time.monotonic() + 10
    while _alive(ready["pid"]):
        assert time.monotonic() < t_end, "the orphaned loop kept running"
        time.sleep(0.1)
    assert not os.path.exists(ready["ring_path"]) and not os.path.exists(ready["counts_path"])
    done = json.load(open(out / "child_done.json"))
    assert done["exit_code"] == 105  # STOPPED: the loop noticed its parent was gone
    rec = _load(path)
    n = len(rec["timing"]["time_stamps"])
    assert n >= 500 and not rec["timing"].get("footer")  # cut before close(): no footers, data intact
    for name in ("command", "state", "prediction", "spe", "input_n"):
        assert len(rec[name]["time_stamps"]) == n, name
    assert len(rec["input"]["time_stamps"]) == int(np.asarray(rec["input_n"]["time_series"]).sum())


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie has finished
        return fh.read().split(")")[1].split()[0] != "Z"
