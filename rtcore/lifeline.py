"""Processes that die with the session: parent-death signals and signals turned into stop requests.

Linux `prctl(PR_SET_PDEATHSIG)` makes the kernel signal a process when the thread that started
it exits, however it exits (SIGKILL included); the supervisor sets it for the loop process and
for every companion, so none of them outlives a killed parent.
"""
import ctypes
import ctypes.util
import os
import signal
import threading

PR_SET_PDEATHSIG = 1

#: signals that ask a supervised session to stop, and how the summary names each
STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


def die_with_parent(sig: int = signal.SIGTERM):
    """A Popen preexec_fn: the new process gets `sig` when this (parent) thread dies.

    If the parent is already gone when the child gets here, the child exits at once."""
    parent = os.getpid()
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def preexec():
        libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(int(sig)), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)
    return preexec


def alive(pid: int) -> bool:
    """True if a process with this pid exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class StopRequests:
    """SIGINT, SIGTERM and SIGHUP as stop requests for the session run inside this context.

    Handlers are installed explicitly, so a session started as a background job (which inherits
    SIGINT ignored) still stops on Ctrl-C-style signals. A request only sets a flag that the
    supervisor polls between ticks of its watch loop; no exception interrupts the shutdown. Inside
    `interruptible()` (the optional report at the end) a further request raises Interrupted.
    """

    def __init__(self):
        self.received: list[str] = []
        self._previous = {}
        self._raise = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # only there can Python install handlers
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        return False

    def _handle(self, signum, _frame):
        self.received.append(STOP_SIGNALS[signal.Signals(signum)])
        if self._raise:
            self._raise = False
            raise Interrupted(self.received[-1])

    def request(self, how: str) -> None:
        """A stop asked for another way than a signal (the dashboard's stop button)."""
        self.received.append(how)

    @property
    def requested(self) -> bool:
        return bool(self.received)

    @property
    def first(self) -> str | None:
        """How the first request came ("Ctrl-C", "SIGTERM", "SIGHUP"), or None."""
        return self.received[0] if self.received else None

    @property
    def repeated(self) -> bool:
        """A second request arrived: the user wants out now (the report is skipped)."""
        return len(self.received) > 1

    def interruptible(self):
        """Context in which a further stop request raises Interrupted (for optional work)."""
        return _Interruptible(self)


class Interrupted(BaseException):
    """A stop request arrived during optional work (a BaseException, like KeyboardInterrupt, so
    that the work's own `except Exception` does not swallow it)."""


class _Interruptible:
    def __init__(self, stops):
        self.stops = stops

    def __enter__(self):
        self.stops._raise = True
        return self

    def __exit__(self, *exc):
        self.stops._raise = False
        return False
