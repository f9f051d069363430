"""A real pylsl outlet in its own process, for the LSL tests (run as a script).

Sample k (k = 0, 1, ...) has channel c = k + c / 100, its LSL stamp is taken at the push, and
samples listed in --nan-at carry NaN in channel 0. Prints "ready" once the outlet exists and
exits after --count samples (then waits --linger-s so inlets can drain) or on SIGTERM.
"""
import argparse
import sys
import time

import numpy as np
import pylsl

ap = argparse.ArgumentParser()
ap.add_argument("--name", required=True)
ap.add_argument("--type", default="EMG")
ap.add_argument("--source-id", default=None)
ap.add_argument("--channels", type=int, default=4)
ap.add_argument("--rate", type=float, default=500.0)
ap.add_argument("--count", type=int, default=1000)
ap.add_argument("--start", type=int, default=0, help="index of the first sample")
ap.add_argument("--nan-at", type=int, nargs="*", default=[])
ap.add_argument("--wait-consumer-s", type=float, default=10.0)
ap.add_argument("--linger-s", type=float, default=1.0)
ap.add_argument("--go-on-stdin", action="store_true", help="push only after a line arrives on stdin")
ap.add_argument("--delay-s", type=float, default=0.0, help="wait before creating the outlet")
args = ap.parse_args()

time.sleep(args.delay_s)
info = pylsl.StreamInfo(args.name, args.type, args.channels, args.rate, "float32", args.source_id or args.name)
chans = info.desc().append_child("channels")
for c in range(args.channels):
    ch = chans.append_child("channel")
    ch.append_child_value("label", f"c{c}")
    ch.append_child_value("unit", "mV")
outlet = pylsl.StreamOutlet(info)
print("ready", flush=True)
outlet.wait_for_consumers(args.wait_consumer_s)
if args.go_on_stdin:
    sys.stdin.readline()
period = 1.0 / args.rate
t0 = time.perf_counter()
nan = set(args.nan_at)
for k in range(args.start, args.start + args.count):
    x = k + np.arange(args.channels) / 100.0
    if k in nan:
        x[0] = np.nan
    outlet.push_sample(x.astype(np.float32), pylsl.local_clock())
    due = t0 + (k - args.start + 1) * period
    while time.perf_counter() < due:
        time.sleep(min(0.0005, max(0.0, due - time.perf_counter())))
time.sleep(args.linger_s)
sys.exit(0)
