"""Self-describing streams, in LSL and in session.xdf alike.

One real-time EMG session (the synthetic user publishes raw EMG over LSL as a companion, the engine
decodes it into endpoint force on the two-link arm, center-out task) is recorded, and its default
markers outlet is read by an independent pylsl inlet while it runs:
- every channel carries its own label, unit and type: state x, y in m (position) and vx, vy in m/s
  (velocity), as do prediction and spe; command in N (force);
- the recorded input keeps the source's type (EMG) and channel labels (emg0..emg3, mV);
- pyxdf loads the file (clock sync on) without "Clock offsets cannot be used" warnings, and MNE,
  fed by pyxdf, gets the EMG channels as `emg` in volts;
- the markers stream carries the events' names ('block_start', 'go' ...) and its code table.
"""
import logging
import subprocess

import numpy as np
import pytest

from enginecli import RTCORE, emg_arm, lsl_companion, machine_session, summary, toml, write_config
from lsl_helpers import unique


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(run folder, marker names pulled over LSL, the markers stream's description)."""
    import pylsl
    tmp = tmp_path_factory.mktemp("meta")
    name = unique("meta")
    user = lsl_companion("emg", unique("emg"), name, "--channels", 4, "--set", "kp_n_per_m=25", "--set", "kd_n_s_per_m=12",
                         channels=4, rate_hz=2000)
    path = write_config(tmp, toml(machine_session(name, 6), user, emg_arm(8)))
    out = tmp / "out"
    proc = subprocess.Popen(RTCORE + ["run", path, "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    names = []
    try:
        found = pylsl.resolve_byprop("name", f"rtcore-{name}-markers", 1, 900.0)
        assert found, "the session's markers outlet never appeared"
        inlet = pylsl.StreamInlet(found[0])
        info = inlet.info(10.0)
        inlet.open_stream(10.0)
        while proc.poll() is None:
            x, _t = inlet.pull_chunk(timeout=0.2)
            names += [s[0] for s in x]
        x, _t = inlet.pull_chunk(timeout=1.0)
        names += [s[0] for s in x]
        text = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert summary(out)["ticks"] > 1000, text
    return out, names, info


def _channels(stream):
    return [(c["label"][0], c["unit"][0], c["type"][0]) for c in stream["info"]["desc"][0]["channels"][0]["channel"]]


def test_pyxdf_loads_channel_types_and_units_without_clock_warnings(session, caplog):
    import pyxdf
    out, _names, _info = session
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
    out, _names, _info = session
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
    _out, names, info = session
    assert names and set(names) <= set(NAMES.values()), names
    assert "go" in names
    table, code = {}, info.desc().child("codes").child("code")
    while not code.empty():
        table[int(code.child_value("value"))] = code.child_value("name")
        code = code.next_sibling("code")
    assert table == NAMES
    assert info.channel_format() == 3  # cf_string
