"""Session recording as XDF (DIR/session.xdf), written by the supervising parent from ring rows.

XDF (Kothe et al., sccn/xdf "Specifications", v1.0) is a chunked binary file: the magic
"XDF:", then chunks [NumLengthBytes u8][Length][Tag u16][content], Length = 2 + len(content).
Tags: 1 FileHeader, 2 StreamHeader, 3 Samples, 4 ClockOffset, 5 Boundary, 6 StreamFooter.

Time base (the file header's <rtcore><time_base>):
  "lsl_local_clock"  real time: each tick is stamped with its wake time on CLOCK_MONOTONIC, which is
                     LSL's clock (lsl_local_clock = std::chrono::steady_clock = CLOCK_MONOTONIC on
                     Linux; <clock> holds the measured difference). The engine's LSL outlets push
                     the same stamps, so an inlet's copy and this file agree sample for sample.
                     Missed deadlines show as longer gaps: the stamps follow real time.
  "simulated"        offline (--fast): stamps are T0 + tick / rate (T0 = CLOCK_MONOTONIC at the
                     first tick), simulated time, not when the tick ran.

Streams written (one per recorded bus signal group):
  input     every input sample (from input_block/input_n); each further [[source]] has its own
  (force,   stream, named by its signal. LSL sources: stamped in the source's own clock
  events..) (<signal>_time minus the inlet's clock offset), with the offsets the inlet used
            (lsl_time_correction, local = remote + offset) as ClockOffset chunks, as LabRecorder
            does; pyxdf's synchronize_clocks maps them onto the local clock. In-process sources:
            the tick's stamp plus the sample's time within the tick. A marker inlet's stream
            (devices/lsl/marker_inlet.py) is a string stream, each marker at its sender's stamp;
  <signal>  every other recorded bus signal (command, state, prediction, spe, trial, ...), one
            sample per tick, stamped with the tick's stamp, double64;
  markers   the task's event codes as strings (irregular rate);
  timing    tick, t_s, wake_latency_us, compute_us per tick (double64), stamped like the others.
The file header keeps the resolved config (TOML) and the ring columns and signal streams (JSON), so
rtcore.recording.load rebuilds the per-tick rows from the file alone.
Each flush writes one Samples chunk per stream (per CHUNK_ROWS ticks), ClockOffset chunks (offset 0 for the engine's own
streams: they are on this machine's clock) and a Boundary chunk, as one write followed by fsync-free
flush, so a kill -9 of either process leaves a file pyxdf.load_xdf reads up to the last flush.
close() writes the StreamFooters (first/last stamp, sample count, ring_dropped_rows).
"""
import io
import json
import os
import struct
import threading
import xml.sax.saxutils as sx

import numpy as np

from rtcore.bus import TEXT_TYPE
from rtcore.loop import COL_STAMP_S, COL_T_S, COL_TICK, CTRL_RING_DROPPED
from rtcore.xdf_load import load, text_of  # noqa: F401  (the reader; xdf.load is its public name)

MAGIC = b"XDF:"
FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
#: The Boundary chunk's fixed 16-byte UUID (spec).
BOUNDARY_UUID = bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F,
                       0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4])
TIME_BASE_REAL, TIME_BASE_SIMULATED = "lsl_local_clock", "simulated"
CHUNK_ROWS = 2000  #: ticks per Samples chunk at most
#: Timing stream channels (the ring's leading columns except stamp_s, which is the stream's stamps).
TIMING_CHANNELS = (("tick", "tick"), ("t_s", "s"), ("wake_latency_us", "us"), ("compute_us", "us"))


def varlen(n: int) -> bytes:
    """XDF variable-length integer: [1|4|8 as u8][n as that many bytes, little endian]."""
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2 ** 32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def chunk(tag: int, content: bytes) -> bytes:
    return varlen(len(content) + 2) + struct.pack("<H", tag) + content


