"""Plants: the simulated body the controller acts on (family [plant], tagged by `kind`).

The MuJoCo kinds are stepped inside the compiled tick (sims/plants/mujoco_plant.py):
two_link_arm (Shadmehr & Mussa-Ivaldi 1994), muscle_elbow (MyoSuite), mjcf (any model file);
cursor (sims/plants/cursor.py) is the velocity-integrating cursor of BCI tasks.
A plant registers `command` (what the controller writes), `state` (the true sensed state),
`gain_change`, and with a hand `curl` and `load` (perturbation inputs the task writes), and
publishes ctx.extra["plant"] (model, data, start hand position ...).
"""
from typing import Annotated, Union

from pydantic import Field

from sims.plants import cursor, mjcf, muscle_elbow, two_link_arm
from devices.serial import dynamixel_arm, framed_arm

PlantConfig = Annotated[Union[two_link_arm.TwoLinkArmConfig, muscle_elbow.MuscleElbowConfig,
                              mjcf.MjcfPlantConfig, cursor.CursorConfig,
                              framed_arm.FramedArmConfig, dynamixel_arm.DynamixelConfig], Field(discriminator="kind")]

BUILDERS = {"two_link_arm": two_link_arm.build, "muscle_elbow": muscle_elbow.build, "mjcf": mjcf.build,
            "cursor": cursor.build, "framed_arm": framed_arm.build, "dynamixel": dynamixel_arm.build}


def build(cfg, ctx) -> list:
    """The plant stage(s) for a [plant] section."""
    return [BUILDERS[cfg.kind](cfg, ctx)]


def build_from_session(cfg, ctx) -> list:
    """The plant stage, none when the session has no [plant]."""
    if getattr(cfg, "plant", None) is None:
        return []
    return build(cfg.plant, ctx)
