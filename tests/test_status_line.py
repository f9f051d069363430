"""The live status names the task's block, trial and successes; with stdout piped (not a TTY) it is
one plain line every 10 s, and liblsl's own log lines stay out of the terminal."""
import re

from enginecli import run_cli

LINE = re.compile(r"^wf-status: t +([0-9.]+) s \| block 1/1 tracking, trial (\d+), successes (\d+)/(\d+) \| misses")


def test_piped_status_line_every_10_s_with_block_trial_and_successes(tmp_path):
    out = tmp_path / "status"
    r = run_cli("run", "configs/emg_elbow.toml", "--duration", "21", "--out", out, "--set", "session.name=wf-status")
    print("\n" + r.stdout)
    assert r.returncode in (0, 3), r.stdout + r.stderr  # ok, or degraded by deadline misses on a busy machine
    found = [LINE.match(ln) for ln in r.stdout.splitlines()]
    found = [m for m in found if m]
    assert len(found) >= 2, r.stdout
    t = [float(m.group(1)) for m in found]
    assert all(8.0 <= b - a <= 12.5 for a, b in zip(t, t[1:]))  # one line per 10 s of running
    last = found[-1]
    assert int(last.group(2)) >= 2 and 0 < int(last.group(3)) <= int(last.group(4))  # trials have ended, some succeeded
    assert "loguru" not in r.stdout + r.stderr  # liblsl logs into the run's lsl.log