def numeric_samples(stream_id: int, stamps: np.ndarray, values: np.ndarray, dtype: str) -> bytes:
    """A Samples chunk of numeric samples, each with its 8-byte timestamp. values: [n, n_ch]."""
    n, nch = values.shape
    rec = np.zeros(n, dtype=[("tsb", "u1"), ("ts", "<f8"), ("v", dtype, (nch,))])
    rec["tsb"], rec["ts"], rec["v"] = 8, stamps, values
    return chunk(SAMPLES, struct.pack("<I", stream_id) + varlen(n) + rec.tobytes())


def string_samples(stream_id: int, stamps, texts) -> bytes:
    """A Samples chunk of single-channel string samples with timestamps."""
    body = io.BytesIO()
    for t, s in zip(stamps, texts):
        b = s.encode()
        body.write(struct.pack("<Bd", 8, t) + varlen(len(b)) + b)
    return chunk(SAMPLES, struct.pack("<I", stream_id) + varlen(len(texts)) + body.getvalue())


def _xml(tag: str, inner) -> str:
    if isinstance(inner, dict):
        return f"<{tag}>" + "".join(_xml(k, v) for k, v in inner.items()) + f"</{tag}>"
    if isinstance(inner, list):  # repeated child elements: [(tag, inner), ...]
        return f"<{tag}>" + "".join(_xml(k, v) for k, v in inner) + f"</{tag}>"
    return f"<{tag}>{sx.escape(str(inner))}</{tag}>"


def stream_type(types) -> str:
    """A stream's content type from its channels' types: their common type, else "mixed"."""
    kinds = set(types)
    return kinds.pop() if len(kinds) == 1 else "mixed"


class _Stream:
    def __init__(self, sid, name, stype, labels, units, types, rate, fmt, desc=None):
        self.sid, self.name, self.labels, self.fmt = sid, name, labels, fmt
        self.first, self.last, self.count = None, None, 0
        self.offsets = []  # [(time, value)] ClockOffset chunks written: local = stamp + value
        channels = [("channel", {"label": lab, "unit": u, "type": t}) for lab, u, t in zip(labels, units, types)]
        info = {"name": name, "type": stype, "channel_count": len(labels), "nominal_srate": repr(float(rate)),
                "channel_format": fmt, "source_id": f"rtcore.{name}", "created_at": "0",
                "desc": [("channels", channels)] + list((desc or {}).items())}
        self.header = chunk(STREAM_HEADER, struct.pack("<I", sid) + ('<?xml version="1.0"?>' + _xml("info", info)).encode())

    def seen(self, stamps):
        if len(stamps):
            self.first = float(stamps[0]) if self.first is None else self.first
            self.last = float(stamps[-1])
            self.count += len(stamps)

    def footer(self, extra: dict) -> bytes:
        offsets = self.offsets or [(self.last or 0.0, 0.0)]
        info = {"first_timestamp": repr(self.first or 0.0), "last_timestamp": repr(self.last or 0.0),
                "sample_count": self.count,
                "clock_offsets": [("offset", {"time": repr(t), "value": repr(v)}) for t, v in offsets]}
        info.update(extra)
        return chunk(STREAM_FOOTER, struct.pack("<I", self.sid) + ('<?xml version="1.0"?>' + _xml("info", info)).encode())


