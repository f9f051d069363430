"""Helpers for tests that run `rtcore` as a user would: a real process, real files, and the TOML of
the sessions that several tests (and benchmarks/report_memory.py) run."""
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid

RTCORE = [sys.executable, "-m", "rtcore.cli"]


def write_config(tmp_path, text: str, name: str = "session.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def toml(*parts: str) -> str:
    """One session's TOML from parts written at any indentation (each part is dedented)."""
    return "\n\n".join(textwrap.dedent(p).strip("\n") for p in parts) + "\n"


#: The synthetic EMG user as an in-process source: 4 channels at 2 kHz, its desired hand force toward
#: the target with the gains the demo gives its `rtcore source emg` companion.
SYNTHETIC_EMG = """
    [source]
    kind = "synthetic_emg"
    n_channels = 4
    rate_hz = 2000
    kp_n_per_m = 25.0
    kd_n_s_per_m = 12.0
"""


def emg_arm(n_trials: int) -> str:
    """TOML of the demo's chain after its source (configs/emg_demo.toml), on 4 EMG channels at 2 kHz:
    the EMG decoder into endpoint force on the two-link arm, center-out reaches in one block of
    n_trials, the default feedback delays and the forward model."""
    return f"""
        [decoder]
        kind = "emg"
        input_rate_hz = 2000
        pairs = [[0, 2], [1, 3]]
        torque_gain_nm = 8.0
        output = "command"

        [plant]
        kind = "two_link_arm"

        [task]
        kind = "center_out"
        hold_s = 0.1

        [[block]]
        name = "baseline"
        n_trials = {n_trials}

        [feedback]

        [forward_model]
        mossy_scale = [0.1, 0.1, 1, 1, 3, 3]
    """


def machine_session(name: str, duration_s: float) -> str:
    """TOML head of a session `duration_s` long whose LSL streams stay on this machine (loopback)."""
    return f"""
        [session]
        name = "{name}"
        duration_s = {duration_s}

        [lsl]
        scope = "machine"
    """


def lsl_companion(kind: str, stream: str, session: str, *args, **source) -> str:
    """TOML of a simulated user that the session starts 2 s in as its companion (`rtcore source KIND`
    with ARGS, publishing STREAM over LSL and following SESSION's outlets), and the [source] that
    reads STREAM; `source`: more keys of that table."""
    command = ["rtcore", "source", kind, "--name", stream, "--session", session, *map(str, args)]
    keys = "".join(f"{k} = {json.dumps(v)}\n" for k, v in source.items())
    return textwrap.dedent(f"""
        [[companion]]
        name = "user"
        command = {json.dumps(command)}
        start_s = 2.0

        [source]
        kind = "lsl"
        name = "{stream}"
    """) + keys


def dynamixel_session(name: str, port: str, duration_s: float) -> str:
    """TOML of a 500 Hz session on the emulated two-servo Dynamixel arm (ids 1, 2) at `port`, read and
    written at 100 Hz."""
    return f"""
        [session]
        name = "{name}"
        duration_s = {duration_s}
        [loop]
        rate_hz = 500
        [plant]
        kind = "dynamixel"
        port = "{port}"
        ids = [1, 2]
        device_rate_hz = 100
    """


def wait_for_file(path, proc, timeout_s: float = 900.0) -> None:
    """Until a running session's file appears (child_ready.json: the loop starts; child_done.json:
    it has ended); fails with the session's output if the session ends first, or after timeout_s
    (a first compile takes minutes)."""
    t_end = time.monotonic() + timeout_s
    while not path.exists():
        ended = proc.poll() is not None
        assert not ended and time.monotonic() < t_end, \
            f"{path} never appeared" + (f"; the session said:\n{proc.communicate()[0]}" if ended else "")
        time.sleep(0.05)


def run_cli(*args, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(RTCORE + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def fast_sessions(tmp_path_factory, runs: dict, prefix: str, *every: str, timeout: float = 900) -> dict:
    """Run `rtcore run CONFIG --fast --quiet` for every label at once, recording the per-trial
    metrics only; runs = {label: (config path, [--set items])}, every: --set items for all of them.
    Returns {label: (out dir, exit code, output)} once all have ended."""
    tag = uuid.uuid4().hex[:8]
    procs = {}
    for label, (config, sets) in runs.items():
        out = tmp_path_factory.mktemp(label) / "run"
        args = RTCORE + ["run", str(config), "--fast", "--quiet", "--out", str(out),
                         "--set", f"session.name={prefix}-{label.replace('_', '-')}-{tag}", "--set", 'record.signals=["trial"]']
        for item in (*every, *sets):
            args += ["--set", item]
        procs[label] = (out, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    result = {}
    for label, (out, p) in procs.items():
        text, _ = p.communicate(timeout=timeout)
        result[label] = (out, p.returncode, text)
    return result


def summary(out_dir) -> dict:
    with open(os.path.join(out_dir, "summary.json")) as fh:
        return json.load(fh)


EXIT = {"ok": 0, "failed": 1, "degraded": 3, "stopped": 130}  #: the README's exit-code table


def last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def assert_finished(r, out) -> dict:
    """A session whose test is not about timing ran to its end: `ok`, or `degraded` only by missed
    deadlines (a shared machine can take the CPU away; the miss limit has its own test). Returns
    the summary."""
    assert os.path.exists(os.path.join(out, "summary.json")), f"no summary.json (exit code {r.returncode}):\n{r.stdout}{r.stderr}"
    s = summary(out)
    assert r.returncode == EXIT[s["verdict"]], r.stdout + r.stderr
    assert s["verdict"] == "ok" or (s["verdict"] == "degraded" and
                                    all("of deadlines missed" in x for x in s["reasons"])), s["reasons"]
    return s
