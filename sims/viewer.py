"""Passive MuJoCo viewer in the parent process, fed from shared state, never on the hot path.

`rtcore run ... --view` starts a SessionViewer: a parent thread that calls run_viewer with the
plant's model file and a callable returning the newest recorded row (drained from the
shared-memory ring). Each frame (about 60 Hz) the viewer sets qpos from the row's `qpos` columns,
runs mj_forward for the drawing, and adds an Overlay to the viewer's own scene (`user_scn`), until
stop_event is set or the window is closed. Needs a display (mujoco.viewer.launch_passive, GLFW);
without one the session goes on headless.

The Overlay draws, where the session records what it needs (a plant with a hand site):
  - the targets: the current one (`target`) bright, the others seen so far faint;
  - the hand's trail: the last TRAIL_POINTS frames of `state` hand_x/hand_y (about 2 s);
  - a ghost arm: the arm posed so its hand is where the controller believes it is, the
    forward model's Smith estimate of the current hand (`estimate`; without a forward model, the
    delayed feedback). With a good forward model the ghost covers the arm; its lag and offset
    show the prediction error the Smith predictor has to live with.
The ghost's posture comes from damped least squares on the hand site's position Jacobian,
started each frame at the true posture (Wampler 1986; Buss 2004, "Introduction to inverse
kinematics with Jacobian transpose, pseudoinverse and damped least squares methods").
"""
import threading
import time

import mujoco
import numpy as np

FRAME_S = 1.0 / 60.0  #: redraw period, s
TRAIL_POINTS = 120  #: hand positions kept for the trail (one per frame: about 2 s)
TARGET_RADIUS_M = 0.006  #: drawn radius of a target sphere, m (the shipped tasks' tolerance is 5 mm)
MAX_TARGETS = 64  #: distinct target positions remembered for the faint ones
TARGET_GRID_M = 1e-4  #: target positions closer than this are the same target, m
TARGET_RGBA = np.array([0.1, 0.9, 0.2, 0.8], np.float32)  #: the current target
OLD_TARGET_RGBA = np.array([0.6, 0.6, 0.6, 0.25], np.float32)  #: targets seen before
TRAIL_RGBA = np.array([1.0, 0.55, 0.1, 1.0], np.float32)
TRAIL_WIDTH_PX = 3.0  #: mjGEOM_LINE width, pixels
GHOST_RGBA = np.array([0.3, 0.6, 1.0, 0.35], np.float32)  #: the estimated arm
IK_ITERATIONS = 20  #: damped least-squares steps per frame, at most
IK_TOLERANCE_M = 1e-5  #: the ghost's hand is close enough to the estimate, m
IK_DAMPING_M = 1e-3  #: damping of the least squares (lambda), m
_NO_SIZE = np.zeros(3)
_IDENTITY = np.eye(3).ravel()


def load(model_path_or_xml: str) -> mujoco.MjModel:
    """MjModel from a file path, or from MJCF text when the string starts with '<'."""
    if model_path_or_xml.lstrip().startswith("<"):
        return mujoco.MjModel.from_xml_string(model_path_or_xml)
    return mujoco.MjModel.from_xml_path(model_path_or_xml)


def qpos_columns(columns) -> list:
    """Indices of the recorded joint positions (`qpos.*`), in the plant's qpos order."""
    return [k for k, c in enumerate(columns) if c.startswith("qpos.")]


def _pair(index: dict, x: str, y: str):
    """Column numbers [x, y] of a recorded pair, or None when either is not recorded."""
    return [index[x], index[y]] if x in index and y in index else None


