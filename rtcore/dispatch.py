"""The compiled dispatch from a stage's kind code to its step function.

Each stage file declares its kind code once, in its SPEC (rtcore.registry.StageSpec); the pairs
below are read from there. `stage_step` is a static `elif` chain so that Numba caches it (no code
generation). When this module is imported it checks that the codes are unique and that the chain
covers every member of every family (rtcore.families): a stage missing here fails at import,
not in the middle of a session.
"""
import ast
import inspect
import textwrap

from numba import njit

from devices.lsl import inlet, marker_inlet, outlet
from devices.serial import dynamixel_arm, framed_arm
from rtcore import families, replay, status
from rtcore.cerebellum import feedback_delay, feedforward, forward_model
from rtcore.control import autopilot, endpoint_pd, joint_pd, passthrough
from rtcore.decoders import emg, kalman, linear
from rtcore.learning import aim, trial_learning
from rtcore.stages import crash
from sims.paradigms import center_out, joint_tracking, observe
from sims.plants import cursor, mujoco_plant
from sims.users import emg as emg_user
from sims.users import neural

# --- core (rtcore/stages) ------------------------------------------------------ codes 1..9
CRASH, crash_step = crash.SPEC.kind, crash.SPEC.step
LINEAR, linear_step = linear.SPEC.kind, linear.SPEC.step
# --- sources and outlets (devices/lsl, sims/users, rtcore/replay) ---------- codes 10..29
LSL_INLET, lsl_inlet_step = inlet.SPEC.kind, inlet.SPEC.step
LSL_OUTLET, lsl_outlet_step = outlet.SPEC.kind, outlet.SPEC.step
LSL_MARKERS, lsl_markers_step = marker_inlet.SPEC.kind, marker_inlet.SPEC.step
SYNTH_NEURAL, neural_step = neural.SPEC.kind, neural.SPEC.step
SYNTH_EMG, emg_user_step = emg_user.SPEC.kind, emg_user.SPEC.step
REPLAY, replay_step = replay.SPEC.kind, replay.SPEC.step
# --- decoders (rtcore/decoders) --------------------------------------------- codes 30..49
EMG, emg_step = emg.SPEC.kind, emg.SPEC.step
KALMAN, kalman_step = kalman.SPEC.kind, kalman.SPEC.step
# --- feedback delay, forward model, control (rtcore/cerebellum, rtcore/control) codes 50..69
FEEDBACK_DELAY, feedback_delay_step = feedback_delay.SPEC.kind, feedback_delay.SPEC.step
FORWARD_MODEL, forward_model_step = forward_model.SPEC.kind, forward_model.SPEC.step
ENDPOINT_PD, endpoint_pd_step = endpoint_pd.SPEC.kind, endpoint_pd.SPEC.step
JOINT_PD, joint_pd_step = joint_pd.SPEC.kind, joint_pd.SPEC.step
PASSTHROUGH, passthrough_step = passthrough.SPEC.kind, passthrough.SPEC.step
AUTOPILOT, autopilot_step = autopilot.SPEC.kind, autopilot.SPEC.step
FEEDFORWARD, feedforward_step = feedforward.SPEC.kind, feedforward.SPEC.step
# --- paradigms and plants (sims/paradigms, sims/plants) --------------------- codes 70..89
MUJOCO_PLANT, mujoco_plant_step = mujoco_plant.SPEC.kind, mujoco_plant.SPEC.step
CENTER_OUT, center_out_step = center_out.SPEC.kind, center_out.SPEC.step
OBSERVE, observe_step = observe.SPEC.kind, observe.SPEC.step
JOINT_TRACKING, joint_tracking_step = joint_tracking.SPEC.kind, joint_tracking.SPEC.step
CURSOR, cursor_step = cursor.SPEC.kind, cursor.SPEC.step
# --- serial devices (devices/serial) --------------------------------------- codes 90..109
FRAMED_ARM, framed_arm_step = framed_arm.SPEC.kind, framed_arm.SPEC.step
DYNAMIXEL, dynamixel_arm_step = dynamixel_arm.SPEC.kind, dynamixel_arm.SPEC.step
# --- trial-level learning (rtcore/learning) ---------------------------------- codes 110..119
TRIAL_LEARNING, trial_learning_step = trial_learning.SPEC.kind, trial_learning.SPEC.step
AIM, aim_step = aim.SPEC.kind, aim.SPEC.step


