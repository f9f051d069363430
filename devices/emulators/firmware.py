"""Hardware in the loop: the real firmware (devices/firmware) on a simulated ATmega328P, on a pty.

    with FirmwareEmulator(baud=115200) as fw:     # builds what is missing, starts simavr
        cfg = FramedArmConfig(kind="framed_arm", port=fw.path, baud=115200)
        ...
        fw.snapshot()["enable_events"]             # edges of the MOTOR ENABLE pin, simulated time

Two builds, both cached in the user cache directory (`$XDG_CACHE_HOME/rtcore` or ~/.cache/rtcore)
under a hash of their sources and options, so a source edit rebuilds and nothing else does:
- the firmware ELF: `make` in devices/firmware with avr-gcc and avr-libc (build_firmware);
- the simavr harness: devices/firmware/hil/simavr_hil.c with the system cc against libsimavr
  (build_harness). It runs the ELF in real time with USART0 on a pty at the programmed baud
  rate, watches the enable pin and reports on its stdout (protocol in simavr_hil.c).
The tools come from Debian: `apt-get install gcc-avr avr-libc simavr libsimavr-dev`;
missing_tools() names what is absent (tests skip with that reason).
"""
import ctypes.util
import hashlib
import os
import pathlib
import queue
import shutil
import subprocess
import tempfile
import threading

FIRMWARE_DIR = pathlib.Path(__file__).resolve().parent.parent / "firmware"
HARNESS_SRC = FIRMWARE_DIR / "hil" / "simavr_hil.c"
SIMAVR_INCLUDE = pathlib.Path("/usr/include/simavr")
APT_HINT = "apt-get install gcc-avr avr-libc simavr libsimavr-dev"
MCU = "atmega328p"
F_CPU_HZ = 16_000_000


def missing_tools() -> str | None:
    """None when the AVR toolchain, make, cc and libsimavr are all here; else what is missing."""
    missing = [name for name in ("avr-gcc", "avr-size", "make", "cc") if shutil.which(name) is None]
    if not (SIMAVR_INCLUDE / "sim_avr.h").exists():
        missing.append("simavr headers (libsimavr-dev)")
    if ctypes.util.find_library("simavr") is None:
        missing.append("libsimavr")
    if not missing:
        return None
    return f"hardware-in-the-loop needs {', '.join(missing)} ({APT_HINT})"


def cache_dir() -> pathlib.Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(root) / "rtcore"


def _digest(files, *extra) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(pathlib.Path(f).read_bytes())
    for x in extra:
        h.update(repr(x).encode())
    return h.hexdigest()[:16]


def _publish(tmp: pathlib.Path, final: pathlib.Path) -> None:
    """Move a finished build into place; another process that got there first wins."""
    try:
        tmp.rename(final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


class FirmwareBuild:
    """A built firmware: the ELF and its memory use (avr-size --format=avr)."""

    def __init__(self, elf: pathlib.Path, baud: int):
        self.elf = elf
        self.baud = baud
        out = subprocess.run(["avr-size", "--format=avr", f"--mcu={MCU}", str(elf)],
                             capture_output=True, text=True, check=True).stdout
        self.flash_bytes = _size_field(out, "Program:")
        self.ram_bytes = _size_field(out, "Data:")
        self.flash_total, self.ram_total = 32 * 1024, 2 * 1024  # ATmega328P

    def sizes(self) -> dict:
        return {"mcu": MCU, "baud": self.baud, "flash_bytes": self.flash_bytes, "flash_total": self.flash_total,
                "ram_bytes": self.ram_bytes, "ram_total": self.ram_total}


def _size_field(text: str, label: str) -> int:
    for line in text.splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    raise RuntimeError(f"avr-size printed no '{label}' line:\n{text}")


def build_firmware(baud: int = 115200, joints: int = 2, watchdog_ms: int = 100) -> FirmwareBuild:
    """The firmware ELF for these options (cached; `make` in devices/firmware when missing)."""
    sources = [*FIRMWARE_DIR.glob("src/*.[ch]"), *FIRMWARE_DIR.glob("avr/*.c"), FIRMWARE_DIR / "Makefile"]
    options = (f"BAUD={baud}", f"JOINTS={joints}", f"WATCHDOG_MS={watchdog_ms}")
    final = cache_dir() / f"firmware-{_digest(sources, options)}"
    elf = final / f"rtcore-arm-{MCU}-{baud}.elf"
    if not elf.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=".build-"))
        r = subprocess.run(["make", "-s", "-C", str(FIRMWARE_DIR), f"OUT={tmp}", *options],
                           capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"devices/firmware: make failed:\n{r.stdout}{r.stderr}")
        _publish(tmp, final)
    return FirmwareBuild(elf, baud)


