"""A MuJoCo model stepped inside the compiled tick: command in, sensed state out.

One step serves every plant kind (two-link arm, muscle elbow, any MJCF); kinds differ only in
how their factory maps command channels to actuators and state channels to MuJoCo quantities.

Per tick, `substeps` times (MuJoCo timestep = dt_s / substeps):
  1. command -> ctrl. Actuator space: ctrl[a_k] = g u_k. Endpoint space (hand force F = g u, N):
     ctrl[a] = (J(q)^T F)[dof_a] / gear_a, with J the hand-site Jacobian at the true posture
     (mj_jacSite). ctrl is clipped to the actuator's ctrlrange (status LIMIT_CLIPPED when the
     command exceeds it by more than 1% of the span). g = 1 + gain_change (perturbation input).
     While bus HOLD is set the command is taken as zero (the safe state).
  2. external hand force F_ext = B v + F_load (B: `curl`, v: hand velocity J qd; F_load: `load`)
     applied at the hand site: xfrc_applied[hand body] = [F_ext, (p_hand - p_com) x F_ext].
     The added mass of `load` is put into the massless payload body at the hand.
  3. mj_step2 (actuation, acceleration, integration) then mj_step1 (position and velocity
     stages of the new state), so site positions and sensors are current when read.
  Joint limits (JointLimitsConfig, on by default): each motor on a hinge/slide joint with a range
  in the MJCF (or any motor, for the velocity limit) has its torque ctrl * gear clipped into the
  virtual wall's window (rtcore.control.joint_limits.wall_window: a spring-damper past the range,
  a viscous speed limit at velocity_max_rad_s), under HOLD too (zero command, braked at the
  walls). Joints driven only by muscles or tendons have no torque window: MuJoCo's own range
  constraint holds them.
Then the state channels are written and checked: a non-finite qpos/qvel/state gives
PLANT_UNSTABLE (fatal; MuJoCo's auto-reset is disabled so instability is reported, not hidden;
|value| > MAX_STATE, MuJoCo's own mjMAXVAL, counts as non-finite). A non-finite command is
replaced by zero for the tick (status BAD_SAMPLE). A walled joint past its range by more than
position_tolerance_rad, or faster than velocity_max_rad_s by more than velocity_tolerance_rad_s,
latches a fault (DEVICE_FAULT once, then HOLD every tick: the safe state for the rest of the
session); the stage report names the joint and the limit (`latched_fault`, judged by rtcore.verdict).

The factory keeps MjModel/MjData alive (Stage.keep) and stores their addresses and the
addresses of the mjData arrays in `i` (see LAYOUT).
"""
from dataclasses import dataclass, field

import mujoco
import numpy as np
from numba import njit

from pydantic import Field

from rtcore import status
from rtcore.bus import HOLD, TICK, request_hold
from rtcore.configbase import Strict
from rtcore.control.joint_limits import (BREACH_NONE, BREACH_POSITION_MAX, BREACH_POSITION_MIN, BREACH_VELOCITY, breach,
                                         breach_text, wall_window)
from rtcore.cptr import f64_view, voidptr
from rtcore.layout import seg, stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import PlantInfo, Stage
from sims.mujoco_c import (array_address, data_address, mj_jacSite, mj_step1, mj_step2,
                           model_address)

#: f: per actuator the ctrl range and gear. i: MuJoCo addresses (model, data and the arrays the step
#: reads or writes), sizes, substeps, command mode, the hand site/body and payload body (-1 when the
#: model has none), bus offsets (curl, load: -1 when not wired); then the actuator of each command
#: channel (cmd_map; endpoint mode: unused), the dof each actuator drives (dof_map; endpoint mode),
#: and the output table out [n_out, 3] = (bus offset, SRC_* source, index). Joint limits: the wall
#: (K, B) and fault tolerances in f, per walled motor its joint's (q_min, q_max, v_max) in f and
#: (actuator, qpos address, dof address) in i; the latched fault (BREACH_* reason, wall row, tick,
#: value in micro-units) in i.
LAYOUT = stage_layout(
    "mujoco_plant",
    f="wall_k wall_b tol_q tol_v ctrl_lo[nu] ctrl_hi[nu] gear[nu] wall_limits[n_wall,3]",
    i="model data qpos qvel ctrl xfrc sensor site_xpos xipos body_mass jac nq nv nu nsens nsub mode "
      "hand_site hand_body payload cmd n_cmd curl load gain n_out n_wall fault_reason=0 fault_row=0 fault_tick=0 "
      "fault_value=0 cmd_map[n_cmd] dof_map[nu] out[n_out,3] walls[n_wall,3]")
