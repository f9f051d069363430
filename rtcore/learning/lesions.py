"""Lesion and therapy knobs ([lesion]) and their effects on learning and control.

A lesion is a kind and a severity in [0, 1]; `lesion_effects` maps it to named multipliers
(`LesionEffects`) read by BOTH the trial-level learners (rtcore.learning) and the per-tick forward
model and controller (rtcore.cerebellum, rtcore.control). Any knob can be set directly in the
config to override what the kind implies. The dissociations reproduced:

- cerebellar: SPE learning and retention lost, motor noise up, state estimate out of date and
  less precise; reward learning spared (Therrien, Wolpert & Bastian 2016, Brain 139:101);
  trial-to-trial changes stop following the last error (Smith & Shadmehr 2005, J Neurophysiol
  93:2809).
- parkinson: dopamine (RPE) gain down: initial adaptation intact, savings lost (Leow, Loftus &
  Hammond 2012, Exp Brain Res 218:295; Tsay et al. 2022, Brain Commun 4:fcac303); levodopa or DBS
  give part of it back (Frank, Seeberger & O'Reilly 2004, Science 306:1940).
- huntington: online feedback correction impaired, trial-to-trial adaptation spared (Smith,
  Brandt & Shadmehr 2000, Nature 403:544; Smith & Shadmehr 2005).
"""
from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field

from rtcore.configbase import Strict
from rtcore.layout import Layout

#: Estimate lag after cerebellar disruption: TMS over the lateral cerebellum made reaches start
#: from a hand estimate about 138 ms out of date (Miall, Christensen, Cain & Stanley 2007,
#: PLoS Biol 5:e316).
CEREBELLAR_ESTIMATE_LAG_S = 0.138
#: SD of the error of the hand-position estimate after cerebellar damage, m (see
#: LesionEffects.estimate_noise_m): a model choice of the order of the precision of
#: proprioceptive hand localisation (about a centimetre; van Beers, Sittig & Denier van der Gon
#: 1998, Exp Brain Res 122:367), which the healthy model's exact estimate leaves out.
CEREBELLAR_ESTIMATE_NOISE_M = 0.012
#: Time constant of each of the two low-pass stages that shape that error, s: it wanders on the
#: time scale of a reach (a model choice; white or fast noise would be filtered out by the arm).
ESTIMATE_ERROR_TAU_S = 0.1


class LesionConfig(Strict):
    """[lesion]: a simulated disorder and its therapy; unset knobs follow from kind and severity."""

    kind: Literal["none", "cerebellar", "parkinson", "huntington"] = Field("none", description="disorder simulated (none = healthy)")
    severity: float = Field(1.0, ge=0.0, le=1.0, description="fraction of the full deficit, 0..1")
    therapy_on: bool = Field(False, description="levodopa or DBS on (parkinson: restores part of the dopamine gain)")
    therapy_restore: float = Field(0.5, ge=0.0, le=1.0, description="fraction of the dopamine deficit that therapy restores, 0..1")
    spe_learning_gain: float | None = Field(None, ge=0.0, le=2.0, description="override: multiplier of SPE learning rates (1 = healthy)")
    retention: float | None = Field(None, gt=0.0, le=1.0, description="override: multiplier of memory time constants (1 = healthy)")
    motor_noise_gain: float | None = Field(None, ge=0.0, le=10.0, description="override: multiplier of motor noise SD (1 = healthy)")
    estimate_lag_s: float | None = Field(None, ge=0.0, le=0.5, description="override: extra lag of the state estimate, s (0 = healthy)")
    estimate_noise_m: float | None = Field(None, ge=0.0, le=0.1, description="override: SD of the slowly wandering error of the position estimate, m (0 = healthy)")
    rpe_gain: float | None = Field(None, ge=0.0, le=2.0, description="override: dopamine gain on reward-prediction-error learning (1 = healthy)")
    online_correction_gain: float | None = Field(None, ge=0.0, le=2.0, description="override: multiplier of online feedback-correction gains (1 = healthy)")


