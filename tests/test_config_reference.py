"""configs/README.md documents every key the validator accepts, and the shipped configs load."""
import pathlib

import pytest

from rtcore import config, configdoc

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_reference_is_generated_from_the_models():
    committed = (ROOT / "configs" / "README.md").read_text()
    assert committed == configdoc.render(), "regenerate: python -m rtcore.configdoc > configs/README.md"


@pytest.mark.parametrize("path", sorted(str(p) for p in (ROOT / "configs").rglob("*.toml")))
def test_shipped_configs_validate(path):
    cfg = config.load(path)
    # the resolved config written next to every run loads again to the same session
    assert config.validate(__import__("tomllib").loads(config.dump(cfg)), path) == cfg
