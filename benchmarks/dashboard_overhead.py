"""Deadline misses of real-time sessions with the operator page open in a browser, against without it.

Runs a shipped config (default configs/demo.toml: 1 kHz, real time) as `rtcore run`, --seconds
each, alternating without and with `--dashboard` (A B A B ...), --pairs pairs in one run, after one
uncounted warm-up session with the page. In a session with it, a headless chromium (Debian's, through
Selenium, as tests/test_dashboard.py drives it) opens the page as soon as its URL is printed and
keeps it open to the end. The same browser runs through the whole benchmark, idle on about:blank in
the sessions without the page, so the comparison is the page and its server, not a browser's start.

Per session (summary.json and the processes): deadline misses, ticks, wake p99 (µs), compute p99
(µs), the supervising parent's CPU while the loop ran (% of a core), the browser's CPU (all its
processes), with the page its update rate (status updates a second, counted in the page), and the
time the VM's host took from the loop's CPU (summary.json's host_steal: the loop's CPU with --rt,
all CPUs without). With --rt the loop is pinned to the last CPU and everything rtcore starts is
kept off it; the browser runs where the OS puts it, unless --browser-off-loop-cpu keeps it off
that CPU too.
Ratios with/without are (misses + 1) / (misses + 1), as `rtcore bench` does (both may be 0):
per pair and their median, and pooled over the pairs with its 95% Poisson interval
(rtcore.miss_ratio). Prints a table and JSON; never asserts.

Usage: python benchmarks/dashboard_overhead.py [--pairs 3] [--seconds 20] [--config configs/demo.toml]
       [--rt [--browser-off-loop-cpu]]
       [--out benchmarks/results/dashboard_overhead.json]
(about 1 min per pair of 20 s sessions: each writes its report; the sessions go to a temporary folder).
Needs the test extra (selenium, bokeh, psutil) and chromium with chromium-driver.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from dashboard_browser import (CHROMIUM, DRIVER, MISSING_BROWSER, browser, count_updates, open_page,  # noqa: E402
                               serve, update_rate_hz)
from enginecli import RTCORE  # noqa: E402
from rtcore.miss_ratio import ratio_ci95  # noqa: E402
from rtcore.rt import keep_off  # noqa: E402

SAMPLE_S = 0.05  #: how often the loop's start and end (its files in the run folder) are looked for, s


def cpu_s(procs: list) -> float:
    """User + system CPU time of these processes, s (those gone count 0)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def browser_procs(d) -> list:
    """chromedriver and every process of the chromium it started."""
    driver = psutil.Process(d.service.process.pid)
    return [driver, *driver.children(recursive=True)]


def keep_browser_off(ready_path: str, chromium: list) -> None:
    """Every thread of the browser's processes off the CPU the loop was pinned to (child_ready.json's
    rt.cpu), as a lab that reserves that CPU would run its browser (taskset, systemd's AllowedCPUs)."""
    with open(ready_path) as fh:  # whole once it exists: the child writes it with os.replace
        cpu = json.load(fh)["rt"].get("cpu")
    if cpu is None:
        raise SystemExit("--browser-off-loop-cpu: the loop was not pinned (needs --rt and CPU affinity)")
    kept = keep_off(cpu, [p.pid for p in chromium], loop_tid=-1)
    if kept is not True:
        raise SystemExit(f"--browser-off-loop-cpu: {kept}")


