"""The public Python API (rtcore.api): every example in docs/api.md runs as documented, and a
Session steps ticks exactly as the engine's loop does, however it is stepped."""
import os
import pathlib
import re

import numpy as np
import pytest

from rtcore import api
from rtcore.cerebellum import FeedbackConfig, ForwardModelConfig
from rtcore.control.endpoint_pd import EndpointPDConfig
from sims.plants import two_link_arm

ROOT = pathlib.Path(__file__).resolve().parent.parent


def examples(path: pathlib.Path) -> list:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def run_examples(path: pathlib.Path) -> None:
    """path's python examples, in one namespace, from the repository root (as the docs say)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        namespace = {"__name__": "docs_api"}
        for k, code in enumerate(examples(path)):
            exec(compile(code, f"{path.name} example {k + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)


def test_readme_api_example_runs():
    assert len(examples(ROOT / "README.md")) == 1
    run_examples(ROOT / "README.md")


def test_every_docs_example_runs_in_order(capsys):
    assert len(examples(ROOT / "docs" / "api.md")) >= 6
    run_examples(ROOT / "docs" / "api.md")
    out = capsys.readouterr().out
    assert "final distance to target" in out and "signal 'spe_typo' was not recorded" in out


def arm_chain(seed: int = 0):
    from rtcore import cerebellum, control
    ch = api.chain(dt_s=0.001, seed=seed)
    ch.add(two_link_arm.build(two_link_arm.TwoLinkArmConfig(kind="two_link_arm"), ch.ctx))
    ch.signal("target", 2, "m")
    ch.add(cerebellum.build(FeedbackConfig(), ForwardModelConfig(), None, ch.ctx))
    ch.add(control.build(EndpointPDConfig(kind="endpoint_pd"), ch.ctx))  # motor noise on: seeded
    return ch.finish()


def test_compiled_run_python_steps_and_python_task_give_identical_ticks():
    """One learning arm driven three ways: Session.run (one compiled call), Session.step per tick,
    and Session.run(task=...) writing the same target from Python: bit-identical trajectories."""
    n = 400
    runs = []
    for how in ("compiled", "step", "task"):
        sess = arm_chain()
        goal = np.array(sess.ctx.plant.start_hand_m) + [0.08, 0.02]
        targets = np.tile(goal, (n, 1))
        if how == "compiled":
            rec = sess.run(inputs={"target": targets}, record=["state", "spe"])
            runs.append(np.hstack([rec["state"], rec["spe"]]))
        elif how == "step":
            rows = []
            for k in range(n):
                sess.step({"target": targets[k]})
                rows.append(np.concatenate([sess.get("state"), sess.get("spe")]))
            runs.append(np.array(rows))
        else:
            rec = sess.run(n, record=["state", "spe"], task=lambda s: s.set("target", goal))
            runs.append(np.hstack([rec["state"], rec["spe"]]))
        assert sess.tick == n
    # the task writes the target after the stages before the task's place (none read it): same ticks
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    assert np.abs(runs[0][:, 4:]).max() > 0  # the forward model saw an error: something ran


def test_offline_run_equals_the_built_session_stepped():
    """api.run and api.build + Session.run of the same config record the same hand path."""
    cfg = {"session": {"name": "api-same", "seed": 2, "duration_s": 0.6}, "loop": {"realtime": False},
           "plant": {"kind": "two_link_arm"},
           "task": {"kind": "center_out", "n_targets": 4, "hold_s": 0.1, "timeout_s": 1.0},
           "block": [{"name": "b", "n_trials": 2}], "controller": {"kind": "endpoint_pd"},
           "record": {"signals": ["state"]}}
    offline = api.run(cfg).signal("state")
    with api.build(cfg) as sess:
        stepped = sess.run(offline.shape[0], record=["state"])["state"]
    np.testing.assert_array_equal(offline, stepped)


def test_mistakes_are_one_line_errors():
    sess = arm_chain()
    with pytest.raises(KeyError, match="no bus signal 'targte'; have: .*target"):
        sess.run(5, record=["targte"])
    with pytest.raises(ValueError, match=r"inputs\['target'\]: shape \(5, 3\), expected \[ticks, 2\]"):
        sess.run(inputs={"target": np.zeros((5, 3))})
    with pytest.raises(ValueError, match="inputs have \\[5\\] rows for n = 7 ticks"):
        sess.run(7, inputs={"target": np.zeros((5, 2))})
    with pytest.raises(TypeError, match="expected a dict, a TOML path or a SessionConfig"):
        api.run(42)
    from rtcore.configbase import ConfigError
    with pytest.raises(ConfigError, match="loop.rate_hzz is not a known key"):
        api.load_config({"loop": {"rate_hzz": 1000}})
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        sess.step()


def test_fatal_status_raises_naming_stage_and_tick():
    cfg = {"session": {"name": "api-crash", "duration_s": None}, "loop": {"realtime": False},
           "test": {"crash_at_tick": 7}}
    with api.build(cfg) as sess:
        with pytest.raises(api.SessionError, match=r"injected crash .*\(stage 'test', tick 7\)"):
            sess.run(20)
        assert sess.tick == 8
