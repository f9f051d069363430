"""The MyoSuite elbow (myo-sim myoelbow_1dof6muscles) flexes when the biceps/brachialis channels
are excited and extends when the triceps channels are, relative to no excitation (gravity acts
in all three)."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import status
from rtcore.bus import Bus
from rtcore.stage import BuildContext
from sims.plants import muscle_elbow
from sims.plants.mujoco_plant import mujoco_plant_step

FLEXORS = (0, 0, 0, 1, 1, 1)  # TRIlong TRIlat TRImed BIClong BICshort BRA
EXTENSORS = (1, 1, 1, 0, 0, 0)


def angle_after(excitation, ticks=300):
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    st = muscle_elbow.build(muscle_elbow.MuscleElbowConfig(kind="muscle_elbow", start_deg=60.0), ctx)
    bus = ctx.bus.array()
    sig = ctx.bus.signals
    assert sig["command"].labels == muscle_elbow.MUSCLES
    assert sig["state"].labels == ("angle", "angular_velocity")
    bus[sig["command"].slice] = np.asarray(excitation, float)
    for _ in range(ticks):
        code = mujoco_plant_step(st.f, st.s, st.i, bus)
        assert code in (status.OK, status.LIMIT_CLIPPED)
    return bus[sig["state"].slice].copy()


@pytest.fixture(scope="module")
def angles():
    return {name: angle_after(u) for name, u in (("rest", (0.0,) * 6), ("flex", FLEXORS), ("extend", EXTENSORS))}


def test_biceps_brachialis_flex(angles):
    assert angles["flex"][0] > angles["rest"][0] + np.radians(20)


def test_triceps_extend(angles):
    assert angles["extend"][0] < angles["rest"][0] - np.radians(20)
    assert angles["extend"][0] > -0.02  # the (soft) joint limit at 0 rad holds
