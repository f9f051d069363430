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

import numpy as np


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
    meta = json.loads(js.read_text()) if js.exists() else {}
    if meta.get("kind", kind) != kind:
        raise ValueError(f"{where}: '{npz}' holds a '{meta['kind']}' file, expected '{kind}'")
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ValueError(f"{where}: '{npz}' lacks array(s) {', '.join(missing)} (has: {', '.join(arrays)})")
    return arrays, meta
