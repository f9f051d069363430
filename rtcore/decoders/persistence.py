"""Save and load decoders and calibrations: arrays in `<name>.npz`, metadata in `<name>.json`.

The JSON holds what a reader needs without numpy: kind, units, bin, fit time, the config hash
(sha1 of the canonical JSON of the settings the arrays depend on), and array shapes. Loading
checks the kind and the arrays present and names the file and the fix in one line.
"""
import hashlib
import json
import os
import pathlib
import time
import zipfile

import numpy as np

#: what numpy raises for a truncated, corrupt or foreign .npz/.npy (its allow_pickle hint is misleading)
NPY_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError)


def load_arrays(path, where: str) -> dict:
    """Every array of a .npz (or the one of a .npy as {"": a}), without pickles; a truncated or
    corrupt file is a one-line ValueError naming `where` and the file."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            return {"": data}
        with data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ValueError(f"{where}: cannot read '{path}': no such file") from None
    except NPY_ERRORS as e:
        reason = "not numpy data (or pickled objects, which are never loaded)" if "pickle" in str(e) else f"{type(e).__name__}: {e}"
        raise ValueError(f"{where}: '{path}' is not a readable numpy file (truncated or corrupt: {reason}); "
                         f"write it again") from None


def load_meta(js: pathlib.Path, where: str) -> dict:
    """The JSON sidecar as a dict ({} when absent); a corrupt one is a one-line ValueError naming it."""
    if not js.exists():
        return {}
    try:
        meta = json.loads(js.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{where}: sidecar '{js}' is not valid JSON ({e}); write it again") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: sidecar '{js}' holds a {type(meta).__name__}, not a JSON object")
    return meta


def config_hash(settings: dict) -> str:
    """sha1 (12 hex) of the settings as canonical JSON (sorted keys)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def paths(path) -> tuple[pathlib.Path, pathlib.Path]:
    """(npz, json) paths for `path`, with or without a suffix."""
    p = pathlib.Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def save(path, kind: str, arrays: dict, meta: dict) -> pathlib.Path:
    """Write arrays (.npz) and metadata (.json, adds kind, saved time, shapes); returns the .npz path.

    Both files are written to temporary names and renamed, so a reader never sees half a file.
    """
    npz, js = paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, kind=kind, saved_unix_s=time.time(),
                shapes={k: list(np.shape(v)) for k, v in arrays.items()})
    tmp = npz.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    os.replace(tmp, npz)
    tmp_js = js.with_suffix(".tmp.json")
    tmp_js.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    os.replace(tmp_js, js)
    return npz


def load(path, kind: str, required: tuple, where: str) -> tuple[dict, dict]:
    """(arrays, meta) from `path`; one-line ValueError naming `where`, the file and the fix."""
    npz, js = paths(path)
    if not npz.exists():
        raise ValueError(f"{where}: no such file '{npz}'; create it with `rtcore calibrate` or give the right path")
    meta = load_meta(js, where)
    if meta.get("kind", kind) != kind:
        raise ValueError(f"{where}: '{npz}' holds a '{meta['kind']}' file, expected '{kind}'")
    arrays = load_arrays(npz, where)
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ValueError(f"{where}: '{npz}' lacks array(s) {', '.join(missing)} (has: {', '.join(arrays)})")
    return arrays, meta
