"""configs/README.md documents every key the validator accepts, and the shipped configs load."""
import pathlib
import tomllib

import pytest

from rtcore import config, configdoc, protocol, sweep

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "configs").rglob("*.toml"))
SWEEPS = [str(p) for p in SHIPPED if "base" in tomllib.loads(p.read_text())]  # sweep files name a base session
PROTOCOLS = [str(p) for p in SHIPPED if "day" in tomllib.loads(p.read_text())]  # protocol files list days
SESSIONS = [str(p) for p in SHIPPED if str(p) not in SWEEPS + PROTOCOLS]


def test_reference_is_generated_from_the_models():
    committed = (ROOT / "configs" / "README.md").read_text()
    assert committed == configdoc.render(), "regenerate: python -m rtcore.configdoc > configs/README.md"


@pytest.mark.parametrize("path", SESSIONS)
def test_shipped_configs_validate(path):
    cfg = config.load(path)
    # the resolved config written next to every run loads again to the same session
    assert config.validate(__import__("tomllib").loads(config.dump(cfg)), path) == cfg


@pytest.mark.parametrize("path", PROTOCOLS)
def test_shipped_protocols_chain_valid_sessions(path):
    proto = protocol.load_protocol(path)
    for day in proto.day:
        config.load(day.config, day.set)


@pytest.mark.parametrize("path", SWEEPS)
def test_shipped_sweeps_expand_to_valid_sessions(path):
    sw, base, base_path = sweep.load_sweep(path)
    runs = sweep.expand(sw, path)
    assert runs
    for run in runs:
        cfg, _hash, error = sweep.resolve(base, base_path, run)
        assert error is None and cfg is not None, error
