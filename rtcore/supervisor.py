"""The supervising parent of a real-time session.

The loop runs in a child process (rtcore.child). The parent owns the terminal, the recording
and the cleanup: it drains the shared-memory ring into the recorder, shows a live status,
turns Ctrl-C, SIGTERM and SIGHUP into a stop request, declares the child hung when its heartbeat
stops, and always writes summary.json with the session's verdict, whatever happened to the child.

`Session` (a context manager) owns the processes and the shared memory: everything it starts
is started inside its scope, so every way out (an end, a crash of the child, an exception in the
parent) stops the child and the companions and removes the shared memory. Both die with the
parent too (rtcore.lifeline), and files left by sessions killed outright are removed at the
next start (shm.remove_stale).
"""
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from rtcore import checkpoint, companions, lifeline, rt, shm, status, verdict
from rtcore import config as config_mod
from rtcore.loop import (COL_COMPUTE_US, COL_WAKE_US, CTRL_RING_READ, CTRL_RING_WAITS, CTRL_RING_WRITTEN, CTRL_SIZE, CTRL_STATE,
                         CTRL_STOP, CTRL_TICKS, STATE_DONE, STATE_FAILED, STATE_READY, STATE_RUNNING)
from rtcore.summary import Distribution, SessionEnd, supervised
from rtcore.xdf import XdfRecorder
from sims.paradigms import markers

TRIAL_ENDS = (markers.SUCCESS, markers.TIMEOUT, markers.CENTER_TIMEOUT)  #: codes that end a trial

READY_TIMEOUT_S = 900.0  # first compile of the whole engine on a slow machine
STOP_GRACE_S = 5.0  # the loop gets this long to stop after a stop request, s
POLL_S = 0.02  # the parent's watch period, s


@dataclass
class Outcome:
    """What the parent knows at the end: the summary, the process exit code and the stop requests."""

    summary: dict
    exit_code: int
    out_dir: str
    messages: list = field(default_factory=list)
    stops: lifeline.StopRequests | None = None


class Drain:
    """Reads new ring rows into the recorder and the timing statistics (distributions whose memory
    does not grow with the session's length; summary.json's percentiles come from them)."""

    def __init__(self, ctrl, ring, recorder, columns):
        self.ctrl, self.ring, self.recorder = ctrl, ring, recorder
        self.wake, self.compute = Distribution(), Distribution()
        self.last_wake = np.zeros(0, np.float32)  # the latest rows' wake latencies, for the live status
        self.last_row = None
        self.columns = columns
        self.marker_col = columns.index("marker.marker") if "marker.marker" in columns else None
        self.successes = self.trials_ended = 0  # the task's trial outcomes seen in the drained rows
        self.listeners = []  # more readers of every new row (the dashboard's feed)

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
        self.last_wake = rows[:, COL_WAKE_US].astype(np.float32)
        self.wake.add(self.last_wake)
        self.compute.add(rows[:, COL_COMPUTE_US].astype(np.float32))
        for listen in self.listeners:
            listen(rows)
        self.last_row = rows[-1]
        if self.marker_col is not None:
            m = rows[:, self.marker_col]
            self.successes += int(np.count_nonzero(m == markers.SUCCESS))
            self.trials_ended += int(np.count_nonzero(np.isin(m, TRIAL_ENDS)))
        return n