def build_harness() -> pathlib.Path:
    """The simavr harness binary (cached; built with the system cc when missing)."""
    flags = ["-O2", "-std=gnu99", "-Wall", "-Wextra", f"-I{SIMAVR_INCLUDE}"]
    libs = ["-lsimavr", "-lutil"]
    final = cache_dir() / f"simavr-hil-{_digest([HARNESS_SRC], flags, libs)}"
    exe = final / "simavr_hil"
    if not exe.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=".build-"))
        r = subprocess.run(["cc", *flags, "-o", str(tmp / "simavr_hil"), str(HARNESS_SRC), *libs],
                           capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"{HARNESS_SRC}: cc failed:\n{r.stderr}")
        _publish(tmp, final)
    return exe


def _fields(words) -> dict:
    out = {}
    for w in words:
        k, _, v = w.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


class FirmwareEmulator:
    """The firmware ELF running in simavr with its UART on a pty; `path` is the port to give the engine.

    The simulated arm lives in the firmware; what the harness sees from outside is the UART and
    the MOTOR ENABLE pin. snapshot() returns the pin's edges in simulated time, with the simulated
    time since the last complete host frame reached the chip (the watchdog's trip delay)."""

    def __init__(self, baud: int = 115200, joints: int = 2, watchdog_ms: int = 100, lead_us: float = 500.0,
                 start_timeout_s: float = 20.0):
        reason = missing_tools()
        if reason:
            raise RuntimeError(reason)
        self.build = build_firmware(baud, joints, watchdog_ms)
        self.watchdog_ms = watchdog_ms
        self.baud = baud
        exe = build_harness()
        self.proc = subprocess.Popen([str(exe), str(self.build.elf), "--lead-us", str(lead_us)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self._lock = threading.Lock()
        self._replies = queue.Queue()
        self.enable_events = []  # (level, sim_s, since_last_host_frame_s)
        self.uart = {}
        self.baud_match = None
        self.exit = None
        self._ready = threading.Event()
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "pty":
            self.proc.kill()
            raise RuntimeError(f"simavr harness did not start: {first} {self.proc.stderr.read()[-1000:]}")
        self.path = first[1]
        self._reader = threading.Thread(target=self._read, name="simavr-hil", daemon=True)
        self._reader.start()
        if not self._ready.wait(start_timeout_s):  # the firmware programmed its USART
            self.close()
            raise RuntimeError(f"firmware did not set up its UART within {start_timeout_s:g} s")

    def _read(self) -> None:
        for line in self.proc.stdout:
            words = line.split()
            if not words:
                continue
            kind, rest = words[0], words[1:]
            with self._lock:
                if kind == "uart":
                    self.uart = _fields(rest)
                    self._ready.set()
                elif kind == "enable":
                    f = _fields(rest[1:])
                    since = f["since_rx_us"] * 1e-6 if f["since_rx_us"] >= 0 else None
                    self.enable_events.append((int(rest[0]), f["sim_us"] * 1e-6, since))
                elif kind == "baud_match":
                    self.baud_match = _fields(rest[1:]) | {"match": rest[0] == "1"}
                elif kind == "exit":
                    self.exit = " ".join(rest)
                elif kind in ("stats", "ok", "error"):
                    self._replies.put((kind, _fields(rest) if kind == "stats" else rest))

    def _ask(self, line: str, timeout_s: float = 5.0):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._replies.get(timeout=timeout_s)

    def start(self) -> "FirmwareEmulator":
        return self  # running since construction (the pty path comes from the harness)

    def stats(self) -> dict:
        """Harness counters: sim_us, wall_us, lag_max_us, slips, slipped_us, rx/tx bytes, byte_us ..."""
        kind, f = self._ask("stats")
        return f

    def corrupt_to_device(self, frames: int) -> None:
        """Flip one bit in each of the next `frames` host frames on their way into the chip."""
        self._ask(f"corrupt_rx {int(frames)}")

    def corrupt_to_host(self, frames: int) -> None:
        """Flip one bit in each of the next `frames` device frames on their way to the host."""
        self._ask(f"corrupt_tx {int(frames)}")

    def snapshot(self) -> dict:
        with self._lock:
            events = list(self.enable_events)
        trips = [e for e in events if e[0] == 0 and e[2] is not None and e[2] * 1e3 > self.watchdog_ms]
        return {"enabled": bool(events and events[-1][0] == 1), "enable_events": events,
                "watchdog_trips": len(trips), "trip_after_s": trips[-1][2] if trips else None,
                "uart": dict(self.uart), "baud_match": self.baud_match, "exit": self.exit,
                "corrupt": None}  # the device's own count travels over the protocol (STATS)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=2.0)
        for fh in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                fh.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

