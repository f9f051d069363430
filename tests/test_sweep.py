"""Offline sweeps (rtcore.sweep): one row per run, identical seeds give identical results,
re-running resumes from the points already done, a failing point is recorded and the sweep goes on,
sweep-file mistakes are one line. Ray is optional: its path is tested only when ray is installed."""
import csv
import io
import json
import os

import pytest

from rtcore.configbase import ConfigError
from rtcore.sweep import run_sweep

BASE = os.path.join(os.path.dirname(__file__), "..", "configs", "sweeps", "reach.toml")
SHORT = ["session.duration_s=6", 'block=[{name = "baseline", n_trials = 2}, {name = "curl", n_trials = 2, perturbation = "curl"}]']


def write_sweep(tmp_path, body: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(f"base = {json.dumps(os.path.abspath(BASE))}\nset = {json.dumps(SHORT)}\n" + body)
    return str(path)


# 300 N/m, not higher: at 400 N/m with 100 ms delay the elbow oscillates past the plant's
# 10 rad/s joint speed limit and the point ends in a latched fault (a sweep records that as fatal).
GRID = """seeds = [0, 1]
[grid]
"controller.kp_n_per_m" = [150.0, 300.0]
"feedback.delay_s" = [0.05, 0.1]
"""


def rows(out) -> list[dict]:
    with open(os.path.join(out, "results.csv")) as fh:
        return list(csv.DictReader(fh))


def run(path, out, **kw):
    err = io.StringIO()
    res = run_sweep(path, str(out), stream=err, **kw)
    return res, err.getvalue()


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    path = write_sweep(tmp, GRID)
    res, err = run(path, tmp / "a", use_ray=False)
    return path, tmp, res, err


def test_grid_sweep_writes_one_row_per_run(grid_sweep):
    path, tmp, res, err = grid_sweep
    assert res["total"] == 8 and res["ran"] == 8 and res["failed"] == 0
    table = rows(tmp / "a")
    assert len(table) == 8
    for col in ("hash", "seed", "status", "exit_reason", "overrides", "controller.kp_n_per_m", "feedback.delay_s",
                "ticks", "task.n_done", "success_rate", "endpoint_error_m", "first_block_perp_m",
                "last_block_perp_m", "block1_early_perp_m"):
        assert col in table[0], col
    assert {r["status"] for r in table} == {"ok"}
    assert {(r["controller.kp_n_per_m"], r["feedback.delay_s"], r["seed"]) for r in table} == {
        (k, d, s) for k in ("150.0", "300.0") for d in ("0.05", "0.1") for s in ("0", "1")}
    assert len({r["hash"] for r in table}) == 8  # the seed is part of the resolved config
    assert all(0 < int(r["ticks"]) <= 6000 and r["exit_reason"] for r in table)
    # per-trial summaries are the means of the session's own per-trial metrics
    rec = json.loads((tmp / "a" / "points" / f"{table[0]['hash']}.json").read_text())
    tr = rec["summary"]["task"]["trials"]
    first = [abs(p) for p, b in zip(tr["perp_error_m"], tr["block"]) if b == 0]
    assert float(table[0]["first_block_perp_m"]) == pytest.approx(sum(first) / len(first), rel=1e-12)
    assert float(table[0]["success_rate"]) == pytest.approx(sum(tr["success"]) / len(tr["success"]), rel=1e-12)
    assert os.path.getsize(tmp / "a" / "sweep.png") > 1000
    assert res["backend"] == "serial" and err.count("\n") == 1  # only the final progress line (not a TTY)
    assert "8/8 done, 0 failed" in err.splitlines()[-1]


def test_identical_seeds_identical_results(grid_sweep):
    path, tmp, _, _ = grid_sweep
    run(path, tmp / "b", use_ray=False)
    a, b = rows(tmp / "a"), rows(tmp / "b")
    drop = ("wall_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in a] == \
           [{k: v for k, v in r.items() if k not in drop} for r in b]
    # different seeds differ (motor noise): the sweep really varies them
    by_seed = {r["seed"]: r["endpoint_error_m"] for r in a if r["controller.kp_n_per_m"] == "150.0"
               and r["feedback.delay_s"] == "0.05"}
    assert by_seed["0"] != by_seed["1"]


def test_resume_runs_only_missing_points(grid_sweep):
    path, tmp, _, _ = grid_sweep
    out = tmp / "c"
    res, err = run(path, out, max_points=3)  # an interrupted sweep
    assert (res["ran"], res["skipped"]) == (3, 0) and len(rows(out)) == 3
    assert "3/8 done" in err.splitlines()[-1]
    res, _ = run(path, out)
    assert (res["ran"], res["skipped"]) == (5, 3) and len(rows(out)) == 8
    victim = rows(out)[4]["hash"]
    os.remove(out / "points" / f"{victim}.json")
    before = {p: os.path.getmtime(out / "points" / p) for p in os.listdir(out / "points")}
    res, _ = run(path, out)
    assert (res["ran"], res["skipped"]) == (1, 7)
    assert all(os.path.getmtime(out / "points" / p) == t for p, t in before.items())  # not rewritten
    assert rows(out) == [dict(r, wall_s=n["wall_s"]) for r, n in zip(rows(tmp / "a"), rows(out))]


def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    path = write_sweep(tmp_path, """
[[point]]
"controller.kp_n_per_m" = -5.0
[[point]]
"test.crash_at_tick" = 500
[[point]]
"controller.kp_n_per_m" = 200.0
""")
    res, err = run(path, tmp_path / "out")
    assert (res["total"], res["ran"], res["failed"]) == (3, 3, 2)
    bad, crash, good = rows(tmp_path / "out")
    assert bad["status"] == "error" and "controller.kp_n_per_m" in bad["error"] and "\n" not in bad["error"]
    assert crash["status"] == "fatal" and crash["ticks"] == "501"
    assert good["status"] == "ok"
    assert "3/3 done, 2 failed" in err.splitlines()[-1]
    res, _ = run(path, tmp_path / "out")  # failures are results too: not re-run
    assert res["ran"] == 0


@pytest.mark.parametrize("body, expected", [
    ("grdi = {}\n", "grdi is not a known key (did you mean grid?)"),
    ("seeds = [0]\nrepeats = 2\n", "give one of them"),
    ("[grid]\n\"loop.rate_hz\" = []\n", "grid.loop.rate_hz: empty list"),
    ("repeats = 0\n", "repeats"),
])
def test_sweep_file_errors_are_one_line(tmp_path, body, expected):
    path = write_sweep(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        run_sweep(path, str(tmp_path / "out"))
    msg = str(e.value)
    assert msg.startswith(path) and expected in msg and "\n" not in msg


def test_missing_base_is_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('base = "nope.toml"\n')
    with pytest.raises(ConfigError, match=r"s.toml: base: no such config file .*nope.toml$"):
        run_sweep(str(path), str(tmp_path / "out"))


def test_ray_matches_serial(grid_sweep):
    pytest.importorskip("ray")
    path, tmp, _, _ = grid_sweep
    res, _ = run(path, tmp / "ray", use_ray=True, workers=2)
    assert res["backend"] == "ray" and res["ran"] == 8
    drop = ("wall_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in rows(tmp / "a")] == \
           [{k: v for k, v in r.items() if k not in drop} for r in rows(tmp / "ray")]


def test_without_ray_a_one_line_hint(grid_sweep, monkeypatch):
    path, tmp, _, _ = grid_sweep
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if ray were not installed
    res, err = run(path, tmp / "a")
    assert res["backend"] == "serial" and res["ran"] == 0
    hint, final = err.splitlines()
    assert "Ray is not installed" in hint and "8/8 done" in final


def test_a_point_runs_on_its_own_base_in_the_same_table(tmp_path):
    """A point's `base` (relative to the sweep file) replaces the sweep's base for that point only:
    here the same reach at 500 Hz instead of 1 kHz, so the same four trials take about half the ticks."""
    slow = tmp_path / "configs" / "reach_500hz.toml"
    slow.parent.mkdir()
    slow.write_text(open(BASE).read() + "\n[loop]\nrate_hz = 500.0\n")
    path = write_sweep(tmp_path, '[[point]]\n"controller.kp_n_per_m" = 200.0\n'
                                 '[[point]]\nbase = "configs/reach_500hz.toml"\n"controller.kp_n_per_m" = 200.0\n')
    res, _ = run(path, tmp_path / "out", use_ray=False)
    assert (res["ran"], res["failed"]) == (2, 0)
    own, other = rows(tmp_path / "out")
    assert own["base"] == "" and other["base"] == "configs/reach_500hz.toml"
    assert not other["overrides"].startswith("base") and "base=" not in other["overrides"]
    assert 0.4 < int(other["ticks"]) / int(own["ticks"]) < 0.6, (own["ticks"], other["ticks"])  # measured 2792 / 5364


def test_a_missing_point_base_is_one_line(tmp_path):
    path = write_sweep(tmp_path, '[[point]]\nbase = "nope.toml"\n')
    with pytest.raises(ConfigError, match=r"s.toml: point 0: base: no such config file .*nope.toml$"):
        run_sweep(path, str(tmp_path / "out"))
