"""Planar two-link arm kinematics, compiled: hand position, Jacobian, hand velocity.

    x = x0 + l1 cos q1 + l2 cos(q1 + q2),   y = y0 + l1 sin q1 + l2 sin(q1 + q2)
    J = [[-l1 s1 - l2 s12, -l2 s12], [l1 c1 + l2 c12, l2 c12]],   v = J qd

q1 shoulder angle from the +x axis, q2 elbow angle relative to the upper arm (rad); lengths in m.
The geometry of the shipped arm is published at build time in ctx.plant.arm (l1_m, l2_m,
shoulder_xy_m), so a controller or forward model can use these without touching MuJoCo.
Standard two-link geometry (e.g. Shadmehr & Mussa-Ivaldi 1994, J Neurosci 14:3208, Appendix).
"""
import math

from numba import njit


@njit(cache=True, nogil=True)
def two_link_hand(q1, q2, l1, l2, x0, y0):
    """Hand position (x, y) in m for joint angles q1, q2 (rad)."""
    return (x0 + l1 * math.cos(q1) + l2 * math.cos(q1 + q2),
            y0 + l1 * math.sin(q1) + l2 * math.sin(q1 + q2))


@njit(cache=True, nogil=True)
def two_link_jacobian(q1, q2, l1, l2, jac):
    """Hand Jacobian d(x, y)/d(q1, q2) into jac [2, 2] (m/rad), row-major."""
    s1, c1 = math.sin(q1), math.cos(q1)
    s12, c12 = math.sin(q1 + q2), math.cos(q1 + q2)
    jac[0, 0] = -l1 * s1 - l2 * s12
    jac[0, 1] = -l2 * s12
    jac[1, 0] = l1 * c1 + l2 * c12
    jac[1, 1] = l2 * c12


@njit(cache=True, nogil=True)
def two_link_hand_velocity(q1, q2, qd1, qd2, l1, l2):
    """Hand velocity (vx, vy) in m/s: v = J(q) qd."""
    s1, c1 = math.sin(q1), math.cos(q1)
    s12, c12 = math.sin(q1 + q2), math.cos(q1 + q2)
    return ((-l1 * s1 - l2 * s12) * qd1 - l2 * s12 * qd2,
            (l1 * c1 + l2 * c12) * qd1 + l2 * c12 * qd2)


@njit(cache=True, nogil=True)
def two_link_joint_torque(q1, q2, fx, fy, l1, l2):
    """Joint torques (N m) that produce hand force (fx, fy) N: tau = J(q)^T F."""
    s1, c1 = math.sin(q1), math.cos(q1)
    s12, c12 = math.sin(q1 + q2), math.cos(q1 + q2)
    return ((-l1 * s1 - l2 * s12) * fx + (l1 * c1 + l2 * c12) * fy,
            -l2 * s12 * fx + l2 * c12 * fy)
