"""joint_pd drives the MyoSuite elbow (6 muscles) to target angles through a 50 ms feedback delay."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.config import validate
from rtcore.session import run_offline


@pytest.mark.parametrize("target_rad", [0.7, 1.4])
def test_elbow_settles_at_target(target_rad):
    raw = {"session": {"duration_s": 3.0}, "loop": {"realtime": False}, "plant": {"kind": "muscle_elbow"},
           "controller": {"kind": "joint_pd", "target_rad": target_rad, "motor_noise_sd": 0.0},
           "record": {"signals": ["state", "command", "feedback", "estimate"]}}
    res = run_offline(validate(raw))
    angle = res.signal("state")[:, 0]
    assert abs(angle[0] - target_rad) > 0.3  # it has to move (start 60 deg)
    last = angle[-1000:]
    assert abs(last.mean() - target_rad) < 0.08 and last.std() < 0.02  # settled near the target (std < 1.2 deg)
    a = res.signal("command")
    assert a.min() >= 0.0 and a.max() <= 1.0
    # with no forward model the controller acts on the delayed feedback itself
    np.testing.assert_array_equal(res.signal("estimate"), res.signal("feedback"))
