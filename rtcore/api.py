"""The public Python API: build, run and step rtcore sessions from a script or a notebook.

    from rtcore import api

    result = api.run({"session": {"duration_s": 2.0}, "plant": {"kind": "two_link_arm"}, ...})
    result.signal("state")                      # [ticks, 4] as recorded by the offline session

    with api.build("configs/demo.toml") as sess:  # the same pipeline, stepped by you
        rec = sess.run(500, record=["state", "command"], inputs={"target": targets})

    ch = api.chain(dt_s=0.001)                   # or stages built by hand on one bus
    ch.add(cursor.build(cursor.CursorConfig(kind="cursor"), ch.ctx))
    sess = ch.finish()

Three ways in, one Session out:
- run(config): the offline session (rtcore.session.run_offline): summary, recorded rows, signals.
- build(config): the session's pipeline (rtcore.pipeline.build) as a Session you step.
- chain(dt_s, seed): a Session from stages you build yourself on one bus (unit-level experiments).

A Session advances in ticks exactly as the engine's loop does (rtcore.loop.begin_tick, then
every stage once in the run order). `run(n, inputs=..., record=...)` is one compiled call
that writes each input signal's row before the chain runs (a command waveform, a target
sequence) and records signals after it. With `task=fn`, the ticks are stepped from Python and
fn(session) runs at the task's place in the tick (after decoding, before control): closed-loop
experiment logic in plain Python, slower per tick but exact. See docs/api.md.

Configs are a dict (parsed TOML), a TOML path, or a validated SessionConfig; errors are the
config loader's one-line messages (rtcore.configbase.ConfigError).
"""
import os
from dataclasses import dataclass

import numpy as np
from numba import njit

from rtcore import config as config_mod
from rtcore import status, warmup
from rtcore.bus import DT_S, T_S, Bus
from rtcore.loop import begin_tick, run_chain
from rtcore.pipeline import RUN_ORDER, Pipeline, assemble
from rtcore.pipeline import build as build_pipeline
from rtcore.session import Result, run_offline
from rtcore.stage import BuildContext, Stage

__all__ = ["Recording", "Result", "Session", "SessionError", "build", "chain", "load_config", "run"]

#: The task's place in the tick: a Python task runs after the stages up to here (RUN_ORDER roles).
TASK_ROLE = "task"


class SessionError(RuntimeError):
    """A stage returned a fatal status while a Session was stepped (the message names stage and tick)."""


def load_config(config, overrides=()):
    """A validated SessionConfig from a dict, a TOML path or a SessionConfig, with `a.b=value` overrides."""
    cfg, _ = _resolve(config, overrides)
    return cfg


def _resolve(config, overrides=()):
    """(SessionConfig, the name errors and summaries use for it)."""
    if isinstance(config, config_mod.SessionConfig):
        if not overrides:
            return config, "<config>"
        return config_mod.validate(config.model_dump(), "<config>", list(overrides)), "<config>"
    if isinstance(config, dict):
        return config_mod.validate(config, "<dict>", list(overrides)), "<dict>"
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
        return config_mod.load(path, list(overrides)), path
    raise TypeError(f"config: expected a dict, a TOML path or a SessionConfig, got {type(config).__name__}")


def run(config, *, max_ticks: int | None = None, overrides=()) -> Result:
    """Run a session offline (no sleeping, no supervisor) and return its Result.

    The run ends at session.duration_s (or max_ticks), at a fatal status, or when the task ends.
    Result.summary is the summary.json dict; Result.signal(name) is a recorded signal [ticks, width];
    Result.column(name) one recorded column ("t_s", "state.hand_x"); Result.pipeline the built stages.
    """
    cfg, path = _resolve(config, overrides)
    return run_offline(cfg, path, max_ticks=max_ticks)


def build(config, *, inputs: dict | None = None, overrides=()) -> "Session":
    """Build a session's stages (streams and devices open) as a Session to step; close it after.

    inputs: {signal: width or (width, unit)}: signals no stage writes that you set or drive
    (e.g. {"target": (2, "m")} for a controller without a [task]); registered before any stage.
    """
    cfg, path = _resolve(config, overrides)
    return Session(build_pipeline(cfg, path, inputs))


def chain(dt_s: float = 0.001, seed: int = 0) -> "ChainBuilder":
    """An empty chain on a fresh bus: add stages built on its ctx, then finish() into a Session."""
    return ChainBuilder(BuildContext(bus=Bus(), dt_s=float(dt_s), seed=int(seed), realtime=False))


