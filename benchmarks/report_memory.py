"""Memory of a long session: the parent's RSS while it records, and `rtcore report` afterwards.

Runs one session of the bench chain (in-process synthetic EMG user, EMG decoder, two-link arm,
center-out task, forward model) for --minutes session minutes with the default recording, offline
(--fast) or, with --realtime, at its real rate; samples the supervising parent's RSS every --every-s
seconds; then writes its report in a fresh process and takes that process's time and peak RSS.
Prints and writes JSON:

  session_wall_s, session_xdf_mb, parent_rss_mb [(session min, MB)] (progress from the file's
  size, which grows linearly with the ticks), parent_rss_growth_mb (from --warmup-min to the end;
  by default over the second half), report_s, report_peak_rss_mb

Usage: python benchmarks/report_memory.py [--minutes 60] [--out benchmarks/results/report_memory.json]
(about 5-10 min for 60 min on a busy 2-core machine; the session folder goes to a temporary directory).
The issue's real-time criterion (< 1 MB over 30 min after warm-up) is
  python benchmarks/report_memory.py --realtime --minutes 35 --warmup-min 5 \
      --out benchmarks/results/parent_rss_realtime.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from enginecli import SYNTHETIC_EMG, emg_arm, toml  # noqa: E402  (the chain test_report.py runs, 60 s there)

REPORT = ("import resource, sys, time; from rtcore import report; t = time.monotonic(); report.write(sys.argv[1]); "
          "print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="simulated session length, min")
    ap.add_argument("--realtime", action="store_true", help="run the session at its real rate, not --fast")
    ap.add_argument("--warmup-min", type=float, help="session minutes before the RSS growth is taken (default: half)")
    ap.add_argument("--every-s", type=float, default=5.0, help="RSS sampling period of the parent, s (wall)")
    ap.add_argument("--out", default="benchmarks/results/report_memory.json")
    ap.add_argument("--keep", metavar="DIR", help="keep the session folder here (default: a temporary folder, removed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtcore-report-bench-") as tmp:
        tmp = args.keep or tmp
        os.makedirs(tmp, exist_ok=True)
        cfg = os.path.join(tmp, "session.toml")
        with open(cfg, "w") as fh:
            fh.write(toml(f'[session]\nname = "report-bench-{os.getpid()}"', SYNTHETIC_EMG, emg_arm(100000)))
        run = os.path.join(tmp, "run")
        t0 = time.monotonic()
        mode = [] if args.realtime else ["--fast"]
        proc = subprocess.Popen([sys.executable, "-m", "rtcore.cli", "run", cfg, *mode, "--quiet", "--out", run,
                                 "--duration", str(args.minutes * 60)], stdout=subprocess.DEVNULL)
        parent, samples = psutil.Process(proc.pid), []
        xdf = os.path.join(run, "session.xdf")
        while proc.poll() is None:
            try:
                mb = parent.memory_info().rss / 2**20
                size = os.path.getsize(xdf) if os.path.exists(xdf) else 0
            except (psutil.NoSuchProcess, OSError):
                break
            if size:
                samples.append((size, mb))
            time.sleep(args.every_s)
        session_s = time.monotonic() - t0
        size = os.path.getsize(xdf)
        xdf_mb = size / 2**20
        # the file grows linearly with the ticks: its size says how far the session had got
        rss = [(round(s / size * args.minutes, 2), round(mb, 1)) for s, mb in samples]
        with open(os.path.join(run, "summary.json")) as fh:
            summary = json.load(fh)
        os.remove(os.path.join(run, "report.html"))
        line = subprocess.run([sys.executable, "-c", REPORT, run], capture_output=True, text=True, check=True).stdout
        report_s, report_mb = (float(x) for x in line.split()[-2:])
    warmup = args.minutes / 2 if args.warmup_min is None else args.warmup_min
    settled = [mb for m, mb in rss if warmup <= m < args.minutes]  # while it recorded (then: its report)
    result = {"minutes": args.minutes, "realtime": args.realtime, "warmup_min": warmup,
              "ticks": summary["ticks"], "verdict": summary["verdict"],
              "session_wall_s": round(session_s, 1), "session_xdf_mb": round(xdf_mb, 1),
              "parent_rss_mb": rss,
              "parent_rss_growth_mb": round(settled[-1] - settled[0], 1) if len(settled) > 1 else None,
              "report_s": round(report_s, 1), "report_peak_rss_mb": round(report_mb, 1)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "parent_rss_mb"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
