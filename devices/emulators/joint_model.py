"""Joint dynamics of the emulated arms: a position servo or a torque-driven inertia per joint.

position mode: dq/dt = clip((goal - q) / tau_s, -v_max, v_max)       (first-order servo)
torque mode:   I d2q/dt2 = tau - b dq/dt                              (semi-implicit Euler, 1 ms)
disabled:      dq/dt = 0, tau = 0 (the gearbox holds the joint)
The torque reported in position mode is the one the servo needs: tau = I d2q/dt2 + b dq/dt.
The emulators advance by the wall time since their last tick, at most MAX_STEP_S: an emulator
thread starved by a loaded machine slows its physics down rather than integrating one jump
(a real arm is never descheduled).
"""
import numpy as np

MAX_STEP_S = 0.005  #: longest model step of one emulator tick, s


class JointModel:
    """n joints with q (rad), qd (rad/s), tau (Nm) arrays; step(dt_s, ...) advances them."""

    def __init__(self, n: int, tau_s: float = 0.05, inertia_kgm2: float = 0.01,
                 damping_nms: float = 0.05, v_max_rad_s: float = 6.0, q0_rad=None):
        self.n = n
        self.tau_s = tau_s
        self.inertia = inertia_kgm2
        self.damping = damping_nms
        self.v_max = v_max_rad_s
        self.q = np.zeros(n) if q0_rad is None else np.array(q0_rad, dtype=float)
        self.qd = np.zeros(n)
        self.tau = np.zeros(n)

    def step(self, dt_s: float, enabled: bool, position_mode: bool, goal: np.ndarray) -> None:
        """Advance by dt_s with goal = positions (rad) in position mode, torques (Nm) otherwise."""
        if dt_s <= 0:
            return
        if not enabled:
            self.qd[:] = 0.0
            self.tau[:] = 0.0
            return
        if position_mode:
            qd_new = np.clip((goal - self.q) / max(self.tau_s, dt_s), -self.v_max, self.v_max)
            qd_new = np.where(np.abs(goal - self.q) < np.abs(qd_new) * dt_s, (goal - self.q) / dt_s, qd_new)
            self.tau[:] = self.inertia * (qd_new - self.qd) / dt_s + self.damping * qd_new
            self.qd[:] = qd_new
            self.q += qd_new * dt_s
            return
        self.tau[:] = goal
        steps = max(1, int(np.ceil(dt_s / 1e-3)))
        h = dt_s / steps
        for _ in range(steps):
            self.qd += h * (goal - self.damping * self.qd) / self.inertia
            self.q += h * self.qd
