"""Joint position and velocity limits in torque control: the virtual wall and the breach check.

One implementation for every plant that commands joint torques: the serial arms in torque mode
(devices/serial/safety.py) and the MuJoCo plants' motor-driven joints (sims/plants/mujoco_plant.py).

- `wall_window`: the torque window that keeps a joint inside [q_min, q_max] and under v_max. The
  allowed speed towards a limit shrinks with the distance to it,
      v_hi = min(v_max, (q_max - q) / t_w),  v_lo = max(-v_max, (q_min - q) / t_w),  t_w = B / K,
  and the torque may at most drive qd towards that window through the damper B:
      hi = B (v_hi - qd),  lo = B (v_lo - qd).
  Inside the limits and below v_max this leaves a command alone (at rest |tau| <= B v_max); near
  v_max it is a viscous speed limit; past q_max it is a spring-damper wall, hi = -K (q - q_max) - B qd
  (Colgate & Brown 1994, passive virtual walls).
- `breach`: which limit a joint has left by more than its tolerance (BREACH_* codes), the
  condition that latches a fault and the safe hold.
Units: rad, rad/s, N m for hinges (m, m/s, N for slide joints).
"""
from numba import njit

BREACH_NONE, BREACH_POSITION_MAX, BREACH_POSITION_MIN, BREACH_VELOCITY = range(4)  #: why a joint limit latched a fault
BREACH_KEYS = {BREACH_POSITION_MAX: "position_max_rad", BREACH_POSITION_MIN: "position_min_rad",
               BREACH_VELOCITY: "velocity_max_rad_s"}  #: the limit each breach names


@njit(cache=True, nogil=True)
def wall_window(q, qd, q_min, q_max, v_max, k, b):
    """(lo, hi) N m: the torque window of the virtual wall and the velocity limit (module docstring)."""
    tw = b / k
    v_hi = min(v_max, (q_max - q) / tw)
    v_lo = max(-v_max, (q_min - q) / tw)
    return b * (v_lo - qd), b * (v_hi - qd)


@njit(cache=True, nogil=True)
def breach(q, qd, q_min, q_max, v_max, tol_q, tol_v):
    """BREACH_* code: the joint is past a position limit by more than tol_q or past v_max by more than tol_v."""
    if q > q_max + tol_q:
        return BREACH_POSITION_MAX
    if q < q_min - tol_q:
        return BREACH_POSITION_MIN
    if abs(qd) > v_max + tol_v:
        return BREACH_VELOCITY
    return BREACH_NONE


def breach_text(reason: int, joint: str, value: float, limit: float, tol_q: float, tol_v: float) -> str:
    """The breach in words, for the stage report (`latched_fault.reason`)."""
    unit, tol = ("rad/s", tol_v) if reason == BREACH_VELOCITY else ("rad", tol_q)
    return (f"joint {joint} at {value:.3f} {unit}, past {BREACH_KEYS[reason]} = {limit:g} by more than the "
            f"tolerance {tol:g} {unit}")
