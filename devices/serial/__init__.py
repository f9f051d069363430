"""Serial plants: drivers and compiled stages for arms on a serial line.

framed_arm: a microcontroller arm on the rtcore framed protocol (devices/firmware);
dynamixel_arm: Dynamixel X-series servos on Protocol 2.0. Both share plant_base (config,
layout) and safety (limits, watchdog, hold).
"""
from rtcore import status


def emergency_disable(cfg) -> str | None:
    """Put a serial plant in its safe state from the supervising parent (the child died).

    cfg: a SessionConfig (its [plant] is used) or a serial plant config. Opens the port and sends
    disable (framed: DISABLE; dynamixel: TORQUE_ENABLE = 0 on every servo). Returns a one-line
    message for the run's log, or None when the session has no serial plant."""
    plant = getattr(cfg, "plant", cfg)
    kind = getattr(plant, "kind", None)
    if kind == "framed_arm":
        from devices.serial.framed_arm import emergency_disable as disable
    elif kind == "dynamixel":
        from devices.serial.dynamixel_arm import emergency_disable as disable
    else:
        return None
    try:
        code = disable(plant)
    except Exception as e:  # the parent must keep going: report, never raise
        return f"plant.port = {plant.port}: emergency disable failed: {e}"
    if code == status.OK:
        return f"plant.port = {plant.port}: disable sent from the parent after the child ended abnormally"
    return f"plant.port = {plant.port}: emergency disable could not reach the device ({status.describe(code)})"
