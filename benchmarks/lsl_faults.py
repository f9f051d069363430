"""rtcore's side of the LSL fault table (issue #24): a restarted source and a burst, end to end.

The shared benchmark's job (configs/bench/peer_lsl.toml: 32 float32 channels at 1 kHz in, a linear
decoder, one output sample per input sample out, real time) with its source scripted by
tests/lsl_peer.py (sample k carries k in channel 0, which the output copies), and a sink here that
stamps every output sample on receipt (pylsl, blocking pull). Per run, in one session
(on_lost = "hold"):
  1. source A (source_id S) runs 3 s, is killed with SIGKILL, and B (source_id S, samples from
     100000) starts at once: "same source_id";
  2. 3 s later B is killed and C (source_id S-2, same name, samples from 200000) starts at once:
     "new source_id";
  3. C pushes 2 s, stays silent 2 s, then pushes 2000 samples in one chunk: "burst".
Measured: for 1 and 2, the time from the new source's first push to the first of its samples out
of rtcore, and the samples it had pushed by then (lost; of the later ones, those missing,
duplicated or out of order are counted); for 3, the time from the chunk's push to its last sample out, and from its
first to its last sample out.

Usage: python benchmarks/lsl_faults.py [--runs 3] [--out benchmarks/results/lsl_faults.json]
Needs nothing beyond the test extra (real LSL on loopback, tests/lsl_api.cfg). Never asserts.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pylsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LSLAPICFG", str(ROOT / "tests" / "lsl_api.cfg"))
from enginecli import RTCORE  # noqa: E402
from lsl_helpers import start_peer, unique  # noqa: E402

B0, C0, SEGMENT_S, BURST = 100_000, 200_000, 3.0, 2000


class Sink(threading.Thread):
    """Every output sample's x0 (the input's index) and its receipt time (LSL local clock)."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.name_, self.got, self.stop = name, [], False

    def run(self):
        found = pylsl.resolve_byprop("name", self.name_, minimum=1, timeout=120)
        if not found:
            return
        inlet = pylsl.StreamInlet(found[0], recover=False)
        inlet.open_stream(timeout=10)
        while not self.stop:
            x, _t = inlet.pull_sample(timeout=0.2)
            if x is not None:
                self.got.append((x[2], pylsl.local_clock()))


def _config(name: str, tmp: str) -> str:
    from rtcore import config
    raw = tomllib.loads((ROOT / "configs" / "bench" / "peer_lsl.toml").read_text())
    raw["session"].update(name=name, duration_s=60)
    raw["source"].update(name=name, on_lost="hold")
    raw["outlet"][0]["name"] = f"{name}-out"
    raw["record"] = {"signals": ["hold", "marker", "input_gap", "input_n", "intent"]}
    path = os.path.join(tmp, "faults.toml")
    Path(path).write_text(config.dump(config.validate(raw)))
    return path


def _stamp(proc, word: str) -> float:
    for line in proc.stdout:
        if line.startswith(word + " "):
            return float(line.split()[1])
    raise RuntimeError(f"peer never printed {word!r}")


def _arrival(got: np.ndarray, first: int, last: int, pushed_at: float) -> dict:
    """First arrival of samples first..last: latency after pushed_at, samples lost before it, whether all later came."""
    sel = got[(got[:, 0] >= first) & (got[:, 0] <= last)]
    if not len(sel):
        return {"resumed": False}
    k0 = int(sel[0, 0])
    idx = sel[:, 0].astype(np.int64)
    missing = int(idx[-1] - k0 + 1 - len(np.unique(idx)))
    return {"resumed": True, "resume_s": round(float(sel[0, 1] - pushed_at), 4), "samples_lost": k0 - first,
            "later_missing": missing, "later_duplicates": int(len(idx) - len(np.unique(idx))),
            "later_out_of_order": int(np.count_nonzero(np.diff(idx) <= 0))}


def one_run(tmp: str) -> dict:
    name = unique("FaultBench")
    path = _config(name, tmp)
    peer = ("--channels", 32, "--rate", 1000)
    a = start_peer(name, "--source-id", name, *peer, "--count", 10 ** 6, "--wait-consumer-s", 600)
    sink = Sink(f"{name}-out")
    sink.start()
    log = open(os.path.join(tmp, "session.log"), "w")
    session = subprocess.Popen(RTCORE + ["run", path, "--out", os.path.join(tmp, "out"), "--quiet"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        assert a.stdout.readline().strip() == "consumer"
        deadline = time.monotonic() + 120
        while not sink.got:
            if session.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the session ended or never published (exit {session.poll()}): "
                                   f"{Path(tmp, 'session.log').read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(SEGMENT_S)
        a.kill()
        b = start_peer(name, "--source-id", name, *peer, "--start", B0, "--count", 10 ** 6, "--wait-consumer-s", 0,
                       "--print-stamps")
        b_first = _stamp(b, "first")
        time.sleep(SEGMENT_S)
        b.kill()
        c = start_peer(name, "--source-id", f"{name}-2", *peer, "--start", C0, "--count", 2000, "--burst", BURST,
                       "--burst-after-s", 2.0, "--wait-consumer-s", 0, "--print-stamps", "--linger-s", 3)
        c_first = _stamp(c, "first")
        c_burst = _stamp(c, "burst")
        time.sleep(2.0)
        for p in (a, b, c):
            p.kill()
            p.wait()
    finally:
        session.send_signal(signal.SIGINT)
        session.wait(timeout=60)
        sink.stop = True
        sink.join(timeout=5)
    got = np.array(sink.got)
    burst = got[(got[:, 0] >= C0 + 2000) & (got[:, 0] < C0 + 2000 + BURST)]
    return {"same_source_id": _arrival(got, B0, C0 - 1, b_first),
            "new_source_id": _arrival(got, C0, C0 + 1999, c_first),
            "burst": {"samples_out": int(len(burst)),
                      "push_to_last_out_s": round(float(burst[-1, 1] - c_burst), 4) if len(burst) else None,
                      "first_to_last_out_s": round(float(burst[-1, 1] - burst[0, 1]), 4) if len(burst) else None}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lsl_faults.json"))
    args = ap.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(tmp))
        print(json.dumps(runs[-1]), flush=True)

    def med(part, key):
        vals = [r[part][key] for r in runs if r[part].get(key) is not None]
        return statistics.median(vals) if vals else None

    out = {"runs": runs, "median": {"same_source_id_resume_s": med("same_source_id", "resume_s"),
                                    "same_source_id_lost": med("same_source_id", "samples_lost"),
                                    "new_source_id_resume_s": med("new_source_id", "resume_s"),
                                    "new_source_id_lost": med("new_source_id", "samples_lost"),
                                    "burst_push_to_last_out_s": med("burst", "push_to_last_out_s"),
                                    "burst_first_to_last_out_s": med("burst", "first_to_last_out_s")}}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out["median"], indent=1))


if __name__ == "__main__":
    main()
