"""Read a session.xdf back (replay, reports, recording.load): the reader, apart from the writer in
rtcore.xdf so that a replay source does not pull in the loop and the config that the writer needs."""
import numpy as np


def load(path: str) -> dict:
    """{stream name: pyxdf stream dict} of a session.xdf (no clock sync or dejitter: stamps as written)."""
    import pyxdf
    streams, header = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    out = {s["info"]["name"][0]: s for s in streams}
    out["_header"] = header
    return out


def text_of(values) -> str:
    """A text signal's bytes (0-padded, one per channel) as the string they encode."""
    return bytes(np.asarray(values, np.uint8)).rstrip(b"\0").decode("utf-8", "replace")


def text_values(text: str, width: int) -> np.ndarray:
    """A string as a text signal's bytes: UTF-8, cut at width, 0-padded (text_of's inverse)."""
    raw = text.encode()[:width]
    out = np.zeros(width)
    out[:len(raw)] = list(raw)
    return out


def per_sample_meta(stream) -> dict | None:
    """A source's per-sample stream's <desc><rtcore> (max_per_tick, per_tick, signal ...), else None."""
    try:
        meta = stream["info"]["desc"][0]["rtcore"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return meta if "max_per_tick" in meta else None


def samples_of(stream, nch: int) -> np.ndarray:
    """A source's per-sample stream as values [n, nch]: numbers, or a text stream's strings as
    their bytes (nch of them, 0-padded), as they were on the bus."""
    if stream["info"]["channel_format"][0] == "string":
        return np.array([text_values(x[0], nch) for x in stream["time_series"]]).reshape(-1, nch)
    return np.asarray(stream["time_series"], np.float64).reshape(-1, nch)


def scan(path: str):
    """The chunks of a session.xdf one at a time, in memory bounded by the largest chunk.

    Yields ("header", info) once (the file header's <rtcore> fields as a dict), then per stream
    ("stream", id, info) with info = {name, type, rate_hz, channels: [(label, unit, type)], desc (Element)},
    and ("samples", id, stamps [n], values [n, n_ch] float64, or a list of str for string streams).
    Numeric stamps and values are read-only views into the chunk just read (no copies: a 1 h
    session is 2.5 GB of them); copy what you keep.
    Reads the layout rtcore.xdf writes (every sample stamped); the Samples chunks of a string stream
    are decoded sample by sample. A file cut by a crash ends at its last whole chunk."""
    import struct
    import xml.etree.ElementTree as ET

    formats = {}
    with open(path, "rb") as fh:
        if fh.read(4) != b"XDF:":
            raise ValueError(f"{path}: not an XDF file")
        while True:
            head = fh.read(1)
            if not head:
                return
            nbytes = head[0]
            raw = fh.read(nbytes)
            if len(raw) < nbytes:
                return
            length = int.from_bytes(raw, "little")
            body = fh.read(length)
            if len(body) < length:
                return
            tag = struct.unpack_from("<H", body)[0]
            if tag == 1:
                root = ET.fromstring(body[2:])
                meta = root.find("rtcore")
                yield "header", {el.tag: el.text for el in (meta if meta is not None else [])}
            elif tag == 2:
                sid = struct.unpack_from("<I", body, 2)[0]
                root = ET.fromstring(body[6:])
                fmt = root.findtext("channel_format")
                chans = [(c.findtext("label"), c.findtext("unit") or "", c.findtext("type") or "")
                         for c in root.iterfind("desc/channels/channel")]
                nch = len(chans) or int(root.findtext("channel_count"))
                dtype = {"double64": "<f8", "float32": "<f4"}.get(fmt)
                if fmt != "string" and dtype is None:
                    raise ValueError(f"{path}: stream {sid} has channel format {fmt}; rtcore writes double64")
                formats[sid] = (fmt, nch if fmt == "string" else np.dtype([("tsb", "u1"), ("ts", "<f8"), ("v", dtype, (nch,))]))
                yield "stream", sid, {"name": root.findtext("name"), "type": root.findtext("type"),
                                      "rate_hz": float(root.findtext("nominal_srate") or 0.0),
                                      "channels": chans, "desc": root.find("desc")}
            elif tag == 3:
                sid = struct.unpack_from("<I", body, 2)[0]
                if sid not in formats:
                    continue
                fmt, layout = formats[sid]
                nb = body[6]
                n = int.from_bytes(body[7:7 + nb], "little")
                pos = 7 + nb
                if fmt == "string":
                    stamps, texts = np.zeros(n), []
                    for k in range(n):
                        stamps[k] = struct.unpack_from("<d", body, pos + 1)[0]
                        pos += 9
                        lb = body[pos]
                        ln = int.from_bytes(body[pos + 1:pos + 1 + lb], "little")
                        pos += 1 + lb
                        texts.append(body[pos:pos + ln].decode())
                        pos += ln
                    yield "samples", sid, stamps, texts
                else:
                    rec = np.frombuffer(body, layout, n, pos)
                    if body[pos:pos + n * layout.itemsize:layout.itemsize].count(8) != n:  # each sample's stamp length byte
                        raise ValueError(f"{path}: stream {sid} has samples without stamps; not a file rtcore wrote")
                    v = rec["v"]
                    yield "samples", sid, rec["ts"], v if v.dtype == np.float64 else v.astype(np.float64)