class _SourceStream:
    """The per-sample stream of one [[source]] (named by its signal: input, force, events ...):
    every sample of <signal>_block / <signal>_n, or <signal> once per tick without a block. A text
    source (channel type "Markers": a marker inlet's UTF-8 bytes) is a string stream, each marker
    stamped with its own <signal>_stamps entry. LSL sources: stamps in the source's own clock with
    ClockOffset chunks (see the module docstring)."""

    def __init__(self, sid, src, sig, table, rate_hz):
        first, labels, units, types = table[sig]
        self.sig, self.table, self.rate_hz = sig, table, rate_hz
        self.lsl_time = src.kind in ("lsl", "lsl_markers")
        self.replayed = src.kind == "replay"
        self.src_rate = float(getattr(src, "rate_hz", 0.0) or 0.0)
        self.offset_col = table[f"{sig}_clock_offset"][0] if self.lsl_time and f"{sig}_clock_offset" in table else None
        self.block = f"{sig}_block" in table and f"{sig}_n" in table
        self.nch = len(labels)
        self.mx = len(table[f"{sig}_block"][1]) // self.nch if self.block else 1
        self.text = types[0] == TEXT_TYPE
        self.stamps_col = table[f"{sig}_stamps"][0] if f"{sig}_stamps" in table else None
        self.not_per_tick = {sig, f"{sig}_block", f"{sig}_stamps"}
        meta = {"max_per_tick": self.mx, "source_kind": src.kind, "per_tick": int(not self.block), "signal": sig}
        if self.text:
            meta["max_chars"] = self.nch
            self.stream = _Stream(sid, sig, TEXT_TYPE, [sig], [""], [TEXT_TYPE], 0.0, "string", {"rtcore": meta})
        else:
            self.stream = _Stream(sid, sig, stream_type(types), labels, units, types, self.src_rate or rate_hz,
                                  "double64", {"rtcore": meta})

    def chunk(self, rows, stamps) -> bytes:
        """This flush's samples (and the inlet's clock offsets) as XDF chunks."""
        table, sig, nch = self.table, self.sig, self.nch
        first = table[sig][0]
        times, offset = stamps, None
        if f"{sig}_time" in table and not self.replayed:  # a replay's samples: at the tick that replays them
            t_in = rows[:, table[f"{sig}_time"][0]]
            if not self.lsl_time:  # in-process source: the tick's stamp plus the sample's time within the tick
                times = stamps + (t_in - rows[:, COL_T_S])
            elif self.offset_col is None:  # offsets not recorded: stamps stay on the local clock
                times = t_in
            else:  # the source's own clock; the offsets go out as ClockOffset chunks
                offset = rows[:, self.offset_col]
                times = t_in - offset
        if not self.block:
            values, t = rows[:, first:first + nch], times
        else:
            b0 = table[f"{sig}_block"][0]
            n = rows[:, table[f"{sig}_n"][0]].astype(np.int64)
            blocks = rows[:, b0:b0 + self.mx * nch].reshape(-1, self.mx, nch)
            keep = np.arange(self.mx)[None, :] < n[:, None]
            values = blocks[keep]
            if self.stamps_col is not None and not self.replayed:  # each sample's own (local) stamp
                own = rows[:, self.stamps_col:self.stamps_col + self.mx]
                t = (own - (offset[:, None] if offset is not None else 0.0))[keep]
            else:
                age = (n[:, None] - 1 - np.arange(self.mx)[None, :]) / (self.src_rate or self.rate_hz)
                t = (times[:, None] - age)[keep]
        if not len(t):
            out = b""
        elif self.text:
            out = string_samples(self.stream.sid, t, [text_of(v) for v in values])
        else:
            out = numeric_samples(self.stream.sid, t, values, "<f8")
        self.stream.seen(t)
        if offset is not None:
            out += self._offsets(stamps, offset)
        return out

    def _offsets(self, stamps, offset) -> bytes:
        """ClockOffset chunks: where the inlet's offset changed, and the last tick."""
        st = self.stream
        prev = st.offsets[-1][1] if st.offsets else np.nan
        at = list(np.flatnonzero(offset != np.concatenate([[prev], offset[:-1]])))
        if len(offset) and (not at or at[-1] != len(offset) - 1):
            at.append(len(offset) - 1)
        pairs = [(float(stamps[k]), float(offset[k])) for k in at]
        st.offsets.extend(pairs)
        return b"".join(chunk(CLOCK_OFFSET, struct.pack("<Idd", st.sid, t, v)) for t, v in pairs)


