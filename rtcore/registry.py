"""One registration point per stage: its StageSpec, and the family tables built from them.

Each stage file ends with

    SPEC = StageSpec(kind=31, name="kalman", step=kalman_step, config=KalmanDecoderConfig, build=build)

and its family's __init__ lists the member modules once (MEMBERS); the family's tagged config
union and its builder table follow from that list (`tagged_union`, `builders`). rtcore.dispatch
imports each (kind, step) pair and checks, when it is imported, that the codes are unique and
that its compiled `elif` chain covers every member of every family.

Adding a stage: write its file (config model, step, build, SPEC) and add one line to its family.
"""
from dataclasses import dataclass, field, replace
from typing import Annotated, Callable, Union

from pydantic import Field


@dataclass(frozen=True)
class StageSpec:
    """What the engine needs to know about one stage kind.

    kind: the dispatch code stored in the packed chain (unique per step; never written to files).
    name: the config tag (`kind = "dynamixel"` in TOML), or for a stage without one its role.
    step: the compiled step(f, s, i, bus) -> int.
    config: the pydantic model of its config section (None: the stage is built from other sections).
    build: its factory (None: another stage's factory builds it, e.g. the task's observe stage).
    layout: the stage's named f/s/i layout (rtcore.layout), where `learned` names are found.
    learned: its learned state, {layout name: retention class} (rtcore.checkpoint): the segments
        and slots a checkpoint saves and a resumed session loads. Classes: "slow" and "fast"
        are forgotten over a break between sessions (rtcore.learning.consolidation), "kept" is not
        (decoder matrices, calibrations, generator states), "session" is saved but never loaded
        (trial counters: a new session starts its own schedule).
    learned_on: config keys (dotted) the learned state is only valid for beyond its shapes
        (the forward model's weights are about one plant: ("plant.kind",)).
    over_break: (stage, hours, rng) -> None, run on a resumed stage after its state is loaded and
        forgotten over the break (the synthetic user's between-session tuning drift); None: nothing.
    """

    kind: int
    name: str
    step: Callable
    config: type | None = None
    build: Callable | None = None
    layout: object = None
    learned: dict = field(default_factory=dict)
    learned_on: tuple = ()
    over_break: Callable | None = None

    def variant(self, name: str, config: type, build: Callable) -> "StageSpec":
        """Another config tag served by this stage's step and kind code (the MuJoCo plant kinds)."""
        return replace(self, name=name, config=config, build=build)


def specs(members) -> list:
    """The StageSpec of each member module, in order."""
    return [m.SPEC for m in members]


def tagged_union(members):
    """The members' config models as one union tagged by their `kind` field."""
    models = []
    for spec in specs(members):
        tag = spec.config.model_fields["kind"].annotation.__args__[0]
        if tag != spec.name:
            raise ValueError(f"{spec.config.__name__}: kind Literal '{tag}' differs from its spec name '{spec.name}'")
        models.append(spec.config)
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]


def builders(members) -> dict:
    """Config tag -> factory, for every member."""
    return {spec.name: spec.build for spec in specs(members)}