F, I, AT = LAYOUT.F, LAYOUT.I, LAYOUT.AT

MODE_ACTUATOR = 0  #: command channel k drives actuator cmd_map[k]
MODE_ENDPOINT = 1  #: command = hand force [fx, fy] N, mapped by J^T

SRC_QPOS, SRC_QVEL, SRC_SENSOR, SRC_HAND_POS, SRC_HAND_VEL = range(5)  #: state channel sources

CLIP_TOLERANCE = 0.01  #: fraction of the ctrl span a command may exceed before LIMIT_CLIPPED is reported
PAYLOAD_MIN_KG = 1e-9  #: the payload body's mass with no load (MuJoCo needs it positive)
MAX_STATE = 1e10  #: a state beyond this magnitude is unstable (mjMAXVAL)
VEC3_BYTES = 3 * 8  #: byte stride of one row of site_xpos / xipos (x, y, z float64)
SPATIAL_BYTES = 6 * 8  #: byte stride of one row of xfrc_applied (force, torque: 6 float64)
HINGE_SLIDE = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))  #: one-dof joint types


class JointLimitsConfig(Strict):
    """[plant.joint_limits]: position and velocity limits of the motor-driven joints (ranges from the MJCF)."""

    enabled: bool = Field(True, description="enforce the joints' MJCF ranges and velocity_max_rad_s on their motors' torques")
    velocity_max_rad_s: float = Field(10.0, gt=0, le=1e3, description="joint speed limit, rad/s (m/s for slide joints)")
    wall_stiffness_nm_per_rad: float = Field(500.0, gt=0, le=1e6, description="virtual-wall spring K past a range limit, N m/rad")
    wall_damping_nm_s_per_rad: float = Field(5.0, gt=0, le=1e4, description="damping B of the wall and the speed limit, N m s/rad; at rest |torque| <= B velocity_max_rad_s")
    position_tolerance_rad: float = Field(0.1, gt=0, le=1.0, description="a range limit exceeded by more than this latches a fault (safe hold), rad")
    velocity_tolerance_rad_s: float = Field(2.0, gt=0, le=100.0, description="velocity_max_rad_s exceeded by more than this latches a fault (safe hold), rad/s")


@njit(cache=True, nogil=True)
def _clip(u, lo, hi, code):
    """(clipped u, status) with LIMIT_CLIPPED when u leaves [lo, hi] by more than the tolerance."""
    tol = CLIP_TOLERANCE * (hi - lo)
    if u > hi:
        if u > hi + tol:
            code = status.LIMIT_CLIPPED
        return hi, code
    if u < lo:
        if u < lo - tol:
            code = status.LIMIT_CLIPPED
        return lo, code
    return u, code


