"""One verdict per session, its reasons, and the exit code of `rtcore run`.

    verdict    exit code  meaning
    ok         0          recording intact, no dropped rows, misses <= loop.max_miss_frac,
                          no device fault
    failed     1          the session could not go on: a crash, a hang, a lost device or stream,
                          or a latched device fault that stopped the task
    (config)   2          the config was refused before anything started (one line on stderr)
    degraded   3          it finished, but one of the `ok` conditions failed (reasons listed)
    stopped    130        stopped by the user: Ctrl-C, SIGTERM or SIGHUP

The verdict is judged from the summary alone (`judge`), so offline runs and supervised runs
are held to the same rules.
"""
from rtcore import status

OK, DEGRADED, FAILED, STOPPED = "ok", "degraded", "failed", "stopped"
EXIT_CODES = {OK: 0, FAILED: 1, DEGRADED: 3, STOPPED: 130}
CONFIG_ERROR = 2  #: exit code of a config refused before the session started
MIN_TRIALS_FOR_TASK_CHECK = 3  #: a task with at least this many trials and no success is degraded


def exit_code(verdict: str) -> int:
    return EXIT_CODES[verdict]


def judge(s: dict) -> tuple[str, list[str]]:
    """(verdict, reasons) for a summary dict (see rtcore.summary)."""
    failures = _failures(s)
    problems = _problems(s)
    if failures:
        return FAILED, failures + problems
    if s.get("stopped_by"):
        return STOPPED, [f"stopped by {s['stopped_by']}"] + problems
    if problems:
        return DEGRADED, problems
    return OK, []


def _failures(s: dict) -> list[str]:
    out = []
    if s["exit_code"] not in status.NORMAL_ENDS or (s["exit_code"] == status.STOPPED and not s.get("stopped_by")):
        out.append(s["exit_reason"])
    for f in s.get("latched_faults", []):
        if f.get("stopped_task"):
            out.append(_fault_text(f, s) + ", and it stopped the task")
    return out


def _problems(s: dict) -> list[str]:
    """Reasons a finished session is not ok."""
    out = []
    ticks = s["ticks"]
    recorded = s.get("recorded_rows")
    if recorded is not None and recorded != ticks:
        out.append(f"recording incomplete: {recorded} of {ticks} ticks recorded")
    if s["ring_dropped_rows"]:
        out.append(f"{s['ring_dropped_rows']} recorded rows dropped (ring full)")
    deadlines = ticks + s["deadline_misses"]
    limit = s["config"]["loop"].get("max_miss_frac", 0.001)
    if deadlines and s["deadline_misses"] / deadlines > limit:
        out.append(f"{_pct(s['deadline_misses'] / deadlines)} of deadlines missed (limit {_pct(limit)})")
    faulted = set()
    for f in s.get("latched_faults", []):
        faulted.add(f.get("stage"))
        if not f.get("stopped_task"):
            out.append(_fault_text(f, s))
    fault_text = status.describe(status.DEVICE_FAULT)
    for stage, counts in s.get("status_counts", {}).items():
        if counts.get(fault_text) and stage not in faulted:
            out.append(f"{stage}: {counts[fault_text]} device fault(s){_hold(s)}")
    task = s.get("task")
    if isinstance(task, dict) and task.get("n_done", 0) >= MIN_TRIALS_FOR_TASK_CHECK:
        success = (task.get("trials") or {}).get("success") or []
        if not any(x for x in success if x):
            out.append(f"no target reached in {task['n_done']} trials")
    return out


def _fault_text(f: dict, s: dict) -> str:
    return f"{f.get('device', f.get('stage', 'device'))} latched a fault at {f.get('at_s', 0.0):.1f} s ({f.get('reason', 'no reason given')}){_hold(s)}"


def _hold(s: dict) -> str:
    return f": hold for {_pct(s['hold_ticks'] / s['ticks'])} of ticks" if s["ticks"] and s["hold_ticks"] else ""


def _pct(x: float) -> str:
    return f"{100 * x:.2g}%" if x < 0.1 else f"{100 * x:.0f}%"