class Overlay:
    """Targets, hand trail and ghost arm of model m, from recorded rows (see the module docstring).

    columns: the recorded column names. hand_site: the plant's hand site (None: only the arm).
    update(row, d) takes a row and the true arm's data (after mj_forward); draw(scn) replaces
    scn's geoms with the overlay."""

    def __init__(self, m: mujoco.MjModel, columns, hand_site: str | None):
        index = {c: k for k, c in enumerate(columns)}
        self.m = m
        self.qpos_cols = qpos_columns(columns)
        self.site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, hand_site) if hand_site else -1
        has_hand = self.site >= 0
        self.hand_cols = _pair(index, "state.hand_x", "state.hand_y") if has_hand else None
        self.target_cols = _pair(index, "target.target_x", "target.target_y") if has_hand else None
        self.estimate_cols = _pair(index, "estimate.estimate_hand_x", "estimate.estimate_hand_y") if has_hand else None
        self.ghost = mujoco.MjData(m)
        self.jacp = np.zeros((3, m.nv))
        self.trail = np.zeros((TRAIL_POINTS, 3))
        self.n_trail = 0  # points pushed so far (the newest at (n_trail - 1) % TRAIL_POINTS)
        self.targets = {}  # grid key -> [x, y, z] of every target seen
        self.target = None  # the current target's key
        self.ghost_shown = False
        self.vopt, self.pert = mujoco.MjvOption(), mujoco.MjvPerturb()

    def update(self, row: np.ndarray, d: mujoco.MjData) -> None:
        """Take the newest recorded row; d: the true arm at that row's qpos, after mj_forward."""
        if self.site < 0:
            return
        z = d.site_xpos[self.site, 2]
        if self.hand_cols is not None:
            self.trail[self.n_trail % TRAIL_POINTS] = (*row[self.hand_cols], z)
            self.n_trail += 1
        if self.target_cols is not None:
            x, y = row[self.target_cols]
            if np.isfinite(x) and np.isfinite(y):
                self.target = (round(x / TARGET_GRID_M), round(y / TARGET_GRID_M))
                if self.target not in self.targets and len(self.targets) < MAX_TARGETS:
                    self.targets[self.target] = np.array([x, y, z])
        self.ghost_shown = self.estimate_cols is not None and self._pose_ghost(d.qpos, row[self.estimate_cols])

    def _pose_ghost(self, qpos: np.ndarray, hand_xy: np.ndarray) -> bool:
        """Ghost posture whose hand site is at hand_xy (m), from qpos; False if hand_xy is not finite."""
        if not np.all(np.isfinite(hand_xy)):
            return False
        m, g, jac = self.m, self.ghost, self.jacp
        g.qpos[:] = qpos
        for _ in range(IK_ITERATIONS):
            mujoco.mj_kinematics(m, g)
            mujoco.mj_comPos(m, g)
            err = hand_xy - g.site_xpos[self.site, :2]
            if np.hypot(*err) < IK_TOLERANCE_M:
                break
            mujoco.mj_jacSite(m, g, jac, None, self.site)
            j = jac[:2]
            dq = j.T @ np.linalg.solve(j @ j.T + IK_DAMPING_M ** 2 * np.eye(2), err)
            mujoco.mj_integratePos(m, g.qpos, dq, 1.0)
        mujoco.mj_kinematics(m, g)
        return True

    def draw(self, scn: mujoco.MjvScene) -> None:
        """Replace scn's geoms with the targets, the trail and the ghost arm."""
        scn.ngeom = 0
        for key, pos in self.targets.items():
            self._add(scn, mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, TARGET_RADIUS_M), pos,
                      TARGET_RGBA if key == self.target else OLD_TARGET_RGBA)
        n = min(self.n_trail, TRAIL_POINTS)
        order = [(self.n_trail - n + k) % TRAIL_POINTS for k in range(n)]
        for a, b in zip(order, order[1:]):
            if scn.ngeom >= scn.maxgeom:
                break
            geom = self._add(scn, mujoco.mjtGeom.mjGEOM_LINE, _NO_SIZE, self.trail[a], TRAIL_RGBA)
            mujoco.mjv_connector(geom, mujoco.mjtGeom.mjGEOM_LINE, TRAIL_WIDTH_PX, self.trail[a], self.trail[b])
        if self.ghost_shown:
            first = scn.ngeom
            mujoco.mjv_addGeoms(self.m, self.ghost, self.vopt, self.pert, mujoco.mjtCatBit.mjCAT_DYNAMIC, scn)
            for k in range(first, scn.ngeom):
                scn.geoms[k].rgba[:] = GHOST_RGBA

    @staticmethod
    def _add(scn, kind, size, pos, rgba):
        """Append one geom to scn and return it."""
        geom = scn.geoms[scn.ngeom]
        mujoco.mjv_initGeom(geom, kind, size, pos, _IDENTITY, rgba)
        scn.ngeom += 1
        return geom


def run_viewer(model_path_or_xml: str, columns, get_row, stop_event: threading.Event,
               hand_site: str | None = None) -> None:
    """Show the model at the newest recorded row, with its Overlay, until stop_event or close.

    get_row(): the newest row (a new array for each new row) or None. A row already shown is not
    taken again, so a stalled feed neither shortens the trail nor repeats the ghost's IK."""
    import mujoco.viewer
    m = load(model_path_or_xml)
    d = mujoco.MjData(m)
    overlay = Overlay(m, columns, hand_site)
    shown = None
    with mujoco.viewer.launch_passive(m, d) as view:
        while view.is_running() and not stop_event.is_set():
            row = get_row()
            if row is not None and row is not shown:
                shown = row
                d.qpos[:] = row[overlay.qpos_cols]
                mujoco.mj_forward(m, d)
                overlay.update(row, d)
                with view.lock():
                    overlay.draw(view.user_scn)
                view.sync()
            time.sleep(FRAME_S)


def _glfw_starts() -> bool:
    """GLFW initialises in this (the main) thread. Asked first because MuJoCo's viewer thread, when
    GLFW cannot start, ends the whole process: the session would lose its summary."""
    import warnings

    import glfw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glfw warns GLFWError before returning False
        return bool(glfw.init())


class SessionViewer:
    """run_viewer on a daemon thread of the supervising parent, fed from the recorded rows.

    model_path: the plant's MJCF (None: no MuJoCo plant). columns: the recorded column names.
    latest_row: callable returning the newest recorded row (or None). messages: list that gets
    one line if the viewer cannot be shown. hand_site: the plant's hand site, for the overlay."""

    def __init__(self, model_path, columns, latest_row, messages: list, hand_site: str | None = None):
        self.stop = threading.Event()
        self.thread = None
        if not qpos_columns(columns) or not model_path:
            messages.append("viewer: this session has no MuJoCo plant to show")
            return
        if not _glfw_starts():
            messages.append("viewer: cannot open a window (GLFW found no display: is DISPLAY or WAYLAND_DISPLAY "
                            "set?); the session ran headless")
            return

        def show():
            try:
                run_viewer(model_path, columns, latest_row, self.stop, hand_site)
            except Exception as e:  # no display, no GL: the session goes on headless
                messages.append(f"viewer: cannot open a window ({e}); the session ran headless")

        self.thread = threading.Thread(target=show, name="viewer", daemon=True)
        self.thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout_s)
