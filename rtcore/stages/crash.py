"""Test-only stage that fails on purpose (config `test.crash_at_tick`).

It lets the tests prove that the supervisor survives a dying child: mode "status" returns
INJECTED_CRASH (a fatal code, clean end), mode "abort" calls libc abort() as a MuJoCo fatal
error would, mode "hang" stops the loop's heartbeat without exiting.
"""
from numba import njit, types

from rtcore import status
from rtcore.bus import TICK
from rtcore.cbind import extern
from rtcore.clock import LIBC
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

_abort = extern(LIBC, "abort", types.void, ())

MODES = {"status": 0, "abort": 1, "hang": 2}


#: s: a counter the hang spins on. i: the tick to fail at and the mode (MODES).
LAYOUT = stage_layout("crash", s="spin", i="at_tick mode")
S, I = LAYOUT.S, LAYOUT.I


@njit(cache=True, nogil=True)
def crash_step(f, s, i, bus):
    """At tick at_tick, fail the way mode says (0 status, 1 abort, 2 hang forever)."""
    if bus[TICK] < i[I.at_tick]:
        return status.OK
    if i[I.mode] == 1:
        _abort()
    elif i[I.mode] == 2:
        while True:
            s[S.spin] += 1.0
    return status.INJECTED_CRASH


def build_from_session(cfg, ctx) -> list:
    """The crash stage, only when [test] crash_at_tick is set."""
    t = cfg.test
    if t.crash_at_tick is None:
        return []
    f, s, i = LAYOUT.fill(i=dict(at_tick=t.crash_at_tick, mode=MODES[t.crash_mode]))
    return [Stage("test", SPEC.kind, f, s, i)]


SPEC = StageSpec(kind=1, name="crash", step=crash_step)