@njit(cache=True, nogil=True)
def mujoco_plant_step(f, s, i, bus):
    """One control tick of a MuJoCo plant (see the module docstring).

    LAYOUT names f and i; s is empty.
    Reads bus: command [n_cmd], curl [4] (N s/m, row-major B), load [3] = [added mass kg, fx N,
    fy N], gain_change [1], hold. Writes the out table's channels (state, joint ...).
    """
    m = voidptr(i[I.model])
    d = voidptr(i[I.data])
    nq, nv, nu = i[I.nq], i[I.nv], i[I.nu]
    n_cmd = i[I.n_cmd]
    qpos = f64_view(i[I.qpos], nq)
    qvel = f64_view(i[I.qvel], nv)
    ctrl = f64_view(i[I.ctrl], nu)
    jac = f64_view(i[I.jac], 3 * nv)
    cmd_map = i[AT.i_cmd_map:AT.i_cmd_map + n_cmd]
    dof_map = seg(i, i, I.i_dof_map, nu)
    lo, hi, gear = AT.f_ctrl_lo, i[I.f_ctrl_hi], i[I.f_gear]
    site, body, payload = i[I.hand_site], i[I.hand_body], i[I.payload]
    hold = bus[HOLD] != 0.0
    gain = 1.0 + bus[i[I.gain]] if i[I.gain] >= 0 else 1.0
    c = i[I.cmd]
    code = status.OK
    for k in range(n_cmd):
        if not np.isfinite(bus[c + k]):
            hold = True  # a non-finite command is rejected: zero command this tick
            code = status.BAD_SAMPLE
    if payload >= 0 and i[I.load] >= 0:
        mass = f64_view(i[I.body_mass], payload + 1)
        added = max(bus[i[I.load]], PAYLOAD_MIN_KG)
        if added != mass[payload]:  # new load: recompute the inertia before stepping
            mass[payload] = added
            mj_step1(m, d)
    for _ in range(i[I.nsub]):
        if site >= 0:
            mj_jacSite(m, d, voidptr(i[I.jac]), voidptr(0), np.int32(site))
        # 1. command -> ctrl
        if i[I.mode] == MODE_ENDPOINT:
            fx = 0.0 if hold else gain * bus[c]
            fy = 0.0 if hold else gain * bus[c + 1]
            for a in range(nu):
                dof = dof_map[a]
                u = (jac[dof] * fx + jac[nv + dof] * fy) / f[gear + a]
                ctrl[a], code = _clip(u, f[lo + a], f[hi + a], code)
        else:
            for k in range(n_cmd):
                a = cmd_map[k]
                u = 0.0 if hold else gain * bus[c + k]
                ctrl[a], code = _clip(u, f[lo + a], f[hi + a], code)
        _walls(f, i, ctrl, qpos, qvel)
        # 2. curl field and load force at the hand
        if site >= 0 and (i[I.curl] >= 0 or i[I.load] >= 0):
            vx = 0.0
            vy = 0.0
            for j in range(nv):
                vx += jac[j] * qvel[j]
                vy += jac[nv + j] * qvel[j]
            fx = 0.0
            fy = 0.0
            if i[I.curl] >= 0:
                b = i[I.curl]
                fx += bus[b] * vx + bus[b + 1] * vy
                fy += bus[b + 2] * vx + bus[b + 3] * vy
            if i[I.load] >= 0:
                fx += bus[i[I.load] + 1]
                fy += bus[i[I.load] + 2]
            p = f64_view(i[I.site_xpos] + VEC3_BYTES * site, 3)
            com = f64_view(i[I.xipos] + VEC3_BYTES * body, 3)
            xfrc = f64_view(i[I.xfrc] + SPATIAL_BYTES * body, 6)
            rx, ry, rz = p[0] - com[0], p[1] - com[1], p[2] - com[2]
            xfrc[0] = fx
            xfrc[1] = fy
            xfrc[2] = 0.0
            xfrc[3] = -rz * fy  # r x F with F = (fx, fy, 0)
            xfrc[4] = rz * fx
            xfrc[5] = rx * fy - ry * fx
        # 3. integrate, then bring positions/velocities/sensors up to the new state
        mj_step2(m, d)
        mj_step1(m, d)
    # sensed state
    if site >= 0:
        mj_jacSite(m, d, voidptr(i[I.jac]), voidptr(0), np.int32(site))
    finite = True
    for j in range(nq):
        finite = finite and abs(qpos[j]) < MAX_STATE
    for j in range(nv):
        finite = finite and abs(qvel[j]) < MAX_STATE
    o = i[I.i_out]
    for r in range(i[I.n_out]):
        off, src, idx = i[o + 3 * r], i[o + 3 * r + 1], i[o + 3 * r + 2]
        if src == SRC_QPOS:
            val = qpos[idx]
        elif src == SRC_QVEL:
            val = qvel[idx]
        elif src == SRC_SENSOR:
            val = f64_view(i[I.sensor], i[I.nsens])[idx]
        elif src == SRC_HAND_POS:
            val = f64_view(i[I.site_xpos] + VEC3_BYTES * site, 3)[idx]
        else:  # SRC_HAND_VEL
            val = 0.0
            for j in range(nv):
                val += jac[idx * nv + j] * qvel[j]
        finite = finite and abs(val) < MAX_STATE
        bus[off] = val
    if not finite:
        return status.PLANT_UNSTABLE
    if _limits_latched(f, i, bus, qpos, qvel):
        return status.DEVICE_FAULT
    return code