class LesionEffects(NamedTuple):
    """Multipliers a lesion applies (1, or 0 s of lag, = healthy). Same order as `as_array`."""

    spe_learning_gain: float = 1.0
    """Multiplies the SPE learning rates (two-state B_f, B_s; forward-model weight learning rate;
    both learning rates of the learned feedforward, whose climbing-fibre error it scales).
    Cerebellar patients barely adapt to a rotation or force field yet learn from binary reward
    (Therrien et al. 2016); their trial-to-trial change is unrelated to the last error (Smith &
    Shadmehr 2005). Cerebellar: 1 - 0.95 severity."""
    retention: float = 1.0
    """Multiplies each memory's time constant: A <- A^(1/retention). What cerebellar patients do
    learn decays faster (Therrien et al. 2016, retention phase; Smith & Shadmehr 2005). Per tick:
    the forward model's and the feedforward's weight leak times. Cerebellar: 1 - 0.8 severity."""
    motor_noise_gain: float = 1.0
    """Multiplies motor noise SD (execution variability the learner cannot see; the controller's
    force noise). Higher motor noise in cerebellar patients is what limits their reward learning
    (Therrien et al. 2016) and adds to their variable reaches (Rabe et al. 2009, J Neurophysiol
    101:1961). Cerebellar: 1 + severity."""
    estimate_lag_s: float = 0.0
    """Extra age of the state estimate the controller acts on, s: after cerebellar TMS, reaches
    start from an estimate about 138 ms out of date (Miall et al. 2007). Mechanism: the forward
    model's Smith estimate reaches the controller's delayed (neural) correction this much later,
    so reaches overshoot and oscillate about the target (dysmetria; Smith & Shadmehr 2005). The
    arm's delay-free intrinsic impedance (controller intrinsic_*, endpoint_pd.py) is not lagged
    and keeps it stable. Cerebellar: 0.138 severity. Per-tick only (forward model / controller)."""
    estimate_noise_m: float = 0.0
    """SD of the error of the position estimate the controller acts on, m (its rate of change is
    the velocity estimate's error). Without the cerebellar prediction the hand's state during a
    self-made movement is sensed less precisely (Bhanpuri, Okamura & Bastian 2013, J Neurosci
    33:14301: cerebellar patients' proprioception is impaired in active, not passive, movement).
    Mechanism (forward_model.py): a smooth error, white noise through two first-order low-pass
    stages of ESTIMATE_ERROR_TAU_S each, wanders over a reach and is added to the estimate; the
    delayed correction steers the hand by it, so reaches scatter from trial to trial and stop off
    target (variable, dysmetric reaches: Smith & Shadmehr 2005; Rabe et al. 2009, J Neurophysiol
    101:1961). The intrinsic impedance reads the true state and keeps the arm on target within a
    few mm. Cerebellar: CEREBELLAR_ESTIMATE_NOISE_M severity. Per-tick only (forward model)."""
    rpe_gain: float = 1.0
    """Dopamine gain g_DA on reward-prediction-error learning (actor update and the memory of
    rewarded actions; in a session, the aim's actor step on binary-reward trials, [aim]) and on the
    slow, retained learning rate of the adapted command: the learned feedforward's per tick, the
    trial-level learner's B_s per trial ([learning]). That memory is
    what savings need (Huang, Haith, Mazzoni & Krakauer 2011, Neuron 70:787). Parkinson's:
    initial adaptation intact, savings impaired (Marinelli et al. 2009, Exp Brain Res 199:61;
    Leow et al. 2012; Tsay et al. 2022).
    Parkinson: 1 - 0.95 severity; with therapy the deficit shrinks by therapy_restore (levodopa
    restores learning from positive outcomes, Frank et al. 2004)."""
    online_correction_gain: float = 1.0
    """Multiplies the controller's delayed (neural) feedback-correction gains kp, kd on the
    estimate; the arm's delay-free intrinsic impedance (controller intrinsic_*) is untouched, so
    the arm stays stable in a curl field. Huntington's patients adapt normally from trial to
    trial but correct poorly within a movement (Smith, Brandt & Shadmehr 2000; Smith & Shadmehr
    2005): a target jump is corrected more slowly. Huntington: 1 - 0.8 severity. Per-tick only
    (controller)."""

    def as_array(self) -> np.ndarray:
        """float64 [7] in field order, for compiled consumers (index with E.<field>)."""
        return np.array(self, dtype=np.float64)


#: Slot of each effect in as_array(), by field name (E.rpe_gain ...).
E = Layout(" ".join(LesionEffects._fields), "lesion_effects").slots


def lesion_effects(cfg: LesionConfig = LesionConfig()) -> LesionEffects:
    """The multipliers implied by kind and severity, with explicit knobs overriding them."""
    s = cfg.severity
    derived = {}
    if cfg.kind == "cerebellar":
        derived = dict(spe_learning_gain=1.0 - 0.95 * s, retention=1.0 - 0.8 * s,
                       motor_noise_gain=1.0 + s, estimate_lag_s=CEREBELLAR_ESTIMATE_LAG_S * s,
                       estimate_noise_m=CEREBELLAR_ESTIMATE_NOISE_M * s)
    elif cfg.kind == "parkinson":
        deficit = 0.95 * s * ((1.0 - cfg.therapy_restore) if cfg.therapy_on else 1.0)
        derived = dict(rpe_gain=1.0 - deficit)
    elif cfg.kind == "huntington":
        derived = dict(online_correction_gain=1.0 - 0.8 * s)
    for name in LesionEffects._fields:
        value = getattr(cfg, name)
        if value is not None:
            derived[name] = value
    return LesionEffects(**derived)
