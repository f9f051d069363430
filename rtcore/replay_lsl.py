"""Real-time replay of a recording's inputs as an LSL outlet (`rtcore replay X.xdf --lsl`).

The recorded `input` stream is published with its type (EMG ...), each channel's label, unit and
type, and its nominal rate, and
each sample is pushed at its recorded time offset (scaled by 1/speed), stamped on this machine's
clock. A session whose [source] is kind "lsl" with the same stream name then runs on the old data
in real time. Streaming starts when the first consumer connects (or after wait_s without one).
"""
import time

import numpy as np


def stream_inputs(xdf_path: str, name: str, speed: float = 1.0, wait_s: float = 30.0, announce=print) -> int:
    """Push every recorded input sample to an LSL outlet named `name`; returns the count pushed."""
    import pylsl
    from rtcore import xdf
    rec = xdf.load(xdf_path)
    if "input" not in rec:
        raise ValueError(f"{xdf_path}: no `input` stream to replay")
    st = rec["input"]
    chans = st["info"]["desc"][0]["channels"][0]["channel"]
    values = np.asarray(st["time_series"], np.float64)
    stamps = np.asarray(st["time_stamps"], np.float64)
    rate = float(st["info"]["nominal_srate"][0])
    info = pylsl.StreamInfo(name, st["info"]["type"][0], len(chans), rate, "double64", f"rtcore-replay-{name}")
    desc = info.desc().append_child("channels")
    for ch in chans:
        c = desc.append_child("channel")
        c.append_child_value("label", ch["label"][0])
        c.append_child_value("unit", ch["unit"][0] or "")
        c.append_child_value("type", (ch.get("type") or [st["info"]["type"][0]])[0])
    outlet = pylsl.StreamOutlet(info)
    announce(f"streaming {values.shape[0]} samples of {xdf_path} as LSL '{name}' ({rate:g} Hz, x{speed:g})")
    outlet.wait_for_consumers(wait_s)
    due = (stamps - stamps[0]) / speed if stamps.size else stamps
    start = pylsl.local_clock()
    sent = 0
    while sent < values.shape[0]:
        now = pylsl.local_clock() - start
        upto = int(np.searchsorted(due, now, side="right"))
        if upto > sent:
            outlet.push_chunk(values[sent:upto].tolist(), (start + due[sent:upto]).tolist())
            sent = upto
        time.sleep(0.001)
    return sent
