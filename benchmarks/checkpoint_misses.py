"""Deadline misses of real-time sessions that write checkpoints against ones that do not (#22).

The demo chain with in-process I/O (configs/bench/tick.toml) at 1 kHz in real time, --seconds per
session, alternating without checkpoints and with one every 0.5 s, --pairs pairs in one run
(rtcore.checkpoint_bench.misses, which `rtcore bench` runs short). Misses are rare, so the pooled
ratio comes with its 95% Poisson interval; a short run cannot tell 1.1 from 2. Prints JSON; never
asserts.

Usage: python benchmarks/checkpoint_misses.py [--pairs 10] [--seconds 30]
       [--out benchmarks/results/checkpoint_misses.json]   (about 45 s per pair of 30 s sessions)
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from rtcore.checkpoint_bench import misses  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "checkpoint_misses.json"))
    args = ap.parse_args()
    t = time.monotonic()
    res = {"seconds": args.seconds, "pairs": args.pairs, "cpus": os.cpu_count(), **misses(args.seconds, args.pairs)}
    res["benchmark_wall_s"] = round(time.monotonic() - t, 1)
    text = json.dumps(res, indent=1)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