class ChainBuilder:
    """Stages built by hand on one bus (ctx), in any order; finish() packs them in the run order."""

    def __init__(self, ctx: BuildContext):
        self.ctx = ctx
        self.stages = []

    def add(self, stages):
        """Add a Stage or a list of them (as family builders return); returns what it was given."""
        for st in stages if isinstance(stages, list) else [stages]:
            if not isinstance(st, Stage):
                raise TypeError(f"chain.add: expected a Stage (from a stage's build), got {type(st).__name__}")
            if st.name not in RUN_ORDER:
                raise ValueError(f"chain.add: stage role '{st.name}' is not in the run order {RUN_ORDER}")
            self.stages.append(st)
        return stages

    def signal(self, name: str, width: int, unit: str = "", labels=None):
        """Register a bus signal no stage writes: an input you set or drive (a target, a disturbance)."""
        return self.ctx.bus.add(name, width, unit, labels)

    def finish(self) -> "Session":
        """Resolve late bindings and pack the chain; the builder is spent."""
        if not self.stages:
            raise ValueError("chain.finish: add at least one stage")
        return Session(assemble(self.stages, self.ctx))


class Recording(dict):
    """Signals recorded per tick: {name: [ticks, width]}, plus t_s [ticks] (session time, s)."""

    def __init__(self, signals: dict, t_s: np.ndarray):
        super().__init__(signals)
        self.t_s = t_s

    def signal(self, name: str) -> np.ndarray:
        if name not in self:
            raise KeyError(f"signal '{name}' was not recorded; have: {', '.join(self)}")
        return self[name]


@njit(cache=True, nogil=True)
def _drive(kinds, foff, soff, ioff, F, S, I, bus, counts, tick0, in_idx, inputs, rec_idx, out, t_s):
    """Ticks tick0 .. tick0 + n - 1 (n = out.shape[0]) as the loop runs them, inputs injected.

    Per tick k: begin_tick, bus[in_idx] = inputs[k], every stage once, out[k] = bus[rec_idx],
    t_s[k] = session time. in_idx int64[n_in], inputs float64[n, n_in], rec_idx int64[n_rec],
    out float64[n, n_rec]. Returns (ticks run, status, stage index): stops after a fatal status.
    """
    n = out.shape[0]
    for k in range(n):
        begin_tick(bus, tick0 + k, (tick0 + k) * bus[DT_S])  # offline: simulated stamps
        for j in range(in_idx.size):
            bus[in_idx[j]] = inputs[k, j]
        code, stage = run_chain(kinds, foff, soff, ioff, F, S, I, bus, counts)
        for j in range(rec_idx.size):
            out[k, j] = bus[rec_idx[j]]
        t_s[k] = bus[T_S]
        if code >= status.FATAL:
            return k + 1, code, stage
    return n, status.OK, -1


@dataclass
class _Part:
    """A contiguous run of the chain (the stages before or after a Python task), as run_chain takes it."""

    kinds: np.ndarray
    foff: np.ndarray
    soff: np.ndarray
    ioff: np.ndarray
    counts: np.ndarray
    first: int  # index of its first stage in the chain


