"""Run a session in this process, offline: the same compiled tick, no sleeping.

Tests and sweeps use `run_offline`. The supervised real-time path (a child process watched by
the parent) is rtcore.supervisor; both build the same pipeline and call the same loop.
"""
import time
from dataclasses import dataclass

import numpy as np

from rtcore import loop, warmup
from rtcore.loop import COL_COMPUTE_US, COL_WAKE_US, CTRL_EXIT_STAGE, CTRL_SIZE, CTRL_TICKS, N_TIMING, Schedule
from rtcore.pipeline import Pipeline, build
from rtcore.summary import summarize


@dataclass
class Result:
    """An offline session: its summary, the per-tick trace and the live pipeline."""

    summary: dict
    rows: np.ndarray  # [ticks, columns]
    pipeline: Pipeline

    @property
    def columns(self) -> list:
        return self.pipeline.columns

    def signal(self, name: str) -> np.ndarray:
        """Recorded bus signal over ticks: [ticks, width]."""
        for sig, _units, labels, first, _types in self.pipeline.streams:
            if sig == name:
                return self.rows[:, first:first + len(labels)]
        raise KeyError(f"signal '{name}' was not recorded; have: {[s[0] for s in self.pipeline.streams]}")

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, self.pipeline.columns.index(name)]


def compile_loop() -> float:
    """Compile (or load from cache) the loop, on an empty chain without running a tick; seconds.

    Every chain shares the loop's one signature, so this needs no built pipeline: sessions compile
    before they build, and no stream is opened (or published) while the compiler runs.
    """
    t = time.perf_counter()
    warmup.compile_stage_steps()  # a cold cache: the steps first, in parallel processes
    loop.precompile()
    return time.perf_counter() - t


def run_offline(cfg, config_path: str = "<config>", max_ticks: int | None = None) -> Result:
    """Build and run cfg offline (as fast as possible) in this process; returns a Result.

    The run ends at session.duration_s (or max_ticks), at a fatal status, or when the task ends.
    """
    if max_ticks is None:
        if cfg.session.duration_s is None:
            raise ValueError(f"{config_path}: session.duration_s is needed for an offline run")
        max_ticks = int(round(cfg.session.duration_s * cfg.loop.rate_hz))
    compile_s = compile_loop()
    t_build = time.perf_counter()
    pipe = build(cfg, config_path)
    build_s = time.perf_counter() - t_build
    ring = np.zeros((max(max_ticks, 1), N_TIMING + pipe.rec_idx.size))
    ctrl = np.zeros(CTRL_SIZE, np.int64)
    t = time.perf_counter()
    try:
        code = loop.run(pipe.chain, ring, ctrl, Schedule(cfg.loop.rate_hz, False, max_ticks, start_delay_s=0.0), bus=pipe.bus,
                        counts=pipe.counts, rec_idx=pipe.rec_idx)
    finally:
        pipe.close()
    wall_s = time.perf_counter() - t
    n = int(ctrl[CTRL_TICKS])
    rows = ring[:n]
    summary = summarize(cfg, ctrl=ctrl, counts=pipe.counts, stage_names=[s.name for s in pipe.chain.stages],
                        wake_us=rows[:, COL_WAKE_US], compute_us=rows[:, COL_COMPUTE_US],
                        session_wall_s=wall_s + build_s + compile_s, compile_s=compile_s, build_s=build_s,
                        rt={}, exit_code=code, exit_stage=int(ctrl[CTRL_EXIT_STAGE]), extra=pipe.reports())
    summary["time_base"] = "simulated"  # always offline here, whatever cfg.loop.realtime says
    return Result(summary, rows, pipe)
