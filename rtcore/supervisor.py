"""The supervising parent of a real-time session.

The loop runs in a child process (rtcore.child). The parent owns the terminal, the recording
and the cleanup: it drains the shared-memory ring into the recorder, shows a live status,
turns Ctrl-C into a stop request, declares the child hung when its heartbeat stops, and always
writes summary.json, whatever happened to the child.
"""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from rtcore import config as config_mod
from rtcore import companions, shm, status
from rtcore.loop import (CTRL_EXIT, CTRL_EXIT_STAGE, CTRL_RING_READ,
                         CTRL_RING_WRITTEN, CTRL_SIZE, CTRL_STATE, CTRL_STOP, CTRL_TICKS,
                         STATE_DONE, STATE_FAILED, STATE_READY, STATE_RUNNING)
from rtcore.summary import summarize
from rtcore.xdf import XdfRecorder

READY_TIMEOUT_S = 900.0  # first compile of the whole engine on a slow machine
STOP_GRACE_S = 5.0


@dataclass
class Outcome:
    """What the parent knows at the end: the summary and the process exit code."""

    summary: dict
    exit_code: int
    out_dir: str
    messages: list = field(default_factory=list)


class Drain:
    """Reads new ring rows into the recorder and the timing statistics."""

    def __init__(self, ctrl, ring, recorder, columns):
        self.ctrl, self.ring, self.recorder = ctrl, ring, recorder
        self.wake, self.compute = [], []
        self.last_row = None
        self.columns = columns

    def __call__(self) -> int:
        written, read = int(self.ctrl[CTRL_RING_WRITTEN]), int(self.ctrl[CTRL_RING_READ])
        n = written - read
        if n <= 0:
            return 0
        cap = self.ring.shape[0]
        idx = np.arange(read, written) % cap
        rows = self.ring[idx].copy()
        self.ctrl[CTRL_RING_READ] = written
        self.recorder.write(rows)
        self.wake.append(rows[:, 2].astype(np.float32))
        self.compute.append(rows[:, 3].astype(np.float32))
        self.last_row = rows[-1]
        return n

    def timing(self):
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.float32)  # noqa: E731
        return cat(self.wake), cat(self.compute)


def run(cfg, config_path: str, out_dir: str, view: bool = False, live: bool | None = None) -> Outcome:
    """Run cfg as a supervised session writing into out_dir; never raises for child failures."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.toml"), "w") as fh:
        fh.write(config_mod.dump(cfg))
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(cfg.model_dump(mode="json"), fh)
    for stale in ("child_ready.json", "child_done.json", "child_error.json"):
        shm.remove(os.path.join(out_dir, stale))
    t_start = time.monotonic()
    messages = []
    procs = companions.start(cfg.companion, out_dir)
    ctrl_path = shm.create("ctrl", CTRL_SIZE * 8)
    ctrl = shm.attach(ctrl_path, np.int64, (CTRL_SIZE,))
    log = open(os.path.join(out_dir, "child.log"), "w")
    child = subprocess.Popen([sys.executable, "-m", "rtcore.child", out_dir, ctrl_path],
                             stdout=log, stderr=subprocess.STDOUT)
    ready = None
    cleanup = [ctrl_path]
    stop_requested = False
    hung = False
    recorder = XdfRecorder(out_dir, cfg, ctrl)
    drain = None
    viewer = None
    from rtcore.terminal import StatusView
    view_status = StatusView(cfg, enabled=live)
    try:
        ready = _wait_ready(child, ctrl, out_dir)
        if ready is not None:
            cleanup += [ready["ring_path"], ready["counts_path"]]
            ring = shm.attach(ready["ring_path"], np.float64, (ready["ring_rows"], len(ready["columns"])))
            recorder.open(ready["columns"], ready["streams"])
            drain = Drain(ctrl, ring, recorder, ready["columns"])
            viewer = SessionViewer(ready, drain, messages) if view else None
            hung, stop_requested = _watch(cfg, child, ctrl, drain, recorder, view_status)
    except KeyboardInterrupt:  # Ctrl-C while waiting for the child to get ready
        stop_requested = True
        ctrl[CTRL_STOP] = 1
        _reap(child, STOP_GRACE_S)
    finally:
        view_status.close()
        if viewer is not None:
            viewer.close()
        if drain is not None:
            drain()
        recorder.close()
        log.close()
        messages.extend(companions.stop(procs))
    code = child.poll()
    summary, exit_code = _outcome(cfg, out_dir, ctrl, ready, drain, child, code, hung, stop_requested,
                                  time.monotonic() - t_start, messages)
    if ready is not None and summary.get("exit_code") not in status.NORMAL_ENDS:
        _emergency_safe_state(cfg, messages)
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    shm.remove(*cleanup)
    os.unlink(os.path.join(out_dir, "config.json"))
    return Outcome(summary, exit_code, out_dir, messages)


def _wait_ready(child, ctrl, out_dir):
    """Block until the child is ready (returns its ready info) or has failed (None)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ctrl[CTRL_STATE] in (STATE_READY, STATE_RUNNING, STATE_DONE):
            with open(os.path.join(out_dir, "child_ready.json")) as fh:
                return json.load(fh)
        if ctrl[CTRL_STATE] == STATE_FAILED or child.poll() is not None:
            child.wait()
            return None
        time.sleep(0.02)
    child.kill()
    child.wait()
    return None


