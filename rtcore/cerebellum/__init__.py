"""Sensing and the cerebellum: the feedback delay line and the forward model ([feedback], [forward_model]).

Built after the plant (and the task's `observe` stage), before the controller. Without a
[forward_model] section the delay line also writes `estimate` (= feedback), so the controller
acts on delayed feedback. Lesion knobs from [lesion] (rtcore.learning.lesions) scale the SPE
learning rate and weight retention and lag the estimate (cerebellar lesion); without a forward
model there is no estimate to lag, so estimate_lag_s then has no effect.
The forward model assumes the delay line's base delays; it does not follow a task's
`extra_delay_ticks` (a delay-adaptation block is a mismatch the model has to live with).
"""
from rtcore.cerebellum import feedback_delay, forward_model
from rtcore.cerebellum.feedback_delay import FeedbackConfig
from rtcore.cerebellum.forward_model import ForwardModelConfig
from rtcore.learning.lesions import LesionConfig, lesion_effects

#: The stages of this family (each file ends with its SPEC), built by section, not by a `kind` tag.
MEMBERS = (feedback_delay, forward_model)

__all__ = ["FeedbackConfig", "ForwardModelConfig", "build", "build_from_session"]


def build(feedback_cfg: FeedbackConfig | None, fm_cfg: ForwardModelConfig | None, lesion, ctx) -> list:
    """[feedback_stage, forward_model_stage?]; none without a plant `state` (and no [feedback]).

    lesion: a LesionConfig or None (healthy); its effects scale the forward model (lesion_effects).
    """
    if not (ctx.bus.has("state") or ctx.bus.has("observed")):
        if feedback_cfg is None and fm_cfg is None:
            return []
        raise ValueError("feedback: [feedback]/[forward_model] need a plant that writes 'state'; add a [plant] section")
    fb = feedback_delay.build(feedback_cfg or FeedbackConfig(), ctx, write_estimate=fm_cfg is None)
    if fm_cfg is None:
        return [fb]
    fx = lesion_effects(lesion or LesionConfig())
    fm = forward_model.build(fm_cfg, ctx, fb.i[feedback_delay.I_DELAYS:].copy(),
                             spe_learning_gain=fx.spe_learning_gain, retention=fx.retention,
                             estimate_lag_s=fx.estimate_lag_s)
    return [fb, fm]


def build_from_session(cfg, ctx) -> list:
    return build(getattr(cfg, "feedback", None), getattr(cfg, "forward_model", None), getattr(cfg, "lesion", None), ctx)
