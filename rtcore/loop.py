"""The fixed-rate compiled loop: every stage once per tick, at absolute deadlines.

One @njit(nogil=True) function owns the whole session: it sleeps to each deadline
(clock_nanosleep TIMER_ABSTIME, then a short spin), runs the chain, measures wake latency
(actual - deadline) and compute time, writes one row per tick into the shared-memory ring and
updates the control block the supervising parent watches. On overrun it counts the missed
deadlines and skips to the next future one: it never bursts to catch up. A stage may move the
schedule's phase (bus TICK_SHIFT_S, e.g. the LSL inlet locking ticks to sample arrival); the
loop applies at most a quarter period per tick, so the rate stays nominal on average.
"""
from numba import njit

from rtcore import bus as B
from rtcore import status
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
CTRL_RING_DROPPED = 10  #: rows dropped because the ring was full
CTRL_HOLD_TICKS = 11  #: ticks spent in safe hold
CTRL_SIZE = 16

STATE_READY = 1
STATE_RUNNING = 2
STATE_DONE = 3
STATE_FAILED = 4

#: Columns the loop writes before the recorded bus signals in every ring row.
TIMING_COLUMNS = ("tick", "t_s", "wake_latency_us", "compute_us")
N_TIMING = len(TIMING_COLUMNS)


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
def run_loop(kinds, foff, soff, ioff, F, S, I, bus, counts, rec_idx, ring, ctrl,
             max_ticks, realtime, period_ns, spin_ns, start_delay_ns, ts):
    """Run the session until max_ticks (< 0: no limit), a fatal status, or CTRL_STOP.

    kinds/foff/soff/ioff/F/S/I: the packed chain (rtcore.stage.pack). bus: float64[n].
    counts: int64[n_stages, N_CODES]. rec_idx: int64[n_rec] bus indices recorded per tick.
    ring: float64[cap, N_TIMING + n_rec]. ctrl: int64[CTRL_SIZE]. ts: int64[2] scratch.
    Returns the exit status code.
    """
    cap = ring.shape[0]
    n_rec = rec_idx.size
    dt_s = bus[B.DT_S]
    deadline = monotonic_ns(ts) + start_delay_ns
    ctrl[CTRL_T0_NS] = deadline
    ctrl[CTRL_STATE] = STATE_RUNNING
    code = status.OK
    stage = -1
    tick = 0
    while max_ticks < 0 or tick < max_ticks:
        if realtime:
            wake = sleep_until_ns(deadline, spin_ns, ts)
            latency = wake - deadline
        else:
            wake = monotonic_ns(ts)
            latency = 0
        bus[B.TICK] = tick
        bus[B.T_S] = tick * dt_s
        bus[B.MARKER] = 0.0
        bus[B.HOLD] = bus[B.HOLD_NEXT]
        bus[B.HOLD_NEXT] = 0.0
        bus[B.TICK_SHIFT_S] = 0.0
        code, stage = run_chain(kinds, foff, soff, ioff, F, S, I, bus, counts)
        end = monotonic_ns(ts)
        # one row per tick; the parent drains the ring, and a full ring drops (and counts) rows
        written = ctrl[CTRL_RING_WRITTEN]
        if written - ctrl[CTRL_RING_READ] < cap:
            row = ring[written % cap]
            row[0] = tick
            row[1] = bus[B.T_S]
            row[2] = latency * 1e-3
            row[3] = (end - wake) * 1e-3
            for j in range(n_rec):
                row[N_TIMING + j] = bus[rec_idx[j]]
            ctrl[CTRL_RING_WRITTEN] = written + 1
        else:
            ctrl[CTRL_RING_DROPPED] += 1
        if bus[B.HOLD] != 0.0:
            ctrl[CTRL_HOLD_TICKS] += 1
        tick += 1
        ctrl[CTRL_TICKS] = tick
        ctrl[CTRL_LAST_NS] = end
        if code >= status.FATAL:
            break
        if ctrl[CTRL_STOP] != 0:
            code = status.STOPPED
            break
        if realtime:
            shift = int(bus[B.TICK_SHIFT_S] * 1e9)
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
