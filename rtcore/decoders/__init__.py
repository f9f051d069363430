"""Decoders: the decode stage of the tick (family [decoder], tagged by `kind`)."""
from typing import Annotated, Union

from pydantic import Field

from rtcore.decoders import emg, kalman, linear

# Add each decoder's config model here; `kind` selects it.
DecoderConfig = Annotated[Union[linear.LinearDecoderConfig, emg.EmgDecoderConfig, kalman.KalmanDecoderConfig],
                          Field(discriminator="kind")]

BUILDERS = {"linear": linear.build, "emg": emg.build, "kalman": kalman.build}


def build_from_session(cfg, ctx) -> list:
    """The decoder stage(s) for [decoder], none when the section is absent."""
    if cfg.decoder is None:
        return []
    return [BUILDERS[cfg.decoder.kind](cfg.decoder, ctx)]
