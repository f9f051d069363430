"""Controllers: the control stage of the tick (family [controller], tagged by `kind`).

endpoint_pd: target tracking on the state estimate with endpoint force (two-link arm);
joint_pd: target angle to agonist/antagonist activations (muscle elbow); passthrough: the
decoder's intent as the command. Lesion effects from [lesion] (rtcore.learning.lesions) scale
the feedback-correction gains (huntington) and the motor noise (cerebellar).
"""
from typing import Annotated, Union

from pydantic import Field

from rtcore.control import endpoint_pd, joint_pd, passthrough
from rtcore.learning.lesions import LesionConfig, lesion_effects

ControllerConfig = Annotated[Union[endpoint_pd.EndpointPDConfig, joint_pd.JointPDConfig, passthrough.PassthroughConfig],
                             Field(discriminator="kind")]

BUILDERS = {"endpoint_pd": endpoint_pd.build, "joint_pd": joint_pd.build, "passthrough": passthrough.build}


def build(cfg, ctx, lesion: LesionConfig | None = None) -> list:
    """The controller stage for a [controller] section; lesion None = healthy."""
    return [BUILDERS[cfg.kind](cfg, ctx, lesion_effects(lesion or LesionConfig()))]


def build_from_session(cfg, ctx) -> list:
    """The controller stage, none when the session has no [controller]."""
    if getattr(cfg, "controller", None) is None:
        return []
    return build(cfg.controller, ctx, getattr(cfg, "lesion", None))
