"""Where rtcore's end-to-end latency goes, per rtcore run of benchmarks/run_peers.sh.

usage: python benchmarks/latency_breakdown.py OUTDIR

For each run: the harness's end-to-end p50/p99 (source push -> sink receipt); the session's
recorded input_age on ticks that brought samples (push -> the tick that pulled the newest one:
LSL hop 1 + the wait for the tick); compute per tick (the whole chain, including the LSL pull
and push calls); and the rest, end-to-end minus the two (LSL hop 2: our push -> the sink's
blocked pull returns). Medians of each part, so the parts add up only approximately.
"""
import json
import sys
from pathlib import Path

import numpy as np

from rtcore import recording


def main(out: Path) -> None:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    print("| run | end-to-end p50 / p99 µs | hop 1 + wait for tick p50 / p99 µs | compute p50 µs | hop 2 (rest) p50 µs "
          "| late samples % |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if not r["system"].startswith("rtcore") or "error" in r:
            continue
        sess = out / f"{r['system']}.run{r['run']}" / "session"
        rec = recording.load(str(sess))
        age = rec["input_age"][:, 0][rec["input_n"][:, 0] > 0] * 1e6
        age = age[len(age) // 5:]  # past the phase lock's lock-in
        compute = float(np.median(rec["rows"][:, 3]))
        lock = json.loads((sess / "summary.json").read_text())["lsl_in"].get("phase_lock", {})
        a50, a99 = np.percentile(age, [50, 99])
        print(f"| {r['system']} run {r['run']} | {r['p50_us']:,.0f} / {r['p99_us']:,.0f} | {a50:,.0f} / {a99:,.0f} | "
              f"{compute:.1f} | {r['p50_us'] - a50 - compute:,.0f} | {100 * lock.get('late_frac', float('nan')):.1f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
