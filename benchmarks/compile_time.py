"""Cold compile of the loop: this checkout against another one, in turn (A B A B ...), in one run.

Each run is a fresh process with an empty Numba cache (its own XDG_CACHE_HOME) that calls
rtcore.session.compile_loop(), so on a cold cache it compiles what a first `rtcore run` compiles
(the stage steps in parallel processes where rtcore.warmup does that, then the loop). Wall time
and CPU time (the process and its children, from os.wait4) per run; medians and their ratios A/B.

Usage: python benchmarks/compile_time.py OTHER_CHECKOUT [--runs 3] [--out FILE]
e.g. against the commit before the house refactor (issue 16), in a worktree:
  git worktree add --detach /tmp/prehouse cff42e2^
  python benchmarks/compile_time.py /tmp/prehouse --out benchmarks/results/compile_time.json
(about 3 min per pair of runs on 2 cores.)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
COMPILE = "from rtcore.session import compile_loop; compile_loop()"


def cold_compile(checkout: Path) -> dict:
    """One cold compile in checkout: {'wall_s', 'cpu_s'} (CPU of the process and its children)."""
    with tempfile.TemporaryDirectory(prefix="rtcore-compile-") as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONPATH=str(checkout))
        env.pop("NUMBA_CACHE_DIR", None)
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-c", COMPILE], env=env, cwd=cache)
        _pid, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"compile_time: the compile in {checkout} failed (exit {os.waitstatus_to_exitcode(status)})")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the checkout to compare with (B)")
    ap.add_argument("--runs", type=int, default=3, help="cold compiles of each checkout")
    ap.add_argument("--out", type=Path, help="write the results here as JSON")
    args = ap.parse_args()
    runs = {"A": [], "B": []}
    for _ in range(args.runs):
        for key, checkout in (("A", HERE), ("B", args.other.resolve())):
            runs[key].append(cold_compile(checkout))
            print(key, {k: round(v, 1) for k, v in runs[key][-1].items()}, flush=True)
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "cpu_s")} for k, v in runs.items()}
    result = {"A": str(HERE), "B": str(args.other.resolve()), "cores": os.cpu_count(), "runs": runs, "median": med,
              "ratio_wall": med["A"]["wall_s"] / med["B"]["wall_s"], "ratio_cpu": med["A"]["cpu_s"] / med["B"]["cpu_s"]}
    print(json.dumps({k: result[k] for k in ("median", "ratio_wall", "ratio_cpu")}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