class XdfRecorder:
    """The XDF recording hook: open(columns, streams), write(rows), flush(), close().

    cfg: the SessionConfig (session name, loop and source rate, config text in the file header).
    ctrl: the shared control block (ring_dropped_rows), or None. Rows carry their own stamps (the
    loop's stamp_s column). Also accumulates |SPE| per trial for the summary's learning figures.
    """

    def __init__(self, out_dir: str, cfg, ctrl=None, file_name: str = "session.xdf"):
        self.path = os.path.join(out_dir, file_name)
        self.cfg, self.ctrl = cfg, ctrl
        self.fh = None
        self.pending = []
        self.rows = 0
        self.spe = {1: (np.zeros(0), np.zeros(0)), 2: (np.zeros(0), np.zeros(0))}  # by trial col: (sum, n)
        self.w_norm = None
        self.operator = []  # (stamp, text) of markers the operator added, written at the next flush
        self.operator_lock = threading.Lock()  # the dashboard's thread adds them
        self.last_stamp = None

    def open(self, columns: list, streams: list) -> None:
        from rtcore import config as config_mod
        cfg = self.cfg
        self.columns = columns
        self.sig = {name: (first, list(labels), list(units), list(types)) for name, units, labels, first, types in streams}
        rate = cfg.loop.rate_hz
        self.streams, sid = [], 1
        self.tick_streams = []
        self.inputs = []  # one per-sample stream per source whose signals are recorded
        for src in cfg.source:
            sig = getattr(src, "signal", "input")
            if sig in self.sig:
                self.inputs.append(_SourceStream(sid, src, sig, self.sig, rate))
                self.streams.append(self.inputs[-1].stream)
                sid += 1
        not_per_tick = {"marker"} | {name for st in self.inputs for name in st.not_per_tick}
        every = cfg.record.every_ticks
        for name, (first, labels, units, types) in self.sig.items():
            if name in not_per_tick:
                continue
            k = every.get(name, 1)
            st = _Stream(sid, name, stream_type(types), labels, units, types, rate / k, "double64",
                         {"rtcore": {"signal": name, "every_ticks": k}})
            self.tick_streams.append((st, first, k))
            self.streams.append(st)
            sid += 1
        from sims.paradigms.markers import code_table
        self.markers = _Stream(sid, "markers", "Markers", ["marker"], [""], ["Markers"], 0.0, "string",
                               {"codes": code_table()})
        self.timing = _Stream(sid + 1, "timing", "rtcore.timing", [c for c, _u in TIMING_CHANNELS],
                              [u for _c, u in TIMING_CHANNELS], ["timing"] * len(TIMING_CHANNELS), rate, "double64")
        self.streams += [self.markers, self.timing]
        self.time_base = TIME_BASE_REAL if cfg.loop.realtime else TIME_BASE_SIMULATED
        if cfg.loop.realtime:
            from rtcore.clock import lsl_clock_mapping
            clock = lsl_clock_mapping()
        else:
            clock = {"clock": "simulated: T0 + tick / rate, T0 = CLOCK_MONOTONIC at the first tick"}
        head = {"version": "1.0", "datetime": "", "rtcore": {"session": cfg.session.name, "rate_hz": rate,
                                                              "time_base": self.time_base, "clock": clock,
                                                              "config_toml": config_mod.dump(cfg),
                                                              "columns_json": json.dumps(columns),
                                                              "streams_json": json.dumps([list(s) for s in streams])}}
        self.fh = open(self.path, "wb")
        self._emit(MAGIC + chunk(FILE_HEADER, ('<?xml version="1.0"?>' + _xml("info", head)).encode())
                   + b"".join(st.header for st in self.streams))

    def _emit(self, data: bytes) -> None:
        self.fh.write(data)
        self.fh.flush()

    def write(self, rows: np.ndarray) -> None:
        if rows.size:
            self.pending.append(np.array(rows, dtype=np.float64, copy=True))
            self.rows += rows.shape[0]
            self.last_stamp = float(rows[-1, COL_STAMP_S])

    def operator_marker(self, text: str) -> None:
        """A text marker (an operator's action or note) into the marker stream, at the stamp of the
        latest recorded tick; safe to call from another thread."""
        with self.operator_lock:
            self.operator.append((self.last_stamp, text))

    def flush(self) -> None:
        """Write the pending rows, at most CHUNK_ROWS ticks per Samples chunk (so that a reader's
        memory does not depend on how many rows one flush took, e.g. offline), and the operator's
        markers."""
        if self.fh is None:
            return
        if not self.pending:
            self._emit(self._operator_chunk())
            return
        rows = np.concatenate(self.pending)
        self.pending = []
        for start in range(0, rows.shape[0], CHUNK_ROWS):
            self._flush_rows(rows[start:start + CHUNK_ROWS])

    def _flush_rows(self, rows) -> None:
        stamps = rows[:, COL_STAMP_S]
        out = [st.chunk(rows, stamps) for st in self.inputs]
        for st, first, k in self.tick_streams:
            sel = slice(None) if k == 1 else rows[:, COL_TICK] % k == 0
            st.seen(stamps[sel])
            if k == 1 or sel.any():
                out.append(numeric_samples(st.sid, stamps[sel], rows[sel, first:first + len(st.labels)], "<f8"))
        self._learning(rows)
        if "marker" in self.sig:
            col = rows[:, self.sig["marker"][0]]
            hit = np.nonzero(col)[0]
            if hit.size:
                from sims.paradigms.markers import NAMES
                self.markers.seen(stamps[hit])
                out.append(string_samples(self.markers.sid, stamps[hit],
                                          [NAMES.get(int(col[k]), str(int(col[k]))) for k in hit]))
        out.append(self._operator_chunk())
        self.timing.seen(stamps)
        out.append(numeric_samples(self.timing.sid, stamps, rows[:, 0:len(TIMING_CHANNELS)], "<f8"))
        now = float(stamps[-1])  # when these offsets hold: each flush adds a new time, so pyxdf's fit is never singular
        for st in self.streams:  # ClockOffset chunks of the engine's own streams (offset 0), not kept in memory
            if any(st is src.stream and src.offset_col is not None for src in self.inputs):
                continue  # its measured offsets went out with its samples
            if st.last is not None:
                out.append(chunk(CLOCK_OFFSET, struct.pack("<Idd", st.sid, now, 0.0)))
        out.append(chunk(BOUNDARY, BOUNDARY_UUID))
        self._emit(b"".join(c for c in out if c))

    def _operator_chunk(self) -> bytes:
        """The operator's markers added since the last flush, as string samples of the marker stream."""
        if self.last_stamp is None:  # before the first recorded tick: kept until it comes
            return b""
        with self.operator_lock:
            notes, self.operator = [(self.last_stamp if t is None else t, x) for t, x in self.operator], []
        if not notes:
            return b""
        at = np.array([t for t, _x in notes])
        self.markers.seen(at)
        return string_samples(self.markers.sid, at, [x for _t, x in notes])

    def _learning(self, rows) -> None:
        """Accumulate the mean |SPE| (position components) per trial and per block; the last ||W||."""
        if "purkinje_norm" in self.sig:
            self.w_norm = float(rows[-1, self.sig["purkinje_norm"][0]])
        if "spe" not in self.sig or "trial" not in self.sig:
            return
        f = self.sig["spe"][0]
        w = min(2, len(self.sig["spe"][1]))
        mag = np.linalg.norm(rows[:, f:f + w], axis=1)
        for col, (total, count) in self.spe.items():
            idx = rows[:, self.sig["trial"][0] + col - 1].astype(np.int64)
            ok = (idx >= 0) & np.isfinite(mag)
            m = max(int(idx[ok].max()) + 1 if ok.any() else 0, total.size)
            total = np.pad(total, (0, m - total.size)) + np.bincount(idx[ok], mag[ok], m)
            count = np.pad(count, (0, m - count.size)) + np.bincount(idx[ok], None, m)
            self.spe[col] = (total, count)

    def learning(self) -> dict:
        """Learning figures for summary.json: mean |SPE| (m) per trial and per block, final ||W||."""
        out = {}
        for col, key in ((1, "spe_per_trial_m"), (2, "spe_per_block_m")):
            total, count = self.spe[col]
            with np.errstate(invalid="ignore", divide="ignore"):
                per = total / count
            if per.size:
                out[key] = [None if not np.isfinite(v) else round(float(v), 9) for v in per]
        if self.w_norm is not None:
            out["purkinje_norm_final"] = self.w_norm
        return out

    def close(self) -> None:
        if self.fh is None:
            return
        self.flush()
        dropped = int(self.ctrl[CTRL_RING_DROPPED]) if self.ctrl is not None else 0
        self._emit(b"".join(st.footer({"ring_dropped_rows": dropped}) for st in self.streams))
        self.fh.close()
        self.fh = None
