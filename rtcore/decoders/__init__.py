"""Decoders: the decode stage of the tick (family [decoder], tagged by `kind`)."""
from typing import Annotated, Union

from pydantic import Field

from rtcore.decoders import linear

# Add each decoder's config model here; `kind` selects it.
DecoderConfig = Annotated[Union[linear.LinearDecoderConfig, linear.LinearDecoderConfig], Field(discriminator="kind")]

BUILDERS = {"linear": linear.build}


def build_from_session(cfg, ctx) -> list:
    """The decoder stage(s) for [decoder], none when the section is absent."""
    if cfg.decoder is None:
        return []
    return [BUILDERS[cfg.decoder.kind](cfg.decoder, ctx)]