class Session:
    """The processes and shared memory of one supervised session, released on every way out.

    On enter: the control block, the companions, then the loop process (rtcore.child), each
    started so that it dies with this process. On exit: the loop process is asked to stop (and
    killed after STOP_GRACE_S), the companions are stopped, the child's log is closed and every
    shared-memory file (including the ring and counters the child adopted) is removed."""

    def __init__(self, cfg, out_dir: str):
        self.cfg, self.out_dir = cfg, out_dir
        self.ctrl = None
        self.child = None
        self.messages: list[str] = []
        self._shm: list[str] = []
        self._companions: list = []
        self._log = None

    def __enter__(self):
        try:
            ctrl_path = shm.create("ctrl", CTRL_SIZE * 8)
            self._shm.append(ctrl_path)
            self.ctrl = shm.attach(ctrl_path, np.int64, (CTRL_SIZE,))
            self._companions = companions.start(self.cfg.companion, self.out_dir)
            self._log = open(os.path.join(self.out_dir, "child.log"), "w")
            self.child = subprocess.Popen([sys.executable, "-m", "rtcore.child", self.out_dir, ctrl_path],
                                          stdout=self._log, stderr=subprocess.STDOUT,
                                          preexec_fn=lifeline.die_with_parent())
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def keep_off_loop_cpu(self, cpu: int) -> bool | str:
        """With the loop pinned to cpu (--rt): this process's threads, the loop process's others and
        the companions' go to the other CPUs (rt.keep_off); True or "refused: reason"."""
        pids = [os.getpid(), self.child.pid, *(proc.pid for _name, proc, _log in self._companions)]
        return rt.keep_off(cpu, pids, loop_tid=self.child.pid)  # the loop runs on the child's main thread

    def adopt(self, *paths: str) -> None:
        """Shared-memory files the child created, removed with the session."""
        self._shm.extend(paths)

    def stop_child(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask the loop to stop between ticks; kill it if it has not exited within grace_s."""
        if self.child is None or self.child.poll() is not None:
            return
        self.ctrl[CTRL_STOP] = 1
        try:
            self.child.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill_child()

    def kill_child(self) -> None:
        self.child.kill()
        self.child.wait()

    def stop_companions(self) -> None:
        """Stop the companions (once); notes about companions that had died go to messages."""
        procs, self._companions = self._companions, []
        self.messages.extend(companions.stop(procs))

    def __exit__(self, *exc):
        self.stop_child()
        self.stop_companions()
        if self._log is not None:
            self._log.close()
        shm.remove(*self._shm)
        return False


def run(cfg, config_path: str, out_dir: str, view: bool = False, live: bool | None = None,
        stops: lifeline.StopRequests | None = None, dashboard_host: str = "127.0.0.1") -> Outcome:
    """Run cfg as a supervised session writing into out_dir; never raises for child failures.

    stops: the caller's stop requests (to keep them installed past the session, for its report);
    by default the session installs its own for its duration. dashboard_host: where the operator
    page listens when cfg.dashboard.enabled."""
    os.makedirs(out_dir, exist_ok=True)
    cfg = checkpoint.prepare(cfg, out_dir)
    _prepare(cfg, out_dir)
    messages = []
    stale = shm.remove_stale()
    if stale:
        messages.append(f"removed {len(stale)} shared-memory file(s) left by dead sessions")
    t_start = time.monotonic()
    with contextlib.ExitStack() as scope:
        if stops is None:
            stops = scope.enter_context(lifeline.StopRequests())
        session = scope.enter_context(Session(cfg, out_dir))
        end, counts = _supervise(session, cfg, out_dir, view, live, stops, t_start, messages, dashboard_host)
        session.stop_companions()
        summary = supervised(cfg, session.ctrl, counts, end, out_dir)
        if end.ready is not None and summary["exit_code"] not in status.NORMAL_ENDS:
            _emergency_safe_state(cfg, messages)
        with open(os.path.join(out_dir, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
    messages[:0] = session.messages
    os.unlink(os.path.join(out_dir, "config.json"))
    return Outcome(summary, verdict.exit_code(summary["verdict"]), out_dir, messages, stops)


def _prepare(cfg, out_dir: str) -> None:
    """The run folder with the resolved config (config.json is the child's copy, removed at the end)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.toml"), "w") as fh:
        fh.write(config_mod.dump(cfg))
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(cfg.model_dump(mode="json"), fh)
    for stale in ("child_ready.json", "child_done.json", "child_error.json"):
        shm.remove(os.path.join(out_dir, stale))


def _supervise(session, cfg, out_dir, view, live, stops, t_start, messages, dashboard_host):
    """Record and watch the session until the loop process has gone; returns (SessionEnd, counts)."""
    from rtcore.terminal import StatusView
    ctrl = session.ctrl
    recorder = XdfRecorder(out_dir, cfg, ctrl)
    drain = viewer = ready = writer = page = host_steal = None
    hung = False
    from rtcore.warmup import loop_cached
    view_status = StatusView(cfg, enabled=live, first_compile=not loop_cached())
    try:
        ready = _wait_ready(session, out_dir, stops)
        if ready is not None:
            for w in ready.get("warnings", []):
                print(f"warning: {w}", file=sys.stderr, flush=True)
            session.adopt(ready["ring_path"], ready["counts_path"])
            if ready["rt"].get("cpu_affinity") is True:
                ready["rt"]["others_off_cpu"] = session.keep_off_loop_cpu(ready["rt"]["cpu"])
            loop_cpu = ready["rt"].get("cpu")  # pinned (--rt): its CPU's steal; otherwise all CPUs'
            steal0 = rt.steal_s(loop_cpu)
            ring = shm.attach(ready["ring_path"], np.float64, (ready["ring_rows"], len(ready["columns"])))
            recorder.open(ready["columns"], ready["streams"])
            drain = Drain(ctrl, ring, recorder, ready["columns"])
            writer = _checkpoint_writer(cfg, session, out_dir, ready.get("checkpoint"))
            if view:
                from sims.viewer import SessionViewer
                viewer = SessionViewer(ready.get("model_path"), ready["columns"], lambda: drain.last_row, messages,
                                       ready.get("hand_site"))
            if cfg.dashboard.enabled:
                from rtcore.dashboard import serve_live
                page = serve_live(cfg, ctrl, drain, recorder, stops, ready, dashboard_host, messages)
            hung = _watch(cfg, session, drain, recorder, view_status, stops, writer)
            steal1 = rt.steal_s(loop_cpu)
            if steal0 is not None and steal1 is not None:
                host_steal = {"ms": round(1000 * (steal1 - steal0)), "cpus": "all" if loop_cpu is None else [loop_cpu]}
    finally:
        view_status.close()
        if viewer is not None:
            viewer.close()
        if page is not None:
            page.close()
        if drain is not None:
            drain()
        recorder.close()
    wake, compute = (drain.wake, drain.compute) if drain is not None else (np.zeros(0), np.zeros(0))
    done = _read_json(os.path.join(out_dir, "child_done.json"))
    error = _read_json(os.path.join(out_dir, "child_error.json"))
    if writer is not None and done is not None and done.get("snapshot_tick") is not None:
        writer.final(done["snapshot_tick"])
    user_stop = stops.first if done is None or done["exit_code"] == status.STOPPED else None
    end = SessionEnd(ready=ready, done=done, error=error["error"] if error else None,
                     returncode=session.child.poll(), hung=hung, stopped_by=user_stop,
                     wall_s=time.monotonic() - t_start, wake_us=wake, compute_us=compute,
                     recorded_rows=recorder.rows if drain is not None else 0,
                     learning=recorder.learning() if drain is not None else None,
                     checkpoint=writer.report() if writer is not None else None,
                     resumed=(ready.get("checkpoint") or {}).get("resumed") if ready else None,
                     host_steal=host_steal)
    n_stages = len(ready["stages"]) if ready else 0
    counts = (shm.attach(ready["counts_path"], np.int64, (n_stages, status.N_CODES))
              if ready else np.zeros((0, status.N_CODES), np.int64))
    return end, counts


def _checkpoint_writer(cfg, session, out_dir, info):
    """The parent's checkpoint writer on the child's snapshot buffers (None: no checkpoint)."""
    if not info:
        return None
    session.adopt(info["snap_f_path"], info["snap_i_path"])
    snap_f = shm.attach(info["snap_f_path"], np.float64, (info["n_f"],))
    snap_i = shm.attach(info["snap_i_path"], np.int64, (info["n_i"],))
    return checkpoint.Writer(cfg, out_dir, session.ctrl, info, snap_f, snap_i)


def _read_json(path: str):
    """A JSON file's content, or None if it does not exist."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def _wait_ready(session, out_dir, stops):
    """Block until the child is ready (returns its ready info), has failed, or a stop came (None)."""
    ctrl, child = session.ctrl, session.child
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ctrl[CTRL_STATE] in (STATE_READY, STATE_RUNNING, STATE_DONE):
            return _read_json(os.path.join(out_dir, "child_ready.json"))
        if ctrl[CTRL_STATE] == STATE_FAILED or child.poll() is not None:
            child.wait()
            return None
        if stops.requested:
            _say_stopping(stops)
            session.stop_child()
            return None
        time.sleep(POLL_S)
    session.kill_child()
    return None


def _watch(cfg, session, drain, recorder, view_status, stops, writer=None) -> bool:
    """Drain, display, checkpoint (writer: rtcore.checkpoint.Writer) and supervise until the child
    exits. Returns True if it hung (and was killed)."""
    ctrl, child = session.ctrl, session.child
    flush_every = min(cfg.record.flush_s, 1.0)  # session.xdf loads up to the last flush after a kill -9
    last_flush = time.monotonic()
    last_ticks, last_progress = None, time.monotonic()
    stop_at = None
    while True:
        drain()
        now = time.monotonic()
        flushed = now - last_flush >= flush_every
        if flushed:
            recorder.flush()
            last_flush = now
        # progress: a tick, or (offline) a wait for ring room the parent had not yet made: a
        # loop blocked on a parent that was itself starved of the CPU is not hung
        ticks = (int(ctrl[CTRL_TICKS]), int(ctrl[CTRL_RING_WAITS]))
        if ticks != last_ticks:
            last_ticks, last_progress = ticks, now
        view_status.update(ctrl, drain)
        if writer is not None and not flushed and ctrl[CTRL_STATE] == STATE_RUNNING:
            writer.poll(now)  # never in a flush's poll: one burst of the parent's work at a time
        if child.poll() is not None:
            return False
        if ctrl[CTRL_STATE] == STATE_RUNNING and now - last_progress > cfg.loop.heartbeat_timeout_s:
            session.kill_child()
            return True
        if stops.requested and stop_at is None:
            _say_stopping(stops)
            ctrl[CTRL_STOP] = 1
            stop_at = now + STOP_GRACE_S
        if stop_at is not None and now > stop_at:
            session.kill_child()
            return False
        time.sleep(POLL_S)


def _say_stopping(stops) -> None:
    print(f"stopping ({stops.first}): finishing the recording and the summary; "
          "stop again to skip the report", file=sys.stderr, flush=True)


def _emergency_safe_state(cfg, messages):
    """The child did not end normally: put devices in their safe state from here."""
    from devices.serial import emergency_disable
    msg = emergency_disable(cfg)
    if msg:
        messages.append(msg)
