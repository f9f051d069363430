"""An mne-lsl client in its own process, as a lab's analysis script would be (run as a script).

It connects mne_lsl.stream.StreamLSL (on the liblsl that MNE_LSL_LIB names, else the one mne-lsl
bundles; the test gives it pylsl's) to each numeric stream named on the command line, reads what
MNE makes of the stream description (channel names, MNE types, FIFF units) and --samples samples,
opens an mne_lsl.lsl.StreamInlet on the --markers string stream for its type and code table, and
prints one JSON line. Separate from the test process on purpose: that process has loaded pylsl's
liblsl into the global symbol namespace (rtcore.cbind), and a second liblsl loaded after it
(mne-lsl's bundled one) hangs or fails in open_stream.
"""
import argparse
import json
import time

from mne_lsl.lsl import StreamInlet, resolve_streams
from mne_lsl.stream import StreamLSL

ap = argparse.ArgumentParser()
ap.add_argument("names", nargs="+", help="numeric streams, in the order they appear")
ap.add_argument("--markers", required=True, help="the string markers stream")
ap.add_argument("--samples", type=int, default=50)
ap.add_argument("--timeout-s", type=float, default=900.0, help="for the first stream to appear")
args = ap.parse_args()

out, timeout = {}, args.timeout_s
for name in args.names:
    stream = StreamLSL(2.0, name=name).connect(acquisition_delay=None, timeout=timeout)
    timeout = 30.0  # the first one waited for the session to start
    info = stream.info
    end = time.monotonic() + 10.0
    while stream.n_new_samples < args.samples and time.monotonic() < end:
        time.sleep(0.02)
        stream.acquire()
    data, _ts = stream.get_data(winsize=min(stream.n_new_samples, args.samples) / info["sfreq"])
    out[name] = {"ch_names": info.ch_names, "ch_types": stream.get_channel_types(),
                 "fiff_units": [(int(c["unit"]), int(c["unit_mul"])) for c in info["chs"]],
                 "lsl_units": stream.sinfo.get_channel_units(), "sfreq": info["sfreq"],
                 "data": data.tolist()}
    stream.disconnect()

inlet = StreamInlet(resolve_streams(30.0, name=args.markers)[0])
inlet.open_stream(30.0)
sinfo = inlet.get_sinfo(30.0)
codes, code = {}, sinfo.desc.child("codes").child("code")
while not code.empty():
    codes[code.child("value").first_child().value()] = code.child("name").first_child().value()
    code = code.next_sibling("code")
out[args.markers] = {"dtype": sinfo.dtype, "stype": sinfo.stype, "codes": codes,
                     "ch_types": sinfo.get_channel_info().get_channel_types()}
inlet.close_stream()
print(json.dumps(out), flush=True)
