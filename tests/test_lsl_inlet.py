"""A real pylsl outlet in another process feeds the compiled inlet stage over loopback LSL.

Proves: every sample arrives once, in order, with exact values; input_time is the sample's LSL
stamp on the local clock; NaN samples are rejected, counted and the previous sample held; the
outlet stage republishes the input sample by sample, and a real pylsl inlet receives exactly the
input sequence; a wrong channel count or an absent stream fails before start with one line
that names the stream and what is visible.
"""
import time

import numpy as np
import pylsl
import pytest

import rtcore  # noqa: F401
from devices.lsl import inlet
from devices.lsl import outlet
from rtcore import status
from rtcore.bus import Bus
from rtcore.stage import BuildContext
from lsl_helpers import go, start_peer, unique

N_CH = 4
COUNT = 400
NAN_AT = (150, 151)


@pytest.fixture(scope="module")
def session():
    """Inlet + pass-through outlet on one bus, fed by a peer process, stepped like the loop does."""
    name = unique("TestIn")
    peer = start_peer(name, "--channels", N_CH, "--rate", 1000, "--count", COUNT,
                      "--nan-at", *NAN_AT, "--linger-s", 5, "--go-on-stdin")
    bus = Bus()
    ctx = BuildContext(bus=bus, dt_s=0.001, seed=0, session_name=name)
    src = inlet.build(inlet.LslSourceConfig(kind="lsl", name=name, channels=N_CH, rate_hz=1000,
                                            channel_format="float32"), ctx)
    out = outlet.build(outlet.OutletConfig(stream="echo", signals=["input", "input_n"], per_sample=True,
                                           channel_format="double64"), ctx)
    reader = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", f"rtcore-{name}-echo", 1, 10.0)[0])
    reader.open_stream(10.0)
    b = bus.array()
    n_off, blk = bus.get("input_n").offset, bus.get("input_block").slice
    inlet.lsl_inlet_step(src.f, src.s, src.i, b)  # compile (or load) before the samples flow
    outlet.lsl_outlet_step(out.f, out.s, out.i, b)
    reader.pull_chunk(timeout=0.5)
    go(peer)
    rows, stamps, codes = [], [], []
    deadline = time.monotonic() + 20.0
    while len(rows) < COUNT and time.monotonic() < deadline:
        code = inlet.lsl_inlet_step(src.f, src.s, src.i, b)
        outlet.lsl_outlet_step(out.f, out.s, out.i, b)
        codes.append(code)
        n = int(b[n_off])
        if n:
            rows.extend(b[blk].reshape(-1, N_CH)[:n].copy())
            stamps.append((b[bus.get("input_time").offset], pylsl.local_clock()))
        time.sleep(0.0005)
    echoed, _ = reader.pull_chunk(timeout=2.0, max_samples=10 * COUNT)
    peer.terminate()
    peer.wait()
    yield dict(rows=np.array(rows), stamps=np.array(stamps), codes=codes, src=src, echoed=np.array(echoed))
    src.close()
    out.close()


def expected():
    x = (np.arange(COUNT)[:, None] + np.arange(N_CH)[None, :] / 100.0).astype(np.float32).astype(np.float64)
    for k in NAN_AT:
        x[k] = x[NAN_AT[0] - 1]  # held: the last valid sample
    return x


def test_every_sample_in_order_with_exact_values(session):
    np.testing.assert_array_equal(session["rows"], expected())


def test_input_time_is_the_lsl_stamp_on_the_local_clock(session):
    t_in, t_recv = session["stamps"].T
    assert np.all(np.diff(t_in) > 0)
    lag = t_recv - t_in  # pushed stamp (local clock, same machine) to the pull: small and positive
    assert np.all(lag > 0) and np.median(lag) < 0.05


def test_nan_samples_counted_and_held(session):
    c = inlet.counters(session["src"])
    assert c["bad_samples"] == len(NAN_AT) and c["samples"] == COUNT
    assert status.BAD_SAMPLE in session["codes"]


def test_outlet_republishes_every_input_sample(session):
    echoed = session["echoed"]
    assert echoed.shape == (COUNT, N_CH + 1)
    np.testing.assert_array_equal(echoed[:, :N_CH], expected())
    # input_n repeats per row
    assert set(echoed[:, N_CH]) <= set(range(1, int(inlet.LAYOUT.get(session["src"], "max")) + 1))


def test_wrong_channel_count_fails_before_start():
    name = unique("Wrong")
    peer = start_peer(name, "--channels", 6, "--count", 1, "--wait-consumer-s", 0, "--linger-s", 20)
    try:
        ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
        with pytest.raises(ValueError) as e:
            inlet.build(inlet.LslSourceConfig(kind="lsl", name=name, channels=8, resolve_timeout_s=5), ctx)
        msg = str(e.value)
        assert "\n" not in msg and f"'{name}' (6 ch, 500 Hz, EMG) has 6 channels" in msg and "source.channels = 8" in msg
        with pytest.raises(ValueError) as e:
            inlet.build(inlet.LslSourceConfig(kind="lsl", name=name + "-absent", resolve_timeout_s=0.5), ctx)
        msg = str(e.value)
        assert f"stream name='{name}-absent' not found within 0.5 s; visible:" in msg
        assert f"'{name}' (6 ch, 500 Hz, EMG)" in msg
    finally:
        peer.terminate()
        peer.wait()
