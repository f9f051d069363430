"""One folder per run: a new `runs/<timestamp>` folder for every session, and no silent reuse of `--out`.

`new_run_dir` creates runs/YYYYmmdd-HHMMSS with os.mkdir, which is atomic: two runs started in the
same second cannot both get the folder; the later one takes the next free suffix (-2, -3, ...).
`claim_out` takes a folder the user named: it refuses (one line) a folder that already holds a
session unless overwrite is given, and then removes only the files a session writes there.
"""
import datetime
import os
import shutil

#: Files (and the replay folder) a session leaves in its output folder; their presence means "holds a session".
SESSION_FILES = ("session.xdf", "summary.json", "config.toml", "config.json", "child.log", "report.png",
                 "report.html", "child_ready.json", "child_done.json", "child_error.json")
SESSION_DIRS = ("replay",)
MAX_SUFFIX = 10_000


class OutDirError(ValueError):
    """The output folder cannot be used; the message is one line for the user."""


def new_run_dir(base: str = "runs", now: datetime.datetime | None = None) -> str:
    """Create and return a fresh folder base/YYYYmmdd-HHMMSS[-k]; never one another run holds."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    os.makedirs(base, exist_ok=True)
    for k in range(1, MAX_SUFFIX):
        path = os.path.join(base, stamp if k == 1 else f"{stamp}-{k}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise OutDirError(f"{base}: no free run folder for {stamp} after {MAX_SUFFIX - 1} tries")


def holds_session(path: str) -> bool:
    """True when path has any file or folder a session writes."""
    return any(os.path.exists(os.path.join(path, f)) for f in SESSION_FILES + SESSION_DIRS)


def claim_out(path: str, overwrite: bool = False) -> str:
    """Make path the run's output folder: created if missing; refused if it holds a session, unless
    overwrite, which removes that session's files (nothing else in the folder)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutDirError(f"--out {path}: exists and is not a folder")
    try:
        os.makedirs(path)
        return path
    except FileExistsError:
        pass
    if holds_session(path):
        if not overwrite:
            raise OutDirError(f"--out {path}: already holds a session (session.xdf/summary.json); "
                              f"choose another folder or pass --overwrite to replace it")
        for name in SESSION_FILES:
            p = os.path.join(path, name)
            if os.path.exists(p):
                os.unlink(p)
        for name in SESSION_DIRS:
            shutil.rmtree(os.path.join(path, name), ignore_errors=True)
    return path
