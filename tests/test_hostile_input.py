"""Bad input through the CLI, as a user hits it: each case is one line on stderr naming the file or
key, exit code 2, and nothing started (no run folder; the config's companion, which would leave a
marker file, never ran). Then the cases that must run: a relative model_path under `rtcore run`
from another folder, a center-out schedule that would repeat targets, and a centre that cannot be
held (centre-hold timeout)."""
import json
import textwrap

import numpy as np
import pytest

from rtcore import recording
from enginecli import run_cli, summary, write_config

MJCF = "<mujoco><worldbody><body><joint name='hinge'/><geom size='0.1' mass='1'/></body></worldbody>" \
       "<actuator><motor joint='hinge' name='m'/></actuator><sensor><jointpos joint='hinge' name='angle'/></sensor></mujoco>"


def files(tmp_path):
    """Damaged data files beside a config: truncated .npz, corrupt .json sidecar, broken MJCF."""
    good = tmp_path / "cal.npz"
    np.savez(good, rest=np.zeros(4), mvc=np.ones(4))
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:200])
    np.savez(tmp_path / "sidecar.npz", rest=np.zeros(4), mvc=np.ones(4))
    (tmp_path / "sidecar.json").write_text('{"kind": "emg_calib')
    (tmp_path / "broken.xml").write_text(MJCF[:60])
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    (tmp_path / "empty.toml").write_text("# nothing but a comment\n")


def session(tmp_path, body: str) -> str:
    marker = tmp_path / "companion-ran"
    return write_config(tmp_path, f"""
        [session]
        name = "hostile"
        duration_s = 1
        [[companion]]
        name = "marker"
        command = ["touch", "{marker}"]
        start_s = 0.0
        """ + textwrap.dedent(body), name=f"s{abs(hash(body))}.toml")


EMG = """
    [source]
    kind = "synthetic_emg"
    n_channels = 4
    [decoder]
    kind = "emg"
    input_rate_hz = 2000
    calibration_file = "{}"
    [plant]
    kind = "two_link_arm"
    """
ARM = """
    [plant]
    kind = "mjcf"
    model_path = "{}"
    command = ["m"]
    state = ["{}"]
    """

