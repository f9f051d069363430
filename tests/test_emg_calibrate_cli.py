"""`rtcore calibrate emg` against the built-in EMG user (`rtcore source emg`), end to end: the user
follows the rest / MVC / rest prompts it receives on the <stream>-prompts marker stream, and the
calibration separates rest from MVC on every channel; each prompt is on its own line."""
import signal
import subprocess

import numpy as np

from enginecli import RTCORE, run_cli
from lsl_helpers import unique


def test_calibrate_emg_against_the_synthetic_user(tmp_path):
    name = unique("wf-emg")
    user = subprocess.Popen(RTCORE + ["source", "emg", "--name", name, "--channels", "3", "--duration", "120",
                                      "--log", str(tmp_path / "user.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        r = run_cli("calibrate", "emg", "--stream", name, "--out", tmp_path / "cal", "--yes", "--rest-s", "1.5",
                    "--mvc-s", "1.5", "--react-s", "0.5", "--timeout-s", "30", timeout=300)
    finally:
        user.send_signal(signal.SIGINT)
        user.wait(10)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    print("\n" + r.stdout)
    assert lines[0].startswith("Relax completely for 1.5 s") and lines[1].startswith("Contract as hard as you can")
    assert lines[2].startswith("Relax: calibration recorded") and lines[3].startswith("saved ")
    cal = np.load(tmp_path / "cal.npz")
    assert np.all(cal["mvc"] > 10.0 * cal["rest"])  # the user relaxed, then contracted every muscle
