"""Read a session.xdf back (replay, reports, recording.load): the reader, apart from the writer in
rtcore.xdf so that a replay source does not pull in the loop and the config that the writer needs."""


def load(path: str) -> dict:
    """{stream name: pyxdf stream dict} of a session.xdf (no clock sync or dejitter: stamps as written)."""
    import pyxdf
    streams, header = pyxdf.load_xdf(path, synchronize_clocks=False, dejitter_timestamps=False)
    out = {s["info"]["name"][0]: s for s in streams}
    out["_header"] = header
    return out
