"""Plant and paradigm mistakes fail at build time, before the loop, with one line that names the
file / actuator / sensor / key and lists what exists."""
import pytest

import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.config import validate
from rtcore.configbase import ConfigError
from rtcore.stage import BuildContext
from sims import paradigms, plants
from sims.plants.two_link_arm import MODEL_PATH


def build_plant(**cfg):
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0, config_path="/tmp/session.toml")
    return plants.build(validate({"plant": cfg}).plant, ctx), ctx


def one_line_error(fn, *words):
    with pytest.raises(ValueError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_missing_model_file():
    one_line_error(lambda: build_plant(kind="mjcf", model_path="no/such/arm.xml", command=["a"], state=["s"]),
                   "plant.model_path", "no/such/arm.xml")


def test_unparsable_model_file(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody><body><joint type='nonsense'/></body></worldbody></mujoco>")
    one_line_error(lambda: build_plant(kind="mjcf", model_path=str(bad), command=["a"], state=["s"]),
                   "cannot load MuJoCo model", "bad.xml")


def test_actuator_mismatch_lists_actuators():
    one_line_error(lambda: build_plant(kind="mjcf", model_path=str(MODEL_PATH), command=["shoulder", "elbo"],
                                       state=["qpos:shoulder"]),
                   "no actuator 'elbo'", "actuators: shoulder, elbow")


def test_sensor_mismatch_lists_sensors_and_joints():
    one_line_error(lambda: build_plant(kind="mjcf", model_path=str(MODEL_PATH), command=["shoulder", "elbow"],
                                       state=["tip_speed"]),
                   "no sensor 'tip_speed'", "joints: shoulder, elbow")


def test_mjcf_mapping_works():
    (st,), ctx = build_plant(kind="mjcf", model_path=str(MODEL_PATH), command=["elbow"],
                             state=["qpos:elbow", "qvel:elbow", "hand_x"], hand_site="hand")
    assert ctx.bus.signals["state"].labels == ("elbow_qpos", "elbow_qvel", "hand_x")
    assert ctx.bus.signals["command"].labels == ("elbow",)
    assert ctx.bus.has("curl")


def test_block_parameter_of_another_perturbation():
    with pytest.raises(ConfigError) as e:
        validate({"block": [{"name": "x", "n_trials": 3, "perturbation": "curl", "rotation_deg": 45}]})
    assert "rotation_deg is a parameter of perturbation = 'rotation'" in str(e.value)


def test_curl_block_needs_a_plant_with_a_hand():
    cfg = validate({"plant": {"kind": "muscle_elbow"}, "task": {"kind": "center_out", "center_m": [0, 0]},
                    "block": [{"name": "x", "n_trials": 3, "perturbation": "curl"}]})
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    plants.build_from_session(cfg, ctx)
    one_line_error(lambda: paradigms.build_from_session(cfg, ctx), "center_out needs a hand-space plant state",
                   "angle, angular_velocity")


def test_stages_that_need_the_plant_info_name_themselves_without_one():
    """The task and the forward model read the plant's build info (ctx.plant); a chain without a
    plant gets one line naming the stage, not a silent default."""
    from rtcore.cerebellum import forward_model
    cfg = validate({"task": {"kind": "center_out"}, "block": [{"name": "x", "n_trials": 3}]})
    ctx = BuildContext(bus=Bus(), dt_s=0.001, seed=0)
    ctx.bus.add("state", 4, "m,m/s", ("x", "y", "vx", "vy"))  # written by hand, no plant built
    one_line_error(lambda: paradigms.build_from_session(cfg, ctx), "task: needs a plant", "[plant]")
    ctx.bus.add("command", 2, "N")
    ctx.bus.add("feedback", 4, "m,m/s")
    one_line_error(lambda: forward_model.build(forward_model.ForwardModelConfig(), ctx, [1, 1, 1, 1]),
                   "forward_model: needs a plant", "nominal.mass_kg")
