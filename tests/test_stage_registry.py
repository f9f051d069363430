"""One registration point per stage: each stage file's SPEC is what the families, the config
unions and the compiled dispatch are built from, and a stage missing from the dispatch chain or a
reused kind code fails when rtcore.dispatch is imported (check_registry), not mid-session."""
import types
import typing

import pytest
from numba import njit

from rtcore import dispatch, families
from rtcore.config import SessionConfig
from rtcore.registry import StageSpec


def test_every_family_member_is_dispatched_to_its_own_step():
    chain = dispatch.chain_pairs()
    specs = families.specs()
    assert len(specs) >= 20
    for family, spec in specs:
        assert chain[spec.kind] is spec.step, (family.__name__, spec.name)
    # the MuJoCo kinds are variants: one code, one step, several config tags
    mujoco = {spec.name for _, spec in specs if spec.kind == dispatch.MUJOCO_PLANT}
    assert mujoco == {"two_link_arm", "muscle_elbow", "mjcf"}


def test_config_unions_are_the_members_configs():
    for family, section in ((families.decoders, "decoder"), (families.plants, "plant"),
                            (families.control, "controller"), (families.sources, "source"),
                            (families.paradigms, "task")):
        union = typing.get_args(SessionConfig.model_fields[section].annotation)[0]  # X | None
        models = typing.get_args(typing.get_args(union)[0]) or (typing.get_args(union)[0],)
        assert list(models) == [m.SPEC.config for m in family.MEMBERS], section
        assert list(family.BUILDERS) == [m.SPEC.name for m in family.MEMBERS], section


@njit
def _unknown_step(f, s, i, bus):
    return 0


_FakeStage = types.ModuleType("tests.fake_stage")


def test_a_stage_missing_from_the_chain_fails_at_import(monkeypatch):
    fake = StageSpec(kind=999, name="fake", step=_unknown_step)
    monkeypatch.setattr(families, "specs", lambda: [(_FakeStage, fake)])
    with pytest.raises(RuntimeError, match=r"tests.fake_stage: stage 'fake' \(kind 999\) is not in rtcore.dispatch"):
        dispatch.check_registry()


def test_a_reused_kind_code_fails_at_import(monkeypatch):
    taken = dispatch.KALMAN
    real = StageSpec(kind=taken, name="kalman", step=dispatch.kalman_step)
    clash = StageSpec(kind=taken, name="fake", step=_unknown_step)
    monkeypatch.setattr(families, "specs", lambda: [(_FakeStage, real), (_FakeStage, clash)])
    with pytest.raises(RuntimeError, match="reuses the kind code of 'kalman'"):
        dispatch.check_registry()
