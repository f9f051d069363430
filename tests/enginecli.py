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
