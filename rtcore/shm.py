"""Shared memory between the loop process and its supervisor: files in /dev/shm, mapped.

Plain mapped files (not multiprocessing.shared_memory) so that either side can die without a
resource tracker unlinking the other's view; the parent removes them at the end. Each file's name
carries the pid of the process that created it (`rtcore-<tag>-<pid>-<random>`), so that files left
by sessions killed outright (kill -9 of the whole group) are removed at the next start.
"""
import glob
import mmap
import os
import re
import tempfile

from rtcore.lifeline import alive

import numpy as np

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def create(tag: str, nbytes: int) -> str:
    """A new zero-filled mapped file of nbytes; returns its path."""
    fd, path = tempfile.mkstemp(prefix=f"rtcore-{tag}-{os.getpid()}-", dir=SHM_DIR)
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
    """Remove the shared-memory files whose creating process is gone; returns their paths.

    Files of live processes, and files without an owner pid in their name, are left alone."""
    removed = []
    for path in glob.glob(os.path.join(SHM_DIR, "rtcore-*")):
        m = _OWNED.search(path)
        if m and not alive(int(m.group(1))):
            remove(path)
            removed.append(path)
    return removed
