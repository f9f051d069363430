"""Plants: the simulated body the controller acts on (family [plant], tagged by `kind`).

The MuJoCo kinds are stepped inside the compiled tick (sims/plants/mujoco_plant.py):
two_link_arm (Shadmehr & Mussa-Ivaldi 1994), muscle_elbow (MyoSuite), mjcf (any model file);
cursor (sims/plants/cursor.py) is the velocity-integrating cursor of BCI tasks.
A plant registers `command` (what the controller writes), `state` (the true sensed state),
`gain_change`, and with a hand `curl` and `load` (perturbation inputs the task writes), and
publishes ctx.plant (rtcore.stage.PlantInfo: model path, state labels, start hand position ...).
"""
from devices.serial import dynamixel_arm, framed_arm
from rtcore.registry import builders, tagged_union
from sims.plants import cursor, mjcf, muscle_elbow, two_link_arm

#: The plants (each file ends with its SPEC); `kind` selects one. A new plant: import it, list it.
#: The MuJoCo kinds share sims.plants.mujoco_plant's step and kind code.
MEMBERS = (two_link_arm, muscle_elbow, mjcf, cursor, framed_arm, dynamixel_arm)

PlantConfig = tagged_union(MEMBERS)
BUILDERS = builders(MEMBERS)


def build(cfg, ctx) -> list:
    """The plant stage(s) for a [plant] section."""
    return [BUILDERS[cfg.kind](cfg, ctx)]


def build_from_session(cfg, ctx) -> list:
    """The plant stage, none when the session has no [plant]."""
    if getattr(cfg, "plant", None) is None:
        return []
    return build(cfg.plant, ctx)
