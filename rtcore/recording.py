"""Named per-tick arrays of a recorded session, rebuilt from DIR/session.xdf.

The parent records each session once, as XDF (rtcore/xdf.py). `load(DIR)` turns the file back
into the ring's per-tick rows: the timing stream gives tick, t_s, wake latency and compute, and its
time stamps the tick's stamp (stamp_s; see rtcore/xdf.py for the time base); every
bus signal's stream its columns; `input` and `input_block` are rebuilt from the per-sample input
stream and `input_n` (a slot holds its value until a sample overwrites it, as on the bus); `marker`
from the marker stream. Everything up to the last flush loads after a crash of either process.
"""
import json
import os

import numpy as np


def load(out_dir: str) -> dict:
    """{"columns": [...], "rows": [n, c], signal name: [n, width]} from a recorded session."""
    from rtcore import xdf
    path = os.path.join(out_dir, "session.xdf")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no recording (did the session start?)")
    rec = xdf.load(path)
    head = rec["_header"]["info"]["rtcore"][0]
    columns = json.loads(head["columns_json"][0])
    streams = json.loads(head["streams_json"][0])
    n_ch = int(rec["timing"]["info"]["channel_count"][0])
    timing = np.asarray(rec["timing"]["time_series"], np.float64).reshape(-1, n_ch)
    n = timing.shape[0]
    rows = np.zeros((n, len(columns)))
    rows[:, :n_ch] = timing
    if "stamp_s" in columns:  # the tick's stamp is the timing stream's time stamp (files before it: absent)
        rows[:, columns.index("stamp_s")] = np.asarray(rec["timing"]["time_stamps"], np.float64)
    width = {name: len(labels) for name, _u, labels, _c in streams}
    first = {name: c for name, _u, labels, c in streams}
    for name, _unit, labels, c in streams:
        if name in rec and name not in ("input", "markers"):
            rows[:, c:c + len(labels)] = np.asarray(rec[name]["time_series"], np.float64).reshape(-1, len(labels))[:n]
    if "input" in first and "input" in rec:
        _inputs(rows, rec, first, width)
    if "marker" in first and "markers" in rec and len(rec["markers"]["time_stamps"]):
        from sims.paradigms.markers import NAMES
        code = {v: k for k, v in NAMES.items()}
        at = np.searchsorted(np.asarray(rec["timing"]["time_stamps"]), rec["markers"]["time_stamps"])
        rows[np.minimum(at, n - 1), first["marker"]] = [code.get(m[0], float(m[0]) if m[0].isdigit() else -1.0)
                                                        for m in rec["markers"]["time_series"]]
    out = {"columns": columns, "rows": rows}
    for name, _unit, labels, c in streams:
        out[name] = rows[:, c:c + len(labels)]
    return out


def _inputs(rows, rec, first, width):
    nch = width["input"]
    samples = np.asarray(rec["input"]["time_series"], np.float64).reshape(-1, nch)
    if "input_block" not in first or "input_n" not in first:  # recorded one input row per tick
        rows[:, first["input"]:first["input"] + nch] = samples[:rows.shape[0]]
        return
    counts = rows[:, first["input_n"]].astype(np.int64)
    b0, mx = first["input_block"], width["input_block"] // nch
    block = np.zeros(mx * nch)
    last = np.zeros(nch)
    k = 0
    for t, c in enumerate(counts):
        if c > 0:
            block[:c * nch] = samples[k:k + c].ravel()
            last = samples[k + c - 1]
            k += c
        rows[t, b0:b0 + mx * nch] = block
        rows[t, first["input"]:first["input"] + nch] = last
