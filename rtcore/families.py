"""The stage families of a session, in BUILD order, as real imports.

Each family module exposes `build_from_session(cfg, ctx) -> list[Stage]` (none when its
sections are absent) and lists its stage files once: MEMBERS (selected by a config `kind`, or
each by its own section), HELPERS (stages another member builds), or its own SPEC.
The plant registers `command` before the controller that writes it; the forward model
registers `estimate` before the controller that reads it; the trial-level learner registers
`learned_field` before the feedforward that applies it.
"""
from devices.lsl import outlet
from rtcore import cerebellum, control, decoders, learning, sources
from rtcore.stages import crash
from sims import paradigms, plants

BUILD_ORDER = (sources, decoders, plants, paradigms, learning, cerebellum, control, outlet, crash)
#: the config sections each family builds from, as wiring errors name them
SECTIONS = {sources: ("source",), decoders: ("decoder",), plants: ("plant",), paradigms: ("task",), learning: ("learning", "aim"),
            cerebellum: ("feedback", "forward_model", "feedforward"), control: ("controller",),
            outlet: ("outlet",), crash: ("test",)}


def section_label(family, cfg) -> str:
    """How a wiring message names the family's stage: "[decoder] kind = 'kalman'", "[feedback]"."""
    names = SECTIONS[family]
    sec = getattr(cfg, names[0], None)
    kind = getattr(sec, "kind", None)
    label = "/".join(f"[{n}]" for n in names)
    return f"{label} kind = '{kind}'" if isinstance(kind, str) else label


def specs() -> list:
    """(family module, StageSpec) for every stage the families can build."""
    out = []
    for family in BUILD_ORDER:
        members = getattr(family, "MEMBERS", ()) + getattr(family, "HELPERS", ())
        out.extend((family, m.SPEC) for m in members)
        if hasattr(family, "SPEC"):
            out.append((family, family.SPEC))
    return out
