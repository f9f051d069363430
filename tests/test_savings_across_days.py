"""Learning lasts across sessions: curl-field savings after a 24 h break, and a SIGKILL loses at most
one checkpoint interval.

Whole sessions of the shipped configs/days/curl_day{1,2}.toml, run as a user would (`rtcore run
--fast`): day 1 (baseline, curl field) writes <out>/state.npz; day 2 (the field from its first trial)
runs resumed (`--resume DAY1`, break_h = 24: the cerebellar weights kept as the slow state) and
naive. The measure is the task's per-trial perpendicular error at peak speed, signed toward the
field (`field_error_m`, summary.json). A third day-1 session has its loop process killed with
SIGKILL mid-way; its last periodic checkpoint is resumed."""
import json
import os
import pathlib
import signal
import subprocess
import time
import uuid

import numpy as np
import pytest

from enginecli import RTCORE, run_cli, summary
from rtcore import checkpoint

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs" / "days"
DAY1, DAY2 = CONFIGS / "curl_day1.toml", CONFIGS / "curl_day2.toml"
FIRST = 8  #: day 2's first trials (one cycle of targets)
KILL_EVERY_S = 0.2  #: checkpoint interval of the killed session, s (the whole --fast day 1 takes ~2 s when quiet)
KILL_AFTER_TRIALS = 16 + 48  #: the killed session has run half its exposure block


