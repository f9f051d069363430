"""Compiled safety layer shared by the serial plant drivers: limits, rate limiter, watchdog, hold.

Both drivers (framed_arm, dynamixel_arm) keep the same slots in their stage arrays (layout in
devices.serial.plant_base) and call these kernels each tick:
- `next_command`: the command to send this device period, after HOLD, joint limits and slew.
- `supervise`: engine-side watchdog (no state for watchdog_ms -> HOLD + DEVICE_FAULT), device
  fault latch, RESUMED, hold-position capture, and the bus outputs.
- `port_lost`: the port vanished: HOLD and DEVICE_LOST (fatal: the loop ends cleanly).
"""
import numpy as np
from numba import njit

from rtcore import status
from rtcore.bus import HOLD, TICK, request_hold
from devices.serial import plant_base as L


@njit(cache=True, nogil=True)
def worse(a, b):
    """The status to report when two things happened this tick (fatal > fault > corrupt > ...)."""
    for code in (status.DEVICE_LOST, status.DEVICE_FAULT, status.CORRUPT_FRAME, status.PUSH_FAILED,
                 status.LIMIT_CLIPPED, status.RESUMED):
        if a == code or b == code:
            return code
    return status.OK


@njit(cache=True, nogil=True)
def next_command(f, s, i, bus, out):
    """Limit the bus command (or the hold value under HOLD) into out[:n]; returns 1 if clipped.

    position mode (rad): goal = last + clip(clip(u, q_min, q_max) - last, -step, step),
        step = min(v_max, rate_max) * period_s   (a slew limit: the joint velocity limit)
    torque mode (Nm): tau = last + clip(clip(u, -tau_max, tau_max) - last, -rate_max period_s, ...),
        then 0 if it pushes past a position limit or speeds up a joint already over v_max.
    Under HOLD the target is the position captured at hold onset (position) or 0 Nm (torque).
    A non-finite command holds the last one."""
    n = i[L.I_N]
    period = f[L.F_PERIOD_S]
    rate = f[L.F_RATE_MAX]
    qmin, qmax = f[L.F_LIMITS:L.F_LIMITS + n], f[L.F_LIMITS + n:L.F_LIMITS + 2 * n]
    vmax, taumax = f[L.F_LIMITS + 2 * n:L.F_LIMITS + 3 * n], f[L.F_LIMITS + 3 * n:L.F_LIMITS + 4 * n]
    q, qd = s[L.S_Q * n:L.S_Q * n + n], s[L.S_QD * n:L.S_QD * n + n]
    last, hold_q = s[L.S_LAST * n:L.S_LAST * n + n], s[L.S_HOLD * n:L.S_HOLD * n + n]
    hold = bus[HOLD] != 0.0
    position = i[L.I_MODE] == L.MODE_POSITION
    clipped = 0
    for j in range(n):
        if hold:
            u = hold_q[j] if position else 0.0
        else:
            u = bus[i[L.I_CMD_OFF] + j]
            if not np.isfinite(u):
                u = last[j]
        if position:
            lim = min(max(u, qmin[j]), qmax[j])
            step = min(vmax[j], rate) * period
        else:
            lim = min(max(u, -taumax[j]), taumax[j])
            step = rate * period
        v = last[j] + min(max(lim - last[j], -step), step)
        if not position and ((q[j] >= qmax[j] and v > 0.0) or (q[j] <= qmin[j] and v < 0.0)
                             or (abs(qd[j]) > vmax[j] and v * qd[j] > 0.0)):
            v = 0.0
        if abs(v - u) > 1e-12 and not hold:
            clipped = 1
        out[j] = v
        last[j] = v
    return clipped


@njit(cache=True, nogil=True)
def supervise(s, i, bus, now_ns, device_fault, latch_stale):
    """Watchdog and fault latch after this tick's receive; writes state/torque/device signals.

    faulted: 0 ok, 1 stale (no state for watchdog_ms; clears when states return unless
    latch_stale), 2 the device reported a fault (latched until the session ends).
    Returns DEVICE_FAULT on entering a fault, RESUMED on leaving a stale fault, else OK."""
    n = i[L.I_N]
    code = status.OK
    if i[L.I_LAST_STATE_NS] == 0:
        i[L.I_LAST_STATE_NS] = now_ns  # first tick: the watchdog starts now
    stale = now_ns - i[L.I_LAST_STATE_NS] > i[L.I_WD_NS]
    was = i[L.I_FAULTED]
    if device_fault:
        i[L.I_FAULTED] = 2
    elif stale and was == 0:
        i[L.I_FAULTED] = 2 if latch_stale else 1
    elif not stale and was == 1:
        i[L.I_FAULTED] = 0
    if i[L.I_FAULTED] != 0:
        request_hold(bus)
    if was == 0 and i[L.I_FAULTED] != 0:
        code = status.DEVICE_FAULT
    elif was == 1 and i[L.I_FAULTED] == 0:
        code = status.RESUMED
    hold = bus[HOLD] != 0.0
    q = s[L.S_Q * n:L.S_Q * n + n]
    if hold and i[L.I_PREV_HOLD] == 0:
        s[L.S_HOLD * n:L.S_HOLD * n + n] = q
    i[L.I_PREV_HOLD] = 1 if hold else 0
    x = i[L.I_STATE_OFF]
    for j in range(n):
        bus[x + j] = q[j]
        bus[x + n + j] = s[L.S_QD * n + j]
        bus[i[L.I_TORQUE_OFF] + j] = s[L.S_TAU * n + j]
    d = i[L.I_DEVICE_OFF]
    bus[d] = i[L.I_DEV_FLAGS]
    bus[d + 1] = i[L.I_FAULTED]
    bus[d + 2] = i[L.I_CORRUPT]
    bus[d + 3] = (now_ns - i[L.I_LAST_STATE_NS]) * 1e-6
    return code


@njit(cache=True, nogil=True)
def port_lost(i, bus):
    """The port is gone (EOF/EIO): hold and end the session with DEVICE_LOST."""
    request_hold(bus)
    i[L.I_FAULTED] = 2
    bus[i[L.I_DEVICE_OFF] + 1] = 3.0
    return status.DEVICE_LOST


@njit(cache=True, nogil=True)
def io_due(i, bus, now_ns):
    """True on device-period ticks when no reply is pending (or the pending one timed out)."""
    if int(bus[TICK]) % i[L.I_TICKS_PER_IO] != 0:
        return False
    if i[L.I_WAITING] != 0 and now_ns - i[L.I_SENT_NS] < i[L.I_REPLY_NS]:
        return False
    if i[L.I_WAITING] != 0:
        i[L.I_MISSED] += 1
    return True
