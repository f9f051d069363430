"""Self-describing streams, in LSL and in session.xdf alike.

One real-time EMG session (the synthetic user publishes raw EMG over LSL as a companion, the engine
decodes it into endpoint force on the two-link arm, center-out task) is recorded, and its default
markers outlet is read by an independent pylsl inlet while it runs. The session runs until both
readers have what they need (a 'go' marker; mne-lsl's reading), then gets Ctrl-C: on a loaded
machine a fixed short session could end before either had it (SESSION_MAX_S caps the wait).
- every channel carries its own label, unit and type: state x, y in m (position) and vx, vy in m/s
  (velocity), as do prediction and spe; command in N (force);
- the recorded input keeps the source's type (EMG) and channel labels (emg0..emg3, mV);
- pyxdf loads the file (clock sync on) without "Clock offsets cannot be used" warnings, and MNE,
  fed by pyxdf, gets the EMG channels as `emg` in volts;
- the markers stream carries the events' names ('block_start', 'go' ...) and its code table;
- mne-lsl, in its own process with its own liblsl (tests/mne_lsl_reader.py), reads the live state
  and EMG streams' channel names, MNE types and units, a few samples, and the markers' code table.
"""
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enginecli import RTCORE, emg_arm, lsl_companion, machine_session, summary, toml, write_config
from lsl_helpers import unique

