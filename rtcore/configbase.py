"""Config base model and one-line error messages for TOML sessions.

Every section model derives from `Strict` (pydantic v2, extra="forbid"), so a typo fails
before anything starts. `format_error` turns a pydantic ValidationError into lines of the form
    configs/demo.toml: loop.rate_hzz is not a known key (did you mean loop.rate_hz?)
"""
import difflib
import pathlib
import tomllib
import typing

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConfigError(Exception):
    """A user's config mistake: printed as one line, no traceback."""


def read_toml(path: str, missing: str, invalid: str) -> dict:
    """Parse a TOML file; ConfigError(missing) if it does not exist, "invalid: parser's reason" if it
    does not parse."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(missing) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a TOML file") from None
    except PermissionError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{invalid}: a binary file, not TOML text (byte {e.start} is not UTF-8)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{invalid}: {e}") from None


def resolve_path(path: str, config_path: str) -> pathlib.Path:
    """A file named in a config: relative paths are tried against the config's folder, then the cwd."""
    p = pathlib.Path(path).expanduser()
    if not p.is_absolute():
        beside = pathlib.Path(config_path).parent / p
        if beside.exists():
            return beside
    return p


def models_in(annotation) -> list:
    """The BaseModel classes inside an annotation (Optional, list[...], tagged unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        out.extend(models_in(arg))
    return out


def _tag(model) -> tuple:
    kind = model.model_fields.get("kind")
    return typing.get_args(kind.annotation) if kind is not None else ()


def _walk(root, loc):
    """The user's key path for a pydantic location, and the model holding its last key.

    Pydantic puts the tag of a tagged union into the location (decoder.linear.n_out);
    the user wrote decoder.n_out, so tags are resolved to their member and dropped.
    """
    path, candidates, parent = [], [root], None
    for part in loc:
        if isinstance(part, int):
            if path:
                path[-1] = f"{path[-1]}[{part}]"
            continue
        tagged = [m for m in candidates if part in _tag(m) and part not in m.model_fields]
        if tagged:
            candidates = tagged
            continue
        model = candidates[0] if candidates else None
        parent = model
        path.append(part)
        field = model.model_fields.get(part) if model is not None else None
        candidates = models_in(field.annotation) if field is not None else []
    return path, parent


def format_error(err: ValidationError, model_cls, source: str) -> str:
    """One line per problem, naming the file, the dotted key path and what was expected."""
    lines = []
    for e in err.errors():
        path, parent = _walk(model_cls, tuple(e["loc"]))
        dotted = ".".join(path)
        if e["type"] == "extra_forbidden":
            known = list(parent.model_fields) if parent is not None else []
            hint = difflib.get_close_matches(path[-1], known, n=1)
            prefix = ".".join(path[:-1])
            prefix = prefix + "." if prefix else ""
            if hint:
                lines.append(f"{source}: {dotted} is not a known key (did you mean {prefix}{hint[0]}?)")
            else:
                lines.append(f"{source}: {dotted} is not a known key (known: {', '.join(known)})")
        elif e["type"] == "union_tag_invalid":
            lines.append(f"{source}: {dotted}.kind: {e['msg']}")
        elif e["type"] == "union_tag_not_found":
            lines.append(f"{source}: {dotted}: needs a 'kind' key ({e['msg']})")
        else:
            got = e.get("input")
            got_s = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            lines.append(f"{source}: {dotted}: {e['msg']}{got_s}")
    return "\n".join(lines)
