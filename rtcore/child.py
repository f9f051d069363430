"""The loop process of a supervised session (`python -m rtcore.child RUNDIR CTRL_PATH`).

It compiles the loop (before any stream or device opens), builds the pipeline (with the learned state
it resumes), maps the ring and the checkpoint's snapshot buffers, tells the parent it is ready
(RUNDIR/child_ready.json), runs the compiled loop, copies the learned state a last time, closes every stage (device
disable, stream close) and writes RUNDIR/child_done.json. SIGINT is ignored here: the parent
turns Ctrl-C into a stop request through the control block, so the loop ends between ticks.
SIGTERM and SIGHUP (sent to the process group, or by the kernel when the parent dies: the parent
sets it as this process's parent-death signal) and the parent's disappearance also stop the loop
between ticks, through the same control block, so devices still end in their safe state.
"""
import json
import os
import select
import signal
import sys
import threading
import time
import traceback

import numpy as np

from rtcore import checkpoint, loop, rt, shm
from rtcore.bus import MissingSignal
from rtcore.config import SessionConfig
from rtcore.loop import (CTRL_EXIT_STAGE, CTRL_SIZE, CTRL_SNAP_TICK, CTRL_STATE, CTRL_STOP, CTRL_TICKS, N_TIMING,
                         STATE_FAILED, STATE_READY, Schedule)
from rtcore.pipeline import build
from rtcore.session import compile_loop


def _write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def _stop_on_signal_or_orphan(ctrl, parent_pid: int, wakeup: int, poll_s: float = 0.2) -> None:
    """Ask the loop to stop once SIGTERM/SIGHUP arrives or the parent is gone (kill -9).

    Python runs signal handlers only between bytecodes of the main thread, which sits in the
    compiled loop; the C-level handler still writes the signal number to the wakeup pipe, which
    this thread watches."""
    while os.getppid() == parent_pid:
        if select.select([wakeup], [], [], poll_s)[0]:
            break
    ctrl[CTRL_STOP] = 1


def _watch_signals_and_parent(ctrl, parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # the wakeup pipe does the work
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)
    threading.Thread(target=_stop_on_signal_or_orphan, args=(ctrl, parent_pid, r), name="stop-watch",
                     daemon=True).start()


def _snapshot_buffers(pipe, cfg, parent_pid: int):
    """(snapshot for loop.run, child_ready's "checkpoint" entry) with the buffers in shared memory
    (owned by the supervisor, parent_pid), or (None, None) when the session writes no checkpoint
    (rtcore.checkpoint)."""
    if not cfg.checkpoint.enabled:
        return None, None
    plan, layout, n_f, n_i = checkpoint.plan(pipe)
    f_path, i_path = shm.create("snapf", n_f * 8, parent_pid), shm.create("snapi", n_i * 8, parent_pid)
    snapshot = (plan, shm.attach(f_path, np.float64, (n_f,)), shm.attach(i_path, np.int64, (n_i,)))
    return snapshot, {"layout": layout, "parts": checkpoint.describe(pipe, cfg), "resumed": pipe.resumed,
                      "snap_f_path": f_path, "snap_i_path": i_path, "n_f": n_f, "n_i": n_i}


def _final_snapshot(pipe, ctrl, snapshot) -> int:
    """Copy the learned state once more after the last tick; returns the ticks it holds. The tick
    slot is -1 while copying, so a parent reading the buffers at that moment discards its copy."""
    ctrl[CTRL_SNAP_TICK] = -1
    loop.copy_snapshot(pipe.chain.F, pipe.chain.S, pipe.chain.I, *snapshot)
    ticks = int(ctrl[CTRL_TICKS])
    ctrl[CTRL_SNAP_TICK] = ticks
    return ticks


def main(rundir: str, ctrl_path: str) -> int:
    ctrl = shm.attach(ctrl_path, np.int64, (CTRL_SIZE,))
    parent_pid = os.getppid()
    _watch_signals_and_parent(ctrl, parent_pid)
    with open(os.path.join(rundir, "config.json")) as fh:
        cfg = SessionConfig.model_validate(json.load(fh))
    config_path = cfg.session.name
    compile_s = compile_loop()  # before any stream or device opens: a first compile takes minutes
    try:
        t = time.perf_counter()
        pipe = build(cfg, config_path)
        build_s = time.perf_counter() - t
    except (ValueError, MissingSignal, OSError) as e:  # a user's wiring/config/device mistake: one line
        _write(os.path.join(rundir, "child_error.json"), {"error": str(e)})
        ctrl[CTRL_STATE] = STATE_FAILED
        return 2
    try:
        rate = cfg.loop.rate_hz
        cap = int(cfg.loop.ring_s * rate)
        width = N_TIMING + pipe.rec_idx.size
        ring_path = shm.create("ring", cap * width * 8, parent_pid)  # the supervisor removes them
        ring = shm.attach(ring_path, np.float64, (cap, width))
        counts_path = shm.create("counts", pipe.counts.nbytes, parent_pid)
        pipe.counts = shm.attach(counts_path, np.int64, pipe.counts.shape)
        snapshot, saved = _snapshot_buffers(pipe, cfg, parent_pid)
        nice = rt.raise_priority(cfg.loop.nice) if cfg.loop.realtime and cfg.loop.nice is not None else "not requested"
        short_slice = rt.request_slice(cfg.loop.slice_us) if cfg.loop.slice_us else "not requested"  # keeps the nice; before FIFO
        granted = rt.harden(cfg.loop.rt_priority, cfg.loop.cpu) if cfg.loop.rt else \
            rt.not_requested(cfg.loop.rt_priority if cfg.loop.realtime and cfg.loop.fifo else None)
        granted["short_slice"], granted["nice"] = short_slice, nice
        ring[:] = 0.0  # touch every page before the first deadline
        _write(os.path.join(rundir, "child_ready.json"), {
            "pid": os.getpid(), "ring_path": ring_path, "ring_rows": cap, "counts_path": counts_path,
            "columns": pipe.columns,
            "streams": [list(s) for s in pipe.streams],
            "stages": [s.name for s in pipe.chain.stages], "compile_s": compile_s,
            "build_s": build_s, "rt": granted, "info": pipe.info, "warnings": pipe.warnings,
            "model_path": pipe.ctx.plant.model_path if pipe.ctx.plant is not None else None,
            "hand_site": pipe.ctx.plant.hand_site if pipe.ctx.plant is not None else None,
            "checkpoint": saved})
        ctrl[CTRL_STATE] = STATE_READY
        code = loop.run(pipe.chain, ring, ctrl, Schedule.from_config(cfg, drained=True), bus=pipe.bus,
                        counts=pipe.counts, rec_idx=pipe.rec_idx, snapshot=snapshot)
        snapshot_tick = _final_snapshot(pipe, ctrl, snapshot) if saved else None
    finally:
        pipe.close()
    _write(os.path.join(rundir, "child_done.json"), {
        "exit_code": int(code), "exit_stage": int(ctrl[CTRL_EXIT_STAGE]), "reports": pipe.reports(),
        "snapshot_tick": snapshot_tick})
    if os.getppid() != parent_pid:  # orphaned: the parent cannot remove the shared memory any more
        shm.remove(ring_path, counts_path, ctrl_path, *((saved["snap_f_path"], saved["snap_i_path"]) if saved else ()))
    return 0


if __name__ == "__main__":
    try:
        exit_code = main(sys.argv[1], sys.argv[2])
    except Exception:
        traceback.print_exc()
        exit_code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # no interpreter teardown (~0.5 s with Numba loaded): the parent waits for this exit
