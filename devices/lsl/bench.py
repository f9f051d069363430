"""LSL budget for `rtcore bench`: pull cost per tick, Numba vs pylsl, and LSL-in -> LSL-out latency.

bench_lsl() -> dict of numbers (µs unless named otherwise):
- pull_empty_numba_us / pull_empty_pylsl_us: one inlet step with nothing queued (compiled
  lsl_inlet_step, including the clock and staleness bookkeeping) vs pylsl's
  inlet.pull_chunk(timeout=0.0) from Python;
- pull_per_sample_numba_us / pull_per_sample_pylsl_us: draining queued 32-ch samples one call per
  sample (lsl_pull_chunk_d from compiled code vs pylsl pull_sample(timeout=0.0));
- latency: a source process pushes a 32-ch 1 kHz stream whose channel 0 is its push stamp
  (lsl_local_clock, double64); the real compiled loop (1 kHz, real time) runs the inlet stage and
  a per-sample pass-through outlet; a sink inlet in this process reads the output.
  in_to_out_*: output sample's LSL stamp (taken at push in the tick) - source push stamp
  (one LSL hop + wait for the tick + step); end_to_end_*: sink receipt - source push stamp
  (two hops, what a closed loop sees). p50/p99 over bench_s seconds, lost samples counted.
  tick_*: 1 kHz loop, tick4k_*: 4 kHz loop; the inlet polls once per tick, so a sample waits up
  to one period for its tick (the source and loop clocks are both 1 kHz-ish, so at 1 kHz this
  wait is a nearly constant phase for a whole run: p50 lands anywhere between one hop and one
  hop + 1 ms). A blocking pull (wait_s) does not help in real time: liblsl 1.18's timed pull
  returned only at its timeout in our runs (~0.8 ms of a 0.8 ms wait), so wait_s is for offline
  pacing only.
"""
import os
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pylsl
from numba import njit

from devices import lsl_c
from devices.lsl import inlet
from devices.lsl import outlet
from rtcore import status
from rtcore.bus import Bus
from rtcore.clock import monotonic_ns
from rtcore.loop import CTRL_SIZE, CTRL_STOP, N_TIMING, Schedule, run
from rtcore.stage import BuildContext, pack

N_CH = 32

_SOURCE = """
import sys, time, numpy as np, pylsl
name, n_ch, rate, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
out = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EMG", n_ch, rate, "double64", name))
print("ready", flush=True)
out.wait_for_consumers(30.0)
sys.stdin.readline()
x = np.zeros(n_ch)
t0 = time.perf_counter()
for k in range(int(dur * rate)):
    due = t0 + k / rate
    while time.perf_counter() < due:
        time.sleep(max(0.0, min(0.0005, due - time.perf_counter() - 0.0002)))
    now = pylsl.local_clock()
    x[0] = now
    x[1] = k
    out.push_sample(x, now)
time.sleep(0.5)
"""


@njit(cache=True, nogil=True)
def _time_steps(f, s, i, bus, n, ts):
    t = monotonic_ns(ts)
    for _ in range(n):
        inlet.lsl_inlet_step(f, s, i, bus)
    return (monotonic_ns(ts) - t) / n * 1e-3


@njit(cache=True, nogil=True)
def _time_drain(h, buf, ec, n, ts):
    """Pull n queued samples, one lsl_pull_chunk_d call per sample; µs per sample."""
    got = 0
    t = monotonic_ns(ts)
    while got < n:
        v = lsl_c.lsl_pull_chunk_d(h, buf.ctypes.data, 0, buf.size, 1, 0.0, ec.ctypes.data)
        got += v // buf.size
    return (monotonic_ns(ts) - t) / n * 1e-3


def _pair(name, rate=1000.0):
    info = pylsl.StreamInfo(name, "EMG", N_CH, rate, "float32", name)
    out = pylsl.StreamOutlet(info)
    inl = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", name, 1, 10.0)[0])
    inl.open_stream(10.0)
    return out, inl


def _wait_queued(inl, n, timeout=10.0):
    end = time.monotonic() + timeout
    while inl.samples_available() < n and time.monotonic() < end:
        time.sleep(0.01)


def bench_pull(n_calls: int = 20000, n_samples: int = 2000) -> dict:
    """Per-call pull costs, compiled vs pylsl (one process, loopback)."""
    name = f"rtcore-bench-{uuid.uuid4().hex[:6]}"
    out, _ = _pair(name)
    bus = Bus()
    ctx = BuildContext(bus=bus, dt_s=0.001, seed=0, session_name="bench")
    src = inlet.build(inlet.LslSourceConfig(kind="lsl", source_id=name, lost_after_s=3600, stale_after_s=60), ctx)
    b = bus.array()
    ts = np.zeros(2, np.int64)
    _time_steps(src.f, src.s, src.i, b, 10, ts)
    numba_empty = _time_steps(src.f, src.s, src.i, b, n_calls, ts)
    inl = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", name, 1, 10.0)[0])
    inl.open_stream(10.0)
    inl.pull_chunk(timeout=0.0)
    t = time.perf_counter()
    for _ in range(n_calls):
        inl.pull_chunk(timeout=0.0)
    pylsl_empty = (time.perf_counter() - t) / n_calls * 1e6
    # per-sample drain: queue n_samples on both inlets, then pull one per call
    h = lsl_c.handle(src.keep[0])
    buf = np.zeros(N_CH)
    ec = np.zeros(1, np.int32)
    out.push_chunk(np.zeros((n_samples, N_CH), np.float32))
    _wait_queued(src.keep[0], n_samples)
    _wait_queued(inl, n_samples)
    numba_drain = _time_drain(h, buf, ec, n_samples, ts)
    t = time.perf_counter()
    for _ in range(n_samples):
        inl.pull_sample(timeout=0.0)
    pylsl_drain = (time.perf_counter() - t) / n_samples * 1e6
    src.close()
    return {"pull_empty_numba_us": numba_empty, "pull_empty_pylsl_us": pylsl_empty,
            "pull_per_sample_numba_us": numba_drain, "pull_per_sample_pylsl_us": pylsl_drain,
            "pull_empty_speedup": pylsl_empty / numba_empty}


