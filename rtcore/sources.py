"""Sources: the first stage of the tick (family [source], tagged by `kind`).

A source writes `input` [n_ch] (latest sample), `input_block` [max_per_tick * n_ch] and
`input_n` [1] (all samples of this tick, oldest first) and `input_time` [1].
kinds: "lsl" (devices/lsl/inlet.py), "synthetic_emg" (sims/users/emg.py),
"synthetic_neural" (sims/users/neural.py), "replay" (rtcore/replay.py: a recorded session.xdf).
"""
from devices.lsl import inlet
from rtcore import replay
from rtcore.registry import builders, tagged_union
from sims.users import emg, neural

#: The sources (each file ends with its SPEC); `kind` selects one. A new source: import it, list it.
MEMBERS = (inlet, emg, neural, replay)

SourceConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)


def build(cfg, ctx):
    """The source stage for [source]."""
    return [BUILDERS[cfg.kind](cfg, ctx)]


def build_from_session(cfg, ctx):
    """Pipeline hook: the [source] stage, or none when the section is absent."""
    return build(cfg.source, ctx) if cfg.source is not None else []