def _watch(cfg, child, ctrl, drain, recorder, view_status):
    """Drain, display and supervise until the child exits. Returns (hung, stop_requested)."""
    flush_every = min(cfg.record.flush_s, 1.0)  # session.xdf loads up to the last flush after a kill -9
    last_flush = time.monotonic()
    last_ticks, last_progress = -1, time.monotonic()
    stop_requested = False
    stop_at = None
    while True:
        try:
            drain()
            now = time.monotonic()
            if now - last_flush >= flush_every:
                recorder.flush()
                last_flush = now
            ticks = int(ctrl[CTRL_TICKS])
            if ticks != last_ticks:
                last_ticks, last_progress = ticks, now
            view_status.update(ctrl, drain)
            if child.poll() is not None:
                return False, stop_requested
            if ctrl[CTRL_STATE] == STATE_RUNNING and now - last_progress > cfg.loop.heartbeat_timeout_s:
                child.kill()
                child.wait()
                return True, stop_requested
            if stop_at is not None and now > stop_at:
                child.kill()
                child.wait()
                return False, stop_requested
            time.sleep(0.02)
        except KeyboardInterrupt:
            stop_requested = True
            ctrl[CTRL_STOP] = 1
            stop_at = time.monotonic() + STOP_GRACE_S


def _reap(child, timeout):
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _outcome(cfg, out_dir, ctrl, ready, drain, child, code, hung, stop_requested, wall_s, messages):
    wake, compute = drain.timing() if drain is not None else (np.zeros(0), np.zeros(0))
    stages = ready["stages"] if ready else []
    counts = (shm.attach(ready["counts_path"], np.int64, (len(stages), status.N_CODES))
              if ready else np.zeros((0, status.N_CODES), np.int64))
    done_path = os.path.join(out_dir, "child_done.json")
    done = json.load(open(done_path)) if os.path.exists(done_path) else None
    exit_text = None
    if ready is None:
        err_path = os.path.join(out_dir, "child_error.json")
        if os.path.exists(err_path):
            exit_text = json.load(open(err_path))["error"]
        else:
            exit_text = f"child failed before the loop started ({_describe_exit(code)}); see {out_dir}/child.log"
        exit_code = -1
    elif done is not None:
        exit_code = done["exit_code"]
        if stop_requested and exit_code == status.STOPPED:
            exit_text = "stopped by Ctrl-C"
    elif hung:
        exit_code = -1
        exit_text = f"child hung: no tick for {cfg.loop.heartbeat_timeout_s} s; killed"
    else:
        exit_code = int(ctrl[CTRL_EXIT]) if ctrl[CTRL_STATE] == STATE_DONE else -1
        exit_text = f"child died: {_describe_exit(code)}; see {out_dir}/child.log"
    summary = summarize(cfg, ctrl=ctrl, counts=counts, stage_names=stages, wake_us=wake, compute_us=compute,
                        session_wall_s=wall_s, compile_s=ready["compile_s"] if ready else 0.0,
                        build_s=ready["build_s"] if ready else 0.0, rt=ready["rt"] if ready else {},
                        exit_code=exit_code, exit_stage=int(ctrl[CTRL_EXIT_STAGE]) if done else -1,
                        exit_text=exit_text, extra=(done or {}).get("reports"))
    summary["recorded_rows"] = drain.recorder.rows if drain is not None else 0
    summary["child_exit"] = _describe_exit(code)
    if drain is not None:
        summary["learning"] = drain.recorder.learning()
    return summary, 0 if summary["ok"] else 1


def _describe_exit(code) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class SessionViewer:
    """The passive MuJoCo viewer on a parent thread, drawing the latest recorded `qpos`."""

    def __init__(self, ready, drain, messages):
        import threading
        from sims.viewer import run_viewer
        cols = [k for k, c in enumerate(ready["columns"]) if c.startswith("qpos.")]
        self.stop = threading.Event()

        def qpos():
            row = drain.last_row
            return None if row is None else row[cols]

        def show():
            try:
                run_viewer(ready["model_path"], qpos, self.stop)
            except Exception as e:  # no display, no GL: the session goes on headless
                messages.append(f"viewer: cannot open a window ({e}); the session ran headless")

        if not cols or not ready.get("model_path"):
            messages.append("viewer: this session has no MuJoCo plant to show")
            self.thread = None
            return
        self.thread = threading.Thread(target=show, name="viewer", daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(2.0)


def _emergency_safe_state(cfg, messages):
    """The child did not end normally: put devices in their safe state from here."""
    from devices.serial import emergency_disable
    msg = emergency_disable(cfg)
    if msg:
        messages.append(msg)
