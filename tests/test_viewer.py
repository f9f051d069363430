"""The viewer's overlay on a recorded demo session: targets, the hand's trail and the forward model's
estimated arm as a ghost, drawn into a real MuJoCo scene (no window: the CI machine has no display,
so the window itself is not opened here; `--view` without one says so and the session goes on)."""
import json
import pathlib
import uuid

import mujoco
import numpy as np
import pytest

from rtcore import recording
from sims import viewer
from sims.plants.two_link_arm import MODEL_PATH
from enginecli import assert_finished, run_cli

DEMO = pathlib.Path(__file__).resolve().parent.parent / "configs" / "demo.toml"

FRAME_TICKS = 16  #: rows between two frames: the viewer's 60 Hz at 1 kHz


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(recording, child_ready.json, run output) of 3 s of the demo, --fast, with --view."""
    out = tmp_path_factory.mktemp("viewer") / "run"
    r = run_cli("run", DEMO, "--fast", "--view", "--duration", 3, "--out", out,
                "--set", f"session.name=viewer-{uuid.uuid4().hex[:8]}")
    assert_finished(r, out)
    with open(out / "child_ready.json") as fh:
        ready = json.load(fh)
    return recording.load(out), ready, r.stdout + r.stderr


@pytest.fixture(scope="module")
def frames(session):
    """The overlay fed one row per frame, with per frame (ghost hand, estimate, true hand, q, ghost q)."""
    rec, ready, _ = session
    m = viewer.load(ready["model_path"])
    d = mujoco.MjData(m)
    overlay = viewer.Overlay(m, rec["columns"], ready["hand_site"])
    seen = []
    for row in rec["rows"][::FRAME_TICKS]:
        d.qpos[:] = row[overlay.qpos_cols]
        mujoco.mj_forward(m, d)
        overlay.update(row, d)
        seen.append((overlay.ghost.site_xpos[overlay.site, :2].copy(), row[overlay.estimate_cols], row[overlay.hand_cols],
                     d.qpos.copy(), overlay.ghost.qpos.copy()))
    scn = mujoco.MjvScene(m, maxgeom=1000)
    overlay.draw(scn)
    return overlay, scn, seen, rec


def test_the_session_names_its_hand_site_and_runs_on_without_a_display(session):
    _, ready, output = session
    assert ready["hand_site"] == "hand" and ready["model_path"] == str(MODEL_PATH)
    assert "viewer: cannot open a window" in output and "the session ran headless" in output


def test_the_ghost_arm_puts_its_hand_at_the_forward_models_estimate(frames):
    overlay, scn, seen, _ = frames
    ghost, estimate, hand, q, q_ghost = (np.array(x) for x in zip(*seen))
    assert np.abs(ghost - estimate).max() < 0.05e-3  # m: the ghost's hand is the estimate
    # it is not the arm drawn twice: where the estimate is off the hand by over 0.5 mm, so is the ghost's posture
    off = np.hypot(*(estimate - hand).T) > 0.5e-3
    assert off.sum() >= 3
    assert np.abs(q_ghost - q)[off].max() > 1e-3  # rad
    drawn = [scn.geoms[k] for k in range(scn.ngeom) if scn.geoms[k].type != mujoco.mjtGeom.mjGEOM_LINE
             and abs(scn.geoms[k].rgba[3] - viewer.GHOST_RGBA[3]) < 1e-6]
    assert len(drawn) >= 2  # the two links at least, translucent


def test_the_current_target_is_bright_and_the_trail_follows_the_hand(frames):
    overlay, scn, seen, rec = frames
    cols = rec["columns"]
    rows = rec["rows"][::FRAME_TICKS]
    spheres = [scn.geoms[k] for k in range(scn.ngeom) if scn.geoms[k].type == mujoco.mjtGeom.mjGEOM_SPHERE
               and not np.allclose(scn.geoms[k].rgba, viewer.GHOST_RGBA)]  # the ghost's joints are spheres too
    current = [g for g in spheres if np.allclose(g.rgba, viewer.TARGET_RGBA)]
    target = rows[-1, [cols.index("target.target_x"), cols.index("target.target_y")]]
    assert len(current) == 1 and np.allclose(current[0].pos[:2], target)
    recorded = {tuple(np.round(t / viewer.TARGET_GRID_M)) for t in
                rows[:, [cols.index("target.target_x"), cols.index("target.target_y")]]}
    assert len(spheres) == len(recorded) >= 2  # the center and an outer target at least
    lines = [scn.geoms[k] for k in range(scn.ngeom) if scn.geoms[k].type == mujoco.mjtGeom.mjGEOM_LINE]
    assert len(lines) == min(len(rows), viewer.TRAIL_POINTS) - 1
    # the newest segment ends at the hand of the last frame
    last, before = seen[-1][2], seen[-2][2]
    newest = lines[-1]  # a line runs from pos along its z axis for size[2]
    end = newest.pos + newest.mat[:, 2] * newest.size[2]
    assert np.allclose(newest.pos[:2], before, atol=1e-6) and np.allclose(end[:2], last, atol=1e-6)  # m (float32)


def test_a_plant_without_a_hand_site_gets_no_overlay(frames):
    overlay, _, _, rec = frames
    bare = viewer.Overlay(overlay.m, rec["columns"], None)
    d = mujoco.MjData(overlay.m)
    bare.update(rec["rows"][-1], d)
    scn = mujoco.MjvScene(overlay.m, maxgeom=100)
    bare.draw(scn)
    assert scn.ngeom == 0
