"""An offline session runs the compiled tick without sleeping and summarises itself correctly."""
from rtcore import config, session, status


def test_offline_summary_counts_every_tick_and_reports_realtime_factor():
    cfg = config.validate({"session": {"duration_s": 1.5}, "loop": {"rate_hz": 2000, "realtime": False}})
    r = session.run_offline(cfg)
    s = r.summary
    assert s["ticks"] == 3000 and s["rate_hz"] == 2000.0 and s["duration_s"] == 1.5
    assert s["exit_code"] == status.DURATION and s["ok"] and s["exit_reason"] == "duration reached"
    assert s["deadline_misses"] == 0 and s["wake_latency_us"] is None
    assert s["realtime_factor"] is not None and s["realtime_factor"] > 0
    assert set(s["compute_us"]) == {"p50", "p99", "max"} and s["compile_s"] >= 0
    assert s["config"]["loop"]["rate_hz"] == 2000.0
    # one recorded row per tick, tick and session time in order
    assert r.rows.shape[0] == 3000
    assert (r.column("tick") == range(3000)).all()
    assert abs(r.column("t_s")[-1] - 2999 / 2000) < 1e-12


def test_fatal_stage_status_ends_the_run_at_that_tick_with_its_reason():
    cfg = config.validate({"session": {"duration_s": 2.0}, "loop": {"realtime": False},
                           "test": {"crash_at_tick": 250}})
    s = session.run_offline(cfg).summary
    assert s["ticks"] == 251 and s["exit_code"] == status.INJECTED_CRASH and not s["ok"]
    assert s["exit_reason"] == "test: injected crash (test.crash_at_tick)"
