"""Test-only stage that fails on purpose (config `test.crash_at_tick`).

It lets the tests prove that the supervisor survives a dying child: mode "status" returns
INJECTED_CRASH (a fatal code, clean end), mode "abort" calls libc abort() as a MuJoCo fatal
error would, mode "hang" stops the loop's heartbeat without exiting.
"""
import numpy as np
from numba import njit, types

from rtcore import status
from rtcore.bus import TICK
from rtcore.cbind import extern
from rtcore.clock import LIBC
from rtcore.registry import StageSpec
from rtcore.stage import Stage

_abort = extern(LIBC, "abort", types.void, ())

MODES = {"status": 0, "abort": 1, "hang": 2}


@njit(cache=True, nogil=True)
def crash_step(f, s, i, bus):
    """At tick i[0], fail the way i[1] says (0 status, 1 abort, 2 hang forever)."""
    if bus[TICK] < i[0]:
        return status.OK
    if i[1] == 1:
        _abort()
    elif i[1] == 2:
        while True:
            s[0] += 1.0
    return status.INJECTED_CRASH


def build_from_session(cfg, ctx) -> list:
    """The crash stage, only when [test] crash_at_tick is set."""
    t = cfg.test
    if t.crash_at_tick is None:
        return []
    return [Stage("test", SPEC.kind, np.zeros(0), np.zeros(1), np.array([t.crash_at_tick, MODES[t.crash_mode]]))]


SPEC = StageSpec(kind=1, name="crash", step=crash_step)
