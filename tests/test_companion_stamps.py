"""The synthetic users (`rtcore source emg|neural`) stamp every sample: an independent inlet sees
strictly increasing stamps at the nominal spacing, close to its own clock, and the channel
description (label, unit, type) of the source."""
import subprocess

import numpy as np
import pylsl
import pytest

from enginecli import RTCORE
from lsl_helpers import unique


@pytest.mark.parametrize("kind,rate,label,unit,ctype", [("emg", 2000.0, "emg0", "mV", "EMG"),
                                                        ("neural", 50.0, "unit0", "count", "SpikeCounts")])
def test_companion_stamps_are_monotonic(kind, rate, label, unit, ctype):
    name = unique(f"stamps-{kind}")
    proc = subprocess.Popen(RTCORE + ["source", kind, "--channels", "4", "--rate", str(rate), "--name", name,
                                      "--duration", "4"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = pylsl.resolve_byprop("name", name, 1, 120.0)
        assert found, f"{name} never appeared"
        inlet = pylsl.StreamInlet(found[0], max_buflen=30)
        info = inlet.info(10.0)
        inlet.open_stream(10.0)
        stamps, arrival = [], []
        while proc.poll() is None:
            _x, t = inlet.pull_chunk(timeout=0.2)
            stamps += t
            arrival.append((pylsl.local_clock(), t[-1]) if t else None)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    t = np.asarray(stamps)
    assert t.size > rate * 1.0, f"only {t.size} samples"
    step = np.diff(t)
    assert np.all(step > 0), f"{np.sum(step <= 0)} stamps of {t.size} did not go forward"
    np.testing.assert_allclose(np.median(step), 1.0 / rate, rtol=1e-6)
    late = [now - last for now, last in filter(None, arrival)]
    assert -0.01 < np.median(late) < 0.5  # the stamps are on this machine's LSL clock, not in the future
    ch = info.desc().child("channels").child("channel")
    assert (ch.child_value("label"), ch.child_value("unit"), ch.child_value("type")) == (label, unit, ctype)
    assert info.type() == ctype
