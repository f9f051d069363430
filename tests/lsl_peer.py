"""A real pylsl outlet in its own process, for the LSL tests (run as a script).

Sample k (k = 0, 1, ...) has channel c = k + c / 100, its LSL stamp is taken at the push, and
samples listed in --nan-at carry NaN in channel 0. Prints "ready" once the outlet exists, then
"consumer" once an inlet is connected (or --wait-consumer-s passed), and exits after --count
samples (then waits --linger-s so inlets can drain) or on SIGTERM. With --chunk K it pushes K
samples at a time, every K periods (--chunk = --count: one burst of every sample).
With --texts it is a marker stream instead (one string channel, irregular rate): each text is
pushed --every-s apart (after "consumer", or the go line), printing "pushed STAMP TEXT" (STAMP in
repr) for each; "|" in a text stands for one push of several texts, one after another at once.
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
ap.add_argument("--chunk", type=int, default=1, help="samples per push")
ap.add_argument("--burst", type=int, default=0, help="after --count samples and --burst-after-s of silence, push this many more in one chunk")
ap.add_argument("--burst-after-s", type=float, default=2.0)
ap.add_argument("--print-stamps", action="store_true", help='print "first STAMP" at the first push and "burst STAMP" at the burst')
ap.add_argument("--texts", nargs="*", default=None, help="a marker stream: push these texts")
ap.add_argument("--every-s", type=float, default=0.5, help="with --texts: time between pushes, s")
args = ap.parse_args()


def open_outlet() -> pylsl.StreamOutlet:
    """The outlet (a one-channel string stream with --texts), announced: "ready", then "consumer",
    then (with --go-on-stdin) the go line."""
    time.sleep(args.delay_s)
    if args.texts is not None:
        info = pylsl.StreamInfo(args.name, args.type, 1, 0.0, "string", args.source_id or args.name)
    else:
        info = pylsl.StreamInfo(args.name, args.type, args.channels, args.rate, "float32", args.source_id or args.name)
        chans = info.desc().append_child("channels")
        for c in range(args.channels):
            ch = chans.append_child("channel")
            ch.append_child_value("label", f"c{c}")
            ch.append_child_value("unit", "mV")
    outlet = pylsl.StreamOutlet(info)
    print("ready", flush=True)
    outlet.wait_for_consumers(args.wait_consumer_s)
    print("consumer", flush=True)
    if args.go_on_stdin:
        sys.stdin.readline()
    return outlet


outlet = open_outlet()
if args.texts is not None:
    for push in args.texts:
        time.sleep(args.every_s)
        for text in push.split("|"):
            stamp = pylsl.local_clock()
            outlet.push_sample([text], stamp)
            print(f"pushed {stamp!r} {text}", flush=True)
    time.sleep(args.linger_s)
    sys.exit(0)
period = 1.0 / args.rate
t0 = time.perf_counter()
nan = set(args.nan_at)
for first in range(args.start, args.start + args.count, args.chunk):
    ks = np.arange(first, min(first + args.chunk, args.start + args.count))
    x = ks[:, None] + np.arange(args.channels)[None, :] / 100.0
    x[np.isin(ks, list(nan)), 0] = np.nan
    now = pylsl.local_clock()
    if len(ks) == 1:
        outlet.push_sample(x[0].astype(np.float32), now)
    else:  # stamps one period apart, the last one now
        outlet.push_chunk(x.astype(np.float32), list(now - (ks[-1] - ks) * period))
    if args.print_stamps and first == args.start:
        print(f"first {now!r}", flush=True)
    due = t0 + (ks[-1] - args.start + 1) * period
    while time.perf_counter() < due:
        time.sleep(min(0.0005, max(0.0, due - time.perf_counter())))
if args.burst:
    time.sleep(args.burst_after_s)
    ks = np.arange(args.start + args.count, args.start + args.count + args.burst)
    now = pylsl.local_clock()
    outlet.push_chunk((ks[:, None] + np.arange(args.channels)[None, :] / 100.0).astype(np.float32),
                      list(now - (ks[-1] - ks) * period))
    if args.print_stamps:
        print(f"burst {now!r}", flush=True)
time.sleep(args.linger_s)
sys.exit(0)
