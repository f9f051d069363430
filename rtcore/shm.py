"""Shared memory between the loop process and its supervisor: files in /dev/shm, mapped.

Plain mapped files (not multiprocessing.shared_memory) so that either side can die without a
resource tracker unlinking the other's view; the parent removes them at the end. Each file's name
carries the pid of the session's supervisor, the process that removes it (`rtcore-<tag>-<pid>-<random>`;
the loop process names its parent), so that files left by sessions killed outright (kill -9 of the
whole group) are removed at the next start, and a session's files outlive its loop process until its
supervisor has read them (another session starting then would otherwise take them for stale: seen
in CI, a finished loop's counts removed before its supervisor wrote summary.json).
"""
import glob
import mmap
import os
import re
import tempfile

from rtcore.lifeline import alive

import numpy as np

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def create(tag: str, nbytes: int, owner: int | None = None) -> str:
    """A new zero-filled mapped file of nbytes, named for the pid `owner` that removes it (default
    this process); returns its path."""
    fd, path = tempfile.mkstemp(prefix=f"rtcore-{tag}-{owner or os.getpid()}-", dir=SHM_DIR)
    os.ftruncate(fd, max(nbytes, 8))
    os.close(fd)
    return path


def attach(path: str, dtype, shape) -> np.ndarray:
    """A numpy view of a mapped file (a plain ndarray, which compiled code accepts)."""
    with open(path, "r+b") as fh:
        mm = mmap.mmap(fh.fileno(), 0)
    count = int(np.prod(shape))
    return np.frombuffer(mm, dtype=dtype, count=count).reshape(shape)


def remove(*paths: str) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


_OWNED = re.compile(r"rtcore-[a-z]+-(\d+)-[^/]+$")


def remove_stale() -> list[str]:
    """Remove the shared-memory files whose owner (the session's supervisor) is gone; returns their paths.

    Files of live processes, and files without an owner pid in their name, are left alone."""
    removed = []
    for path in glob.glob(os.path.join(SHM_DIR, "rtcore-*")):
        m = _OWNED.search(path)
        if m and not alive(int(m.group(1))):
            remove(path)
            removed.append(path)
    return removed
