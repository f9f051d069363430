"""A multi-day protocol chains sessions through checkpoints into one results table, with the same
results serially and on a local multi-node Ray cluster (ray.cluster_utils.Cluster)."""
import csv
import pathlib

import pytest

from rtcore import checkpoint, protocol

PROTOCOL = """
seeds = [0, 1]
set = ["session.duration_s=6", 'record.signals=["trial"]']
metrics = ["ticks", "task.n_done"]

[[day]]
name = "day1"
config = "{day1}"

[[day]]
name = "day2"
config = "{day2}"
break_h = 24
"""
DAYS = pathlib.Path(__file__).resolve().parent.parent / "configs" / "days"
#: results.csv columns that depend on the machine, not on the sessions
VOLATILE = ("wall_s",)


def _protocol(tmp_path):
    path = tmp_path / "two_days.toml"
    path.write_text(PROTOCOL.format(day1=DAYS / "curl_day1.toml", day2=DAYS / "curl_day2.toml"))
    return str(path)


def _table(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocol")
    path = _protocol(tmp)
    return path, protocol.run_protocol(path, str(tmp / "serial"), use_ray=False), tmp / "serial"


def test_days_chain_through_checkpoints_into_one_table(serial):
    _path, res, out = serial
    rows = res["rows"]
    assert [(r["seed"], r["day"], r["status"]) for r in rows] == [
        (0, "day1", "ok"), (0, "day2", "ok"), (1, "day1", "ok"), (1, "day2", "ok")]
    assert [r["resumed_parts"] for r in rows] == ["", "feedforward;forward_model"] * 2
    assert rows[1]["break_h"] == 24 and rows[0]["break_h"] is None
    with open(out / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4 and table[1]["resumed_parts"] == "feedforward;forward_model"
    _arrays, meta = checkpoint.load(str(out / "seed0" / "day2"))
    assert meta["sessions"] == 2 and meta["resumed_from"] == str(out / "seed0" / "day1")
    assert meta["trials_total"]["task"] == rows[0]["trials_done"] + rows[1]["trials_done"]
    # seeds are different participants: their sessions differ
    assert rows[0]["endpoint_error_m"] != rows[2]["endpoint_error_m"]


def test_ray_multinode_cluster_gives_the_serial_results(serial, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e \".[sweep]\"); "
                                             "the protocol runs serially without it")
    from ray.cluster_utils import Cluster
    path, res, _ = serial
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        on_ray = protocol.run_protocol(path, str(tmp_path / "ray"), use_ray=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert on_ray["backend"] == "ray"
    assert _table(on_ray["rows"]) == _table(res["rows"])
