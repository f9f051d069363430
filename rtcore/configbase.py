"""Config base model and one-line error messages for TOML sessions.

Every section model derives from `Strict` (pydantic v2, extra="forbid"), so a typo fails
before anything starts. `format_error` turns a pydantic ValidationError into lines of the form
    configs/demo.toml: loop.rate_hzz is not a known key (did you mean loop.rate_hz?)
"""
import difflib

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConfigError(Exception):
    """A user's config mistake: printed as one line, no traceback."""


def _union_member(model_cls, loc):
    """For a tagged-union location (…, 'section', 'tag', 'field'), the member model of that tag."""
    import typing
    cls, out = model_cls, []
    for part in loc:
        fields = getattr(cls, "model_fields", None) if cls is not None else None
        if fields is not None and part in fields:
            ann = fields[part].annotation
            members = [a for a in _flatten(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
            cls = members[0] if len(members) == 1 else members or None
            out.append(part)
            continue
        if isinstance(cls, list) and isinstance(part, str):
            for m in cls:
                kind = m.model_fields.get("kind")
                if kind is not None and part in typing.get_args(kind.annotation):
                    cls = m
                    break
            continue  # the tag is not a key the user wrote
        if isinstance(part, int):
            continue
        out.append(part)
        cls = None
    return out


def _flatten(ann):
    import typing
    args = typing.get_args(ann)
    if not args:
        return [ann]
    out = []
    for a in args:
        out.extend(_flatten(a))
    return out


def format_error(err: ValidationError, model_cls, source: str) -> str:
    """One line per problem, naming the file, the dotted key path and what was expected."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        path_parts = _user_path(model_cls, loc)
        path = ".".join(str(p) for p in path_parts)
        if e["type"] == "extra_forbidden":
            parent = path_parts[:-1]
            known = _keys_at(model_cls, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            pre = ".".join(str(p) for p in parent)
            sugg = f" (did you mean {pre + '.' if pre else ''}{hint[0]}?)" if hint else (
                f" (known: {', '.join(known)})" if known else "")
            lines.append(f"{source}: {path} is not a known key{sugg}")
        elif e["type"] == "union_tag_invalid":
            lines.append(f"{source}: {path}.kind: {e['msg']}")
        else:
            got = e.get("input")
            got_s = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{source}: {path}: {e['msg']}{got_s}")
    return "\n".join(lines)


def _user_path(model_cls, loc):
    """Drop union tags (pydantic inserts the tag name) and keep list indices as [k]."""
    out = []
    cls_chain = _union_member(model_cls, loc)
    j = 0
    for part in loc:
        if isinstance(part, int):
            if out:
                out[-1] = f"{out[-1]}[{part}]"
            continue
        if j < len(cls_chain) and part == cls_chain[j]:
            out.append(part)
            j += 1
    return out


def _keys_at(model_cls, loc):
    """Known keys of the model reached by loc, resolving tagged unions by their tag."""
    import typing
    cls = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(cls, list):
            match = [m for m in cls if part in typing.get_args(m.model_fields["kind"].annotation)]
            cls = match[0] if match else None
            continue
        fields = getattr(cls, "model_fields", None)
        if not fields or part not in fields:
            return []
        members = [a for a in _flatten(fields[part].annotation)
                   if isinstance(a, type) and issubclass(a, BaseModel)]
        cls = members[0] if len(members) == 1 else (members or None)
    if isinstance(cls, list):
        return []
    return list(getattr(cls, "model_fields", {}) or [])