CASES = [  # (id, argv builder, expected text in the one line)
    ("empty-file", lambda t: ["run", t / "empty.toml"], "empty.toml: empty config"),
    ("binary-file", lambda t: ["run", t / "binary.toml"], "binary.toml: not valid TOML: a binary file"),
    ("truncated-npz", lambda t: ["run", session(t, EMG.format("trunc.npz"))],
     "trunc.npz' is not a readable numpy file (truncated or corrupt: BadZipFile"),
    ("corrupt-json-sidecar", lambda t: ["run", session(t, EMG.format("sidecar.npz"))],
     "sidecar.json' is not valid JSON"),
    ("invalid-mjcf", lambda t: ["run", session(t, ARM.format("broken.xml", "angle"))],
     "broken.xml': XML parse error"),
    ("unknown-mjcf-sensor", lambda t: ["run", session(t, ARM.format("arm.xml", "nope"))], "plant.state"),
    ("set-companion-command", lambda t: ["run", session(t, ""), "--set", "companion.0.command.9=x"],
     "--set companion.0.command.9: a companion's command runs as a program; refused unless --allow-companion-set"),
    ("set-companion-index", lambda t: ["run", session(t, ""), "--allow-companion-set", "--set", "companion.0.command.9=x"],
     "--set companion.0.command.9: companion.0.command has 2 entries; no index 9"),
    ("set-plant-state-index", lambda t: ["run", session(t, ARM.format("arm.xml", "angle")), "--set", "plant.state.3=x"],
     "--set plant.state.3: plant.state has 1 entries; no index 3"),
    ("set-through-a-value", lambda t: ["run", session(t, ""), "--set", "session.name.x=1"],
     "--set session.name.x: session.name is a value"),
    ("replay-folder-without-xdf", lambda t: ["replay", t], "no session.xdf in this folder"),
    ("replay-missing-file", lambda t: ["replay", t / "nope" / "session.xdf"], "session.xdf: no such recording"),
    ("replay-corrupt-xdf", lambda t: ["replay", t / "cal.npz"], "cal.npz: not a readable XDF recording"),
    ("report-missing-folder", lambda t: ["report", t / "nope"], "nope: no such session folder"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_starts_nothing(tmp_path, case):
    _name, argv, text = case
    files(tmp_path)
    (tmp_path / "arm.xml").write_text(MJCF)
    r = run_cli(*argv(tmp_path), cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], r.stderr
    assert "Traceback" not in r.stdout + r.stderr and "allow_pickle" not in r.stderr
    assert not (tmp_path / "companion-ran").exists() and not (tmp_path / "runs").exists()


def test_relative_model_path_is_found_beside_the_config_from_another_folder(tmp_path):
    (tmp_path / "rig").mkdir()
    (tmp_path / "rig" / "arm.xml").write_text(MJCF)
    path = write_config(tmp_path / "rig", """
        outlet = []
        [session]
        name = "relmodel"
        [plant]
        kind = "mjcf"
        model_path = "arm.xml"
        command = ["m"]
        state = ["angle"]
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_cli("run", path, "--fast", "--duration", 0.1, "--out", tmp_path / "out", "--quiet", cwd=elsewhere,
                timeout=1500)
    assert r.returncode == 0, r.stdout + r.stderr
    s = summary(tmp_path / "out")
    assert s["ticks"] == 100 and s["config"]["plant"]["model_path"] == str(tmp_path / "rig" / "arm.xml")


CURSOR = """
    outlet = []
    [session]
    name = "paradigm"
    duration_s = 120
    [loop]
    rate_hz = 500
    [plant]
    kind = "cursor"
    [controller]
    kind = "endpoint_pd"
    kp_n_per_m = 10.0
    kd_ns_per_m = 0.0
    motor_noise_n = 0.0
    [task]
    kind = "center_out"
    hold_s = 0.05
    timeout_s = 2.0
    {task}
    [[block]]
    name = "a"
    n_trials = {n}
"""


def run_task(tmp_path, task: str, n: int, rc: int = 0):
    path = write_config(tmp_path, CURSOR.format(task=task, n=n))
    r = run_cli("run", path, "--fast", "--out", tmp_path / "out", "--quiet", timeout=1500)
    assert r.returncode == rc, r.stdout + r.stderr
    return summary(tmp_path / "out"), recording.load(str(tmp_path / "out"))


def test_reaching_on_from_target_to_target_never_repeats_a_target(tmp_path):
    # two targets in random order: the shuffled cycles [a, b][b, a] would repeat b (a zero-length
    # reach that divided by zero in center_out._track)
    s, _ = run_task(tmp_path, "n_targets = 2\nreturn_to_center = false\nrandom_order = true", 12)
    assert s["exit_reason"] == "task: task done: all blocks run"
    deg = s["task"]["trials"]["target_deg"]
    assert len(deg) == 12 and all(a != b for a, b in zip(deg, deg[1:])), deg
    assert sum(s["task"]["trials"]["success"]) == 12


def test_a_centre_that_cannot_be_held_times_out_counted_and_marked(tmp_path):
    # the cursor stays within +-0.2 m: a centre at (5, 5) m is never reached
    s, rec = run_task(tmp_path, "center_m = [5.0, 5.0]\ncenter_timeout_s = 0.5", 3, rc=3)
    assert s["verdict"] == "degraded"  # the task ran, no trial succeeded
    assert s["exit_reason"] == "task: task done: all blocks run"
    assert s["task"]["center_timeouts"] == 3 and s["task"]["blocks"][0]["center_timeouts"] == 3
    assert s["task"]["trials"]["center_timeout"] == [1.0, 1.0, 1.0]
    assert s["ticks"] == pytest.approx(3 * 0.5 * 500, abs=5)  # 0.5 s per trial, then the task ended
    from sims.paradigms.markers import CENTER_TIMEOUT
    assert int((rec["marker"][:, 0] == CENTER_TIMEOUT).sum()) == 3
    json.dumps(s)  # NaN metrics are written as null
