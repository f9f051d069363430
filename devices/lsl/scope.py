"""[lsl] scope: keep a session's LSL discovery and data on this machine.

scope = "machine" (the demo's setting): before the session starts, `apply` points LSLAPICFG of
the loop process and the companions at a liblsl config that resolves on 127.0.0.1 only
(ResolveScope = machine, MachineAddresses = {127.0.0.1}, ListenAddress = 127.0.0.1, no IPv6,
KnownPeers = {127.0.0.1}: queries also go to each outlet's own UDP port, since a query to the shared
discovery port 16571 reaches only one of the processes bound to it), and preloads devices/lsl/loopback_bind.c (compiled once with the system's C
compiler) so liblsl's TCP data servers and UDP services bind to 127.0.0.1 instead of 0.0.0.0:
liblsl's config has no key for those. Then `ss -tulpn` shows no socket of the session on another
address, and no other computer can read or resolve its streams.
scope = "site": liblsl's own defaults (LAN multicast, all interfaces), for streams shared with
other computers (an amplifier PC, LabRecorder elsewhere). Unset: whatever LSLAPICFG / lsl_api.cfg
say. Ports: discovery 16571/udp, data and time services from 16572 up (tcp and udp, one pair per
outlet, BasePort + PortRange 32).
"""
import hashlib
import os
import pathlib
import shutil
import subprocess
from typing import Literal

from pydantic import Field

from rtcore.configbase import ConfigError, Strict

MACHINE_CFG = """; written by rtcore for [lsl] scope = "machine" (devices/lsl/scope.py)
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
MachineAddresses = {127.0.0.1}
ListenAddress = 127.0.0.1
[lab]
KnownPeers = {127.0.0.1}
"""
SITE_CFG = """; written by rtcore for [lsl] scope = "site" (devices/lsl/scope.py)
[multicast]
ResolveScope = site
"""
SHIM_SOURCE = pathlib.Path(__file__).with_name("loopback_bind.c")


class LslSection(Strict):
    """[lsl]: where the session's LSL streams can be seen."""

    scope: Literal["machine", "site"] | None = Field(
        None, description="'machine': discovery and data on 127.0.0.1 only; 'site': the LAN (liblsl default); "
                          "none: as LSLAPICFG / lsl_api.cfg say")


def _cache() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    d = pathlib.Path(base) / "rtcore" / "lsl"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write(path: pathlib.Path, text: str) -> pathlib.Path:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def loopback_shim() -> pathlib.Path:
    """The compiled loopback_bind.so (built once per source version); ConfigError without a compiler."""
    src = SHIM_SOURCE.read_bytes()
    so = _cache() / f"loopback_bind-{hashlib.sha1(src).hexdigest()[:10]}.so"
    if so.exists():
        return so
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise ConfigError("[lsl] scope = 'machine' needs a C compiler (cc) once, to keep LSL's data ports on "
                          "127.0.0.1; install gcc, or set lsl.scope = 'site'")
    tmp = so.with_suffix(f".{os.getpid()}.tmp")
    r = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(SHIM_SOURCE), "-ldl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise ConfigError(f"[lsl] scope = 'machine': compiling {SHIM_SOURCE} failed: {r.stderr.strip()[:300]}")
    os.replace(tmp, so)
    return so


def apply(section: LslSection) -> None:
    """Set this process's environment so the processes it starts (loop, companions) use the scope."""
    if section.scope is None:
        return
    if section.scope == "site":
        os.environ["LSLAPICFG"] = str(_write(_cache() / "site.cfg", SITE_CFG))
        return
    shim = str(loopback_shim())
    os.environ["LSLAPICFG"] = str(_write(_cache() / "machine.cfg", MACHINE_CFG))
    preload = [p for p in os.environ.get("LD_PRELOAD", "").split() if p and p != shim]
    os.environ["LD_PRELOAD"] = " ".join([shim] + preload)
