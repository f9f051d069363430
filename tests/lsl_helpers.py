"""Helpers for the LSL tests: start tests/lsl_peer.py (a real pylsl outlet) in another process, and
run a session's compiled loop in this process (offline) over its real inlets."""
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

from rtcore import pipeline
from rtcore.loop import CTRL_SIZE, CTRL_TICKS, N_TIMING, Schedule, run

PEER = str(Path(__file__).with_name("lsl_peer.py"))


def unique(prefix: str) -> str:
    """A stream name no other test (or stale outlet) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_peer(name: str, *args, wait_ready: bool = True) -> subprocess.Popen:
    """Run lsl_peer.py with --name name and extra args; returns once its outlet exists."""
    p = subprocess.Popen([sys.executable, PEER, "--name", name, *map(str, args)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if wait_ready:
        line = p.stdout.readline().strip()
        assert line == "ready", f"LSL peer did not start (got {line!r})"
    return p


def go(p: subprocess.Popen) -> None:
    """Let a peer started with --go-on-stdin push its samples."""
    p.stdin.write("go\n")
    p.stdin.flush()


def run_session(cfg, max_ticks: int, before_loop=None) -> dict:
    """Build the session (rtcore.pipeline) and run its compiled loop offline for at most max_ticks,
    in this thread (it releases the GIL, so a test's script thread runs meanwhile); before_loop()
    runs between the build (inlets connected) and the first tick. Returns the exit code, the
    recorded signals {name: [ticks, width]}, the per-stage status counts, the reports and the ring's
    rows (for a recorder)."""
    pipe = pipeline.build(cfg)
    if before_loop is not None:
        before_loop()
    ring = np.zeros((max_ticks, N_TIMING + pipe.rec_idx.size))
    ctrl = np.zeros(CTRL_SIZE, np.int64)
    try:
        code = run(pipe.chain, ring, ctrl, Schedule(cfg.loop.rate_hz, False, max_ticks), bus=pipe.bus,
                   counts=pipe.counts, rec_idx=pipe.rec_idx)
        reports = pipe.reports()
    finally:
        pipe.close()
    rows = ring[:ctrl[CTRL_TICKS]]
    signals = {name: rows[:, c:c + len(labels)] for name, _units, labels, c, _types in pipe.streams}
    return dict(code=code, signals=signals, counts=pipe.counts, reports=reports, pipe=pipe, rows=rows)
