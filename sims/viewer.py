"""Passive MuJoCo viewer in the parent process, fed from shared state, never on the hot path.

`rtcore run ... --view` starts a SessionViewer: a parent thread that calls run_viewer with the
plant's model file and a callable returning the latest recorded qpos (the newest row drained from
the shared-memory ring); the viewer only sets qpos, runs mj_forward for the drawing, and syncs at
about 60 Hz until stop_event is set or the window is closed. Needs a display
(mujoco.viewer.launch_passive, GLFW); without one the session goes on headless.
"""
import threading
import time

import mujoco

FRAME_S = 1.0 / 60.0  #: redraw period, s


def load(model_path_or_xml: str) -> mujoco.MjModel:
    """MjModel from a file path, or from MJCF text when the string starts with '<'."""
    if model_path_or_xml.lstrip().startswith("<"):
        return mujoco.MjModel.from_xml_string(model_path_or_xml)
    return mujoco.MjModel.from_xml_path(model_path_or_xml)


def run_viewer(model_path_or_xml: str, get_qpos, stop_event: threading.Event) -> None:
    """Show the model at get_qpos() (array [nq] or None = no new state) until stop_event or close."""
    import mujoco.viewer
    m = load(model_path_or_xml)
    d = mujoco.MjData(m)
    with mujoco.viewer.launch_passive(m, d) as view:
        while view.is_running() and not stop_event.is_set():
            qpos = get_qpos()
            if qpos is not None:
                d.qpos[:] = qpos
                mujoco.mj_forward(m, d)
                view.sync()
            time.sleep(FRAME_S)


class SessionViewer:
    """run_viewer on a daemon thread of the supervising parent, fed from the recorded rows.

    model_path: the plant's MJCF (None: no MuJoCo plant). columns: the recorded column names.
    latest_row: callable returning the newest recorded row (or None). messages: list that gets
    one line if the viewer cannot be shown."""

    def __init__(self, model_path, columns, latest_row, messages: list):
        cols = [k for k, c in enumerate(columns) if c.startswith("qpos.")]
        self.stop = threading.Event()
        self.thread = None
        if not cols or not model_path:
            messages.append("viewer: this session has no MuJoCo plant to show")
            return

        def qpos():
            row = latest_row()
            return None if row is None else row[cols]

        def show():
            try:
                run_viewer(model_path, qpos, self.stop)
            except Exception as e:  # no display, no GL: the session goes on headless
                messages.append(f"viewer: cannot open a window ({e}); the session ran headless")

        self.thread = threading.Thread(target=show, name="viewer", daemon=True)
        self.thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout_s)
