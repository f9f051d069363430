"""Companion processes of a session ([[companion]]): started before the loop, stopped after it.

They run in their own process group, so the parent decides the order of shutdown: the loop
stops first (its last samples still have a source), then each companion gets SIGINT, then
SIGKILL if it has not exited within STOP_GRACE_S. Each gets SIGTERM from the kernel if the
parent dies first (rtcore.lifeline.die_with_parent), so none outlives a killed session.
"""
import os
import signal
import subprocess
import sys
import time

from rtcore.configbase import ConfigError
from rtcore.lifeline import die_with_parent

STOP_GRACE_S = 3.0


def start(cfgs, out_dir: str) -> list:
    """Start every companion; returns [(name, Popen, log file)]."""
    procs = []
    for c in cfgs:
        argv = list(c.command)
        if argv[0] == "rtcore":  # this rtcore, whatever the PATH says
            argv = [sys.executable, "-m", "rtcore.cli"] + argv[1:]
        log = open(os.path.join(out_dir, f"companion-{c.name}.log"), "w")
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent())
        except OSError as e:
            log.close()
            stop(procs)
            raise ConfigError(f"companion '{c.name}': cannot start {argv[0]!r}: {e.strerror}") from None
        procs.append((c.name, proc, log))
    if cfgs:
        time.sleep(max(c.start_s for c in cfgs))
    return procs


def stop(procs) -> list[str]:
    """Stop every companion; returns one line per companion that had already died."""
    notes = []
    for name, proc, _log in procs:
        if proc.poll() is not None:
            notes.append(f"companion '{name}' had exited early (exit code {proc.returncode})")
            continue
        _signal_group(proc, signal.SIGINT)
    t_end = time.monotonic() + STOP_GRACE_S
    for _name, proc, log in procs:
        try:
            proc.wait(max(t_end - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        log.close()
    return notes


def _signal_group(proc, sig) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # the group ended meanwhile
        pass
