"""Sources: the first stages of the tick (family [source] or [[source]], tagged by `kind`).

A source writes `input` [n_ch] (latest sample), `input_block` [max_per_tick * n_ch] and
`input_n` [1] (all samples of this tick, oldest first) and `input_time` [1].
kinds: "lsl" (devices/lsl/inlet.py), "lsl_markers" (devices/lsl/marker_inlet.py: text markers as
recorded events and task actions), "synthetic_emg" (sims/users/emg.py),
"synthetic_neural" (sims/users/neural.py), "replay" (rtcore/replay.py: a recorded session.xdf).
"""
from devices.lsl import inlet, marker_inlet
from rtcore import replay
from rtcore.registry import builders, tagged_union
from sims.users import emg, neural

#: The sources (each file ends with its SPEC); `kind` selects one. A new source: import it, list it.
MEMBERS = (inlet, marker_inlet, emg, neural, replay)

SourceConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)


def build(cfg, ctx, where: str = "source"):
    """The source stage for one [source] / [[source]] entry."""
    return [BUILDERS[cfg.kind](cfg, ctx, where)]


def build_from_session(cfg, ctx):
    """Pipeline hook: one stage per [[source]] (or the one [source]), each pulled in the tick; a
    second source names its own bus signals (`signal`), so two never write the same one."""
    stages, seen = [], {}
    for k, src in enumerate(cfg.source):
        where = "source" if len(cfg.source) == 1 else f"source[{k}]"
        sig = getattr(src, "signal", "input")
        if sig in seen:
            raise ValueError(f"{where}.signal: '{sig}' is already written by {seen[sig]}; give each [[source]] "
                             f"its own signal (e.g. signal = \"force\")")
        seen[sig] = where
        for st in build(src, ctx, where):
            st.name = "source"  # the role in the run order; `where` names it in messages
            stages.append(st)
    return stages
