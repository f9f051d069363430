"""Controllers: the control stage of the tick (family [controller], tagged by `kind`).

endpoint_pd: target tracking on the state estimate with endpoint force (two-link arm);
joint_pd: target angle to agonist/antagonist activations (muscle elbow); passthrough: the
decoder's intent as the command; autopilot: the cursor to the target by itself (observation
blocks of a decoder calibration). Lesion effects from [lesion] (rtcore.learning.lesions) scale
the feedback-correction gains (huntington) and the motor noise (cerebellar).
"""
from rtcore.control import autopilot, endpoint_pd, joint_pd, passthrough
from rtcore.learning.lesions import LesionConfig, lesion_effects
from rtcore.registry import builders, tagged_union

#: The controllers (each file ends with its SPEC); `kind` selects one. A new controller: import it, list it.
MEMBERS = (endpoint_pd, joint_pd, passthrough, autopilot)

ControllerConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)


def build(cfg, ctx, lesion: LesionConfig | None = None) -> list:
    """The controller stage for a [controller] section; lesion None = healthy."""
    return [BUILDERS[cfg.kind](cfg, ctx, lesion_effects(lesion or LesionConfig()))]


def build_from_session(cfg, ctx) -> list:
    """The controller stage, none when the session has no [controller]."""
    if getattr(cfg, "controller", None) is None:
        return []
    return build(cfg.controller, ctx, getattr(cfg, "lesion", None))
