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
from rtcore.control.joint_limits import breach, wall_window
from rtcore.layout import seg
from devices.serial.plant_base import F, I, MODE_POSITION, R_DEVICE, R_NONE, R_PORT_LOST, R_STALE, R_VELOCITY


@njit(cache=True, nogil=True)
def worse(a, b):
    """The status to report when two things happened this tick (fatal > fault > corrupt > ...)."""
    for code in (status.DEVICE_LOST, status.DEVICE_FAULT, status.CORRUPT_FRAME, status.PUSH_FAILED,
                 status.LIMIT_CLIPPED, status.RESUMED):
        if a == code or b == code:
            return code
    return status.OK


@njit(cache=True, nogil=True)
def torque_bounds(f, i, j, q, qd):
    """(lo, hi) Nm: the torque window that keeps joint j inside its position and velocity limits
    (rtcore.control.joint_limits.wall_window with this plant's wall and limits). q, qd: the
    joint's state predicted to when the command takes effect (next_command)."""
    return wall_window(q, qd, f[i[I.f_q_min] + j], f[i[I.f_q_max] + j], f[i[I.f_v_max] + j], f[F.wall_k], f[F.wall_b])


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
    n = i[I.n]
    period = f[F.period_s]
    rate = f[F.rate_max]
    qmin, qmax = seg(f, i, I.f_q_min, n), seg(f, i, I.f_q_max, n)
    vmax, taumax = seg(f, i, I.f_v_max, n), seg(f, i, I.f_tau_max, n)
    q, qd = seg(s, i, I.s_q, n), seg(s, i, I.s_qd, n)
    last, hold_q = seg(s, i, I.s_last, n), seg(s, i, I.s_hold, n)
    qd_prev = seg(s, i, I.s_qd_prev, n)
    hold = bus[HOLD] != 0.0
    position = i[I.mode] == MODE_POSITION
    clipped = 0
    for j in range(n):
        qd_p = qd[j] + 2.0 * (qd[j] - qd_prev[j])  # qd + a 2T
        q_p = q[j] + 2.0 * qd[j] * period
        qd_prev[j] = qd[j]
        if hold and position:
            u = hold_q[j]
        elif hold:
            goal = min(max(hold_q[j], qmin[j]), qmax[j])
            u = f[F.wall_k] * (goal - q_p) - f[F.wall_b] * qd_p
        else:
            u = bus[i[I.cmd_off] + j]
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
            lo, hi = torque_bounds(f, i, j, q_p, qd_p)
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
    n = i[I.n]
    for j in range(n):
        q, qd = s[i[I.s_q] + j], s[i[I.s_qd] + j]
        reason = breach(q, qd, f[i[I.f_q_min] + j], f[i[I.f_q_max] + j], f[i[I.f_v_max] + j], f[F.tol_q], f[F.tol_v])
        if reason != R_NONE:
            return reason, j, qd if reason == R_VELOCITY else q
    return R_NONE, -1, 0.0


@njit(cache=True, nogil=True)
def latch(i, bus, reason, joint, value):
    """Latch a fault (I_FAULTED = 2) and remember why and when (the first reason wins)."""
    i[I.faulted] = 2
    if i[I.fault_reason] == R_NONE:
        i[I.fault_reason] = reason
        i[I.fault_joint] = joint
        i[I.fault_tick] = int(bus[TICK])
        i[I.fault_value] = int(round(value * 1e6))


@njit(cache=True, nogil=True)
def supervise(f, s, i, bus, now_ns, device_fault, latch_stale):
    """Watchdog, limit check and fault latch after this tick's receive; writes state/torque/device signals.

    faulted: 0 ok, 1 stale (no state for watchdog_ms; clears when states return unless
    latch_stale), 2 latched until the session ends: the device reported a fault, or a joint left
    its limits by more than the tolerance (limit_breach).
    Returns DEVICE_FAULT on entering a fault, RESUMED on leaving a stale fault, else OK."""
    n = i[I.n]
    code = status.OK
    if i[I.last_state_ns] == 0:
        i[I.last_state_ns] = now_ns  # first tick: the watchdog starts now
    stale = now_ns - i[I.last_state_ns] > i[I.wd_ns]
    was = i[I.faulted]
    reason, joint, value = limit_breach(f, s, i)
    if device_fault:
        latch(i, bus, R_DEVICE, -1, float(i[I.dev_flags]))
    elif reason != R_NONE:
        latch(i, bus, reason, joint, value)
    elif stale and was == 0:
        if latch_stale:
            latch(i, bus, R_STALE, -1, 0.0)
        else:
            i[I.faulted] = 1
    elif not stale and was == 1:
        i[I.faulted] = 0
    if i[I.faulted] != 0:
        request_hold(bus)
    if was == 0 and i[I.faulted] != 0:
        code = status.DEVICE_FAULT
    elif was == 1 and i[I.faulted] == 0:
        code = status.RESUMED
    hold = bus[HOLD] != 0.0
    q = seg(s, i, I.s_q, n)
    if hold and i[I.prev_hold] == 0:
        seg(s, i, I.s_hold, n)[:] = q
    i[I.prev_hold] = 1 if hold else 0
    x = i[I.state_off]
    for j in range(n):
        bus[x + j] = q[j]
        bus[x + n + j] = s[i[I.s_qd] + j]
        bus[i[I.torque_off] + j] = s[i[I.s_tau] + j]
    d = i[I.device_off]
    bus[d] = i[I.dev_flags]
    bus[d + 1] = i[I.faulted]
    bus[d + 2] = i[I.corrupt]
    bus[d + 3] = (now_ns - i[I.last_state_ns]) * 1e-6
    return code


@njit(cache=True, nogil=True)
def port_lost(i, bus):
    """The port is gone (EOF/EIO): hold and end the session with DEVICE_LOST."""
    request_hold(bus)
    latch(i, bus, R_PORT_LOST, -1, 0.0)
    bus[i[I.device_off] + 1] = 3.0
    return status.DEVICE_LOST


@njit(cache=True, nogil=True)
def io_due(i, bus, now_ns):
    """True on device-period ticks when no reply is pending (or the pending one timed out)."""
    if int(bus[TICK]) % i[I.ticks_per_io] != 0:
        return False
    if i[I.waiting] != 0 and now_ns - i[I.sent_ns] < i[I.reply_ns]:
        return False
    if i[I.waiting] != 0:
        i[I.missed] += 1
    return True