@njit(cache=True, nogil=True)
def _walls(f, i, ctrl, qpos, qvel):
    """Clip each walled motor's torque ctrl * gear into its joint's wall window (then its ctrlrange)."""
    fw, o, lo, hi, gear = i[I.f_wall_limits], i[I.i_walls], AT.f_ctrl_lo, i[I.f_ctrl_hi], i[I.f_gear]
    for r in range(i[I.n_wall]):
        a, qa, da = i[o + 3 * r], i[o + 3 * r + 1], i[o + 3 * r + 2]
        t_lo, t_hi = wall_window(qpos[qa], qvel[da], f[fw + 3 * r], f[fw + 3 * r + 1], f[fw + 3 * r + 2],
                                 f[F.wall_k], f[F.wall_b])
        g = f[gear + a]
        ctrl[a] = min(max(min(max(ctrl[a] * g, t_lo), t_hi) / g, f[lo + a]), f[hi + a])


@njit(cache=True, nogil=True)
def _limits_latched(f, i, bus, qpos, qvel):
    """Check the walled joints; latch the first breach (reason, row, tick, value). Once latched,
    request HOLD every tick. True on the tick the fault latches."""
    if i[I.fault_reason] != BREACH_NONE:
        request_hold(bus)
        return False
    fw, o = i[I.f_wall_limits], i[I.i_walls]
    for r in range(i[I.n_wall]):
        q, qd = qpos[i[o + 3 * r + 1]], qvel[i[o + 3 * r + 2]]
        reason = breach(q, qd, f[fw + 3 * r], f[fw + 3 * r + 1], f[fw + 3 * r + 2], f[F.tol_q], f[F.tol_v])
        if reason != BREACH_NONE:
            i[I.fault_reason], i[I.fault_row], i[I.fault_tick] = reason, r, int(bus[TICK])
            i[I.fault_value] = int(round((qd if reason == BREACH_VELOCITY else q) * 1e6))
            request_hold(bus)
            return True
    return False


@dataclass
class Channels:
    """A bus signal the plant writes: its name, unit, labels and one (source, index) per channel."""

    name: str
    unit: str | tuple  #: one for every channel, or one per channel
    labels: tuple
    sources: list = field(default_factory=list)  # [(SRC_*, index)]


def qpos_units(m: mujoco.MjModel) -> tuple:
    """The unit of each qpos entry: rad (hinge), m (slide), m and quaternion (free: x y z, w x y z), ball: quaternion."""
    per_joint = {int(mujoco.mjtJoint.mjJNT_HINGE): ("rad",), int(mujoco.mjtJoint.mjJNT_SLIDE): ("m",),
                 int(mujoco.mjtJoint.mjJNT_BALL): ("1",) * 4, int(mujoco.mjtJoint.mjJNT_FREE): ("m",) * 3 + ("1",) * 4}
    return tuple(u for t in m.jnt_type for u in per_joint[int(t)])


