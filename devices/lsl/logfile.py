"""liblsl's own log lines go to a file, never to the terminal.

liblsl logs with loguru to stderr ("Stream transmission broke off ... re-connecting", resolver
notes). It reads its config once, at the first API call of a process, from the file LSLAPICFG
names; a `[log]` section with `file = PATH` sends the log there instead of stderr (liblsl
api_config: the log is not duplicated to stderr when a file is given). `to_file(path)` writes a
copy of the config in force (the scope's or the user's LSLAPICFG, if any) with that section
and points LSLAPICFG at it, for this process and every process it starts, then loads liblsl's
config in this process with stderr pointed at the log (loguru announces the file on stderr when it
opens it). Call it before the first other pylsl call of the process.
"""
import hashlib
import os
import pathlib
import re

LOG_LEVEL = 0  #: loguru verbosity written to the file (0 = INFO; -2 errors only)


def _cache(*parts) -> pathlib.Path:
    d = pathlib.Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))).joinpath("rtcore", *parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def default_path(label: str) -> str:
    """A log file for a command without a run folder (rtcore source): ~/.cache/rtcore/logs/<label>.log."""
    return str(_cache("logs") / f"{label}.log")


def _without_log_section(text: str) -> str:
    return re.sub(r"(?ms)^\[log\][^\[]*", "", text)


def to_file(log_path: str) -> str:
    """Send liblsl's log of this process and its children to log_path; returns the config written."""
    base = os.environ.get("LSLAPICFG")
    text = pathlib.Path(base).read_text() if base and os.path.isfile(base) else ""
    log_path = os.path.abspath(log_path)
    text = _without_log_section(text).rstrip() + f"\n[log]\nlevel = {LOG_LEVEL}\nfile = {log_path}\n"
    cfg = _cache("lsl") / f"log-{hashlib.sha1(text.encode()).hexdigest()[:12]}.cfg"
    if not cfg.exists():
        tmp = cfg.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, cfg)
    os.environ["LSLAPICFG"] = str(cfg)
    _load_config_quietly(log_path)
    return str(cfg)


def _load_config_quietly(log_path: str) -> None:
    """liblsl reads its config at its first call that needs it (the protocol version does); its
    one-line announcement of the log file goes into that file, not to the terminal."""
    import pylsl
    saved = os.dup(2)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.dup2(log, 2)
        pylsl.protocol_version()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(log)
