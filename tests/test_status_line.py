"""The live status names the task's block, trial and successes; with stdout piped (not a TTY) it is
one plain line every 10 s of wall time, and liblsl's own log lines stay out of the terminal."""
import re
import subprocess
import time

from enginecli import RTCORE

LINE = re.compile(r"^wf-status: t +([0-9.]+) s \| block 1/1 tracking, trial (\d+), successes (\d+)/(\d+) \| misses")


def test_piped_status_line_every_10_s_with_block_trial_and_successes(tmp_path):
    # 40 trials: the config's 16 can all be done before the second status line (~1 trial/s)
    p = subprocess.Popen(RTCORE + ["run", "configs/emg_elbow.toml", "--duration", "21", "--out", str(tmp_path / "status"),
                                   "--set", "session.name=wf-status", "--set", "block.0.n_trials=40"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines = [(time.monotonic(), ln.rstrip("\n")) for ln in p.stdout]  # each line as it arrives
    stderr = p.stderr.read()
    p.wait(60)
    print("\n" + "\n".join(ln for _, ln in lines))
    assert p.returncode in (0, 3), stderr  # ok, or degraded by deadline misses on a busy machine
    status = [(t, LINE.match(ln)) for t, ln in lines if LINE.match(ln)]
    assert len(status) >= 2
    gaps = [b[0] - a[0] for a, b in zip(status, status[1:])]
    assert all(9.0 <= g <= 13.0 for g in gaps), gaps  # one line per 10 s
    last = status[-1][1]
    assert int(last.group(2)) >= 2 and 0 < int(last.group(3)) <= int(last.group(4))  # trials ended, some succeeded
    assert "loguru" not in stderr + "".join(ln for _, ln in lines)  # liblsl logs into the run's lsl.log
