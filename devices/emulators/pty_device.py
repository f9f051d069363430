"""A device on the far end of a pseudo-terminal: the common part of the serial emulators.

The emulator owns the pty master; the engine opens the slave path (`path`) exactly as it
would open /dev/ttyUSB0. The emulator keeps its own slave fd open, so the engine can close and
reopen the port; closing the emulator (`close`) hangs the slave up, which the engine sees as a
lost port. Runs in a thread (`start`) for tests or in the foreground (`serve`) for the CLI.

Fault injection (`rtcore emulate ... --fault KIND=VALUE[@T]`, `add_fault`), T seconds after the
host's first command (the engine's first tick; the subclass calls `contact`), default 0:
    corrupt=N   flip a bit in each of the next N replies (the host's CRC check drops them)
    drop=N      send none of the next N replies
    garbage=S   S seconds of line noise: host bytes arrive scrambled, random bytes go to the host
    stall=S     the device hangs for S seconds: it reads nothing, replies nothing, runs no watchdog
"""
import os
import random
import re
import select
import threading
import time
import tty
from dataclasses import dataclass

FAULT_KINDS = ("corrupt", "drop", "garbage", "stall")
GARBAGE_BYTES_PER_TICK = 8  #: noise sent to the host per device tick during `garbage`


@dataclass
class Fault:
    """One scheduled fault: kind (FAULT_KINDS), value (frames or seconds), at_s after first contact."""

    kind: str
    value: float
    at_s: float = 0.0


def parse_fault(text: str) -> Fault:
    """'corrupt=5@2.0' -> Fault('corrupt', 5, 2.0); ValueError with the accepted form otherwise."""
    m = re.fullmatch(r"\s*([a-z]+)\s*=\s*([0-9.]+)\s*(?:@\s*([0-9.]+))?\s*", text)
    if not m or m.group(1) not in FAULT_KINDS:
        raise ValueError(f"--fault {text!r}: expected KIND=VALUE[@SECONDS] with KIND one of "
                         f"{', '.join(FAULT_KINDS)} (e.g. corrupt=5@2, garbage=0.5@1, drop=20, stall=0.3@2)")
    try:
        value, at = float(m.group(2)), float(m.group(3) or 0.0)
    except ValueError:
        raise ValueError(f"--fault {text!r}: {m.group(2)!r} or {m.group(3)!r} is not a number") from None
    return Fault(m.group(1), value, at)


class PtyDevice:
    """Serve a device model over a pty: on_bytes(data, now) for input, on_tick(now) at rate_hz."""

    def __init__(self, rate_hz: float = 1000.0):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.period_s = 1.0 / rate_hz
        self.corrupt_next = 0  # flip one bit in each of the next k replies (tests of the host's CRC check)
        self.drop_next = 0  # send none of the next k replies
        self.noise_until = 0.0  # line noise until this monotonic time
        self.stall_until = 0.0  # hung until this monotonic time
        self.faults = []  # scheduled Fault, fired in order of at_s
        self.faults_fired = []  # (kind, value, monotonic time) of the faults that fired
        self.first_contact = None  # monotonic time of the host's first command
        self._noise = random.Random(0)
        self.rx_bytes = 0
        self.tx_frames = 0
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()  # model state, shared with test code reading it

    # --- to implement --------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        raise NotImplementedError

    def on_tick(self, now: float) -> None:
        raise NotImplementedError

    # --- I/O -----------------------------------------------------------------------------
    def contact(self, now: float) -> None:
        """The host sent its first command (the subclass calls this): the fault clock starts."""
        if self.first_contact is None:
            self.first_contact = now

    def add_fault(self, fault: Fault) -> None:
        """Schedule a fault (module docstring), at_s after the host's first command."""
        self.faults.append(fault)
        self.faults.sort(key=lambda f: f.at_s)

    def _fire_faults(self, now: float) -> None:
        while self.faults and self.first_contact is not None and now - self.first_contact >= self.faults[0].at_s:
            f = self.faults.pop(0)
            if f.kind == "corrupt":
                self.corrupt_next += int(f.value)
            elif f.kind == "drop":
                self.drop_next += int(f.value)
            elif f.kind == "garbage":
                self.noise_until = now + f.value
            else:
                self.stall_until = now + f.value
            self.faults_fired.append((f.kind, f.value, now))

    def send(self, wire: bytes) -> None:
        """Write one reply to the host (corrupted or dropped on request, as a noisy line would)."""
        if self.drop_next > 0:
            self.drop_next -= 1
            return
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            b = bytearray(wire)
            b[len(b) // 2] ^= 0x10 if b[len(b) // 2] not in (0x00, 0x10) else 0x01
            wire = bytes(b)
        self.inject(wire)
        self.tx_frames += 1

    def inject(self, data: bytes) -> None:
        """Write raw bytes to the host (garbage injection in tests)."""
        try:
            os.write(self.master, data)
        except (BlockingIOError, OSError):
            pass  # host not reading or gone: a real line drops bytes too

    def serve(self) -> None:
        """Run until stop(): read host bytes, step the model every period_s."""
        next_tick = time.monotonic()
        while not self._stop.is_set():
            timeout = max(next_tick - time.monotonic(), 0.0)
            try:
                r, _, _ = select.select([self.master], [], [], timeout)
            except (OSError, ValueError):
                return  # closed under us
            now = time.monotonic()
            if r:
                try:
                    data = os.read(self.master, 4096)
                except BlockingIOError:
                    data = b""
                except OSError:
                    data = b""  # EIO: no slave open right now (engine between sessions)
                    time.sleep(0.001)
                if data and now < self.noise_until:  # the line scrambles what the host sent
                    data = bytes(self._noise.randrange(256) for _ in data)
                if data and now >= self.stall_until:
                    self.rx_bytes += len(data)
                    with self._lock:
                        self.on_bytes(data, now)
            self._fire_faults(now)
            if now >= next_tick:
                if now < self.noise_until:
                    self.inject(bytes(self._noise.randrange(256) for _ in range(GARBAGE_BYTES_PER_TICK)))
                if now >= self.stall_until:
                    with self._lock:
                        self.on_tick(now)
                next_tick += self.period_s
                if next_tick < now:
                    next_tick = now + self.period_s

    def start(self) -> "PtyDevice":
        """Serve in a thread (again after stop(): a device that went silent comes back)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving but keep the port open: the device goes silent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def close(self) -> None:
        """Stop and hang up: the engine's next read sees the port gone."""
        self.stop()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def snapshot(self) -> dict:
        """A consistent copy of the model state, for tests."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict:
        return {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
