"""Helpers for the LSL tests: start tests/lsl_peer.py (a real pylsl outlet) in another process."""
import subprocess
import sys
import uuid
from pathlib import Path

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
