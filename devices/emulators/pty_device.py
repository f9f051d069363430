"""A device on the far end of a pseudo-terminal: the common part of the serial emulators.

The emulator owns the pty master; the engine opens the slave path (`path`) exactly as it
would open /dev/ttyUSB0. The emulator keeps its own slave fd open, so the engine can close and
reopen the port; closing the emulator (`close`) hangs the slave up, which the engine sees as a
lost port. Runs in a thread (`start`) for tests or in the foreground (`serve`) for the CLI.
"""
import os
import select
import threading
import time
import tty


class PtyDevice:
    """Serve a device model over a pty: on_bytes(data, now) for input, on_tick(now) at rate_hz."""

    def __init__(self, rate_hz: float = 1000.0):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.period_s = 1.0 / rate_hz
        self.corrupt_next = 0  # flip one bit in each of the next k replies (tests of the host's CRC check)
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
    def send(self, wire: bytes) -> None:
        """Write one reply to the host (corrupted on request, as a noisy line would)."""
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
                if data:
                    self.rx_bytes += len(data)
                    with self._lock:
                        self.on_bytes(data, now)
            if now >= next_tick:
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
