"""Decoder budget for `rtcore bench`: per-tick cost of the compiled KF and EMG steps.

KF: a 1 kHz tick with 50 ms bins, for 96 and 192 units: the mean tick (binning, one filter
update per 50 ticks) and the bin-end tick alone (predict/update; with RML CLDA, plus the
statistics and a refit every bin; with the steady-state gain, also the Riccati iteration that a
refit triggers), full and steady-state gain. EMG: 16 channels at 2 kHz input, i.e. two
samples per 1 kHz tick through band-pass, rectification, envelope and activation dynamics.
"""
import time

import numpy as np
from numba import njit

from rtcore.bus import Bus
from rtcore.decoders import emg, kalman
from rtcore.decoders.clda import CLDAConfig
from rtcore.decoders.kalman_fit import random_decoder
from rtcore.stage import BuildContext


@njit(cache=True, nogil=True)
def _run_kf(f, s, i, bus, n):
    for _ in range(n):
        kalman.kalman_step(f, s, i, bus)


@njit(cache=True, nogil=True)
def _run_emg(f, s, i, bus, n):
    for _ in range(n):
        emg.emg_step(f, s, i, bus)


def _per_tick_us(run, args, n):
    run(*args, 10)  # compile / warm up
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        run(*args, n)
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def _kf_stage(n_units, bin_s, dt_s, steady, clda):
    model = random_decoder(n_units, bin_s, seed=0)
    f, s, i = kalman.state_arrays(model, steady, clda, dt_s)
    bus = np.zeros(8 + n_units)
    bus[5:5 + n_units] = np.random.default_rng(0).poisson(0.5, n_units)
    I = kalman.I  # position: header slots (0, 0.. ), target after output
    i[I.input], i[I.in_w], i[I.events], i[I.out], i[I.pos], i[I.tgt] = 5, n_units, 0, 5 + n_units, 0, 6 + n_units
    bus[6 + n_units:8 + n_units] = [0.1, 0.05]
    return f, s, i, bus


def bench_decoders() -> dict:
    """Per-tick costs in microseconds (best of 3 runs)."""
    out = {}
    rml = CLDAConfig(method="rml", batch_s=0.05)
    for n in (96, 192):
        for label, steady, clda in (("kf", False, None), ("kf_steady", True, None), ("kf_rml", False, rml),
                                     ("kf_steady_rml", True, rml)):
            args = _kf_stage(n, 0.05, 0.001, steady, clda)
            out[f"{label}_{n}_tick_mean_us"] = _per_tick_us(_run_kf, args, 20000)
            args = _kf_stage(n, 0.05, 0.05, steady, clda)  # every tick ends a bin
            out[f"{label}_{n}_bin_update_us"] = _per_tick_us(_run_kf, args, 2000)
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    ctx.bus.add("input", 16)
    ctx.bus.add("input_block", 32)
    ctx.bus.add("input_n", 1)
    st = emg.build(emg.EmgDecoderConfig(kind="emg", input_rate_hz=2000.0), ctx)
    bus = ctx.bus.array()
    blk = ctx.bus.signals["input_block"]
    bus[blk.slice] = np.random.default_rng(0).standard_normal(32)
    bus[ctx.bus.signals["input_n"].offset] = 2
    out["emg_16ch_2khz_tick_us"] = _per_tick_us(_run_emg, (st.f, st.s, st.i, bus), 20000)
    return out


if __name__ == "__main__":
    for k, v in bench_decoders().items():
        print(f"{k:32s} {v:8.2f}")
