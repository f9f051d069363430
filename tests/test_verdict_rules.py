"""The verdict rules on summaries as sessions write them (rtcore.verdict.judge).

Sessions earn each verdict in test_session_lifecycle.py and test_supervisor_failures.py; this
file covers the device-fault and task rules, whose sessions need the serial fault injection."""
from rtcore import status, verdict


def _summary(**kw):
    s = {"ticks": 8000, "deadline_misses": 0, "ring_dropped_rows": 0, "hold_ticks": 0, "recorded_rows": 8000,
         "exit_code": status.DURATION, "exit_reason": "duration reached", "stopped_by": None,
         "status_counts": {}, "config": {"loop": {"max_miss_frac": 0.001}}}
    s.update(kw)
    return s


FAULT = {"stage": "plant", "device": "framed_arm", "reason": "watchdog", "at_s": 2.0, "stopped_task": False}


def test_a_clean_session_is_ok():
    assert verdict.judge(_summary()) == ("ok", [])


def test_each_ok_condition_names_its_failure():
    v, reasons = verdict.judge(_summary(deadline_misses=2390, ring_dropped_rows=5, recorded_rows=7990))
    assert v == "degraded"
    assert reasons == ["recording incomplete: 7990 of 8000 ticks recorded", "5 recorded rows dropped (ring full)",
                       "23% of deadlines missed (limit 0.1%)"]


def test_a_latched_fault_degrades_or_fails_by_whether_it_stopped_the_task():
    s = _summary(latched_faults=[FAULT], hold_ticks=5920)
    assert verdict.judge(s) == ("degraded", ["framed_arm latched a fault at 2.0 s (watchdog): hold for 74% of ticks"])
    s["latched_faults"] = [{**FAULT, "stopped_task": True}]
    v, reasons = verdict.judge(s)
    assert v == "failed" and reasons[0].endswith("and it stopped the task")


def test_device_fault_counts_without_a_fault_report_still_degrade():
    counts = {"plant": {status.describe(status.DEVICE_FAULT): 2}}
    assert verdict.judge(_summary(status_counts=counts, hold_ticks=800)) == (
        "degraded", ["plant: 2 device fault(s): hold for 10% of ticks"])


def test_a_task_without_a_single_success_is_degraded():
    task = {"n_done": 12, "trials": {"success": [0.0] * 12}}
    assert verdict.judge(_summary(task=task)) == ("degraded", ["no target reached in 12 trials"])


def test_a_user_stop_is_stopped_and_a_crash_is_failed_whatever_else():
    s = _summary(exit_code=status.STOPPED, exit_reason="stopped by SIGTERM", stopped_by="SIGTERM", deadline_misses=900)
    assert verdict.judge(s)[0] == "stopped" and verdict.judge(s)[1][0] == "stopped by SIGTERM"
    s = _summary(exit_code=status.STOPPED, exit_reason="stopped by request")  # not by the user
    assert verdict.judge(s)[0] == "failed"
    assert verdict.judge(_summary(exit_code=status.STREAM_LOST, exit_reason="source: stream lost"))[0] == "failed"
    assert [verdict.exit_code(v) for v in ("ok", "failed", "degraded", "stopped")] == [0, 1, 3, 130]
