"""Tick recording in the parent: every ring row appended to DIR/ticks.f64, flushed often.

ticks.json holds the columns and the signal streams (name, unit, labels, first column), so
`load(DIR)` returns named arrays. A crash of either process keeps everything up to the last
flush. This is the recording hook: a Recorder has open(columns, streams), write(rows), flush(),
close(); the XDF recorder plugs in beside it.
"""
import json
import os

import numpy as np


class TickRecorder:
    """Append-only float64 rows plus a JSON header."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, "ticks.f64")
        self.header_path = os.path.join(out_dir, "ticks.json")
        self.fh = None
        self.rows = 0

    def open(self, columns: list, streams: list) -> None:
        with open(self.header_path, "w") as fh:
            json.dump({"columns": columns,
                       "streams": [{"name": n, "unit": u, "labels": list(lab), "first_column": c}
                                   for n, u, lab, c in streams]}, fh, indent=1)
        self.fh = open(self.path, "wb")

    def write(self, rows: np.ndarray) -> None:
        if rows.size:
            self.fh.write(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
            self.rows += rows.shape[0]

    def flush(self) -> None:
        if self.fh:
            self.fh.flush()

    def close(self) -> None:
        if self.fh:
            self.fh.close()
            self.fh = None


class Fanout:
    """Several recorders behind one hook (ticks.f64 and session.xdf); rows and learning from them."""

    def __init__(self, *recorders):
        self.recorders = recorders

    @property
    def rows(self) -> int:
        return self.recorders[0].rows

    def open(self, columns: list, streams: list) -> None:
        for r in self.recorders:
            r.open(columns, streams)

    def write(self, rows: np.ndarray) -> None:
        for r in self.recorders:
            r.write(rows)

    def flush(self) -> None:
        for r in self.recorders:
            r.flush()

    def close(self) -> None:
        for r in self.recorders:
            r.close()

    def learning(self) -> dict:
        out = {}
        for r in self.recorders:
            out.update(getattr(r, "learning", dict)())
        return out


def load(out_dir: str) -> dict:
    """{"columns": [...], "rows": [n, c], signal name: [n, width]} from a recorded session."""
    with open(os.path.join(out_dir, "ticks.json")) as fh:
        header = json.load(fh)
    ncol = len(header["columns"])
    raw = np.fromfile(os.path.join(out_dir, "ticks.f64"), dtype=np.float64)
    rows = raw[: raw.size - raw.size % ncol].reshape(-1, ncol)
    out = {"columns": header["columns"], "rows": rows}
    for st in header["streams"]:
        out[st["name"]] = rows[:, st["first_column"]:st["first_column"] + len(st["labels"])]
    return out
