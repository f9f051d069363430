"""Decoders: the decode stage of the tick (family [decoder], tagged by `kind`)."""
from rtcore.decoders import emg, kalman, linear
from rtcore.registry import builders, tagged_union

#: The decoders (each file ends with its SPEC); `kind` selects one. A new decoder: import it, list it.
MEMBERS = (linear, emg, kalman)

DecoderConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)


def build_from_session(cfg, ctx) -> list:
    """The decoder stage(s) for [decoder], none when the section is absent."""
    if cfg.decoder is None:
        return []
    return [BUILDERS[cfg.decoder.kind](cfg.decoder, ctx)]
