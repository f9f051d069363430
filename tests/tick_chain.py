"""Test helper: build stages on one Bus by hand and run them with the engine's compiled loop.

The stage contract is exactly this: factories register signals on a shared Bus, the chain is
packed in RUN order, and rtcore.loop.run_loop calls every step once per tick. The helper lets a
test set bus inputs (a target, a disturbance) between runs and read any signal per tick.
"""
import numpy as np

import rtcore  # noqa: F401  (sets the Numba cache directory before compiled code loads)
from rtcore import bus as B
from rtcore import status
from rtcore.bus import Bus
from rtcore.loop import CTRL_SIZE, N_TIMING, run_loop
from rtcore.pipeline import RUN_ORDER
from rtcore.stage import BuildContext, pack


class TickChain:
    """Stages on one bus; `run(n, record)` advances n ticks and returns {signal: [n, width]}."""

    def __init__(self, dt_s: float = 0.001, seed: int = 0):
        self.ctx = BuildContext(bus=Bus(), dt_s=dt_s, seed=seed, realtime=False)
        self.stages = []

    def add(self, stages):
        self.stages.extend(stages if isinstance(stages, list) else [stages])
        return stages

    def finish(self):
        self.stages.sort(key=lambda st: RUN_ORDER.index(st.name))
        self.chain = pack(self.stages)
        self.bus = self.ctx.bus.array()
        self.bus[B.DT_S] = self.ctx.dt_s
        self.counts = np.zeros((len(self.stages), status.N_CODES), np.int64)
        return self

    def set(self, name: str, values) -> None:
        self.bus[self.ctx.bus.signals[name].slice] = values

    def stage(self, role: str):
        return next(st for st in self.stages if st.name == role)

    def run(self, n: int, record=("state", "estimate", "command")) -> dict:
        sigs = [self.ctx.bus.signals[name] for name in record]
        rec_idx = np.concatenate([np.arange(sig.offset, sig.offset + sig.width) for sig in sigs]).astype(np.int64)
        ring = np.zeros((n, N_TIMING + rec_idx.size))
        ctrl = np.zeros(CTRL_SIZE, np.int64)
        c = self.chain
        code = run_loop(c.kinds, c.foff, c.soff, c.ioff, c.F, c.S, c.I, self.bus, self.counts, rec_idx,
                        ring, ctrl, n, False, 1_000_000, 0, 0, np.zeros(2, np.int64))
        assert code == status.DURATION, status.describe(code)
        out, col = {}, N_TIMING
        for sig in sigs:
            out[sig.name] = ring[:, col:col + sig.width].copy()
            col += sig.width
        return out
