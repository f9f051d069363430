"""The fixed-rate compiled loop: every stage once per tick, at absolute deadlines.

One @njit(nogil=True) function owns the whole session: it sleeps to each deadline
(clock_nanosleep TIMER_ABSTIME, then a short spin), runs the chain, measures wake latency
(actual - deadline) and compute time, writes one row per tick into the shared-memory ring and
updates the control block the supervising parent watches. On overrun it counts the missed
deadlines and skips to the next future one: it never bursts to catch up. A stage may move the
schedule's phase (bus TICK_SHIFT_S, e.g. the LSL inlet locking ticks to sample arrival); the
loop applies at most a quarter period per tick, so the rate stays nominal on average.

Time stamps. Each tick carries one stamp (bus STAMP_S and the ring's `stamp_s` column): in real
time the tick's wake time on CLOCK_MONOTONIC, in seconds, which is LSL's clock (liblsl's
lsl_local_clock is std::chrono::steady_clock, i.e. CLOCK_MONOTONIC on Linux; rtcore.clock
measures the two against each other for the recording's header); offline, simulated time
T0 + tick / rate. Outlets push with this stamp and session.xdf records it, so the two agree.

The ring. Real time: when the parent has not drained the ring and it is full, the row is
dropped and counted (CTRL_RING_DROPPED): the loop never waits on the parent. Offline: the loop
waits for the parent to drain (backpressure, counted in CTRL_RING_WAITS), so no row is lost.

Snapshots. When the parent writes a new request number into CTRL_SNAP_REQ, the loop copies the
learned state (the chain's S and I slices listed in a snapshot plan, rtcore.checkpoint) into the
snapshot buffers between two ticks, then publishes the request number in CTRL_SNAP_DONE: a
checkpoint never holds weights torn mid-update. The copy counts in that tick's compute time.

Python calls the loop through `run(chain, ring, ctrl, schedule, bus=..., counts=..., rec_idx=...,
snapshot=...)`, which checks its inputs and makes the one compiled call.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from rtcore import status
from rtcore.bus import DT_S, HEADER, HOLD, HOLD_NEXT, MARKER, PAUSE, SKIP_BLOCK, STAMP_S, T_S, TICK, TICK_SHIFT_S
from rtcore.clock import monotonic_ns, sleep_until_ns
from rtcore.dispatch import stage_step

# Control block slots (int64), shared with the parent.
CTRL_STOP = 0  #: parent -> loop: 1 = stop at the end of this tick
CTRL_STATE = 1  #: child lifecycle, one of STATE_*
CTRL_TICKS = 2  #: ticks completed (the heartbeat)
CTRL_MISSES = 3  #: deadlines missed
CTRL_EXIT = 4  #: exit status code (rtcore.status) once the loop has ended
CTRL_EXIT_STAGE = 5  #: index of the stage that ended the loop, -1 if none
CTRL_T0_NS = 6  #: CLOCK_MONOTONIC of the first deadline, ns
CTRL_LAST_NS = 7  #: CLOCK_MONOTONIC at the end of the latest tick, ns
CTRL_RING_WRITTEN = 8  #: rows the loop has offered to the ring
CTRL_RING_READ = 9  #: rows the parent has consumed (written by the parent)
CTRL_RING_DROPPED = 10  #: rows dropped because the ring was full (real time only; status RING_OVERFLOW)
CTRL_HOLD_TICKS = 11  #: ticks spent in safe hold
CTRL_RING_WAITS = 12  #: offline: times the loop waited for the parent to drain a full ring
CTRL_SNAP_REQ = 13  #: parent -> loop: snapshot request number (a new value asks for a copy of the learned state)
CTRL_SNAP_DONE = 14  #: loop -> parent: the request number whose snapshot is complete
CTRL_SNAP_TICK = 15  #: ticks completed when that snapshot was taken
CTRL_PAUSE = 16  #: parent -> task: 1 = the operator paused the task (the loop runs, the arm holds the centre)
CTRL_NEXT_BLOCK = 17  #: parent -> task: operator requests to skip to the next block (a count)
CTRL_SIZE = 24

STATE_READY = 1
STATE_RUNNING = 2
STATE_DONE = 3
STATE_FAILED = 4

#: Columns the loop writes before the recorded bus signals in every ring row. stamp_s: the
#: tick's time stamp (real time: wake time on the LSL clock; offline: simulated), s.
TIMING_COLUMNS = ("tick", "t_s", "wake_latency_us", "compute_us", "stamp_s")
N_TIMING = len(TIMING_COLUMNS)
COL_TICK, COL_T_S, COL_WAKE_US, COL_COMPUTE_US, COL_STAMP_S = range(N_TIMING)

#: First deadline this long after the loop starts, s: time to enter the first sleep, so the
#: first tick is not already late.
START_DELAY_S = 0.002
#: Offline backpressure: sleep this long between looks at a full ring, ns.
RING_WAIT_NS = 50_000

# The compiled loop's schedule array (int64), filled by Schedule.array().
SCHED_MAX_TICKS, SCHED_REALTIME, SCHED_PERIOD_NS, SCHED_SPIN_NS, SCHED_START_DELAY_NS, SCHED_LEN = range(6)


@dataclass(frozen=True)
class Schedule:
    """When the loop ticks and when it ends.

    rate_hz: tick rate, Hz. realtime: sleep to absolute deadlines (False: offline, as fast as
    possible, stamps are simulated time). max_ticks: end after this many ticks (None: until a
    fatal status or CTRL_STOP). spin_us: busy-wait before each deadline, us (real time).
    start_delay_s: the first deadline this long after the start, s (real time).
    drained: a parent drains the ring while the loop runs (the supervised child); otherwise the
    ring must hold every tick, as nobody empties it.
    """

    rate_hz: float
    realtime: bool
    max_ticks: int | None = None
    spin_us: float = 0.0
    start_delay_s: float = START_DELAY_S
    drained: bool = False

    @classmethod
    def from_config(cls, cfg, max_ticks: int | None = None, drained: bool = False) -> "Schedule":
        """The schedule of a SessionConfig: its rate, mode and spin; max_ticks defaults to session.duration_s."""
        if max_ticks is None and cfg.session.duration_s is not None:
            max_ticks = int(round(cfg.session.duration_s * cfg.loop.rate_hz))
        return cls(cfg.loop.rate_hz, cfg.loop.realtime, max_ticks, cfg.loop.spin_us if cfg.loop.realtime else 0.0,
                   START_DELAY_S if cfg.loop.realtime else 0.0, drained)

    @property
    def period_ns(self) -> int:
        return int(round(1e9 / self.rate_hz))

    def array(self) -> np.ndarray:
        a = np.zeros(SCHED_LEN, np.int64)
        a[SCHED_MAX_TICKS] = -1 if self.max_ticks is None else self.max_ticks
        a[SCHED_REALTIME] = int(self.realtime)
        a[SCHED_PERIOD_NS] = self.period_ns
        a[SCHED_SPIN_NS] = int(round(self.spin_us * 1e3))
        a[SCHED_START_DELAY_NS] = int(round(self.start_delay_s * 1e9))
        return a


def run(chain, ring: np.ndarray, ctrl: np.ndarray, schedule: Schedule, *, bus: np.ndarray, counts: np.ndarray,
        rec_idx: np.ndarray | None = None, snapshot=None) -> int:
    """Run the packed chain (rtcore.stage.Chain) on bus under schedule; returns the exit status code.

    ring: float64[rows, N_TIMING + rec_idx.size], one row per tick. ctrl: int64[CTRL_SIZE], the
    control block. counts: int64[n_stages, status.N_CODES]. rec_idx: int64 bus indices recorded
    per tick (None: none). snapshot: (plan int64[m, 4], float buffer, int buffer) of
    rtcore.checkpoint.Snapshot (None: no snapshots). Raises ValueError when an input does not fit the others.
    """
    rec_idx = np.zeros(0, np.int64) if rec_idx is None else rec_idx
    plan, snap_f, snap_i = snapshot if snapshot is not None else NO_SNAPSHOT
    n_stages = chain.kinds.size
    if not 0 < schedule.rate_hz <= 1e6:
        raise ValueError(f"loop: rate {schedule.rate_hz} Hz is outside (0, 1e6]")
    if schedule.max_ticks is not None and schedule.max_ticks < 0:
        raise ValueError(f"loop: max_ticks {schedule.max_ticks} < 0 (use None for no limit)")
    if schedule.spin_us < 0 or schedule.start_delay_s < 0:
        raise ValueError("loop: spin_us and start_delay_s must be >= 0")
    _check(bus, np.float64, 1, "bus")
    _check(counts, np.int64, 2, "counts")
    _check(rec_idx, np.int64, 1, "rec_idx")
    _check(ring, np.float64, 2, "ring")
    _check(ctrl, np.int64, 1, "ctrl")
    if bus.size < HEADER:
        raise ValueError(f"loop: bus has {bus.size} slots, fewer than its {HEADER}-slot header")
    if not np.isclose(bus[DT_S], 1.0 / schedule.rate_hz, rtol=1e-9, atol=0.0):
        raise ValueError(f"loop: bus dt {bus[DT_S]} s does not match the schedule's {schedule.rate_hz} Hz")
    if counts.shape != (n_stages, status.N_CODES):
        raise ValueError(f"loop: counts is {counts.shape}, expected ({n_stages}, {status.N_CODES})")
    if rec_idx.size and (rec_idx.min() < 0 or rec_idx.max() >= bus.size):
        raise ValueError(f"loop: rec_idx outside the bus (0..{bus.size - 1})")
    if ring.shape[1] != N_TIMING + rec_idx.size or ring.shape[0] < 1:
        raise ValueError(f"loop: ring is {ring.shape}, expected (>=1, {N_TIMING + rec_idx.size})")
    if ctrl.size != CTRL_SIZE:
        raise ValueError(f"loop: ctrl has {ctrl.size} slots, expected {CTRL_SIZE}")
    if not schedule.drained and (schedule.max_ticks is None or schedule.max_ticks > ring.shape[0]):
        raise ValueError(f"loop: nobody drains the ring, so it must hold every tick: {ring.shape[0]} rows "
                         f"for max_ticks {schedule.max_ticks}")
    _check(plan, np.int64, 2, "snapshot plan")
    _check(snap_f, np.float64, 1, "snapshot float buffer")
    _check(snap_i, np.int64, 1, "snapshot int buffer")
    return _loop(chain.kinds, chain.foff, chain.soff, chain.ioff, chain.F, chain.S, chain.I, bus, counts, rec_idx,
                 ring, ctrl, schedule.array(), plan, snap_f, snap_i)


def _check(a, dtype, ndim: int, name: str) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim or not a.flags.c_contiguous:
        got = f"{a.dtype}[{a.ndim}-d]" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"loop: {name} must be a C-contiguous {np.dtype(dtype).name} array of {ndim} dimension(s), "
                         f"got {got}")


#: No snapshots: an empty plan and buffers (rtcore.checkpoint.Snapshot has the same three arrays).
NO_SNAPSHOT = (np.zeros((0, 4), np.int64), np.zeros(0), np.zeros(0, np.int64))


def precompile() -> None:
    """Compile (or load from the cache) the loop on an empty chain, without running a tick."""
    z, zi = np.zeros(1), np.zeros(1, np.int64)
    sched = Schedule(1000.0, False, 0).array()
    _loop(np.zeros(0, np.int64), zi, zi, zi, z, z, zi, np.zeros(HEADER), np.zeros((0, status.N_CODES), np.int64),
          np.zeros(0, np.int64), np.zeros((1, N_TIMING)), np.zeros(CTRL_SIZE, np.int64), sched, *NO_SNAPSHOT)


@njit(cache=True, nogil=True)
def copy_snapshot(F, S, I, plan, snap_f, snap_i):
    """Copy the planned slices of the chain's F, S and I into the snapshot buffers.

    plan: int64[m, 4] rows (array 0 = S / 1 = I / 2 = F, start in it, length, start in the buffer of its
    type: snap_i for I, snap_f for S and F)."""
    for r in range(plan.shape[0]):
        src, start, n, dest = plan[r, 0], plan[r, 1], plan[r, 2], plan[r, 3]
        if src == 0:
            for j in range(n):
                snap_f[dest + j] = S[start + j]
        elif src == 2:
            for j in range(n):
                snap_f[dest + j] = F[start + j]
        else:
            for j in range(n):
                snap_i[dest + j] = I[start + j]


@njit(cache=True, nogil=True)
def begin_tick(bus, tick, stamp_s):
    """Open tick `tick` on the bus before the chain runs: its clock (tick, t = tick dt s), its
    time stamp stamp_s (s), a cleared marker and phase shift, and hold = what a stage requested
    last tick (rtcore.bus.request_hold)."""
    bus[TICK] = tick
    bus[T_S] = tick * bus[DT_S]
    bus[STAMP_S] = stamp_s
    bus[MARKER] = 0.0
    bus[HOLD] = bus[HOLD_NEXT]
    bus[HOLD_NEXT] = 0.0
    bus[TICK_SHIFT_S] = 0.0


@njit(cache=True, nogil=True)
def run_chain(kinds, foff, soff, ioff, F, S, I, bus, counts):
    """Run every stage once; returns (status, stage index) of a fatal code, or (0, -1)."""
    for k in range(kinds.size):
        code = stage_step(kinds[k], F[foff[k]:foff[k + 1]], S[soff[k]:soff[k + 1]],
                          I[ioff[k]:ioff[k + 1]], bus)
        if code != status.OK:
            if code < status.N_CODES:
                counts[k, code] += 1
            if code >= status.FATAL:
                return code, k
    return status.OK, -1


@njit(cache=True, nogil=True)
def _loop(kinds, foff, soff, ioff, F, S, I, bus, counts, rec_idx, ring, ctrl, sched, plan, snap_f, snap_i):
    """Run the session until sched's max_ticks (< 0: no limit), a fatal status, or CTRL_STOP.

    kinds/foff/soff/ioff/F/S/I: the packed chain (rtcore.stage.pack). bus: float64[n].
    counts: int64[n_stages, N_CODES]. rec_idx: int64[n_rec] bus indices recorded per tick.
    ring: float64[cap, N_TIMING + n_rec]. ctrl: int64[CTRL_SIZE]. sched: int64[SCHED_LEN].
    plan, snap_f, snap_i: the snapshot plan and buffers (copy_snapshot). Returns the exit status code.
    """
    ts = np.zeros(2, np.int64)  # timespec scratch, allocated once per session
    max_ticks = sched[SCHED_MAX_TICKS]
    realtime = sched[SCHED_REALTIME] != 0
    period_ns = sched[SCHED_PERIOD_NS]
    spin_ns = sched[SCHED_SPIN_NS]
    cap = ring.shape[0]
    n_rec = rec_idx.size
    dt_s = bus[DT_S]
    deadline = monotonic_ns(ts) + sched[SCHED_START_DELAY_NS]
    ctrl[CTRL_T0_NS] = deadline
    t0_s = deadline * 1e-9
    ctrl[CTRL_STATE] = STATE_RUNNING
    code = status.OK
    stage = -1
    tick = 0
    while max_ticks < 0 or tick < max_ticks:
        if realtime:
            wake = sleep_until_ns(deadline, spin_ns, ts)
            latency = wake - deadline
            stamp = wake * 1e-9
        else:
            wake = monotonic_ns(ts)
            latency = 0
            stamp = t0_s + tick * dt_s
        begin_tick(bus, tick, stamp)
        bus[PAUSE] = ctrl[CTRL_PAUSE]
        bus[SKIP_BLOCK] = ctrl[CTRL_NEXT_BLOCK]
        code, stage = run_chain(kinds, foff, soff, ioff, F, S, I, bus, counts)
        req = ctrl[CTRL_SNAP_REQ]
        if req != ctrl[CTRL_SNAP_DONE]:  # between ticks: no stage is mid-update
            copy_snapshot(F, S, I, plan, snap_f, snap_i)
            ctrl[CTRL_SNAP_TICK] = tick + 1
            ctrl[CTRL_SNAP_DONE] = req
        end = monotonic_ns(ts)
        # one row per tick; the parent drains the ring. Offline the loop waits for room (a stop
        # request ends the wait: the parent is gone); in real time a full ring drops and counts.
        written = ctrl[CTRL_RING_WRITTEN]
        while not realtime and written - ctrl[CTRL_RING_READ] >= cap and ctrl[CTRL_STOP] == 0:
            ctrl[CTRL_RING_WAITS] += 1
            sleep_until_ns(monotonic_ns(ts) + RING_WAIT_NS, 0, ts)
        if written - ctrl[CTRL_RING_READ] < cap:
            row = ring[written % cap]
            row[COL_TICK] = tick
            row[COL_T_S] = bus[T_S]
            row[COL_WAKE_US] = latency * 1e-3
            row[COL_COMPUTE_US] = (end - wake) * 1e-3
            row[COL_STAMP_S] = stamp
            for j in range(n_rec):
                row[N_TIMING + j] = bus[rec_idx[j]]
            ctrl[CTRL_RING_WRITTEN] = written + 1
        else:
            ctrl[CTRL_RING_DROPPED] += 1
        if bus[HOLD] != 0.0:
            ctrl[CTRL_HOLD_TICKS] += 1
        tick += 1
        ctrl[CTRL_TICKS] = tick
        ctrl[CTRL_LAST_NS] = end
        if code >= status.FATAL:
            break
        if ctrl[CTRL_STOP] != 0:
            code = status.STOPPED
            break
        if tick == max_ticks:  # no next deadline: none can be missed
            break
        if realtime:
            shift = int(bus[TICK_SHIFT_S] * 1e9)
            deadline += period_ns + max(-period_ns // 4, min(period_ns // 4, shift))
            if end > deadline:
                missed = (end - deadline) // period_ns + 1
                ctrl[CTRL_MISSES] += missed
                deadline += missed * period_ns
    if code < status.FATAL:
        code = status.DURATION
    ctrl[CTRL_EXIT] = code
    ctrl[CTRL_EXIT_STAGE] = stage
    ctrl[CTRL_STATE] = STATE_DONE
    return code
