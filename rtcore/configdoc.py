"""configs/README.md, generated from the config models (`python -m rtcore.configdoc`).

Every key's type, default and one-line meaning come from the pydantic models beside the code
they configure, so the reference cannot drift from what the validator accepts
(tests/test_config_reference.py checks the committed file).
"""
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rtcore.config import SessionConfig
from rtcore.configbase import models_in

INTRO = """# Session config reference

A session is one TOML file. Every section and key is listed here, generated from the config
models (`python -m rtcore.configdoc > configs/README.md`). Unknown keys, wrong types and
out-of-range values fail before anything starts, with one line naming the file and the key.
Any key can be overridden on the command line: `rtcore run configs/demo.toml --set loop.rate_hz=2000`.
Sections with a `kind` are tagged: the keys depend on the kind.
"""


def _type_name(ann) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if ann is type(None):
        return "none"
    return getattr(ann, "__name__", str(ann))


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    return "none" if value is None else f"`{value!r}`"


def _table(model) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, f in model.model_fields.items():
        typ = "section" if models_in(f.annotation) else _type_name(f.annotation)
        cells = [f"`{f.alias or name}`", typ, _default(f), f.description or ""]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


def _kind(model) -> str:
    tag = model.model_fields.get("kind")
    return f" (kind = {typing.get_args(tag.annotation)[0]!r})" if tag is not None else ""


def _section(path: str, model, lines: list, seen: set, heading: bool) -> None:
    """A model's table under `### path (kind = ...)`, then its nested sections."""
    if model in seen:
        return
    seen.add(model)
    doc = (model.__doc__ or "").strip().splitlines()
    doc = [doc[0], ""] if doc and not doc[0].startswith("[") else []
    lines += [""] + ([f"### {path}{_kind(model)}", ""] if heading else []) + doc + _table(model)
    for name, f in model.model_fields.items():
        for sub in models_in(f.annotation):
            _section(f"{path}.{name}", sub, lines, seen, heading=True)


def _muscle_elbow() -> list[str]:
    """The muscle elbow's command channels, for `[decoder] muscles` and the joint controller."""
    from sims.plants.muscle_elbow import FLEXORS, MUSCLES
    rows = ["", "## Muscle elbow: command channels", "",
            "`[plant] kind = \"muscle_elbow\"` takes `command` = 6 muscle excitations (0..1) in this order. "
            "`[decoder] muscles` gives, per command channel in this order, the EMG channel that drives it "
            "(-1: none): with electrode 0 over the flexors and 1 over the triceps, "
            "`muscles = [1, 1, 1, 0, 0, 0]` (configs/emg_elbow.toml). "
            "`[controller] agonists` / `antagonists` name them.", "",
            "| command channel | muscle | action |", "|---|---|---|"]
    rows += [f"| {k} | `{m}` | {'flexes' if m in FLEXORS else 'extends'} the elbow |" for k, m in enumerate(MUSCLES)]
    return rows


def render() -> str:
    lines = [INTRO]
    seen = set()
    for name, f in SessionConfig.model_fields.items():
        members = models_in(f.annotation)
        is_list = "list[" in str(f.annotation)
        lines += ["", f"## [[{name}]]" if is_list else f"## [{name}]"]
        for m in members:
            _section(name, m, lines, seen, heading="kind" in m.model_fields)
    lines += _muscle_elbow()
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
