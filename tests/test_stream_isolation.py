"""Sessions with the same name on one machine, through the CLI: no cross-talk, no silent binding.

- Two sessions with the same session name and the same EMG stream name (each started with its own
  `rtcore source emg` companion), side by side: both run, each bound to its own companion's stream
  (the run id in the source_id), and with [lsl] scope = "machine" none of their processes has a
  socket on an address other than loopback (`ss -tulpn`).
- A stream name that two outlets share: `rtcore streams` marks it DUPLICATE, and a session that
  resolves it by name refuses to start with one line listing the candidates (host, source_id, age).
"""
import os
import shutil
import subprocess
import time
import uuid

import pytest

from devices.lsl.run_id import run_of
from enginecli import RTCORE, lsl_companion, machine_session, run_cli, summary, toml, write_config
from lsl_helpers import start_peer, unique


def descendants(pid: int) -> set:
    """pid and every process below it (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    out, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo.extend(kids)
    return out


def sockets_of(pids: set) -> list:
    """(local address, process) of every socket `ss -tulpnH` shows for these pids."""
    out = []
    for line in subprocess.run(["ss", "-tulpnH"], capture_output=True, text=True).stdout.splitlines():
        if any(f"pid={p}," in line for p in pids):
            out.append((line.split()[4], line.split("users:")[-1]))
    return out


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to list sockets")
def test_same_name_sessions_side_by_side_stay_apart_and_on_loopback(tmp_path):
    name, emg = f"twin-{uuid.uuid4().hex[:6]}", unique("twin-emg")
    path = write_config(tmp_path, toml(machine_session(name, 5), lsl_companion("emg", emg, name, "--channels", 2, channels=2)))
    procs = [subprocess.Popen(RTCORE + ["run", path, "--out", tmp_path / f"out{k}", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in range(2)]
    seen = []
    end = time.monotonic() + 900  # the first run may compile the tick
    while any(p.poll() is None for p in procs) and time.monotonic() < end:
        for p in procs:
            seen += sockets_of(descendants(p.pid))
        time.sleep(0.5)
    outs = [p.communicate(timeout=60)[0] for p in procs]
    runs = []
    for k, p in enumerate(procs):
        s = summary(tmp_path / f"out{k}")
        assert p.returncode in (0, 3) and s["exit_reason"] == "duration reached", outs[k]  # 3: misses on a busy machine
        assert s["hold_ticks"] == 0 and s["lsl_in"]["samples"] > 0  # its EMG flowed the whole time
        own = run_of(s["lsl_out.markers"]["source_id"])
        assert own and run_of(s["lsl_in"]["source_id"]) == own  # bound to its own companion's stream
        runs.append(own)
    assert runs[0] != runs[1]
    assert seen, "no socket of either session was listed"
    assert all(addr.startswith(("127.0.0.1:", "[::1]:")) for addr, _ in seen), \
        sorted({s for s in seen if not s[0].startswith("127.0.0.1:")})


def test_a_shared_stream_name_is_marked_and_refused_with_its_candidates(tmp_path):
    name = unique("shared")
    peers = [start_peer(name, "--source-id", f"{name}-dev{k}", "--channels", 2, "--rate", 100, "--count", 1,
                        "--wait-consumer-s", 0, "--linger-s", 300) for k in range(2)]
    try:
        listing = run_cli("streams", "--wait", 2)
        mine = [line for line in listing.stdout.splitlines() if line.startswith(name)]
        assert len(mine) == 2 and all(line.endswith("DUPLICATE") for line in mine), listing.stdout
        assert f"2 streams are named '{name}'" in listing.stdout
        path = write_config(tmp_path, f"""
            outlet = []
            [session]
            name = "ambiguous"
            duration_s = 2
            [source]
            kind = "lsl"
            name = "{name}"
        """)
        r = run_cli("run", path, "--out", tmp_path / "out", "--quiet", timeout=1500)
        s = summary(tmp_path / "out")
        assert r.returncode != 0 and s["ticks"] == 0, r.stdout
        reason = s["exit_reason"]
        assert f"2 streams match name='{name}'" in reason and "\n" not in reason, reason
        assert f"source_id='{name}-dev0'" in reason and f"source_id='{name}-dev1'" in reason and " age " in reason
    finally:
        for p in peers:
            p.terminate()
            p.wait()
