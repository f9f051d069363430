"""Sensing and the cerebellum: the feedback delay line, the forward model and the learned
feedforward ([feedback], [forward_model], [feedforward]).

Built after the plant (and the task's `observe` stage), before the controller. Without a
[forward_model] section the delay line also writes `estimate` (= feedback), so the controller
acts on delayed feedback. Lesion knobs from [lesion] (rtcore.learning.lesions) scale the SPE
learning rate and weight retention, lag the estimate and add its smooth error (cerebellar lesion);
without a forward model there is no estimate to lag, so estimate_lag_s and estimate_noise_m then
have no effect.
The feedforward (inverse model, role "feedforward") runs between the controller and the plant and
adds its learned command to `command`; the same lesion knobs scale its learning rates and retention,
and the dopamine gain (rpe_gain) its slow, retained learning rate (Parkinson's: no savings).
The forward model and the feedforward assume the delay line's base delays; they do not follow a task's
`extra_delay_ticks` (a delay-adaptation block is a mismatch the model has to live with).
"""
from rtcore.cerebellum import feedback_delay, feedforward, forward_model
from rtcore.cerebellum.feedback_delay import FeedbackConfig
from rtcore.cerebellum.feedforward import FeedforwardConfig
from rtcore.cerebellum.forward_model import ForwardModelConfig
from rtcore.learning.lesions import ESTIMATE_ERROR_TAU_S, LesionConfig, lesion_effects

#: The stages of this family (each file ends with its SPEC), built by section, not by a `kind` tag.
MEMBERS = (feedback_delay, forward_model, feedforward)

__all__ = ["FeedbackConfig", "FeedforwardConfig", "ForwardModelConfig", "build", "build_from_session"]


def build(feedback_cfg: FeedbackConfig | None, fm_cfg: ForwardModelConfig | None, lesion, ctx,
          ff_cfg: FeedforwardConfig | None = None) -> list:
    """[feedback_stage, forward_model_stage?, feedforward_stage?]; none without a plant `state`
    (and no [feedback]).

    lesion: a LesionConfig or None (healthy); its effects scale the forward model and the
    feedforward (lesion_effects).
    """
    if not (ctx.bus.has("state") or ctx.bus.has("observed")):
        if feedback_cfg is None and fm_cfg is None and ff_cfg is None:
            return []
        raise ValueError("feedback: [feedback]/[forward_model]/[feedforward] need a plant that writes 'state'; add a [plant] section")
    fb = feedback_delay.build(feedback_cfg or FeedbackConfig(), ctx, write_estimate=fm_cfg is None)
    delays = feedback_delay.base_delay_ticks(fb)
    fx = lesion_effects(lesion or LesionConfig())
    stages = [fb]
    if fm_cfg is not None:
        stages.append(forward_model.build(fm_cfg, ctx, delays, spe_learning_gain=fx.spe_learning_gain,
                                          retention=fx.retention, estimate_lag_s=fx.estimate_lag_s,
                                          estimate_noise_m=fx.estimate_noise_m, estimate_noise_tau_s=ESTIMATE_ERROR_TAU_S))
    if ff_cfg is not None and ff_cfg.enabled:
        stages.append(feedforward.build(ff_cfg, ctx, delays, spe_learning_gain=fx.spe_learning_gain,
                                        retention=fx.retention, rpe_gain=fx.rpe_gain))
    return stages


def build_from_session(cfg, ctx) -> list:
    return build(getattr(cfg, "feedback", None), getattr(cfg, "forward_model", None), getattr(cfg, "lesion", None), ctx,
                 getattr(cfg, "feedforward", None))
