"""Stopping the LSL source mid-session triggers safe hold and a marker; a restarted source
(same source_id) resumes the session (liblsl recover); silence past lost_after_s ends it cleanly.

Runs the real compiled loop (rtcore.loop.run, offline) over the session's source and outlet
families built from a validated config, fed by two pylsl outlets in other processes: A pushes samples 0..N-1 and exits; B, started 0.6 s later
with the same name and source_id, pushes N..2N-1 and exits. `wait_s` paces the offline loop by the
stream, so every tick is wall-clock time and staleness is measured as in real time.
"""
import threading
import time

import numpy as np
import pytest

import rtcore  # noqa: F401
from devices.lsl.inlet import MARKER_STREAM_RESUMED, MARKER_STREAM_STALE
from rtcore import config, status
from rtcore.session import compile_loop
from lsl_helpers import go, run_session, start_peer, unique

N = 300
RATE = 500.0


@pytest.fixture(scope="module")
def result():
    compile_loop()
    name = unique("Drop")
    a = start_peer(name, "--count", N, "--rate", RATE, "--linger-s", 0, "--channels", 2, "--go-on-stdin")
    peers = [a]

    def script():  # A pushes and exits; 0.6 s of silence; B (same source_id) appears and pushes
        time.sleep(0.3)
        go(a)
        a.wait()
        time.sleep(0.6)
        peers.append(start_peer(name, "--count", N, "--rate", RATE, "--start", N, "--linger-s", 0, "--channels", 2))

    threading.Thread(target=script, daemon=True).start()
    cfg = config.validate({
        "session": {"name": name, "duration_s": 120.0},
        "loop": {"rate_hz": 1000.0, "realtime": False},
        "source": {"kind": "lsl", "name": name, "channels": 2, "wait_s": 0.002,
                   # B is a new Python process: under load it can take seconds to start and be
                   # re-resolved, so the session waits well past that before declaring the stream lost
                   "stale_after_s": 0.2, "lost_after_s": 8.0},
        "record": {"signals": ["hold", "marker", "input", "input_n"]}, "outlet": [],
    })
    res = run_session(cfg, max_ticks=200_000)  # the loop releases the GIL: the script runs meanwhile
    for p in peers:
        p.wait()
    return res


def test_session_ends_cleanly_with_stream_lost(result):
    assert result["code"] == status.STREAM_LOST


def test_hold_and_markers_while_the_source_is_away(result):
    hold = result["signals"]["hold"][:, 0]
    marker = result["signals"]["marker"][:, 0]
    stale_ticks = np.flatnonzero(marker == MARKER_STREAM_STALE)
    resume_ticks = np.flatnonzero(marker == MARKER_STREAM_RESUMED)
    assert len(resume_ticks) == 1 and len(stale_ticks) == 2  # A stops; B stops (then lost)
    assert stale_ticks[0] < resume_ticks[0] < stale_ticks[1]
    # held until B's first sample; hold is rebuilt each tick from the previous tick's requests,
    # so the tick that resumes still holds and the next one is free
    assert np.all(hold[stale_ticks[0]:resume_ticks[0] + 1] == 1.0)
    assert np.all(hold[resume_ticks[0] + 1:stale_ticks[1]] == 0.0)
    assert np.all(hold[stale_ticks[1]:] == 1.0)


def test_every_sample_of_both_sources_arrives_in_order(result):
    n = result["signals"]["input_n"][:, 0].astype(int)
    x0 = result["signals"]["input"][:, 0]
    firsts = x0[n > 0]
    # input is the newest sample of each tick; the sequence of newest samples is increasing
    assert np.all(np.diff(firsts) > 0)
    assert n.sum() == 2 * N and firsts[-1] == 2 * N - 1
    c = result["reports"]["lsl_in"]
    assert c["resumes"] == 1 and c["stale_events"] == 2 and c["samples"] == 2 * N
    assert result["counts"][0, status.STALE_STREAM] == 2 and result["counts"][0, status.RESUMED] == 1
