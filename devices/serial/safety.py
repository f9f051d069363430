"""Compiled safety layer shared by the serial plant drivers: limits, rate limiter, watchdog, hold.

Both drivers (framed_arm, dynamixel_arm) keep the same slots in their stage arrays (layout in
devices.serial.plant_base) and call these kernels each tick:
- `next_command`: the command to send this device period, after HOLD, joint limits and slew;
  in torque mode a virtual wall and a velocity limit (`torque_bounds`).
- `supervise`: engine-side watchdog (no state for watchdog_ms -> HOLD + DEVICE_FAULT), device
  fault latch, joint limits exceeded beyond their tolerance -> latched fault, RESUMED,
  hold-position capture, and the bus outputs.
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
def torque_bounds(f, n, j, q, qd):
    """(lo, hi) Nm: the torque window that keeps joint j inside its position and velocity limits.

    q, qd: the joint's state predicted to when the command takes effect (next_command). The allowed joint speed towards a limit shrinks with the distance to it,
        v_hi = min(v_max, (q_max - q) / t_w),  v_lo = max(-v_max, (q_min - q) / t_w),  t_w = B / K,
    and the torque may at most drive qd towards that window through the damper B:
        hi = B (v_hi - qd),  lo = B (v_lo - qd).
    Inside the limits and below v_max this leaves a command alone; near v_max it is a viscous
    speed limit; past q_max it is a spring-damper wall, hi = -K (q - q_max) - B qd (Colgate &
    Brown 1994, passive virtual walls)."""
    k, b = f[L.F_WALL_K], f[L.F_WALL_B]
    qmin, qmax, vmax = f[L.F_LIMITS + j], f[L.F_LIMITS + n + j], f[L.F_LIMITS + 2 * n + j]
    tw = b / k
    v_hi = min(vmax, (qmax - q) / tw)
    v_lo = max(-vmax, (qmin - q) / tw)
    return b * (v_lo - qd), b * (v_hi - qd)


@njit(cache=True, nogil=True)
def next_command(f, s, i, bus, out):
    """Limit the bus command (or the hold value under HOLD) into out[:n]; returns 1 if clipped.

    position mode (rad): goal = last + clip(clip(u, q_min, q_max) - last, -step, step),
        step = min(v_max, rate_max) * period_s   (a slew limit: the joint velocity limit)
    torque mode (Nm): tau = last + clip(clip(u, -tau_max, tau_max) - last, -rate_max period_s, ...),
        then clipped into torque_bounds (virtual wall and velocity limit) and +-tau_max again.
    The state is a period old when the command is sent and the command then acts for a period,
    so torque mode bounds the command on the state predicted two periods ahead:
        q_p = q + 2 qd T,  qd_p = qd + 2 a T,  a = (qd - qd at the previous command) / T.
    Under HOLD the target is the position captured at hold onset (position), or in torque mode
    the wall's spring-damper towards that position (clipped into the limits): a safe hold that
    brakes the joint instead of letting it coast. A non-finite command holds the last one."""
    n = i[L.I_N]
    period = f[L.F_PERIOD_S]
    rate = f[L.F_RATE_MAX]
    qmin, qmax = f[L.F_LIMITS:L.F_LIMITS + n], f[L.F_LIMITS + n:L.F_LIMITS + 2 * n]
    vmax, taumax = f[L.F_LIMITS + 2 * n:L.F_LIMITS + 3 * n], f[L.F_LIMITS + 3 * n:L.F_LIMITS + 4 * n]
    q, qd = s[L.S_Q * n:L.S_Q * n + n], s[L.S_QD * n:L.S_QD * n + n]
    last, hold_q = s[L.S_LAST * n:L.S_LAST * n + n], s[L.S_HOLD * n:L.S_HOLD * n + n]
    qd_prev = s[L.S_QD_PREV * n:L.S_QD_PREV * n + n]
    hold = bus[HOLD] != 0.0
    position = i[L.I_MODE] == L.MODE_POSITION
    clipped = 0
    for j in range(n):
        qd_p = qd[j] + 2.0 * (qd[j] - qd_prev[j])  # qd + a 2T
        q_p = q[j] + 2.0 * qd[j] * period
        qd_prev[j] = qd[j]
        if hold and position:
            u = hold_q[j]
        elif hold:
            goal = min(max(hold_q[j], qmin[j]), qmax[j])
            u = f[L.F_WALL_K] * (goal - q_p) - f[L.F_WALL_B] * qd_p
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
        if not position:
            lo, hi = torque_bounds(f, n, j, q_p, qd_p)
            v = min(max(min(max(v, lo), hi), -taumax[j]), taumax[j])
        if abs(v - u) > 1e-12 and not hold:
            clipped = 1
        out[j] = v
        last[j] = v
    return clipped


@njit(cache=True, nogil=True)
def limit_breach(f, s, i):
    """(reason, joint, value) of the first joint past a position limit by more than position
    tolerance or past v_max by more than the velocity tolerance; (R_NONE, -1, 0) if none."""
    n = i[L.I_N]
    for j in range(n):
        q, qd = s[L.S_Q * n + j], s[L.S_QD * n + j]
        if q > f[L.F_LIMITS + n + j] + f[L.F_TOL_Q]:
            return L.R_POSITION_MAX, j, q
        if q < f[L.F_LIMITS + j] - f[L.F_TOL_Q]:
            return L.R_POSITION_MIN, j, q
        if abs(qd) > f[L.F_LIMITS + 2 * n + j] + f[L.F_TOL_V]:
            return L.R_VELOCITY, j, qd
    return L.R_NONE, -1, 0.0


@njit(cache=True, nogil=True)
def latch(i, bus, reason, joint, value):
    """Latch a fault (I_FAULTED = 2) and remember why and when (the first reason wins)."""
    i[L.I_FAULTED] = 2
    if i[L.I_FAULT_REASON] == L.R_NONE:
        i[L.I_FAULT_REASON] = reason
        i[L.I_FAULT_JOINT] = joint
        i[L.I_FAULT_TICK] = int(bus[TICK])
        i[L.I_FAULT_VALUE] = int(round(value * 1e6))


@njit(cache=True, nogil=True)
def supervise(f, s, i, bus, now_ns, device_fault, latch_stale):
    """Watchdog, limit check and fault latch after this tick's receive; writes state/torque/device signals.

    faulted: 0 ok, 1 stale (no state for watchdog_ms; clears when states return unless
    latch_stale), 2 latched until the session ends: the device reported a fault, or a joint left
    its limits by more than the tolerance (limit_breach).
    Returns DEVICE_FAULT on entering a fault, RESUMED on leaving a stale fault, else OK."""
    n = i[L.I_N]
    code = status.OK
    if i[L.I_LAST_STATE_NS] == 0:
        i[L.I_LAST_STATE_NS] = now_ns  # first tick: the watchdog starts now
    stale = now_ns - i[L.I_LAST_STATE_NS] > i[L.I_WD_NS]
    was = i[L.I_FAULTED]
    reason, joint, value = limit_breach(f, s, i)
    if device_fault:
        latch(i, bus, L.R_DEVICE, -1, float(i[L.I_DEV_FLAGS]))
    elif reason != L.R_NONE:
        latch(i, bus, reason, joint, value)
    elif stale and was == 0:
        if latch_stale:
            latch(i, bus, L.R_STALE, -1, 0.0)
        else:
            i[L.I_FAULTED] = 1
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
    latch(i, bus, L.R_PORT_LOST, -1, 0.0)
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
