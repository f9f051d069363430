"""Build the stage chain of a session from its config.

Families are built in BUILD order (the plant registers `command` before the controller that
writes it; the forward model registers `estimate` before the controller that reads it) and run
in RUN order (the scientific order of the tick: pull, decode, task, control, act, sense, predict
and learn, publish). The families and their BUILD order are in rtcore.families.
"""
from dataclasses import dataclass, field

import numpy as np

from rtcore import checkpoint, families, status, wiring
from rtcore.bus import DT_S, HEADER, Bus
from rtcore.loop import N_TIMING, TIMING_COLUMNS
from rtcore.stage import BuildContext, Chain, pack, run_links

RUN_ORDER = ("source", "decoder", "task", "learning", "aim", "controller", "feedforward", "plant", "observe",
             "feedback", "forward_model", "outlet", "test")


@dataclass
class Pipeline:
    """A built session: the packed chain, its bus, and what the loop records each tick."""

    chain: Chain
    bus_layout: Bus
    bus: np.ndarray
    rec_idx: np.ndarray
    columns: list  # ring row columns: TIMING_COLUMNS + "signal.label" per recorded channel
    streams: list  # [(signal name, units, labels, first column, types)] per channel, for recorders and reports
    ctx: BuildContext
    counts: np.ndarray  # int64 [n_stages, status.N_CODES]: status counters per stage
    info: dict = field(default_factory=dict)
    resumed: dict | None = None  # what was loaded from a checkpoint (rtcore.checkpoint.resume)
    warnings: list = field(default_factory=list)  # wiring warnings (rtcore.wiring), shown before the run

    def stage(self, role: str):
        """The first built stage with this role (tests and reports read its live arrays)."""
        for st in self.chain.stages:
            if st.name == role:
                return st
        raise KeyError(f"no '{role}' stage in this session")

    def close(self) -> None:
        """Off-hot-path cleanup of every stage (device disable, stream close), last stage first."""
        errors = []
        for st in reversed(self.chain.stages):
            if st.close is not None:
                try:
                    st.close()
                except Exception as e:  # keep closing the others; report all
                    errors.append(f"{st.name}: {e}")
        if errors:
            raise RuntimeError("; ".join(errors))

    def reports(self) -> dict:
        """The stages' end-of-session reports merged into one dict for summary.json.

        A stage's `latched_fault` entry ({device, reason, at_s, stopped_task}) is collected,
        with the stage name added, into the list `latched_faults` (judged by rtcore.verdict)."""
        out, faults = {}, []
        for st in self.chain.stages:
            if st.report is not None:
                rep = dict(st.report())
                fault = rep.pop("latched_fault", None)
                if fault:
                    faults.append({"stage": st.name, **fault})
                out.update(rep)
        if faults:
            out["latched_faults"] = faults
        if self.resumed is not None:
            out["resumed"] = self.resumed
        return out


def build(cfg, config_path: str = "<config>", inputs: dict | None = None) -> Pipeline:
    """Build every stage of the session described by cfg (a validated SessionConfig), with the
    learned state of the checkpoint it resumes from, if any (rtcore.checkpoint).

    inputs: {signal: width or (width, unit)} registered on the bus before any stage, for signals
    no stage writes and a script sets (rtcore.api: a target sequence without a [task]).
    """
    dt_s = 1.0 / cfg.loop.rate_hz
    layout = Bus()
    for name, spec in (inputs or {}).items():
        width, unit = (spec, "") if isinstance(spec, int) else spec
        layout.add(name, width, unit)
    ctx = BuildContext(bus=layout, dt_s=dt_s, seed=cfg.session.seed, realtime=cfg.loop.realtime,
                       session_name=cfg.session.name, config_path=config_path)
    stages = []
    for family in families.BUILD_ORDER:
        layout.who = families.section_label(family, cfg)
        stages.extend(family.build_from_session(cfg, ctx))
    layout.who = ""
    pipe = assemble(stages, ctx, cfg.record.signals, config_path)
    recorded = [s[0] for s in pipe.streams]
    for name in cfg.record.every_ticks:
        if name not in recorded:
            raise ValueError(f"{config_path}: record.every_ticks: '{name}' is not a recorded bus signal; "
                             f"recorded: {', '.join(recorded)}")
    pipe.warnings = wiring.check(cfg, layout, config_path)
    if cfg.resume.from_ is not None:
        checkpoint.resume(pipe, cfg)
    return pipe


def assemble(stages: list, ctx: BuildContext, record=None, config_path: str = "<config>") -> Pipeline:
    """Pack built stages (in any order) in RUN order, with their bus and status counters.

    record: the bus signals recorded per tick (None: every signal). Resolves ctx's late bindings.
    """
    run_links(ctx)
    unknown = [st.name for st in stages if st.name not in RUN_ORDER]
    if unknown:
        raise ValueError(f"stage role(s) {unknown} not in the run order {RUN_ORDER}")
    stages = sorted(stages, key=lambda st: RUN_ORDER.index(st.name))
    chain = pack(stages)
    bus = ctx.bus.array()
    bus[DT_S] = ctx.dt_s
    rec_idx, columns, streams = _recorded(record, ctx.bus, config_path)
    counts = np.zeros((len(stages), status.N_CODES), np.int64)
    return Pipeline(chain, ctx.bus, bus, rec_idx, columns, streams, ctx, counts,
                    info={st.name: st.info for st in stages if st.info})


def _recorded(names, layout: Bus, config_path: str):
    if names is None:  # everything, input_block included: the XDF input stream and replay need every sample
        names = [n for n, sig in layout.signals.items() if sig.offset >= HEADER]
        names = ["hold", "marker"] + names
    idx, columns, streams = [], list(TIMING_COLUMNS), []
    for name in names:
        if not layout.has(name):
            raise ValueError(f"{config_path}: record.signals: no bus signal '{name}'; "
                             f"have: {', '.join(layout.signals)}")
        sig = layout.signals[name]
        streams.append((name, list(sig.units), list(sig.labels), N_TIMING + len(idx), list(sig.types)))
        idx.extend(range(sig.offset, sig.offset + sig.width))
        columns.extend(f"{name}.{lab}" for lab in sig.labels)
    return np.array(idx, dtype=np.int64), columns, streams
