"""What the serial plants share: config fields, stage-array layout and bus registration.

A serial plant is a stage with role "plant": it registers `command` [n] (the joint goal, rad,
or joint torque, Nm: `command_mode`) and `state` [2n] = [q (rad)..., qd (rad/s)...] like a
simulated plant, plus `device_torque` [n] (Nm, measured) and `device` [4] = [device flags or
error bits, fault (0 ok, 1 stale, 2 latched fault, 3 port lost), corrupt frames, state age ms].
It talks to the device every `ticks_per_io` ticks (device_rate_hz under the loop rate) and reads
whatever arrived every tick, never blocking.

Stage arrays (n joints): LAYOUT below, shared by both serial arms.
"""
import math
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, model_validator

from rtcore import status
from rtcore.configbase import Strict
from rtcore.control.joint_limits import (BREACH_NONE, BREACH_POSITION_MAX, BREACH_POSITION_MIN, BREACH_VELOCITY,
                                         breach_text)
from rtcore.layout import stage_layout
from rtcore.stage import PlantInfo, Stage

MODE_TORQUE = 0
MODE_POSITION = 1

BYTES = 4096  #: byte region (rx, parser, tx buffers), bytes

#: f: device period (s), command slew limit (rad/s or Nm/s), Nm per A (dynamixel current mode),
#: torque mode's virtual-wall stiffness (Nm/rad) and damping (Nm s/rad; also the velocity limit's),
#: the position (rad) and velocity (rad/s) tolerances past which a limit latches a fault, then per
#: joint the limits. s: measured q, qd, tau, the last command, the position captured at hold onset,
#: scratch, qd at the last command, then the byte region `raw` (BYTES). i: port fd, sizes, bus
#: offsets, command mode, the exchange's state (sequence, reply pending, send and last-state times,
#: ns), fault (0 ok, 1 stale, 2 latched device fault) and why it latched (R_* below, 0 while none),
#: HOLD on the previous tick, counters, parser state, device flags (framed) or the OR of status
#: error bytes (dynamixel), the engine watchdog and reply timeout (ns), the servos that answered
#: this transaction (dynamixel bitmask), the dynamixel bus watchdog (20 ms units), the fault's
#: joint, loop tick and value (rad, rad/s or flags, micro-units), the dynamixel read (1 =
#: FAST_SYNC_READ, 0 = SYNC_READ), a timespec scratch for monotonic_ns and the dynamixel ids.
LAYOUT = stage_layout(
    "serial_plant",
    f="period_s rate_max torque_constant wall_k wall_b tol_q tol_v q_min[n] q_max[n] v_max[n] tau_max[n]",
    s="q[n] qd[n] tau[n] last[n] hold[n] work[n] qd_prev[n] raw[n_raw]",
    i="fd=0 n ticks_per_io cmd_off state_off torque_off device_off mode seq=0 waiting=0 sent_ns=0 "
      "last_state_ns=0 faulted=0 fault_reason=0 prev_hold=0 corrupt=0 parse=0 dev_flags=0 wd_ns reply_ns "
      "states=0 replied=0 missed=0 device_wd=0 fault_joint=0 fault_tick=0 fault_value=0 fast_read=0 n_ids n_raw "
      "ts[2] ids[n_ids]")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT

# --- why a fault latched (I_FAULT_REASON)
R_NONE, R_POSITION_MAX, R_POSITION_MIN, R_VELOCITY = BREACH_NONE, BREACH_POSITION_MAX, BREACH_POSITION_MIN, BREACH_VELOCITY
R_DEVICE, R_STALE, R_PORT_LOST = range(4, 7)


