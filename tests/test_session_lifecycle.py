"""Verdicts, exit codes, stop signals and orphans, through `rtcore run` as a user meets them.

Each verdict is earned by a real session and checked with its exit code (README: ok 0,
failed 1, degraded 3, stopped 130), the terminal's last line and the kept recording: `degraded`
by a CPU hog against a tight loop.max_miss_frac, `stopped` by SIGTERM, SIGHUP and (twice) SIGINT,
`ok` by the session that follows a kill -9, which also removes the dead session's shared memory.
(`failed` by a crash, an abort and a hang: test_supervisor_failures.py.)
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from rtcore import recording
from rtcore.lifeline import alive
from rtcore.supervisor import READY_TIMEOUT_S
from enginecli import EXIT, RTCORE, last_line, run_cli, summary, wait_for_file

TICK = Path(__file__).resolve().parent.parent / "configs/bench/tick.toml"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def _config(tmp_path, companion: bool = False, duration_s: float = 600) -> str:
    """The bench chain (no I/O) under a unique name, optionally with a companion that just waits."""
    text = TICK.read_text().replace('name = "bench"', f'name = "lc-{uuid.uuid4().hex[:8]}"')
    text = text.replace("duration_s = 60", f"duration_s = {duration_s}")
    if companion:
        text += f'\n[[companion]]\nname = "sleeper"\ncommand = {json.dumps(SLEEPER)}\nstart_s = 0.0\n'
    path = tmp_path / "session.toml"
    path.write_text(text)
    return str(path)


def _start(path, out, **kw):
    return subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _wait_for_rows(out, n_rows, proc, timeout=READY_TIMEOUT_S):  # a first compile takes minutes
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if recording.load(out)["rows"].shape[0] >= n_rows:
                return json.loads((out / "child_ready.json").read_text())
        except (OSError, KeyError, ValueError):  # not started yet, or caught mid-flush
            pass
        time.sleep(0.1)
    raise AssertionError("session never started ticking")


def _companion_pid(parent_pid: int) -> int:
    kids = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
    for pid in map(int, kids):
        if "time.sleep(600)" in Path(f"/proc/{pid}/cmdline").read_text():
            return pid
    raise AssertionError(f"no companion among {kids}")


def _gone_within(pids, timeout_s=5.0) -> list:
    t_end = time.monotonic() + timeout_s
    while any(alive(p) for p in pids) and time.monotonic() < t_end:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def _assert_recording_kept(out, s):
    assert s["recorded_rows"] == s["ticks"] == recording.load(out)["rows"].shape[0] >= 300


def test_missed_deadlines_make_a_degraded_session(tmp_path):
    out = tmp_path / "out"
    path = _config(tmp_path, duration_s=3)
    # a loop at the fair scheduler's normal priority and slice, as without privilege on a kernel
    # before 6.12: a SCHED_FIFO loop (root's default) keeps its deadlines under these hogs, and one
    # with the short slice mostly does too (a run of this test saw 0 misses)
    proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet", "--set", "loop.rate_hz=2000",
                                      "--set", "loop.max_miss_frac=0.0001", "--set", "loop.fifo=false",
                                      "--set", "loop.nice=0", "--set", "loop.slice_us=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_file(out / "child_ready.json", proc, READY_TIMEOUT_S)  # hog the CPUs once the loop starts, not its start-up
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        text, _ = proc.communicate(timeout=120)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    s = summary(out)
    assert proc.returncode == EXIT["degraded"], text
    assert s["verdict"] == "degraded" and s["exit_reason"] == "duration reached" and not s["ok"]
    assert s["deadline_misses"] > 0
    assert any(re.fullmatch(r"[\d.]+% of deadlines missed \(limit 0\.01%\)", x) for x in s["reasons"]), s["reasons"]
    assert last_line(text) == "degraded (exit code 3): " + "; ".join(s["reasons"])
    assert s["recorded_rows"] == s["ticks"] == 6000 == recording.load(out)["rows"].shape[0]


def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGHUP):
        out = tmp_path / sig.name
        proc = _start(_config(tmp_path, companion=True), out)
        ready = _wait_for_rows(out, 300, proc)
        companion = _companion_pid(proc.pid)
        os.kill(proc.pid, sig)  # the parent only, as `kill PID`, systemd or a closed terminal do
        text, _ = proc.communicate(timeout=60)
        assert proc.returncode == EXIT["stopped"], text
        assert "Traceback" not in text
        s = summary(out)
        assert s["verdict"] == "stopped" and s["stopped_by"] == sig.name
        assert s["exit_reason"] == f"stopped by {sig.name}" and s["reasons"][0] == s["exit_reason"]
        assert last_line(text).startswith(f"stopped (exit code 130): stopped by {sig.name}")
        _assert_recording_kept(out, s)
        assert not _gone_within([companion, ready["pid"]])
        assert not os.path.exists(ready["ring_path"]) and not os.path.exists(ready["counts_path"])


def test_second_ctrl_c_skips_the_report_and_keeps_the_summary(tmp_path):
    out = tmp_path / "out"
    # started like `rtcore run ... &` from a script: SIGINT inherited as ignored
    proc = _start(_config(tmp_path), out, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    _wait_for_rows(out, 300, proc)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGINT)
    text, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT["stopped"], text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert "report: skipped (asked twice to stop)" in text and not (out / "report.html").exists()
    s = summary(out)
    assert s["verdict"] == "stopped" and s["exit_reason"] == "stopped by Ctrl-C"
    _assert_recording_kept(out, s)


def test_a_finished_loop_s_shared_memory_stays_while_its_supervisor_lives():
    """The loop process's files belong to its supervisor: once the loop has exited, another session's
    start must not take them for stale before the supervisor has read them (it did, in CI: no summary)."""
    from rtcore import shm
    code = "import os; from rtcore import shm; print(shm.create('counts', 8, os.getppid()))"
    path = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    try:
        assert path not in shm.remove_stale() and os.path.exists(path)  # its creator exited; its owner (we) lives
    finally:
        shm.remove(path)


def test_kill_9_leaves_no_orphan_and_the_next_start_removes_its_shared_memory(tmp_path):
    out = tmp_path / "killed"
    proc = _start(_config(tmp_path, companion=True), out)
    ready = _wait_for_rows(out, 300, proc)
    companion = _companion_pid(proc.pid)
    ctrl_path = Path(f"/proc/{ready['pid']}/cmdline").read_text().split("\0")[-2]
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and the loop process, at once
    proc.communicate()
    assert not _gone_within([companion, ready["pid"]]), "a process outlived its session"
    leaked = [ctrl_path, ready["ring_path"], ready["counts_path"]]
    assert all(os.path.exists(p) for p in leaked)  # nobody was left to remove them

    # the next session removes them, and earns `ok`: offline, nothing dropped, no fault
    nxt = tmp_path / "next"
    r = run_cli("run", _config(tmp_path, duration_s=3), "--fast", "--out", nxt, "--quiet")
    assert not any(os.path.exists(p) for p in leaked)
    assert re.search(r"removed \d+ shared-memory file\(s\) left by dead sessions", r.stdout), r.stdout
    s = summary(nxt)
    assert r.returncode == EXIT["ok"], r.stdout + r.stderr
    assert s["verdict"] == "ok" and s["reasons"] == [] and s["ok"]
    assert last_line(r.stdout) == "ok (exit code 0): duration reached"
    assert s["recorded_rows"] == s["ticks"] == 3000 == recording.load(nxt)["rows"].shape[0]
