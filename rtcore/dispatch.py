"""Stage kinds and the compiled dispatch from a kind code to its step function.

Each stage family owns one block below: its kind constants and its `elif` lines. Keep the
codes unique; they are stored in the packed chain, never in files.
"""
from numba import njit

from rtcore import status
from rtcore.stages.crash import crash_step
from rtcore.decoders.linear import linear_step
from devices.lsl.inlet import lsl_inlet_step
from devices.lsl.outlet import lsl_outlet_step
from sims.users.emg import emg_user_step
from sims.users.neural import neural_step
from rtcore.replay import replay_step
from rtcore.decoders.emg import emg_step
from rtcore.decoders.kalman import kalman_step
from sims.plants.cursor import cursor_step
from sims.plants.mujoco_plant import mujoco_plant_step
from sims.paradigms.center_out import center_out_step
from sims.paradigms.observe import observe_step

# --- core (rtcore/stages) --------------------------------------------------------------
K_CRASH = 1
K_LINEAR = 2
# --- sources and outlets (devices/lsl, sims/users) 10..29 ------------------------------
K_LSL_INLET = 10
K_LSL_OUTLET = 11
K_SYNTH_NEURAL = 12
K_SYNTH_EMG = 13
K_REPLAY = 14
# --- decoders (rtcore/decoders) 30..49 ---------------------------------------------------
K_EMG = 30
K_KALMAN = 31
# --- control, feedback delay, forward model (rtcore/control, rtcore/cerebellum) 50..69 --
from rtcore.cerebellum.feedback_delay import feedback_delay_step
from rtcore.cerebellum.forward_model import forward_model_step
from rtcore.control.endpoint_pd import endpoint_pd_step
from rtcore.control.joint_pd import joint_pd_step
from rtcore.control.passthrough import passthrough_step
K_FEEDBACK_DELAY = 50
K_FORWARD_MODEL = 51
K_ENDPOINT_PD = 52
K_JOINT_PD = 53
K_PASSTHROUGH = 54
# --- paradigms and plants (sims/paradigms, sims/plants) 70..89 --------------------------
K_MUJOCO_PLANT = 70
K_CENTER_OUT = 71
K_OBSERVE = 72
K_CURSOR = 85
# --- serial devices (devices/serial) 90..109 --------------------------------------------
from devices.serial.framed_arm import framed_arm_step  # noqa: E402
from devices.serial.dynamixel_arm import dynamixel_arm_step  # noqa: E402
K_FRAMED_ARM = 90
K_DYNAMIXEL = 91


@njit(cache=True, nogil=True)
def stage_step(kind, f, s, i, bus):
    """Run one stage's step; returns its status code."""
    if kind == K_CRASH:
        return crash_step(f, s, i, bus)
    elif kind == K_LINEAR:
        return linear_step(f, s, i, bus)
    # --- sources and outlets -----------------------------------------------------------
    elif kind == K_LSL_INLET:
        return lsl_inlet_step(f, s, i, bus)
    elif kind == K_LSL_OUTLET:
        return lsl_outlet_step(f, s, i, bus)
    elif kind == K_SYNTH_NEURAL:
        return neural_step(f, s, i, bus)
    elif kind == K_SYNTH_EMG:
        return emg_user_step(f, s, i, bus)
    elif kind == K_REPLAY:
        return replay_step(f, s, i, bus)
    # --- decoders ----------------------------------------------------------------------
    elif kind == K_EMG:
        return emg_step(f, s, i, bus)
    elif kind == K_KALMAN:
        return kalman_step(f, s, i, bus)
    # --- control, feedback delay, forward model ---------------------------------------
    elif kind == K_FEEDBACK_DELAY:
        return feedback_delay_step(f, s, i, bus)
    elif kind == K_FORWARD_MODEL:
        return forward_model_step(f, s, i, bus)
    elif kind == K_ENDPOINT_PD:
        return endpoint_pd_step(f, s, i, bus)
    elif kind == K_JOINT_PD:
        return joint_pd_step(f, s, i, bus)
    elif kind == K_PASSTHROUGH:
        return passthrough_step(f, s, i, bus)
    # --- paradigms and plants ----------------------------------------------------------
    elif kind == K_MUJOCO_PLANT:
        return mujoco_plant_step(f, s, i, bus)
    elif kind == K_CENTER_OUT:
        return center_out_step(f, s, i, bus)
    elif kind == K_OBSERVE:
        return observe_step(f, s, i, bus)
    elif kind == K_CURSOR:
        return cursor_step(f, s, i, bus)
    # --- serial devices ----------------------------------------------------------------
    elif kind == K_FRAMED_ARM:
        return framed_arm_step(f, s, i, bus)
    elif kind == K_DYNAMIXEL:
        return dynamixel_arm_step(f, s, i, bus)
    return status.OK