def session(args, d, out: str, name: str, page: bool) -> dict:
    """One `rtcore run` of --seconds; with page, the browser opens its dashboard until it ends. CPU is
    taken from the loop's start (child_ready.json) to its end (child_done.json or summary.json);
    page_open_s: from the loop's start until the page was loaded and counting updates (the update
    rate is None when the session ended before its second update)."""
    cmd = [args.config, "--duration", args.seconds, "--out", out, "--quiet", "--set", f"session.name={name}",
           *(["--rt"] if args.rt else [])]
    started, ended = (os.path.join(out, f) for f in ("child_ready.json", "child_done.json"))
    summary_path = os.path.join(out, "summary.json")
    t0 = time.monotonic()
    if page:
        p, url = serve(cmd + ["--dashboard"])
    else:
        p = subprocess.Popen(RTCORE + ["run", *map(str, cmd)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        parent, chromium = psutil.Process(p.pid), browser_procs(d)
        while not os.path.exists(started) and p.poll() is None:
            time.sleep(SAMPLE_S)
        if args.browser_off_loop_cpu and os.path.exists(started):
            keep_browser_off(started, chromium)
        t_loop, parent0, browser0 = time.monotonic(), cpu_s([parent]), cpu_s(chromium)
        page_open_s = None
        if page:
            open_page(d, url)
            count_updates(d)
            page_open_s = time.monotonic() - t_loop
        while not (os.path.exists(ended) or os.path.exists(summary_path)) and p.poll() is None:
            time.sleep(SAMPLE_S)
        t_end, parent_cpu, browser_cpu = time.monotonic(), cpu_s([parent]) - parent0, cpu_s(chromium) - browser0
        updates, rate = update_rate_hz(d) if page else (None, None)
        rate = None if rate is None or math.isnan(rate) else rate  # the page loaded too late to count
        if page:  # serve() reads its output on a thread
            p.wait(600)
            output = "".join(p.lines)
        else:
            output = p.communicate(timeout=600)[0]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if page:
            d.get("about:blank")
    if not os.path.exists(summary_path):
        raise SystemExit(f"{name}: no summary.json; the session said:\n{output}")
    with open(summary_path) as fh:
        s = json.load(fh)
    loop_s = max(t_end - t_loop, 1e-9)
    return {"page": page, "rt": s["rt"], "verdict": s["verdict"], "ticks": s["ticks"], "deadline_misses": s["deadline_misses"],
            "wake_p99_us": s["wake_latency_us"]["p99"], "compute_p99_us": s["compute_us"]["p99"],
            "parent_cpu_pct": round(100 * parent_cpu / loop_s, 1), "browser_cpu_pct": round(100 * browser_cpu / loop_s, 1),
            "page_open_s": None if page_open_s is None else round(page_open_s, 2), "page_updates": updates,
            "page_updates_hz": None if rate is None else round(rate, 1),
            "host_steal_ms": (s.get("host_steal") or {}).get("ms"),
            "wall_s": round(time.monotonic() - t0, 1)}


def table(rows: list) -> str:
    lines = ["| pair | page | misses | ticks | wake p99 µs | compute p99 µs | parent CPU % | browser CPU % "
             "| page loaded after s | page updates/s | host steal ms | wall s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['pair']} | {'open' if r['page'] else '-'} | {r['deadline_misses']} | {r['ticks']} "
                     f"| {r['wake_p99_us']:.0f} | {r['compute_p99_us']:.0f} | {r['parent_cpu_pct']} "
                     f"| {r['browser_cpu_pct']} | {r['page_open_s'] if r['page'] else '-'} "
                     f"| {r['page_updates_hz'] if r['page'] else '-'} | {r['host_steal_ms']} | {r['wall_s']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3, help="pairs of sessions (without, with), in one run")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of every session, s")
    ap.add_argument("--config", default=str(ROOT / "configs" / "demo.toml"), help="a shipped real-time config")
    ap.add_argument("--rt", action="store_true", help="run every session with --rt (SCHED_FIFO loop, where granted)")
    ap.add_argument("--browser-off-loop-cpu", action="store_true",
                    help="with --rt: keep the browser's threads off the loop's CPU too")
    ap.add_argument("--warmup-s", type=float, default=5.0, help="uncounted first session with the page, s (0: none)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dashboard_overhead.json"))
    args = ap.parse_args()
    if args.browser_off_loop_cpu and not args.rt:
        ap.error("--browser-off-loop-cpu needs --rt (the loop is pinned only with it)")
    if not (CHROMIUM and DRIVER):
        print(f"dashboard_overhead: {MISSING_BROWSER}", file=sys.stderr)
        return 2
    rows, t0 = [], time.monotonic()
    d = browser()
    try:
        with tempfile.TemporaryDirectory(prefix="rtcore-dashbench-") as tmp:
            name = f"dashbench-{os.getpid()}"
            if args.warmup_s > 0:
                session(argparse.Namespace(**{**vars(args), "seconds": args.warmup_s}), d, f"{tmp}/warmup",
                        f"{name}-warmup", True)
            for k in range(args.pairs):
                for page in (False, True):
                    r = session(args, d, f"{tmp}/{k}-{'with' if page else 'without'}", f"{name}-{k}", page)
                    rows.append({"pair": k, **r})
                    print(table(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        d.quit()
    without = [r for r in rows if not r["page"]]
    with_ = [r for r in rows if r["page"]]
    rates = [r["page_updates_hz"] for r in with_ if r["page_updates_hz"] is not None]
    per_pair = [ratio_ci95(w["deadline_misses"], wo["deadline_misses"])[0] for w, wo in zip(with_, without)]
    result = {
        "config": os.path.relpath(args.config, ROOT), "seconds": args.seconds, "pairs": args.pairs, "rt": args.rt,
        "browser_off_loop_cpu": args.browser_off_loop_cpu, "cpus": os.cpu_count(), "sessions": rows,
        "misses_ratio_per_pair": per_pair,
        "misses_ratio_median": statistics.median(per_pair),
        "misses_pooled": {"without": sum(r["deadline_misses"] for r in without),
                          "with": sum(r["deadline_misses"] for r in with_),
                          "ticks_each": sum(r["ticks"] for r in with_)},
        **dict(zip(("misses_ratio_pooled", "misses_ratio_pooled_ci95"),
                   ratio_ci95(sum(r["deadline_misses"] for r in with_), sum(r["deadline_misses"] for r in without)))),
        "host_steal_ms": {"without": sum(r["host_steal_ms"] or 0 for r in without),
                          "with": sum(r["host_steal_ms"] or 0 for r in with_)},
        "sched_fifo": sorted({str(r["rt"].get("sched_fifo")) for r in rows}),
        "wake_p99_us_median": {"without": statistics.median(r["wake_p99_us"] for r in without),
                               "with": statistics.median(r["wake_p99_us"] for r in with_)},
        "page_updates_hz_median": statistics.median(rates) if rates else None,
        "benchmark_wall_s": round(time.monotonic() - t0, 1),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print()
    print(table(rows))
    print(json.dumps({k: v for k, v in result.items() if k != "sessions"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
