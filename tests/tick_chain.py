"""Test helper: build stages on one Bus by hand and run them with the engine's compiled loop.

The stage contract is exactly this: factories register signals on a shared Bus, the chain is
packed in RUN order, and rtcore.loop.run calls every step once per tick. The helper lets a
test set bus inputs (a target, a disturbance) between runs and read any signal per tick.
"""
import numpy as np
from numba import njit

import rtcore  # noqa: F401  (sets the Numba cache directory before compiled code loads)
from rtcore import bus as B
from rtcore import loop, status
from rtcore.bus import Bus
from rtcore.loop import CTRL_SIZE, N_TIMING, run_chain
from rtcore.pipeline import RUN_ORDER
from rtcore.stage import BuildContext, pack


@njit(cache=True, nogil=True)
def run_driven(kinds, foff, soff, ioff, F, S, I, bus, counts, in_idx, inputs, rec_idx, out):
    """Per tick k: bus[in_idx] = inputs[k], run the chain, out[k] = bus[rec_idx]. Returns the last status."""
    code = 0
    for k in range(inputs.shape[0]):
        bus[B.TICK] = k
        bus[B.T_S] = k * bus[B.DT_S]
        bus[B.HOLD] = bus[B.HOLD_NEXT]  # as the loop does: hold = last tick's requests
        bus[B.HOLD_NEXT] = 0.0
        for j in range(in_idx.size):
            bus[in_idx[j]] = inputs[k, j]
        code, _ = run_chain(kinds, foff, soff, ioff, F, S, I, bus, counts)
        for j in range(rec_idx.size):
            out[k, j] = bus[rec_idx[j]]
    return code


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

    def _idx(self, names):
        sigs = [self.ctx.bus.signals[name] for name in names]
        idx = [np.arange(sig.offset, sig.offset + sig.width) for sig in sigs]
        return sigs, (np.concatenate(idx) if idx else np.zeros(0)).astype(np.int64)

    def run(self, n: int, record=("state", "estimate", "command")) -> dict:
        """n ticks of the engine's loop (offline); {signal: [n, width]} for the recorded signals."""
        sigs, rec_idx = self._idx(record)
        ring = np.zeros((n, N_TIMING + rec_idx.size))
        ctrl = np.zeros(CTRL_SIZE, np.int64)
        code = loop.run(self.chain, ring, ctrl, loop.Schedule(1.0 / self.ctx.dt_s, False, n), bus=self.bus,
                        counts=self.counts, rec_idx=rec_idx)
        assert code == status.DURATION, status.describe(code)
        return self._split(sigs, ring[:, N_TIMING:])

    def drive(self, inputs: dict, record=("state",)) -> dict:
        """Run len(inputs) ticks writing each input signal's row before the chain runs: {name: [n, width]}."""
        in_sigs, in_idx = self._idx(list(inputs))
        values = np.ascontiguousarray(np.hstack([np.asarray(v, float).reshape(len(v), -1) for v in inputs.values()]))
        sigs, rec_idx = self._idx(record)
        out = np.zeros((values.shape[0], rec_idx.size))
        c = self.chain
        code = run_driven(c.kinds, c.foff, c.soff, c.ioff, c.F, c.S, c.I, self.bus, self.counts, in_idx, values, rec_idx, out)
        assert code < status.FATAL, status.describe(code)
        return self._split(sigs, out)

    @staticmethod
    def _split(sigs, rows) -> dict:
        out, col = {}, 0
        for sig in sigs:
            out[sig.name] = rows[:, col:col + sig.width].copy()
            col += sig.width
        return out
