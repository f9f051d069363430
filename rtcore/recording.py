"""Named per-tick arrays of a recorded session, rebuilt from DIR/session.xdf.

The parent records each session once, as XDF (rtcore/xdf.py). `load(DIR)` turns the file back
into the ring's per-tick rows: the timing stream gives tick, t_s, wake latency and compute, and its
time stamps the tick's stamp (stamp_s; see rtcore/xdf.py for the time base); every
bus signal's stream its columns; each source's `<signal>` and `<signal>_block` (input, force,
events ...) are rebuilt from its per-sample stream and `<signal>_n` (a slot holds its value until a
sample overwrites it, as on the bus; a marker inlet's texts become their bytes again; its
`<signal>_stamps` are not rebuilt); `marker` from the marker stream. Everything up to the last flush loads after a crash of either process.
"""
import json
import os

import numpy as np


def load(out_dir: str) -> dict:
    """{"columns": [...], "rows": [n, c], "streams": the signal table (name, unit, labels, first
    column), "rate_hz", signal name: [n, width]} from a recorded session."""
    from rtcore import xdf
    from rtcore.xdf_load import per_sample_meta
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
    width = {s[0]: len(s[2]) for s in streams}  # entries: name, units, labels, first column (, types)
    first = {s[0]: s[3] for s in streams}
    stamps = rows[:, columns.index("stamp_s")] if "stamp_s" in columns else None
    sources = [name for name in first if name in rec and per_sample_meta(rec[name])]
    for name, c in first.items():
        if name in rec and name != "markers" and name not in sources:
            _per_tick(rows[:, c:c + width[name]], rec[name], stamps)
    for name in sources:
        _inputs(rows, rec, first, width, name)
    if "marker" in first and "markers" in rec and len(rec["markers"]["time_stamps"]):
        from sims.paradigms.markers import NAMES
        code = {v: k for k, v in NAMES.items()}
        at = np.searchsorted(np.asarray(rec["timing"]["time_stamps"]), rec["markers"]["time_stamps"])
        rows[np.minimum(at, n - 1), first["marker"]] = [code.get(m[0], float(m[0]) if m[0].isdigit() else -1.0)
                                                        for m in rec["markers"]["time_series"]]
    out = {"columns": columns, "rows": rows, "streams": streams, "rate_hz": float(head["rate_hz"][0])}
    for name, c in first.items():
        out[name] = rows[:, c:c + width[name]]
    return out


def _per_tick(cols, stream, stamps):
    """A signal's stream into its per-tick columns; a decimated one (record.every_ticks) holds each
    sample until the next, as the bus did between the recorded ticks."""
    values = np.asarray(stream["time_series"], np.float64).reshape(-1, cols.shape[1])
    if values.shape[0] >= cols.shape[0] or stamps is None or not values.shape[0]:
        cols[:] = values[:cols.shape[0]]
        return
    at = np.searchsorted(np.asarray(stream["time_stamps"], np.float64), stamps, side="right") - 1
    cols[:] = values[np.maximum(at, 0)]


def _inputs(rows, rec, first, width, sig):
    from rtcore.xdf_load import samples_of
    nch = width[sig]
    samples = samples_of(rec[sig], nch)
    if f"{sig}_block" not in first or f"{sig}_n" not in first:  # recorded one input row per tick
        rows[:, first[sig]:first[sig] + nch] = samples[:rows.shape[0]]
        return
    counts = rows[:, first[f"{sig}_n"]].astype(np.int64)
    b0, mx = first[f"{sig}_block"], width[f"{sig}_block"] // nch
    block = np.zeros(mx * nch)
    last = np.zeros(nch)
    k = 0
    for t, c in enumerate(counts):
        if c > 0:
            block[:c * nch] = samples[k:k + c].ravel()
            last = samples[k + c - 1]
            k += c
        rows[t, b0:b0 + mx * nch] = block
        rows[t, first[sig]:first[sig] + nch] = last