def _start(config, out, name, *extra):
    args = RTCORE + ["run", str(config), "--fast", "--quiet", "--out", str(out), "--set", f"session.name={name}",
                     "--set", 'record.signals=["trial"]', *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(p, out) -> dict:
    text, _ = p.communicate(timeout=900)
    assert p.returncode == 0, text  # --fast: every row recorded, verdict ok
    s = summary(out)
    s["_stdout"] = text
    return s


def _kill_mid_session(out, name) -> tuple[dict, str]:
    """Day 1 with checkpoints every KILL_EVERY_S; its loop process is SIGKILLed as soon as a
    checkpoint holds KILL_AFTER_TRIALS trials (mid-exposure), so at most one interval later."""
    p = _start(DAY1, out, name, "--set", f"checkpoint.every_s={KILL_EVERY_S}")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and p.poll() is None:
        try:
            trials = json.loads((out / "state.json").read_text())["trials"]["task"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            trials = 0
        if trials >= KILL_AFTER_TRIALS:
            os.kill(json.loads((out / "child_ready.json").read_text())["pid"], signal.SIGKILL)
            break
        time.sleep(0.01)
    text, _ = p.communicate(timeout=120)
    assert p.returncode == 1 and (out / "summary.json").exists(), text  # failed: the child died
    return summary(out), text


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Summaries of day 1, day 2 resumed and naive, the killed day 1 and day 2 resumed from it."""
    tag = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("days")
    out = {k: root / k for k in ("day1", "resumed", "naive", "killed", "after_kill")}
    day1 = _start(DAY1, out["day1"], f"d1-{tag}")
    naive = _start(DAY2, out["naive"], f"naive-{tag}")
    res = {"day1": _finish(day1, out["day1"])}
    resumed = _start(DAY2, out["resumed"], f"resumed-{tag}", "--resume", str(out["day1"]))
    res["killed"], res["killed_text"] = _kill_mid_session(out["killed"], f"killed-{tag}")
    after = _start(DAY2, out["after_kill"], f"after-{tag}", "--resume", str(out["killed"]),
                   "--set", "resume.break_h=0")
    for k, p in (("naive", naive), ("resumed", resumed), ("after_kill", after)):
        res[k] = _finish(p, out[k])
    res["_out"] = out
    return res


def field_errors(s: dict) -> np.ndarray:
    tr = s["task"]["trials"]
    err = np.array([np.nan if v is None else v for v in tr["field_error_m"]], float)
    catch = np.array(tr["catch"], float)
    block = np.array(tr["block"], float)
    return err[(block == block.max()) & (catch == 0)]  # the last block is the curl field, in both days


def trials_to_criterion(err: np.ndarray, level: float, window: int = FIRST) -> int:
    """First trial after which the mean of `window` trials is below level (len(err) if never)."""
    means = np.convolve(err, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(means < level)
    return int(below[0]) if below.size else len(err)


def test_every_session_writes_a_checkpoint_with_metadata(days):
    s = days["day1"]
    ck = s["checkpoint"]
    assert ck["writes"] >= 1 and ck["last_tick"] == s["ticks"] and ck["bytes"] > 0
    arrays, meta = checkpoint.load(str(days["_out"]["day1"]))
    assert meta["final"] and meta["ticks"] == s["ticks"] and meta["rtcore_version"]
    assert meta["trials"] == {"task": 16 + 96} and meta["plant"] == "two_link_arm"
    for part in ("forward_model", "feedforward", "task"):
        assert len(meta["parts"][part]["config_hash"]) == 12
    w = arrays["feedforward.W"]
    assert w.shape == tuple(meta["parts"]["feedforward"]["shapes"]["W"]) and np.abs(w).max() > 0
    assert json.loads((days["_out"]["day1"] / "state.json").read_text())["ticks"] == s["ticks"]


def test_day2_resumed_starts_with_a_smaller_error_and_readapts_faster(days):
    d1, res, naive = field_errors(days["day1"]), field_errors(days["resumed"]), field_errors(days["naive"])
    r = days["resumed"]["resumed"]
    assert sorted(r["parts"]) == ["feedforward", "forward_model"] and r["break_h"] == 24
    assert r["retention"]["slow"] == pytest.approx(0.6) and r["retention"]["fast"] < 1e-6
    assert "resumed feedforward, forward_model from" in days["resumed"]["_stdout"]
    print(f"\nfield error (mm), first {FIRST}: day1 {1e3 * d1[:FIRST].mean():.2f}  naive day2 "
          f"{1e3 * naive[:FIRST].mean():.2f}  resumed day2 {1e3 * res[:FIRST].mean():.2f}; "
          f"day1 last {FIRST}: {1e3 * d1[-FIRST:].mean():.2f}")
    # savings: the resumed day starts well below naive and reaches a criterion sooner
    assert res[:FIRST].mean() < 0.5 * naive[:FIRST].mean()
    level = d1[-FIRST:].mean() + 0.5 * (naive[:FIRST].mean() - d1[-FIRST:].mean())
    assert trials_to_criterion(res, level) < trials_to_criterion(naive, level)


def test_sigkill_loses_at_most_one_checkpoint_interval(days):
    s = days["killed"]
    assert "child died" in s["exit_reason"] and "killed by SIGKILL" in s["exit_reason"]
    ck = s["checkpoint"]
    assert ck["writes"] >= 2
    _arrays, meta = checkpoint.load(str(days["_out"]["killed"]))  # complete and readable
    assert not meta["final"] and meta["ticks"] == ck["last_tick"]
    ticks_per_s = s["ticks"] / s["wall_s"]  # the loop's own rate (offline, as fast as it goes)
    lost_s = (s["ticks"] - ck["last_tick"]) / ticks_per_s
    print(f"\nkilled at tick {s['ticks']}, last checkpoint at tick {ck['last_tick']}: {lost_s:.3f} s of "
          f"loop time lost (interval {KILL_EVERY_S} s)")
    assert 0 <= lost_s <= KILL_EVERY_S + 0.1  # one interval, plus the parent's poll and write time
    # learning goes on from there: the day after starts below naive
    after = days["after_kill"]
    assert after["resumed"]["ticks"] == ck["last_tick"] and after["resumed"]["break_h"] == 0
    assert field_errors(after)[:FIRST].mean() < 0.7 * field_errors(days["naive"])[:FIRST].mean()


def test_incompatible_resume_names_the_part_and_what_differs(days, tmp_path):
    r = run_cli("run", DAY2, "--fast", "--quiet", "--out", tmp_path / "bad", "--resume", days["_out"]["day1"],
                "--set", f"session.name=bad-{uuid.uuid4().hex[:8]}", "--set", "forward_model.n_basis=48")
    assert r.returncode == 1
    line = next(ln for ln in r.stdout.splitlines() if "resume:" in ln)
    assert "part 'forward_model' does not fit" in line and "n_basis 20 vs 48" in line, r.stdout
    assert "Traceback" not in r.stdout + r.stderr
