"""An external LSL marker stream beside two numeric inlets: recorded, acted on, replayed exactly.

Three real pylsl outlets in other processes feed one session's compiled loop (offline, paced by
the EMG stream): EMG (8 ch, 1 kHz), a force sensor (3 ch, 100 Hz) and a stimulus program's string
markers ([[source]] kind = "lsl_markers"). The session runs a center-out task whose operator
actions the markers drive ("pause", "resume", "next_block"). The ring's rows are recorded by the
session's XDF recorder and replayed with `rtcore replay`'s function. Proves:
- every marker arrives once, in order, with its text (cut at max_chars and counted) and its
  sender's stamp; two pushed at once arrive in one tick;
- the markers act on the task at the tick they arrive: pause holds it (no trial starts), resume
  continues, next_block moves to the second block;
- session.xdf has one per-sample stream per inlet (input, force, events), each sample exact;
- the replay reproduces all three streams sample for sample, the operator's actions and every
  engine output (max |difference| 0).
"""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import config, xdf
from rtcore.replay_cli import replay
from rtcore.session import compile_loop
from rtcore.xdf_load import text_of
from lsl_helpers import emg_and_force, go_together, run_session, start_peer, unique
from sims.paradigms import markers as MK

EMG_N, FORCE_N, TICKS = 3400, 340, 3000
LONG = "stimulus-" + "x" * 80  # longer than max_chars = 64
TEXTS = ["trial note 1", "pause", "resume", "next_block", "Reiz µΩ|zweiter", LONG]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    compile_loop()
    emg, peers, sources = emg_and_force(EMG_N, FORCE_N)
    marks = unique("Stim")
    peers.append(start_peer(marks, "--type", "Markers", "--texts", *TEXTS, "--every-s", 0.4, "--go-on-stdin",
                            "--linger-s", 3))
    cfg = config.validate({
        "session": {"name": emg, "duration_s": 60.0},
        "loop": {"rate_hz": 1000.0, "realtime": False},
        "outlet": [],
        "source": sources + [{"kind": "lsl_markers", "name": marks, "resolve_timeout_s": 30,
                              "actions": {"pause": "pause", "resume": "resume", "next_block": "next_block"}}],
        "plant": {"kind": "cursor"}, "controller": {"kind": "autopilot"},
        "task": {"kind": "center_out", "hold_s": 0.05},
        "block": [{"name": "first", "n_trials": 50}, {"name": "second", "n_trials": 50}],
    })
    try:
        res = run_session(cfg, max_ticks=TICKS, before_loop=lambda: go_together(peers))
    finally:
        for p in peers:
            p.kill()
        pushed = [line.split(" ", 2) for line in peers[2].stdout.read().splitlines() if line.startswith("pushed")]
        for p in peers:
            p.wait()
    out = tmp_path_factory.mktemp("markers")
    writer = xdf.XdfRecorder(str(out), cfg)
    writer.open(res["pipe"].columns, res["pipe"].streams)
    writer.write(res["rows"])
    writer.close()
    res["pushed"] = [(float(t), text) for _w, t, text in pushed]
    res["rec"] = xdf.load(str(out / "session.xdf"))
    res["replay"] = replay(str(out / "session.xdf"))
    res["replayed"] = xdf.load(res["replay"]["out"] + "/session.xdf")
    return res


def _arrivals(res):
    """(tick, text) of each marker as the bus saw it."""
    n = res["signals"]["events_n"][:, 0].astype(int)
    block = res["signals"]["events_block"].reshape(len(n), -1, 64)
    return [(t, text_of(block[t, k])) for t in np.flatnonzero(n) for k in range(n[t])]


def test_every_marker_arrives_once_in_order_with_its_stamp(session):
    texts = [t for push in TEXTS for t in push.split("|")]
    assert [t for _s, t in session["pushed"]] == texts
    arrived = _arrivals(session)
    assert [t for _k, t in arrived] == texts[:-1] + [LONG.encode()[:64].decode()]
    ticks = [k for k, _t in arrived]
    assert ticks[4] == ticks[5]  # pushed at once: one tick
    rep = session["reports"]["lsl_markers_events"]
    assert rep["markers"] == 7 and rep["actions_applied"] == 3 and rep["truncated"] == 1
    stream = session["rec"]["events"]
    assert [x[0] for x in stream["time_series"]] == [t for _k, t in arrived]
    sent = np.array([s for s, _t in session["pushed"]])
    np.testing.assert_allclose(np.asarray(stream["time_stamps"]), sent, atol=1e-9)  # the sender's clock


def test_markers_drive_the_task(session):
    arrived = dict((t, k) for k, t in _arrivals(session))
    operator = session["signals"]["operator"]
    trial = session["signals"]["trial"]
    m = session["signals"]["marker"][:, 0]
    p, r, nb = arrived["pause"], arrived["resume"], arrived["next_block"]
    assert (operator[:p, 0] == 0).all() and (operator[p:r, 0] == 1).all() and (operator[r:, 0] == 0).all()
    assert m[p] == MK.PAUSED and m[r] == MK.RESUMED
    assert MK.TRIAL_START not in m[p + 1:r] and MK.GO not in m[p + 1:r]  # paused: no trial starts
    assert (operator[:nb, 1] == 0).all() and (operator[nb:, 1] == 1).all()
    assert m[nb] == MK.BLOCK_SKIPPED and trial[nb - 1, 1] == 0 and trial[nb + 1, 1] == 1


@pytest.mark.parametrize("name,width", [("input", 8), ("force", 3)])
def test_each_numeric_inlet_is_its_own_exact_stream(session, name, width):
    x = np.asarray(session["rec"][name]["time_series"])
    k = np.arange(x.shape[0])[:, None] + np.arange(width)[None, :] / 100.0
    np.testing.assert_array_equal(x, k.astype(np.float32).astype(np.float64))
    taken = int(session["signals"][f"{name}_n"][:, 0].sum())
    assert x.shape[0] == taken > (2000 if name == "input" else 200)


def test_replay_reproduces_every_inlet_and_the_session(session):
    rec, rep = session["rec"], session["replayed"]
    for name in ("input", "force"):
        np.testing.assert_array_equal(np.asarray(rep[name]["time_series"]), np.asarray(rec[name]["time_series"]))
    assert rep["events"]["time_series"] == rec["events"]["time_series"]
    for name in ("operator", "trial", "target", "state", "command"):
        np.testing.assert_array_equal(np.asarray(rep[name]["time_series"]), np.asarray(rec[name]["time_series"]))
    assert session["replay"]["max_abs_diff"] and not any(session["replay"]["max_abs_diff"].values())