def object_names(m: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list:
    """Names of a model's actuators, sensors, joints ... in index order."""
    return [mujoco.mj_id2name(m, obj, k) or f"#{k}" for k in range(count)]


def load_model(path: str, where: str) -> mujoco.MjModel:
    """MjModel from an MJCF/URDF file; a one-line error names the file and MuJoCo's reason."""
    try:
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as e:
        reason = " ".join(str(e).split())
        raise ValueError(f"{where}: cannot load MuJoCo model '{path}': {reason}") from None


def build_plant(ctx, where: str, kind: str, m: mujoco.MjModel, *, model_path, mode: int, command_labels,
                command_unit: str, command_actuators, outputs: list, substeps: int, hand_site: str | None = None,
                payload_body: str | None = None, qpos0=None, info: dict | None = None,
                joint_limits: JointLimitsConfig | None = None) -> Stage:
    """The plant stage for model m (loaded from model_path): wires command/state on ctx.bus and
    publishes ctx.plant (rtcore.stage.PlantInfo; the caller may add its nominal model and geometry).

    mode MODE_ACTUATOR: command channel k drives actuator command_actuators[k].
    mode MODE_ENDPOINT: command = [fx, fy] N at hand_site, mapped by J^T onto every actuator,
    which must each drive one hinge/slide joint directly (a motor).
    outputs: Channels written every tick (the first is `state`). qpos0: start posture.
    Registers command, the outputs, gain_change [1], and with a hand site curl [4] and load [3].
    Every MuJoCo plant also writes `qpos` [nq], what the passive viewer draws.
    joint_limits (default JointLimitsConfig()): the wall on every motor of a hinge/slide joint.
    """
    outputs = list(outputs) + [Channels("qpos", qpos_units(m), tuple(f"qpos{k}" for k in range(m.nq)),
                                        [(SRC_QPOS, k) for k in range(m.nq)])]
    m.opt.timestep = ctx.dt_s / substeps
    m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
    d = mujoco.MjData(m)
    if qpos0 is not None:
        d.qpos[:] = qpos0
    mujoco.mj_forward(m, d)
    site = body = payload = -1
    if hand_site is not None:
        site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, hand_site)
        if site < 0:
            raise ValueError(f"{where}: model has no site '{hand_site}'; sites: "
                             f"{', '.join(object_names(m, mujoco.mjtObj.mjOBJ_SITE, m.nsite))}")
        body = int(m.site_bodyid[site])
    if payload_body is not None:
        payload = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, payload_body)
        if payload < 0:
            raise ValueError(f"{where}: model has no body '{payload_body}'")
    dof_map = np.full(m.nu, -1, np.int64)
    if mode == MODE_ENDPOINT:
        if site < 0:
            raise ValueError(f"{where}: command_space 'endpoint' needs a hand site")
        for a in range(m.nu):
            jnt = int(m.actuator_trnid[a, 0])
            if (m.actuator_trntype[a] != int(mujoco.mjtTrn.mjTRN_JOINT) or
                    m.jnt_type[jnt] not in HINGE_SLIDE):
                raise ValueError(f"{where}: command_space 'endpoint' needs every actuator to drive one hinge or "
                                 f"slide joint; actuator '{object_names(m, mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu)[a]}' "
                                 f"does not (use command_space = 'joint')")
            dof_map[a] = m.jnt_dofadr[jnt]
        n_cmd = 2
        cmd_map = np.zeros(2, np.int64)
    else:
        cmd_map = np.asarray(command_actuators, np.int64)
        n_cmd = cmd_map.size
    gear = m.actuator_gear[:, 0].copy() if m.nu else np.zeros(0)
    lo = np.where(m.actuator_ctrllimited.astype(bool), m.actuator_ctrlrange[:, 0], -np.inf) if m.nu else np.zeros(0)
    hi = np.where(m.actuator_ctrllimited.astype(bool), m.actuator_ctrlrange[:, 1], np.inf) if m.nu else np.zeros(0)

    bus = ctx.bus
    cmd = bus.add("command", n_cmd, command_unit, command_labels)
    out_rows = []
    for ch in outputs:
        sig = bus.add(ch.name, len(ch.sources), ch.unit, ch.labels)
        out_rows += [(sig.offset + k, src, idx) for k, (src, idx) in enumerate(ch.sources)]
    gain = bus.add("gain_change", 1, "1", ("gain_change",))
    curl = load = None
    if site >= 0:
        curl = bus.add("curl", 4, "N*s/m", ("b_xx", "b_xy", "b_yx", "b_yy"))
        load = bus.add("load", 3, ("kg", "N", "N"), ("added_mass_kg", "force_x", "force_y"), ("mass", "force", "force"))

    jac = np.zeros(3 * max(m.nv, 1))
    limits = JointLimitsConfig() if joint_limits is None else joint_limits
    walls, wall_limits, wall_names = wall_table(m, limits)
    floats, _, ints = LAYOUT.fill(
        f=dict(ctrl_lo=lo, ctrl_hi=hi, gear=np.where(gear != 0, gear, 1.0), wall_k=limits.wall_stiffness_nm_per_rad,
               wall_b=limits.wall_damping_nm_s_per_rad, tol_q=limits.position_tolerance_rad,
               tol_v=limits.velocity_tolerance_rad_s, wall_limits=np.asarray(wall_limits, float).reshape(-1, 3)),
        i=dict(model=model_address(m), data=data_address(d), qpos=array_address(d.qpos), qvel=array_address(d.qvel),
               ctrl=array_address(d.ctrl), xfrc=array_address(d.xfrc_applied), sensor=array_address(d.sensordata)
               if m.nsensordata else 0, site_xpos=array_address(d.site_xpos), xipos=array_address(d.xipos),
               body_mass=array_address(m.body_mass), jac=array_address(jac), nq=m.nq, nv=m.nv, nu=m.nu,
               nsens=m.nsensordata, nsub=substeps, mode=mode, hand_site=site, hand_body=body, payload=payload,
               cmd=cmd.offset, n_cmd=n_cmd, curl=curl.offset if curl else -1, load=load.offset if load else -1,
               gain=gain.offset, n_out=len(out_rows), cmd_map=cmd_map, dof_map=dof_map,
               out=np.asarray(out_rows, np.int64).reshape(-1, 3), n_wall=len(walls),
               walls=np.asarray(walls, np.int64).reshape(-1, 3)))

    state_labels = outputs[0].labels
    hand_xy = d.site_xpos[site, :2].copy() if site >= 0 else None
    ctx.plant = PlantInfo(kind=kind, state_labels=tuple(state_labels), model_path=str(model_path), hand_site=hand_site,
                          start_hand_m=None if hand_xy is None else tuple(float(v) for v in hand_xy),
                          payload=payload >= 0, model=m, data=d)
    stage_info = {"kind": kind, "nq": int(m.nq), "nv": int(m.nv), "nu": int(m.nu), "substeps": substeps,
                  "timestep_s": float(m.opt.timestep), "command": list(cmd.labels), "state": list(state_labels),
                  "model_path": str(model_path)}
    stage_info["joint_limits"] = {name: {"position_rad": [float(q0), float(q1)], "velocity_max_rad_s": float(v)}
                                  for name, (q0, q1, v) in zip(wall_names, wall_limits)}
    stage_info.update(info or {})
    stage = Stage("plant", SPEC.kind, floats, np.zeros(0), ints, keep=[m, d, jac], info=stage_info)

    def report():
        """The latched joint-limit fault ({device, reason, at_s, stopped_task}), if one latched."""
        reason = int(LAYOUT.get(stage, "fault_reason"))
        if reason == BREACH_NONE:
            return {}
        r = int(LAYOUT.get(stage, "fault_row"))
        q_min, q_max, v_max = wall_limits[r]
        limit = {BREACH_POSITION_MAX: q_max, BREACH_POSITION_MIN: q_min, BREACH_VELOCITY: v_max}[reason]
        text = breach_text(reason, wall_names[r], LAYOUT.get(stage, "fault_value") * 1e-6, limit,
                           limits.position_tolerance_rad, limits.velocity_tolerance_rad_s)
        return {"latched_fault": {"device": f"{where} ({kind})", "reason": text,
                                  "at_s": round(float(LAYOUT.get(stage, "fault_tick")) * ctx.dt_s, 6), "stopped_task": True}}

    stage.report = report
    return stage


def wall_table(m: mujoco.MjModel, limits: JointLimitsConfig) -> tuple:
    """([(actuator, qpos address, dof address)], [(q_min, q_max, v_max)], [joint name]) per motor
    on a hinge/slide joint: its MJCF range if limited (else unbounded) and velocity_max_rad_s."""
    if not limits.enabled:
        return [], [], []
    rows, lims, names = [], [], []
    joints = object_names(m, mujoco.mjtObj.mjOBJ_JOINT, m.njnt)
    for a in range(m.nu):
        jnt = int(m.actuator_trnid[a, 0])
        if m.actuator_trntype[a] != int(mujoco.mjtTrn.mjTRN_JOINT) or m.jnt_type[jnt] not in HINGE_SLIDE:
            continue
        q_min, q_max = (float(v) for v in m.jnt_range[jnt]) if m.jnt_limited[jnt] else (-np.inf, np.inf)
        rows.append((a, int(m.jnt_qposadr[jnt]), int(m.jnt_dofadr[jnt])))
        lims.append((q_min, q_max, limits.velocity_max_rad_s))
        names.append(joints[jnt])
    return rows, lims, names


SPEC = StageSpec(kind=70, name="mujoco_plant", step=mujoco_plant_step)
