"""Any MuJoCo model as a plant: command channels name actuators, state channels name sensors/joints.

    [plant]
    kind = "mjcf"
    model_path = "models/my_arm.xml"       # relative paths: the config file's folder, then cwd
    command = ["shoulder_motor", "elbow_motor"]
    state = ["qpos:shoulder", "qvel:shoulder", "tip_pos"]   # sensor names take all their dims

A state entry is a sensor name (all of its dimensions), "qpos:<joint>" or "qvel:<joint>" for a
hinge/slide joint, or, with hand_site set, hand_x / hand_y / hand_vx / hand_vy. With hand_site
set the plant also takes the curl and load perturbation inputs at that site, and command_space =
"endpoint" makes the command a hand force [fx, fy] N (J^T mapping; every actuator must be a motor
on one joint). Acceleration-stage sensors (accelerometer, force, touch) lag one physics step.
"""
from typing import Literal

import mujoco
from pydantic import Field

from rtcore.configbase import Strict, resolve_path
from sims.plants import mujoco_plant
from sims.plants.mujoco_plant import (MODE_ACTUATOR, MODE_ENDPOINT, SRC_HAND_POS, SRC_HAND_VEL, SRC_QPOS,
                                      SRC_QVEL, SRC_SENSOR, HINGE_SLIDE, Channels, JointLimitsConfig, build_plant, load_model, object_names)

HAND = {"hand_x": (SRC_HAND_POS, 0), "hand_y": (SRC_HAND_POS, 1), "hand_vx": (SRC_HAND_VEL, 0),
        "hand_vy": (SRC_HAND_VEL, 1)}


class MjcfPlantConfig(Strict):
    """[plant] kind = "mjcf"."""

    kind: Literal["mjcf"]
    model_path: str = Field(description="MJCF (or URDF) file; relative to the config file's folder, else the cwd")
    command: list[str] = Field(default_factory=list, description="actuator name per command channel (command_space 'actuator')")
    state: list[str] = Field(min_length=1, description="state channels: sensor names, 'qpos:<joint>', 'qvel:<joint>', hand_x/hand_y/hand_vx/hand_vy")
    command_space: Literal["actuator", "endpoint"] = Field("actuator", description="command = actuator inputs, or hand force [fx, fy] N at hand_site")
    hand_site: str | None = Field(None, description="site used as the hand: endpoint commands, curl/load forces, hand_* state")
    start_qpos: list[float] | None = Field(None, description="start qpos (nq values; default the model's qpos0)")
    substeps: int = Field(1, ge=1, le=100, description="physics steps per control tick (MuJoCo timestep = dt / substeps)")
    joint_limits: JointLimitsConfig = Field(JointLimitsConfig(), description="joint range and speed limits on the motors' torques (virtual wall, latched fault)")


def _state_sources(m, entries, hand_site, where, path):
    sources, labels = [], []
    sensors = object_names(m, mujoco.mjtObj.mjOBJ_SENSOR, m.nsensor)
    joints = object_names(m, mujoco.mjtObj.mjOBJ_JOINT, m.njnt)
    for entry in entries:
        if entry in HAND:
            if hand_site is None:
                raise ValueError(f"{where}.state: '{entry}' needs plant.hand_site")
            sources.append(HAND[entry])
            labels.append(entry)
        elif entry.startswith(("qpos:", "qvel:")):
            field, name = entry.split(":", 1)
            j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
            if j < 0:
                raise ValueError(f"{where}.state: '{path.name}' has no joint '{name}'; joints: {', '.join(joints)}")
            if m.jnt_type[j] not in HINGE_SLIDE:
                raise ValueError(f"{where}.state: joint '{name}' is not a hinge or slide; use a sensor for it")
            sources.append((SRC_QPOS, int(m.jnt_qposadr[j])) if field == "qpos" else (SRC_QVEL, int(m.jnt_dofadr[j])))
            labels.append(f"{name}_{field}")
        else:
            s = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, entry)
            if s < 0:
                raise ValueError(f"{where}.state: '{path.name}' has no sensor '{entry}'; sensors: "
                                 f"{', '.join(sensors) or 'none'} (or use qpos:/qvel:<joint>; joints: {', '.join(joints)})")
            adr, dim = int(m.sensor_adr[s]), int(m.sensor_dim[s])
            sources += [(SRC_SENSOR, adr + k) for k in range(dim)]
            labels += [entry] if dim == 1 else [f"{entry}{k}" for k in range(dim)]
    return sources, labels


def build(cfg: MjcfPlantConfig, ctx, where: str = "plant"):
    path = resolve_path(cfg.model_path, ctx.config_path)
    if not path.exists():
        raise ValueError(f"{where}.model_path: no such file '{cfg.model_path}' "
                         f"(looked beside {ctx.config_path} and in the current folder)")
    m = load_model(path, where)
    endpoint = cfg.command_space == "endpoint"
    acts = []
    if endpoint:
        if cfg.command:
            raise ValueError(f"{where}.command: leave it out with command_space = 'endpoint' (the command is [fx, fy])")
    else:
        if not cfg.command:
            raise ValueError(f"{where}.command: name one actuator per command channel; actuators: "
                             f"{', '.join(object_names(m, mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu)) or 'none'}")
        for name in cfg.command:
            a = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
            if a < 0:
                raise ValueError(f"{where}.command: '{path.name}' has no actuator '{name}'; actuators: "
                                 f"{', '.join(object_names(m, mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu)) or 'none'}")
            acts.append(a)
    if cfg.start_qpos is not None and len(cfg.start_qpos) != m.nq:
        raise ValueError(f"{where}.start_qpos: {len(cfg.start_qpos)} values for a model with nq = {m.nq}")
    sources, labels = _state_sources(m, cfg.state, cfg.hand_site, where, path)
    stage = build_plant(ctx, where, "mjcf", m, model_path=path, mode=MODE_ENDPOINT if endpoint else MODE_ACTUATOR,
                        command_labels=("fx", "fy") if endpoint else tuple(cfg.command),
                        command_unit="N" if endpoint else "ctrl", command_actuators=acts,
                        outputs=[Channels("state", "", tuple(labels), sources)], substeps=cfg.substeps,
                        hand_site=cfg.hand_site, qpos0=cfg.start_qpos, joint_limits=cfg.joint_limits)
    return stage


SPEC = mujoco_plant.SPEC.variant(name="mjcf", config=MjcfPlantConfig, build=build)
