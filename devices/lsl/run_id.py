"""The run id: what tells one session's LSL streams from another's with the same names.

`rtcore run` draws a new id per run (`start`) and exports it as RTCORE_RUN_ID, so the loop
process and the [[companion]] processes it starts inherit it. Every stream they publish carries
it in its source_id (`tag`: "rtcore-demo-state@<run id>"), and a companion follows only the
outlets of its own run. Without a run id (in-process runs, a stand-alone `rtcore source`)
source_ids are the plain names.
"""
import os
import secrets
import socket

ENV = "RTCORE_RUN_ID"


def current() -> str | None:
    """This process's run id, or None."""
    return os.environ.get(ENV) or None


def start() -> str:
    """A new run id, exported to this process and everything it starts: <host>-<pid>-<random>."""
    rid = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    os.environ[ENV] = rid
    return rid


def tag(source_id: str) -> str:
    """source_id of a stream published by this run."""
    rid = current()
    return f"{source_id}@{rid}" if rid else source_id


def run_of(source_id: str) -> str | None:
    """The run id a source_id carries, or None (a stream from outside rtcore, or untagged)."""
    return source_id.rsplit("@", 1)[1] if "@" in source_id else None
