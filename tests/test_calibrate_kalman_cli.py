"""A Kalman BCI made from the command line, as a lab would: `rtcore source neural` stands in for
the array, `rtcore calibrate kalman` runs the observation block against it and fits the decoder,
then `rtcore run` sessions decode the same subject (population_seed) with the fitted decoder and
with a random one. Held-out R^2 >= 0.7 and >= 3x the random decoder's success rate."""
import re
import signal
import subprocess

import pytest

from bci_task import cursor_task
from enginecli import RTCORE, lsl_companion, run_cli, summary, toml, write_config
from lsl_helpers import unique
from rtcore.decoders import kalman_fit

SUBJECT = 7  #: population_seed of the simulated subject, the same in every session
UNITS = 128
BIN_S = 0.05


def start_user(name, session, log, *extra):
    return subprocess.Popen(RTCORE + ["source", "neural", "--name", name, "--session", session, "--channels", str(UNITS),
                                      "--set", f"population_seed={SUBJECT}", "--log", str(log), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("kf")
    name, session = unique("wf-neural"), unique("wfcal")
    user = start_user(name, session, d / "user.log", "--duration", "300")
    try:
        r = run_cli("calibrate", "kalman", "--stream", name, "--session", session, "--out", d / "kf",
                    "--duration-s", 45, "--run-dir", d / "observation", "--steady-state", timeout=900)
    finally:
        stop(user)
    return d, r


def bci_session(tmp, decoder_file, label):
    name, session = unique(f"wf-{label}"), unique(f"wfbci-{label}")
    user = lsl_companion("neural", name, session, "--channels", UNITS, "--seed", 3, "--set", f"population_seed={SUBJECT}",
                         resolve_timeout_s=30)
    cfg = write_config(tmp, toml(f"""
        [session]
        name = "{session}"
        duration_s = 30
        seed = 3
        [loop]
        rate_hz = 100
        """, user, f"""
        [decoder]
        kind = "kalman"
        decoder_file = "{decoder_file}"
        bin_s = {BIN_S}
        """, cursor_task(100, timeout_s=4.0)), name=f"{label}.toml")
    out = tmp / label
    return out, subprocess.Popen(RTCORE + ["run", cfg, "--out", str(out)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)


def test_observation_block_fits_a_decoder_with_held_out_r2_above_0_7(calibrated):
    d, r = calibrated
    assert r.returncode == 0, r.stdout + r.stderr
    r2 = float(re.search(r"held-out R\^2 ([0-9.]+)", r.stdout).group(1))
    print(f"\n{r.stdout}")
    assert r2 >= 0.7
    model = kalman_fit.load_kalman(str(d / "kf.npz"))
    assert model.n_units == UNITS and model.bin_s == BIN_S
    assert len(model.meta["steady_state_gain"]) == 5  # K [5, n], asked for with --steady-state
    assert "Stream transmission" not in r.stdout + r.stderr  # liblsl's log went to the run's lsl.log
    # the same fit, offline, from the recorded observation block
    again = run_cli("calibrate", "kalman", "--from", d / "observation" / "session.xdf", "--out", d / "kf_again")
    assert again.returncode == 0, again.stderr
    assert re.search(r"held-out R\^2 ([0-9.]+)", again.stdout).group(1) == f"{r2:.2f}"


def test_fitted_decoder_beats_a_random_one_three_times_on_the_same_subject(calibrated, tmp_path):
    d, r = calibrated
    assert r.returncode == 0, r.stderr
    rand = kalman_fit.save_kalman(tmp_path / "random", kalman_fit.random_decoder(UNITS, BIN_S, seed=1))
    runs = {label: bci_session(tmp_path, f, label) for label, f in (("fitted", d / "kf.npz"), ("random", rand))}
    rates = {}
    for label, (out, p) in runs.items():
        stdout, stderr = p.communicate(timeout=900)
        task = summary(out)["task"]
        succ = sum(1 for x in task["trials"]["success"] if x)
        rates[label] = succ / max(task["n_done"], 1)
        print(f"\n{label}: {succ} successes in {task['n_done']} trials ({rates[label]:.2f})")
    assert rates["fitted"] >= 0.5
    assert rates["fitted"] >= 3.0 * rates["random"]
