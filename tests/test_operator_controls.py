"""The operator's pause, resume and next block (the live page's buttons) as the center-out task
sees them in the bus header: pause abandons the trial under way and holds the hand at the centre
with no new trial, resume starts that trial again, next block starts the following block; each
action leaves its own marker at the tick it acts (one code per tick), and the next trial starts on
the tick after it."""
import numpy as np

from reach_rig import ReachRig
from rtcore.bus import PAUSE, SKIP_BLOCK
from sims.paradigms import markers as MK
from sims.paradigms.target_hold import PH_PAUSED


def codes(rec) -> list:
    m = rec["marker"][:, 0]
    return m[m != 0].astype(int).tolist()


def test_pause_resume_and_next_block_act_and_leave_their_markers():
    rig = ReachRig([{"name": "first", "n_trials": 40}, {"name": "second", "n_trials": 40}],
                   task={"n_targets": 4, "radius_m": 0.1, "hold_s": 0.1, "timeout_s": 2.0})
    before, _ = rig.run(1500)  # the first trial under way
    assert MK.GO in codes(before)
    trial_before = before["trial"][-1, 0]

    rig.bus[PAUSE] = 1.0
    paused, _ = rig.run(3000)
    assert codes(paused)[0] == MK.PAUSED and codes(paused).count(MK.PAUSED) == 1
    assert MK.GO not in codes(paused) and MK.TRIAL_START not in codes(paused)  # no trial while paused
    assert (paused["trial"][:, 2] == PH_PAUSED).all()
    np.testing.assert_allclose(paused["target"][-1], rig.center)
    assert np.hypot(*(paused["state"][-1, :2] - rig.center)) < 0.005  # the hand holds the centre

    rig.bus[PAUSE] = 0.0
    resumed, _ = rig.run(2000)
    m = resumed["marker"][:, 0]
    assert m[0] == MK.RESUMED and m[1] == MK.TRIAL_START  # the marker keeps its tick; the trial starts next
    assert resumed["trial"][1, 0] == trial_before  # the abandoned trial starts again
    assert MK.GO in codes(resumed)

    rig.bus[SKIP_BLOCK] = 1.0
    skipped, _ = rig.run(2000)
    m = skipped["marker"][:, 0]
    assert m[0] == MK.BLOCK_SKIPPED and m[1] == MK.BLOCK_START
    assert skipped["trial"][1, 1] == 1 and skipped["trial"][1, 0] == 40  # the second block's first trial
