"""Test helper: a real-time chain of a joint controller and a serial plant step, built by hand on a Bus.

The chain is what the engine's loop runs (controller, then plant, in RUN order, at absolute
deadlines with rtcore.clock), reduced to the two stages under test so the serial tests do not
depend on other families. Controller: command = target (position mode) or
tau = kp (target - q) - kd qd (torque mode).
"""
import rtcore  # noqa: F401
import numpy as np
from numba import njit

from rtcore import status
from rtcore.bus import DT_S, HOLD, HOLD_NEXT, T_S, TICK, Bus
from rtcore.clock import monotonic_ns, sleep_until_ns
from rtcore.stage import BuildContext
from devices.serial.dynamixel_arm import dynamixel_arm_step
from devices.serial.framed_arm import framed_arm_step

FRAMED, DYNAMIXEL = 0, 1


@njit(cache=True, nogil=True)
def run_chain(kind, f, s, i, bus, cmd_off, state_off, n, targets, kp, kd, torque_mode,
              period_ns, codes, first_tick):
    """Run targets.shape[0] ticks; codes[k] = the plant's status. Returns ticks run (stops at FATAL)."""
    ts = np.zeros(2, np.int64)
    deadline = monotonic_ns(ts)
    for k in range(targets.shape[0]):
        sleep_until_ns(deadline, 20_000, ts)
        tick = first_tick + k
        bus[HOLD] = bus[HOLD_NEXT]  # hold is a level rebuilt each tick, as the loop does
        bus[HOLD_NEXT] = 0.0
        bus[TICK] = tick
        bus[T_S] = tick * period_ns * 1e-9
        for j in range(n):
            if torque_mode:
                bus[cmd_off + j] = kp * (targets[k, j] - bus[state_off + j]) - kd * bus[state_off + n + j]
            else:
                bus[cmd_off + j] = targets[k, j]
        if kind == FRAMED:
            code = framed_arm_step(f, s, i, bus)
        else:
            code = dynamixel_arm_step(f, s, i, bus)
        codes[k] = code
        if code >= status.FATAL:
            return k + 1
        deadline += period_ns
        now = monotonic_ns(ts)
        if now > deadline:  # overrun: skip to the next future deadline, as the engine does
            deadline += ((now - deadline) // period_ns + 1) * period_ns
    return targets.shape[0]


class Chain:
    """A built serial plant on its own bus, run in segments by `run(targets)`."""

    def __init__(self, build, cfg, rate_hz=1000.0, kp=0.0, kd=0.0):
        self.ctx = BuildContext(bus=Bus(), dt_s=1.0 / rate_hz, seed=0)
        self.stage = build(cfg, self.ctx)
        self.kind = FRAMED if cfg.kind == "framed_arm" else DYNAMIXEL
        self.bus = self.ctx.bus.array()
        self.bus[DT_S] = self.ctx.dt_s
        self.cmd = self.ctx.bus.get("command")
        self.state = self.ctx.bus.get("state")
        self.device = self.ctx.bus.get("device")
        self.n = self.cmd.width
        self.kp, self.kd = kp, kd
        self.torque_mode = cfg.command_mode == "torque"
        self.period_ns = int(round(1e9 / rate_hz))
        self.ticks = 0
        self.codes = []

    def run(self, targets) -> np.ndarray:
        """Run one tick per row of targets [ticks, n]; returns this segment's status codes."""
        targets = np.ascontiguousarray(targets, dtype=np.float64)
        codes = np.zeros(len(targets), np.int64)
        st = self.stage
        k = run_chain(self.kind, st.f, st.s, st.i, self.bus, self.cmd.offset, self.state.offset, self.n,
                      targets, self.kp, self.kd, self.torque_mode, self.period_ns, codes, self.ticks)
        self.ticks += k
        self.codes.extend(codes[:k].tolist())
        return codes[:k]

    def q(self) -> np.ndarray:
        return self.bus[self.state.offset:self.state.offset + self.n].copy()

    def count(self, code: int) -> int:
        return sum(1 for c in self.codes if c == code)

    def close(self):
        if self.stage.close is not None:
            return self.stage.close()
