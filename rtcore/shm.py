"""Shared memory between the loop process and its supervisor: files in /dev/shm, mapped.

Plain mapped files (not multiprocessing.shared_memory) so that either side can die without a
resource tracker unlinking the other's view; the parent removes them at the end.
"""
import mmap
import os
import tempfile

import numpy as np

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def create(tag: str, nbytes: int) -> str:
    """A new zero-filled mapped file of nbytes; returns its path."""
    fd, path = tempfile.mkstemp(prefix=f"rtcore-{tag}-", dir=SHM_DIR)
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
