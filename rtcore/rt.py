"""Best-effort real-time hardening of the loop process (`--rt`).

SCHED_FIFO, CPU affinity, mlockall(MCL_CURRENT | MCL_FUTURE), 1 ns timer slack, and a frozen,
disabled garbage collector; once the loop is pinned, the supervising parent keeps its own
threads, the loop process's others and the companions off the loop's CPU (keep_off). Each request
is tried on its own; the result says what was granted and, for what was refused, why. Without
privileges the session still runs.

Steps that apply to every real-time session, --rt or not: where the process may, the loop thread
asks for SCHED_FIFO (`loop.fifo`, not_requested) and lowers its nice value (`loop.nice`,
raise_priority: what counts when FIFO is refused and a nice limit allows it). Needing no
privilege, the timer slack is tightened (Linux's default 50 us slack would otherwise make each
clock_nanosleep wake ~50 us past its deadline), and the loop thread asks for a short scheduler
slice (`loop.slice_us`, request_slice), so that it preempts whatever else runs on its CPU when it
wakes.
"""
import ctypes
import ctypes.util
import gc
import os

MCL_CURRENT, MCL_FUTURE = 1, 2
PR_SET_TIMERSLACK = 29


def harden(priority: int = 80, cpu: int | None = None) -> dict:
    """Apply every hardening step; returns {step: True | "refused: reason"}."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    out = {"sched_fifo": granted(lambda: sched_fifo(priority))}
    target = cpu if cpu is not None else max(os.sched_getaffinity(0))
    out["cpu_affinity"] = granted(lambda: os.sched_setaffinity(0, {target}))
    if out["cpu_affinity"] is True:
        out["cpu"] = target

    def c_call(fn, *args):
        if fn(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    out["mlockall"] = granted(lambda: c_call(libc.mlockall, MCL_CURRENT | MCL_FUTURE))
    out["timer_slack_1ns"] = tighten_timer_slack()
    gc.collect()
    gc.freeze()
    gc.disable()
    out["gc_frozen"] = True
    return out


def keep_off(cpu: int, pids, loop_tid: int) -> bool | str:
    """Move every thread of these processes, except the loop's (loop_tid), off `cpu`, the CPU the
    loop was pinned to; True or "refused: reason". Threads they start later inherit the mask.

    With `--rt` the supervising parent calls it for itself (recorder, dashboard server, viewer),
    the loop process's other threads (liblsl's) and the companions, so that nothing rtcore starts
    shares the loop's CPU. On a kernel that is not preemptible (PREEMPT_NONE, as many
    distributions' server kernels) a SCHED_FIFO loop waking on a CPU where another process is
    inside a system call waits until it leaves. Measured with the operator page open in headless
    chromium, demo at 1 kHz, 2 VM cores, 10 alternated pairs of 60 s (benchmarks/dashboard_overhead.py):
    misses with the page / without, 10 / 3 with the loop unpinned, 30 / 17 pinned with rtcore's
    other threads off its CPU, 19 / 33 with the browser kept off it too. Moving one's own threads
    and one's children's needs no privilege.
    """
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:  # a companion that has exited
            continue
        for tid in tids:
            if tid == loop_tid:
                continue
            try:
                others = os.sched_getaffinity(tid) - {cpu}
                if not others:
                    return f"refused: thread {tid} may only run on CPU {cpu}"
                os.sched_setaffinity(tid, others)
            except ProcessLookupError:  # a thread that has just ended
                continue
            except OSError as e:
                return f"refused: {e.strerror or e}"
    return True


def steal_s(cpu: int | None = None) -> float | None:
    """Time the hypervisor has run something else while this CPU (None: any CPU) had work, since
    boot, s (/proc/stat's steal column); None where the kernel does not count it.

    The parent reads it around a session (summary.json's host_steal): on a virtual machine a loop
    stalled by its host shows as steal, which no setting of the guest can remove. 10 ms resolution
    (USER_HZ)."""
    field = "cpu" if cpu is None else f"cpu{cpu}"
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                parts = line.split()
                if parts[0] == field:
                    return int(parts[8]) / os.sysconf("SC_CLK_TCK") if len(parts) > 8 else None
    except (OSError, ValueError):
        return None
    return None


def granted(step) -> bool | str:
    """Run one hardening step: True, or "refused: reason" when the OS says no."""
    try:
        step()
    except OSError as e:
        return f"refused: {e.strerror or e}"
    return True


def sched_fifo(priority: int) -> None:
    """SCHED_FIFO at this priority for the calling thread (Linux: pid 0 is the calling thread)."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))


def tighten_timer_slack():
    """Set this thread's timer slack to 1 ns (prctl PR_SET_TIMERSLACK); True or "refused: reason"."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(1), 0, 0, 0) != 0:
        return f"refused: {os.strerror(ctypes.get_errno())}"
    return True


def raise_priority(nice: int):
    """Set the calling thread's nice value (Linux: per thread); True or "refused: reason".

    Lowering it needs CAP_SYS_NICE or an RLIMIT_NICE that allows it. A browser running with that
    privilege raises its display threads to nice -8 (chromium's compositor, IO and GPU threads):
    at nice 0 the waking loop then waits behind them. Measured, demo at 1 kHz with the operator
    page open in headless chromium (as root), 2 VM cores, 40 s: 810 deadline misses at nice 0,
    222 at -10, 186 at -15 (wake p99 1001, 251, 141 us).
    """
    return granted(lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))


SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  #: sched_setattr's syscall number (no glibc wrapper before 2.41)
CUSTOM_SLICE_KERNEL = (6, 12)  #: the first Linux whose fair scheduler (EEVDF) takes a task's own slice


class _SchedAttr(ctypes.Structure):
    """struct sched_attr (include/uapi/linux/sched/types.h), SCHED_ATTR_SIZE_VER1."""
    _fields_ = [("size", ctypes.c_uint32), ("sched_policy", ctypes.c_uint32), ("sched_flags", ctypes.c_uint64),
                ("sched_nice", ctypes.c_int32), ("sched_priority", ctypes.c_uint32),
                ("sched_runtime", ctypes.c_uint64), ("sched_deadline", ctypes.c_uint64),
                ("sched_period", ctypes.c_uint64), ("sched_util_min", ctypes.c_uint32),
                ("sched_util_max", ctypes.c_uint32)]


def request_slice(slice_us: float):
    """Ask the fair scheduler for a short slice for this thread; True or "refused: reason".

    Linux 6.12+ (EEVDF) lets a SCHED_OTHER task set its own slice, 0.1..100 ms, through
    sched_attr.sched_runtime, without privilege; with the PREEMPT_SHORT feature (on by default) a
    waking task with a shorter slice preempts the running one at once instead of at the end of
    the latter's slice (~3 ms). The loop sleeps until each deadline, so a process that woke on its
    CPU meanwhile (the parent draining the ring, a companion) would otherwise delay it by up to
    that slice: measured on the demo, 2 VM cores, 10 s at 1 kHz, 4 alternated pairs: 25-30
    deadline misses with the kernel's slice, 0-4 with 100 us.
    """
    import platform
    nr = SYS_SCHED_SETATTR.get(platform.machine())
    if nr is None:
        return f"refused: no sched_setattr number for {platform.machine()}"
    release = tuple(int(x) for x in platform.release().split(".")[:2] if x.isdigit())
    if release < CUSTOM_SLICE_KERNEL:
        return f"refused: Linux {platform.release()} has no custom slices (6.12+)"
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    attr = _SchedAttr(size=ctypes.sizeof(_SchedAttr), sched_policy=os.SCHED_OTHER,
                      sched_nice=os.getpriority(os.PRIO_PROCESS, 0), sched_runtime=int(slice_us * 1000))
    if libc.syscall(nr, 0, ctypes.byref(attr), 0) != 0:
        return f"refused: {os.strerror(ctypes.get_errno())}"
    return True


def not_requested(fifo_priority: int | None = None) -> dict:
    """The rt block of a session run without --rt: the timer slack is tightened, and with
    fifo_priority the loop thread asks for SCHED_FIFO alone (no affinity, no mlockall), granted
    where the process may (root, CAP_SYS_NICE or an RLIMIT_RTPRIO: PipeWire's and JACK's setups
    give one). It preempts any fair-scheduled work at once: with the operator page open in
    chromium (which, where it may, raises its display threads to nice -8), the demo at 1 kHz on 2
    VM cores missed 0 deadlines in 40 s, against 186 with nice -15 alone and 810 with neither."""
    out = {"requested": False, "timer_slack_1ns": tighten_timer_slack()}
    if fifo_priority is not None:
        out["sched_fifo"] = granted(lambda: sched_fifo(fifo_priority))
    return out
