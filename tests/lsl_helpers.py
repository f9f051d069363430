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


def go_together(peers) -> None:
    """Once every peer (started with --go-on-stdin) has its consumer, let them all push."""
    for p in peers:
        assert p.stdout.readline().strip() == "consumer"
    for p in peers:
        go(p)


def emg_and_force(emg_n: int, force_n: int):
    """Two peers that push on the go line: EMG (8 ch, 1 kHz, emg_n samples) and a force sensor
    (3 ch, 100 Hz, force_n samples); returns (the EMG stream's name, the peers, their [[source]]
    entries for an offline session paced by the EMG: the force inlet writes signal "force")."""
    emg, force = unique("Emg"), unique("Force")
    peers = [start_peer(emg, "--channels", 8, "--rate", 1000, "--count", emg_n, "--go-on-stdin", "--linger-s", 3),
             start_peer(force, "--type", "Force", "--channels", 3, "--rate", 100, "--count", force_n,
                        "--go-on-stdin", "--linger-s", 3)]
    sources = [{"kind": "lsl", "name": emg, "channels": 8, "rate_hz": 1000, "wait_s": 0.001,
                "stale_after_s": 5.0, "lost_after_s": 6.0, "resolve_timeout_s": 30},
               {"kind": "lsl", "name": force, "signal": "force", "channels": 3, "rate_hz": 100,
                "stale_after_s": 5.0, "lost_after_s": 6.0, "resolve_timeout_s": 30}]
    return emg, peers, sources


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
