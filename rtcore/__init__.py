"""rtcore: a real-time closed-loop BCI and robotics control engine.

Importing rtcore points Numba's on-disk cache at a directory keyed by a hash of the engine's
sources (rtcore, devices, sims). Numba's own cache only checks the file that defines a function,
not the stage files the tick calls, so an edit to a stage would otherwise reuse a stale tick.
Set NUMBA_CACHE_DIR yourself to override.
"""
import hashlib
import os
import pathlib

__version__ = "0.1.0"


def _source_hash() -> str:
    root = pathlib.Path(__file__).resolve().parent.parent
    h = hashlib.sha1(__version__.encode())
    for pkg in ("rtcore", "devices", "sims"):
        for path in sorted((root / pkg).rglob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


if "NUMBA_CACHE_DIR" not in os.environ:
    _base = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(_base, "rtcore", "numba", _source_hash())