class SerialPlantBase(Strict):
    """Fields every serial plant has (port, rates, watchdog, limits)."""

    port: str = Field(..., description="serial device path (/dev/ttyUSB0, or the pty printed by `rtcore emulate`)")
    baud: int = Field(1_000_000, ge=1200, le=12_000_000, description="line rate, bit/s")
    device_rate_hz: float = Field(200.0, gt=0.0, le=5000.0, description="command/state exchanges per second (<= loop rate)")
    timeout_s: float = Field(0.5, gt=0.0, le=10.0, description="build-time reply timeout (handshake, enable), s")
    watchdog_ms: float = Field(50.0, gt=0.0, le=10_000.0, description="engine side: no state for this long -> HOLD + DEVICE_FAULT, ms")
    command_mode: Literal["position", "torque"] = Field("position", description="command is joint goal (rad) or joint torque (Nm)")
    position_min_rad: float | list[float] = Field(-math.pi, description="lower joint limit(s), rad")
    position_max_rad: float | list[float] = Field(math.pi, description="upper joint limit(s), rad")
    velocity_max_rad_s: PositiveFloat | list[PositiveFloat] = Field(3.0, description="joint speed limit(s), rad/s")
    torque_max_nm: PositiveFloat | list[PositiveFloat] = Field(2.0, description="joint torque limit(s), Nm")
    command_rate_max: float = Field(1e9, gt=0.0, description="command slew limit, rad/s (position) or Nm/s (torque)")
    wall_stiffness_nm_per_rad: float = Field(20.0, gt=0.0, description="torque mode: virtual-wall spring past a position limit, Nm/rad")
    wall_damping_nm_s_per_rad: float = Field(0.7, gt=0.0, description="torque mode: damping B of the virtual wall and the velocity limit, Nm s/rad; at rest |tau| <= B velocity_max_rad_s. Tune to the joint: B ~ 0.35 inertia / device period (the default suits 0.01 kg m^2 at 200 Hz)")
    position_tolerance_rad: float = Field(0.1, gt=0.0, le=1.0, description="a position limit exceeded by more than this latches a fault (safe hold), rad")
    velocity_tolerance_rad_s: float = Field(1.0, gt=0.0, le=100.0, description="velocity_max_rad_s exceeded by more than this latches a fault (safe hold), rad/s")
    joint_names: list[str] | None = Field(None, description="labels of the joints (default j1..jn)")

    @model_validator(mode="after")
    def _limit_lengths(self):
        n = self.n_joints_configured()
        for key in ("position_min_rad", "position_max_rad", "velocity_max_rad_s", "torque_max_nm"):
            v = getattr(self, key)
            if isinstance(v, list) and len(v) != n:
                raise ValueError(f"{key} has {len(v)} values for {n} joints")
        if self.joint_names is not None and len(self.joint_names) != n:
            raise ValueError(f"joint_names has {len(self.joint_names)} names for {n} joints")
        lo, hi = self.limit("position_min_rad"), self.limit("position_max_rad")
        if np.any(lo >= hi):
            raise ValueError("position_min_rad must be below position_max_rad for every joint")
        return self

    def n_joints_configured(self) -> int:
        raise NotImplementedError

    def limit(self, key: str) -> np.ndarray:
        """A limit expanded to one value per joint."""
        v = getattr(self, key)
        n = self.n_joints_configured()
        return np.asarray(v, dtype=float) if isinstance(v, list) else np.full(n, float(v))


