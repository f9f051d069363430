"""Default outlets of a real-time session: command, state (and others present) and markers, named
rtcore-<session>-<stream>, with each channel's label, unit and type and the nominal rate in the
stream description; the markers stream carries only non-zero events, by name; every_ticks divides the rate."""
import time
import uuid

import numpy as np
import pylsl
import pytest

import rtcore  # noqa: F401
from devices.lsl import outlet
from devices.lsl.inlet import channel_labels
from rtcore.bus import MARKER, Bus
from rtcore.stage import BuildContext


@pytest.fixture(scope="module")
def built():
    session = f"demo{uuid.uuid4().hex[:6]}"
    bus = Bus()
    bus.add("command", 2, "N", ["fx", "fy"])
    bus.add("state", 4, ("m", "m", "m/s", "m/s"), ["x", "y", "vx", "vy"])
    ctx = BuildContext(bus=bus, dt_s=0.001, seed=0, realtime=True, session_name=session)
    stages = outlet.build_all(None, ctx)
    slow = outlet.build(outlet.OutletConfig(stream="slow", signals=["state[0:2]", "command[1]"], every_ticks=10), ctx)
    yield session, bus, stages, slow
    for st in stages + [slow]:
        st.close()


def resolve(sid):
    found = pylsl.resolve_byprop("source_id", sid, 1, 10.0)
    assert found, f"no stream {sid}"
    inlet = pylsl.StreamInlet(found[0])
    return inlet, inlet.info(5.0)


def test_defaults_publish_present_signals_and_markers(built):
    session, bus, stages, _ = built
    assert [st.name for st in stages] == ["outlet"] * 3
    for stream, labels, units, types, rate in (
            ("command", ["fx", "fy"], ["N"] * 2, ["force"] * 2, 1000.0),
            ("state", ["x", "y", "vx", "vy"], ["m", "m", "m/s", "m/s"], ["position"] * 2 + ["velocity"] * 2, 1000.0),
            ("markers", ["marker"], [""], ["Markers"], 0.0)):
        _, info = resolve(f"rtcore-{session}-{stream}")
        assert info.name() == f"rtcore-{session}-{stream}" and info.nominal_srate() == rate
        assert channel_labels(info) == (labels, units, types)


def test_markers_only_nonzero_and_every_ticks(built):
    session, bus, stages, slow = built
    markers = stages[-1]
    m_in, _ = resolve(f"rtcore-{session}-markers")
    s_in, info = resolve(f"rtcore-{session}-slow")
    assert channel_labels(info)[0] == ["state.x", "state.y", "command.fy"] and info.nominal_srate() == 100.0
    m_in.open_stream(5.0)
    s_in.open_stream(5.0)
    time.sleep(0.5)
    b = bus.array()
    for tick in range(100):
        b[MARKER] = {42: 7.0, 50: 2.0, 60: 99.0}.get(tick, 0.0)
        b[bus.get("state").offset] = tick
        outlet.lsl_outlet_step(markers.f, markers.s, markers.i, b)
        outlet.lsl_outlet_step(slow.f, slow.s, slow.i, b)
    x, _ = m_in.pull_chunk(timeout=2.0)
    assert [m[0] for m in x] == ["block_start", "go", "unknown"]  # by name; a code outside the table: 'unknown'
    y, _ = s_in.pull_chunk(timeout=2.0)
    assert np.array(y)[:, 0].tolist() == list(range(0, 100, 10))  # the first tick, then every 10th
