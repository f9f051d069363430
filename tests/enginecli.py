"""Helpers for tests that run `rtcore` as a user would: a real process, real files."""
import json
import os
import subprocess
import sys
import textwrap

RTCORE = [sys.executable, "-m", "rtcore.cli"]


def write_config(tmp_path, text: str, name: str = "session.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def run_cli(*args, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(RTCORE + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


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
    s = summary(out)
    assert r.returncode == EXIT[s["verdict"]], r.stdout + r.stderr
    assert s["verdict"] == "ok" or (s["verdict"] == "degraded" and
                                    all("of deadlines missed" in x for x in s["reasons"])), s["reasons"]
    return s
