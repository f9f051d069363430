"""Passive MuJoCo viewer in the parent process, fed from shared state, never on the hot path.

`rtcore run ... --view` calls run_viewer with the plant's model file and a callable that returns
the latest qpos (for example read from the shared-memory ring the loop writes); the viewer only
sets qpos, runs mj_forward for the drawing, and syncs at about 60 Hz until stop_event is set
or the window is closed. Needs a display (mujoco.viewer.launch_passive, GLFW).
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
