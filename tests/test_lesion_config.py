"""[lesion] config: validated in the session config, kinds map to the documented multipliers, and
explicit knobs override them."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.config import validate
from rtcore.configbase import ConfigError
from rtcore.learning import LesionConfig, LesionEffects, lesion_effects
from rtcore.learning.lesions import CEREBELLAR_ESTIMATE_LAG_S, E


def test_session_config_has_a_healthy_lesion_section_by_default():
    cfg = validate({})
    assert cfg.lesion.kind == "none"
    assert lesion_effects(cfg.lesion) == LesionEffects()


def test_lesion_section_from_toml_dict_and_typos_fail():
    cfg = validate({"lesion": {"kind": "parkinson", "severity": 0.5, "therapy_on": True}})
    assert lesion_effects(cfg.lesion).rpe_gain == pytest.approx(1 - 0.95 * 0.5 * 0.5)
    with pytest.raises(ConfigError, match="lesion.severty is not a known key"):
        validate({"lesion": {"severty": 0.5}})
    with pytest.raises(ConfigError, match="lesion.kind"):
        validate({"lesion": {"kind": "stroke"}})


def test_kinds_map_to_their_dissociations():
    cb = lesion_effects(LesionConfig(kind="cerebellar"))
    assert cb.spe_learning_gain < 0.1 and cb.retention < 0.5 and cb.motor_noise_gain > 1.5
    assert cb.estimate_lag_s == pytest.approx(CEREBELLAR_ESTIMATE_LAG_S) and cb.rpe_gain == 1.0
    off, on = lesion_effects(LesionConfig(kind="parkinson")), lesion_effects(LesionConfig(kind="parkinson", therapy_on=True))
    assert off.rpe_gain < on.rpe_gain < 1.0 and off.spe_learning_gain == 1.0
    assert lesion_effects(LesionConfig(kind="cerebellar", severity=0.0)) == LesionEffects()


def test_explicit_knobs_override_and_pack_for_compiled_consumers():
    eff = lesion_effects(LesionConfig(kind="cerebellar", estimate_lag_s=0.05, rpe_gain=0.3))
    arr = eff.as_array()
    assert arr.dtype == np.float64 and arr.shape == (len(LesionEffects._fields),)
    assert arr[E.estimate_lag_s] == 0.05 and arr[E.rpe_gain] == 0.3