SESSION_MAX_S = 120  #: the session's duration if the readers never finish (each finishes in seconds on a quiet machine)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(run folder, marker names pulled over LSL, the markers stream's description, what mne-lsl read
    (None without mne-lsl))."""
    import pylsl
    tmp = tmp_path_factory.mktemp("meta")
    name, source = unique("meta"), unique("emg")
    user = lsl_companion("emg", source, name, "--channels", 4, "--set", "kp_n_per_m=25", "--set", "kd_n_s_per_m=12",
                         channels=4, rate_hz=2000)
    path = write_config(tmp, toml(machine_session(name, SESSION_MAX_S), user, emg_arm(1000)))
    out = tmp / "out"
    proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = None
    if importlib.util.find_spec("mne_lsl") is not None:
        # mne-lsl on the engine's liblsl (MNE_LSL_LIB): the 1.17.7 it bundles missed the session's
        # outlets for 50-60 s in 2 of 6 runs on a busy machine, where pylsl's 1.18 found them at once.
        reader = subprocess.Popen([sys.executable, str(Path(__file__).with_name("mne_lsl_reader.py")),
                                   f"rtcore-{name}-state", source, "--markers", f"rtcore-{name}-markers"],
                                  env={**os.environ, "MNE_LSL_LIB": pylsl.lib.lib._name},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    names = []
    try:
        found = pylsl.resolve_byprop("name", f"rtcore-{name}-markers", 1, 900.0)
        assert found, "the session's markers outlet never appeared"
        inlet = pylsl.StreamInlet(found[0])
        info = inlet.info(10.0)
        inlet.open_stream(10.0)
        stopping = False
        while proc.poll() is None:
            x, _t = inlet.pull_chunk(timeout=0.2)
            names += [s[0] for s in x]
            if not stopping and "go" in names and (reader is None or reader.poll() is not None):
                proc.send_signal(signal.SIGINT)  # all read: Ctrl-C, the session ends between two ticks
                stopping = True
        x, _t = inlet.pull_chunk(timeout=1.0)
        names += [s[0] for s in x]
        text = proc.communicate(timeout=60)[0]
        read = reader.communicate(timeout=70) if reader is not None else None
    finally:
        for p in (proc, reader):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert summary(out)["ticks"] > 1000, text
    if read is not None:
        assert reader.returncode == 0, read[1][-3000:]
        read = {"state": (got := json.loads(read[0].splitlines()[-1]))[f"rtcore-{name}-state"],
                "emg": got[source], "markers": got[f"rtcore-{name}-markers"]}
    return out, names, info, read


def _channels(stream):
    return [(c["label"][0], c["unit"][0], c["type"][0]) for c in stream["info"]["desc"][0]["channels"][0]["channel"]]


def test_pyxdf_loads_channel_types_and_units_without_clock_warnings(session, caplog):
    import pyxdf
    out, _names, _info, _read = session
    with caplog.at_level(logging.WARNING, logger="pyxdf"):
        streams, _ = pyxdf.load_xdf(str(out / "session.xdf"))
    assert not [r for r in caplog.records if "Clock offsets" in r.getMessage()]
    by = {s["info"]["name"][0]: s for s in streams}
    assert _channels(by["state"]) == [("hand_x", "m", "position"), ("hand_y", "m", "position"),
                                      ("hand_vx", "m/s", "velocity"), ("hand_vy", "m/s", "velocity")]
    for sig in ("prediction", "spe"):
        assert [(u, t) for _lab, u, t in _channels(by[sig])] == [("m", "position")] * 2 + [("m/s", "velocity")] * 2
    assert _channels(by["command"]) == [("fx", "N", "force"), ("fy", "N", "force")]
    assert by["input"]["info"]["type"][0] == "EMG"
    assert _channels(by["input"]) == [(f"emg{k}", "mV", "EMG") for k in range(4)]
    markers = by["markers"]
    assert markers["info"]["type"][0] == "Markers" and "block_start" in [m[0] for m in markers["time_series"]]


def test_mne_reads_emg_channels_through_pyxdf(session):
    mne = pytest.importorskip("mne", reason="mne is not installed (pip install mne): MNE's reading is not checked")
    import pyxdf
    out, _names, _info, _read = session
    streams, _ = pyxdf.load_xdf(str(out / "session.xdf"), select_streams=[{"name": "input"}])
    st = streams[0]
    chans = _channels(st)
    scale = {"mV": 1e-3, "V": 1.0}
    ch_types = [t.lower() if t.lower() in mne.io.get_channel_type_constants() else "misc" for _l, _u, t in chans]
    data = np.asarray(st["time_series"]).T * np.array([[scale.get(u, 1.0)] for _l, u, _t in chans])
    raw = mne.io.RawArray(data, mne.create_info([lab for lab, _u, _t in chans], float(st["info"]["nominal_srate"][0]), ch_types),
                          verbose=False)
    assert raw.get_channel_types() == ["emg"] * 4
    assert raw.ch_names == [f"emg{k}" for k in range(4)]
    assert 1e-6 < np.std(raw.get_data()) < 1e-2  # volts: synthetic EMG of about 1 mV RMS at full activation


def test_markers_are_readable_by_name_over_lsl(session):
    from sims.paradigms.markers import NAMES
    _out, names, info, _read = session
    assert names and set(names) <= set(NAMES.values()), names
    assert "go" in names
    table, code = {}, info.desc().child("codes").child("code")
    while not code.empty():
        table[int(code.child_value("value"))] = code.child_value("name")
        code = code.next_sibling("code")
    assert table == NAMES
    assert info.channel_format() == 3  # cf_string


def test_mne_lsl_reads_the_live_streams(session):
    """What a lab's mne-lsl client makes of the live streams. MNE has no channel type for position,
    velocity or force, nor a FIFF unit for m or m/s: the state channels are `misc` (unit none) in
    mne.Info, while the LSL units stay readable from the stream info. EMG becomes `emg` in mV."""
    read = session[3]
    if read is None:  # the fixture looked for mne_lsl without importing it here (see mne_lsl_reader.py)
        pytest.skip("mne-lsl is not installed (pip install mne-lsl): mne-lsl's reading is not checked")
    from mne.io.constants import FIFF
    state = read["state"]
    assert state["ch_names"] == ["hand_x", "hand_y", "hand_vx", "hand_vy"]
    assert state["ch_types"] == ["misc"] * 4
    assert state["fiff_units"] == [[FIFF.FIFF_UNIT_NONE, FIFF.FIFF_UNITM_NONE]] * 4
    assert state["lsl_units"] == ["m", "m", "m/s", "m/s"] and state["sfreq"] == 1000.0
    x = np.asarray(state["data"])
    assert x.shape == (4, 50) and np.all(np.abs(x[:2]) < 1.0)  # m: a hand in the two-link arm's workspace
    emg = read["emg"]
    assert emg["ch_names"] == [f"emg{k}" for k in range(4)] and emg["ch_types"] == ["emg"] * 4
    assert emg["fiff_units"] == [[FIFF.FIFF_UNIT_V, FIFF.FIFF_UNITM_M]] * 4 and emg["sfreq"] == 2000.0
    assert 1e-3 < np.std(emg["data"]) < 10  # mV
    from sims.paradigms.markers import NAMES
    markers = read["markers"]
    assert markers["dtype"] == "string" and markers["ch_types"] == ["stim"]
    assert {int(k): v for k, v in markers["codes"].items()} == NAMES
