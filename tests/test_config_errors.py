"""A config mistake fails before anything starts, with one line naming file, key and fix."""
import pytest

from rtcore import config
from rtcore.configbase import ConfigError
from enginecli import run_cli, write_config


def _error(raw, overrides=()):
    with pytest.raises(ConfigError) as e:
        config.validate(raw, "configs/demo.toml", overrides)
    return str(e.value)


def test_typo_names_key_and_suggests_the_right_one():
    msg = _error({"loop": {"rate_hzz": 1000}})
    assert msg == "configs/demo.toml: loop.rate_hzz is not a known key (did you mean loop.rate_hz?)"


def test_unknown_section_is_named():
    assert "sesion is not a known key (did you mean session?)" in _error({"sesion": {"seed": 1}})


def test_wrong_type_names_key_and_value():
    msg = _error({"loop": {"realtime": "sometimes"}})
    assert msg.startswith("configs/demo.toml: loop.realtime:") and "'sometimes'" in msg


def test_out_of_range_names_the_bound():
    msg = _error({"loop": {"rate_hz": 5}})
    assert "loop.rate_hz" in msg and "greater than or equal to 10" in msg


def test_set_override_is_validated_like_the_file():
    msg = _error({}, ["loop.spin_us=-3"])
    assert msg.startswith("configs/demo.toml (with --set): loop.spin_us:")
    assert config.validate({}, "x.toml", ["loop.rate_hz=2000"]).loop.rate_hz == 2000.0
    assert "loop.ratehz is not a known key (did you mean loop.rate_hz?)" in _error({}, ["loop.ratehz=5"])


def test_tagged_section_typo_points_inside_the_section():
    msg = _error({"decoder": {"kind": "linear", "weights_seed": 1, "n_outt": 3}})
    assert msg == "configs/demo.toml: decoder.n_outt is not a known key (did you mean decoder.n_out?)"


def test_cli_reports_one_line_and_starts_nothing(tmp_path):
    path = write_config(tmp_path, """
        [loop]
        rate_hzz = 1000
    """)
    out = tmp_path / "out"
    r = run_cli("run", path, "--out", out)
    assert r.returncode == 2
    assert r.stderr.strip() == f"{path}: loop.rate_hzz is not a known key (did you mean loop.rate_hz?)"
    assert not out.exists()


def test_missing_file_is_one_line(tmp_path):
    r = run_cli("run", tmp_path / "nope.toml")
    assert r.returncode == 2 and r.stderr.strip().endswith("nope.toml: no such config file")