def layout(cfg: SerialPlantBase, ctx, where: str, torque_constant: float = 0.0, ids=()):
    """Register the plant's bus signals and allocate f, s, i (fd and device state filled later)."""
    n = cfg.n_joints_configured()
    if cfg.device_rate_hz > ctx.rate_hz:
        raise ValueError(f"{where}.device_rate_hz = {cfg.device_rate_hz:g} is above the loop rate "
                         f"{ctx.rate_hz:g} Hz; set it to at most loop.rate_hz")
    ticks = max(1, int(round(ctx.rate_hz / cfg.device_rate_hz)))
    names = cfg.joint_names or [f"j{k + 1}" for k in range(n)]
    unit = "rad" if cfg.command_mode == "position" else "N*m"
    cmd = ctx.bus.add("command", n, unit, names)
    state = ctx.bus.add("state", 2 * n, ("rad",) * n + ("rad/s",) * n, [f"q_{m}" for m in names] + [f"qd_{m}" for m in names])
    torque = ctx.bus.add("device_torque", n, "N*m", [f"tau_{m}" for m in names])
    device = ctx.bus.add("device", 4, "code", ("flags", "fault", "corrupt_frames", "state_age_ms"))
    ctx.plant = PlantInfo(kind=cfg.kind, state_labels=state.labels)
    period_s = ticks * ctx.dt_s
    f, s, i = LAYOUT.fill(
        f=dict(period_s=period_s, rate_max=cfg.command_rate_max, torque_constant=torque_constant,
               wall_k=cfg.wall_stiffness_nm_per_rad, wall_b=cfg.wall_damping_nm_s_per_rad,
               tol_q=cfg.position_tolerance_rad, tol_v=cfg.velocity_tolerance_rad_s,
               q_min=cfg.limit("position_min_rad"), q_max=cfg.limit("position_max_rad"),
               v_max=cfg.limit("velocity_max_rad_s"), tau_max=cfg.limit("torque_max_nm")),
        i=dict(n=n, ticks_per_io=ticks, cmd_off=cmd.offset, state_off=state.offset, torque_off=torque.offset,
               device_off=device.offset, mode=MODE_POSITION if cfg.command_mode == "position" else MODE_TORQUE,
               wd_ns=int(cfg.watchdog_ms * 1e6), reply_ns=int(max(period_s, 2e-3) * 1e9), n_ids=len(ids),
               n_raw=BYTES // 8, ts=np.zeros(2), ids=np.asarray(ids, dtype=np.int64)))
    info = {"port": cfg.port, "joints": names, "ticks_per_io": ticks, "device_rate_hz": 1.0 / period_s,
            "command_mode": cfg.command_mode}
    return f, s, i, info


def seed_state(s: np.ndarray, i: np.ndarray, q, qd, tau) -> None:
    """After enable: the measured state, and the first command equal to it (no jump). The engine
    watchdog starts at the first tick (last_state_ns = 0 until then), not at build."""
    arrays = (None, s, i)
    for name, value in (("q", q), ("qd", qd), ("tau", tau), ("last", q if i[I.mode] == MODE_POSITION else 0.0),
                        ("hold", q), ("qd_prev", qd)):
        LAYOUT.view(arrays, name)[:] = value
    i[I.last_state_ns] = 0


def device_report(i: np.ndarray, device_counters: dict | None = None) -> dict:
    """Counters for summary.json after the run (i: the stage's live int array; device_counters:
    what the device itself counted, when its protocol reports it)."""
    out = {"corrupt_frames": int(i[I.corrupt]), "states": int(i[I.states]),
           "missed_replies": int(i[I.missed]), "fault": int(i[I.faulted]),
           "device_flags": int(i[I.dev_flags])}
    if device_counters is not None:
        out["device_counters"] = device_counters
    return out


def start(drv):
    """The device lifecycle up to enable: open, configure, enable; the port is closed again if a
    step fails. Returns what drv.enable() returns (the first measured state)."""
    drv.open()
    try:
        drv.configure()
        return drv.enable()
    except Exception:
        drv.close()
        raise


def fault_reason(f: np.ndarray, i: np.ndarray, joints: list, flag_text) -> str:
    """The latched fault in words (f, i: the stage's arrays; flag_text(flags) -> str for R_DEVICE)."""
    r, j = int(i[I.fault_reason]), int(i[I.fault_joint])
    value = i[I.fault_value] * 1e-6
    if r in (R_POSITION_MAX, R_POSITION_MIN, R_VELOCITY):
        limits = {R_POSITION_MAX: "q_max", R_POSITION_MIN: "q_min", R_VELOCITY: "v_max"}[r]
        return breach_text(r, joints[j], value, LAYOUT.view((f, None, i), limits)[j], f[F.tol_q], f[F.tol_v])
    if r == R_DEVICE:
        return flag_text(int(round(value)))
    if r == R_STALE:
        return f"no state from the device for {i[I.wd_ns] * 1e-6:g} ms (engine watchdog)"
    if r == R_PORT_LOST:
        return "serial port closed or unplugged"
    return "unknown"


def latched_fault(stage: Stage, dt_s: float, flag_text):
    """{"device", "reason", "at_s", "stopped_task"} once a fault has latched, else None. The
    device then stays in safe hold for the rest of the session, so the task stopped with it."""
    i = stage.i
    if i[I.faulted] < 2 or i[I.fault_reason] == R_NONE:
        return None
    return {"device": f"{stage.name} ({stage.info['port']})",
            "reason": fault_reason(stage.f, i, stage.info["joints"], flag_text),
            "at_s": round(float(i[I.fault_tick]) * dt_s, 6), "stopped_task": True}


def device_stage(where: str, kind: int, f, s, i, drv, info: dict, dt_s: float, flag_text) -> Stage:
    """The plant stage that owns drv's fd: disabled and closed after the loop, counters reported
    (and "latched_fault" when one latched; flag_text(flags) words a device-reported fault)."""
    i[I.fd] = drv.sp.fileno()
    stage = Stage(where, kind, f, s, i, keep=[drv], info=info)
    stage.close = drv.close

    def report():
        out = {f"{where}_device": device_report(stage.i, getattr(drv, "device_counters", None))}
        fault = latched_fault(stage, dt_s, flag_text)
        if fault is not None:
            out["latched_fault"] = fault
        return out

    stage.report = report
    return stage


def emergency_disable(drv) -> int:
    """Open the port and put the device in its safe state (the parent, when the child died)."""
    try:
        drv.open()
    except ValueError:
        return status.DEVICE_LOST
    return drv.close()