@njit(cache=True, nogil=True)
def stage_step(kind, f, s, i, bus):
    """Run one stage's step; returns its status code."""
    if kind == CRASH:
        return crash_step(f, s, i, bus)
    elif kind == LINEAR:
        return linear_step(f, s, i, bus)
    # --- sources and outlets -----------------------------------------------------------
    elif kind == LSL_INLET:
        return lsl_inlet_step(f, s, i, bus)
    elif kind == LSL_OUTLET:
        return lsl_outlet_step(f, s, i, bus)
    elif kind == LSL_MARKERS:
        return lsl_markers_step(f, s, i, bus)
    elif kind == SYNTH_NEURAL:
        return neural_step(f, s, i, bus)
    elif kind == SYNTH_EMG:
        return emg_user_step(f, s, i, bus)
    elif kind == REPLAY:
        return replay_step(f, s, i, bus)
    # --- decoders ----------------------------------------------------------------------
    elif kind == EMG:
        return emg_step(f, s, i, bus)
    elif kind == KALMAN:
        return kalman_step(f, s, i, bus)
    # --- control, feedback delay, forward model ---------------------------------------
    elif kind == FEEDBACK_DELAY:
        return feedback_delay_step(f, s, i, bus)
    elif kind == FORWARD_MODEL:
        return forward_model_step(f, s, i, bus)
    elif kind == ENDPOINT_PD:
        return endpoint_pd_step(f, s, i, bus)
    elif kind == JOINT_PD:
        return joint_pd_step(f, s, i, bus)
    elif kind == PASSTHROUGH:
        return passthrough_step(f, s, i, bus)
    elif kind == AUTOPILOT:
        return autopilot_step(f, s, i, bus)
    elif kind == FEEDFORWARD:
        return feedforward_step(f, s, i, bus)
    # --- paradigms and plants ----------------------------------------------------------
    elif kind == MUJOCO_PLANT:
        return mujoco_plant_step(f, s, i, bus)
    elif kind == CENTER_OUT:
        return center_out_step(f, s, i, bus)
    elif kind == OBSERVE:
        return observe_step(f, s, i, bus)
    elif kind == JOINT_TRACKING:
        return joint_tracking_step(f, s, i, bus)
    elif kind == CURSOR:
        return cursor_step(f, s, i, bus)
    # --- serial devices ----------------------------------------------------------------
    elif kind == FRAMED_ARM:
        return framed_arm_step(f, s, i, bus)
    elif kind == DYNAMIXEL:
        return dynamixel_arm_step(f, s, i, bus)
    # --- trial-level learning -----------------------------------------------------------
    elif kind == TRIAL_LEARNING:
        return trial_learning_step(f, s, i, bus)
    elif kind == AIM:
        return aim_step(f, s, i, bus)
    return status.OK


def chain_pairs() -> dict:
    """{kind code: step} as the elif chain of stage_step dispatches them (read from its source)."""
    step = getattr(stage_step, "py_func", stage_step)  # plain Python under NUMBA_DISABLE_JIT=1
    tree = ast.parse(textwrap.dedent(inspect.getsource(step)))
    names = globals()
    pairs, codes = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            code = names[node.test.comparators[0].id]
            codes.append(code)
            pairs[code] = names[node.body[0].value.func.id]
    if len(codes) != len(pairs):
        raise RuntimeError(f"rtcore.dispatch: a kind code appears twice in stage_step: {sorted(codes)}")
    return pairs


def check_registry() -> None:
    """Codes unique (one step per code) and every family's stages dispatched; raises naming the stage."""
    chain = chain_pairs()
    seen = {}
    for family, spec in families.specs():
        where = f"{family.__name__}: stage '{spec.name}' (kind {spec.kind})"
        other = seen.setdefault(spec.kind, spec)
        if other.step is not spec.step:
            raise RuntimeError(f"{where} reuses the kind code of '{other.name}' for another step; pick a free code")
        if chain.get(spec.kind) is not spec.step:
            raise RuntimeError(f"{where} is not in rtcore.dispatch.stage_step; add its (kind, step) pair and elif line")


check_registry()