def bench_latency(bench_s: float = 5.0, rate_hz: float = 1000.0, loop_hz: float = 1000.0, spin_us: float = 100.0,
                  wait_s: float = 0.0) -> dict:
    """LSL-in -> LSL-out latency through the real compiled loop (inlet + pass-through outlet).

    wait_s > 0: the inlet waits up to wait_s for a sample at the start of a tick when none is
    queued, so a tick runs as soon as its sample lands (input-triggered ticks) instead of up to
    one period later."""
    name = f"rtcore-bench-in-{uuid.uuid4().hex[:6]}"
    src = subprocess.Popen([sys.executable, "-c", _SOURCE, name, str(N_CH), str(rate_hz), str(bench_s)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert src.stdout.readline().strip() == "ready"
        bus = Bus()
        ctx = BuildContext(bus=bus, dt_s=1.0 / loop_hz, seed=0, session_name=f"bench{uuid.uuid4().hex[:6]}")
        stages = [inlet.build(inlet.LslSourceConfig(kind="lsl", source_id=name, channels=N_CH, lost_after_s=5.0,
                                          wait_s=wait_s), ctx),
                  outlet.build(outlet.OutletConfig(stream="out", signals=["input[0:2]"], per_sample=True,
                                                   channel_format="double64", stamp="now"), ctx)]  # push time: in_to_out
        chain = pack(stages)
        b = bus.array()
        b[2] = ctx.dt_s
        sink = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", f"rtcore-{ctx.session_name}-out", 1, 10.0)[0])
        sink.open_stream(10.0)
        ring = np.zeros((int((bench_s + 10) * loop_hz), N_TIMING))
        ctrl = np.zeros(CTRL_SIZE, np.int64)
        counts = np.zeros((2, status.N_CODES), np.int64)
        run(chain, ring, ctrl, Schedule(loop_hz, False, 0), bus=b, counts=counts)  # compile before timing
        got = []

        def drain():  # block on one sample (wakes at its arrival), then take any others queued
            while ctrl[CTRL_STOP] == 0:
                x, t = sink.pull_sample(timeout=0.05)
                if t is None:
                    continue
                now = pylsl.local_clock()
                got.append(np.array([[*x, t, now]]))
                xs, ts = sink.pull_chunk(timeout=0.0)
                if ts:
                    now = pylsl.local_clock()
                    got.append(np.column_stack([np.asarray(xs), np.asarray(ts), np.full(len(ts), now)]))

        th = threading.Thread(target=drain, daemon=True)
        th.start()
        src.stdin.write("go\n")
        src.stdin.flush()
        code = run(chain, ring, ctrl, Schedule(loop_hz, True, int((bench_s + 2.0) * loop_hz), spin_us), bus=b,
                   counts=counts)
        ctrl[CTRL_STOP] = 1
        th.join()
        for st in stages:
            st.close()
    finally:
        src.kill()
        src.wait()
    rows = np.concatenate(got) if got else np.zeros((0, 4))
    stamp, seq, out_stamp, recv = rows.T if len(rows) else (np.zeros(0),) * 4
    in_to_out = (out_stamp - stamp) * 1e6
    e2e = (recv - stamp) * 1e6
    expected = int(bench_s * rate_hz)
    res = {"latency_samples": int(len(rows)), "latency_lost": int(expected - len(np.unique(seq))), "exit": int(code),
           "loop_hz": loop_hz, "wait_s": wait_s}
    for label, v in (("in_to_out", in_to_out), ("end_to_end", e2e)):
        if v.size:
            res[f"{label}_p50_us"] = float(np.percentile(v, 50))
            res[f"{label}_p99_us"] = float(np.percentile(v, 99))
    return res


def bench_lsl() -> dict:
    """All LSL numbers for `rtcore bench`."""
    out = bench_pull()
    out.update({f"tick_{k}": v for k, v in bench_latency().items()})
    out.update({f"tick4k_{k}": v for k, v in bench_latency(loop_hz=4000.0, spin_us=50.0).items()})
    return out


if __name__ == "__main__":
    for k, v in bench_lsl().items():
        print(f"{k:28s} {v:10.2f}" if isinstance(v, float) else f"{k:28s} {v}")