class Session:
    """A built chain with its bus, stepped tick by tick; signals are read and written by name.

    pipeline (rtcore.pipeline.Pipeline), stages (in run order), ctx (the BuildContext: bus layout,
    dt_s, plant info), bus (the live bus array), counts (int64 [n_stages, status.N_CODES] status
    counters), tick (ticks run so far).
    """

    def __init__(self, pipeline: Pipeline):
        warmup.compile_stage_steps()  # a cold cache: the steps in parallel, before _drive compiles
        self.pipeline = pipeline
        self.ctx, self.chain, self.bus, self.counts = pipeline.ctx, pipeline.chain, pipeline.bus, pipeline.counts
        self.stages = self.chain.stages
        self.tick = 0
        split = sum(1 for st in self.stages if RUN_ORDER.index(st.name) <= RUN_ORDER.index(TASK_ROLE))
        self._parts = (self._part(0, split), self._part(split, len(self.stages)))
        self._closed = False

    def _part(self, a: int, b: int) -> _Part:
        c = self.chain
        return _Part(c.kinds[a:b], c.foff[a:b + 1], c.soff[a:b + 1], c.ioff[a:b + 1], self.counts[a:b], a)

    # --- signals by name -------------------------------------------------------------------

    @property
    def signals(self) -> list:
        """Names of every bus signal (header slots first)."""
        return list(self.ctx.bus.signals)

    def _signal(self, name: str):
        sig = self.ctx.bus.signals.get(name)
        if sig is None:
            raise KeyError(f"session: no bus signal '{name}'; have: {', '.join(self.ctx.bus.signals)}")
        return sig

    def labels(self, name: str) -> tuple:
        return self._signal(name).labels

    def view(self, name: str) -> np.ndarray:
        """A live view of a signal on the bus [width]: reads see the latest tick, writes go to the bus."""
        return self.bus[self._signal(name).slice]

    def get(self, name: str) -> np.ndarray:
        """A copy of a signal's current value [width]."""
        return self.view(name).copy()

    def set(self, name: str, values) -> None:
        """Write a signal (a scalar or [width]); stages read it from the next tick on."""
        self.view(name)[:] = values

    def stage(self, role: str) -> Stage:
        """The first stage with this role ("plant", "forward_model", ...): its live f/s/i arrays."""
        for st in self.stages:
            if st.name == role:
                return st
        raise KeyError(f"no '{role}' stage; have: {', '.join(st.name for st in self.stages)}")

    def _indices(self, names) -> tuple:
        sigs = [self._signal(n) for n in names]
        idx = [np.arange(s.offset, s.offset + s.width) for s in sigs]
        return sigs, (np.concatenate(idx) if idx else np.zeros(0)).astype(np.int64)

    # --- stepping ----------------------------------------------------------------------------

    def _inputs(self, inputs: dict | None, n: int | None):
        """(n, in_idx, values [n, n_in]) from {name: [n, width] or [n] per-tick rows}."""
        inputs = inputs or {}
        rows = []
        for name, v in inputs.items():
            width = self._signal(name).width
            a = np.asarray(v, dtype=np.float64)
            a = a.reshape(a.shape[0], -1) if a.ndim == 1 and width == 1 else a
            if a.ndim != 2 or a.shape[1] != width:
                raise ValueError(f"inputs['{name}']: shape {np.shape(v)}, expected [ticks, {width}] "
                                 f"(one row of the signal per tick)")
            rows.append(a)
        lengths = {a.shape[0] for a in rows}
        if n is None:
            if len(lengths) != 1:
                raise ValueError("run: give n (ticks) or inputs of one common length")
            n = lengths.pop()
        elif lengths - {n}:
            raise ValueError(f"run: inputs have {sorted(lengths)} rows for n = {n} ticks")
        _, in_idx = self._indices(list(inputs))
        values = np.ascontiguousarray(np.hstack(rows)) if rows else np.zeros((n, 0))
        return int(n), in_idx, values

    def run(self, n: int | None = None, record=None, inputs: dict | None = None, task=None) -> Recording:
        """Advance n ticks (default: the inputs' length); returns the recorded signals per tick.

        record: signal names (default: what the session records, [record] signals or every signal).
        inputs: {signal: [n, width]} written before the chain runs, each tick (a command waveform,
        a target sequence). task: fn(session) called every tick at the task's place in the tick
        (after source/decoder/task stages, before control and the plant), stepped from Python.
        Raises SessionError at a fatal stage status (the ticks up to it have run).
        """
        self._check_open()
        n, in_idx, values = self._inputs(inputs, n)
        sigs, rec_idx = self._indices([s[0] for s in self.pipeline.streams] if record is None else record)
        out = np.zeros((n, rec_idx.size))
        t_s = np.zeros(n)
        if task is None:
            c = self.chain
            done, code, stage = _drive(c.kinds, c.foff, c.soff, c.ioff, c.F, c.S, c.I, self.bus, self.counts,
                                       self.tick, in_idx, values, rec_idx, out, t_s)
            self.tick += int(done)
            self._raise_fatal(code, stage)
        else:
            for k in range(n):
                self._tick(in_idx, values[k], task)
                out[k] = self.bus[rec_idx]
                t_s[k] = self.bus[T_S]
        return self._split(sigs, out, t_s)

    def step(self, inputs: dict | None = None, task=None) -> None:
        """One tick from Python: begin it, write inputs ({signal: value}), run the stages up to the
        task's place, call task(self), run the rest. Raises SessionError at a fatal status."""
        self._check_open()
        inputs = inputs or {}
        _, in_idx = self._indices(list(inputs))
        row = np.concatenate([np.broadcast_to(np.asarray(v, np.float64), (self._signal(name).width,))
                              for name, v in inputs.items()]) if inputs else np.zeros(0)
        self._tick(in_idx, row, task)

    def _tick(self, in_idx: np.ndarray, row: np.ndarray, task) -> None:
        begin_tick(self.bus, self.tick, self.tick * self.ctx.dt_s)
        self.bus[in_idx] = row
        self.tick += 1
        for k, part in enumerate(self._parts):
            if k == 1 and task is not None:
                task(self)
            if part.kinds.size:
                code, stage = run_chain(part.kinds, part.foff, part.soff, part.ioff, self.chain.F, self.chain.S,
                                        self.chain.I, self.bus, part.counts)
                self._raise_fatal(code, stage + part.first if stage >= 0 else -1)

    def _raise_fatal(self, code: int, stage: int) -> None:
        if code >= status.FATAL:
            who = self.stages[stage].name if stage >= 0 else "chain"
            raise SessionError(f"{status.describe(code)} (stage '{who}', tick {self.tick - 1})")

    @staticmethod
    def _split(sigs, rows, t_s) -> Recording:
        out, col = {}, 0
        for sig in sigs:
            out[sig.name] = rows[:, col:col + sig.width].copy()
            col += sig.width
        return Recording(out, t_s)

    # --- lifetime ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("session: closed; build a new one")

    def close(self) -> None:
        """Close every stage (device disable, stream close), last stage first; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.pipeline.close()

    def reports(self) -> dict:
        """After the run: each stage's report (per-trial metrics ...), as merged into summary.json."""
        return self.pipeline.reports()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
