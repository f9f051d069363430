"""Several LSL inlets in one session: [[source]] is a list, [source] still works.

Two real pylsl outlets in other processes (EMG: 8 ch at 1 kHz; force: 3 ch at 100 Hz) feed one
session's compiled loop (offline, paced by the EMG stream) through two [[source]] kind = "lsl"
entries, the second writing its own bus signals (signal = "force"). Proves: each inlet is pulled
every tick at its own rate into its own signals, with its own clock offset and counters; every
sample of both arrives once, in order, with exact values. And without LSL: one [source] table
validates to a one-entry list whose errors still name `source.<key>`, and two sources that would
write the same signals are refused in one line.
"""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import config
from rtcore.configbase import ConfigError
from rtcore.session import compile_loop
from lsl_helpers import emg_and_force, go_together, run_session

EMG_N, FORCE_N = 1000, 100


@pytest.fixture(scope="module")
def both():
    compile_loop()
    emg, peers, sources = emg_and_force(EMG_N, FORCE_N)
    cfg = config.validate({
        "session": {"name": emg, "duration_s": 60.0},
        "loop": {"rate_hz": 1000.0, "realtime": False},
        "outlet": [],
        "source": sources,
        "record": {"signals": ["input_n", "input_block", "force_n", "force_block", "force_clock_offset"]},
    })
    try:
        res = run_session(cfg, max_ticks=4000, before_loop=lambda: go_together(peers))
    finally:
        for p in peers:
            p.kill()
            p.wait()
    return res


def _taken(res, sig, width):
    n = res["signals"][f"{sig}_n"][:, 0].astype(int)
    rows = res["signals"][f"{sig}_block"].reshape(len(n), -1, width)
    return n, np.concatenate([rows[t, :k] for t, k in enumerate(n) if k])


@pytest.mark.parametrize("sig,width,count", [("input", 8, EMG_N), ("force", 3, FORCE_N)])
def test_each_inlet_delivers_every_sample_in_order(both, sig, width, count):
    n, x = _taken(both, sig, width)
    k = np.arange(count)[:, None] + np.arange(width)[None, :] / 100.0
    np.testing.assert_array_equal(x, k.astype(np.float32).astype(np.float64))


def test_each_inlet_at_its_own_rate_with_its_own_counters(both):
    n_emg, _ = _taken(both, "input", 8)
    n_force, _ = _taken(both, "force", 3)
    ticks_emg, ticks_force = np.count_nonzero(n_emg), np.count_nonzero(n_force)
    assert ticks_force < ticks_emg / 3  # 100 Hz samples come on about one tick in ten
    rep = both["reports"]
    assert rep["lsl_in"]["samples"] == EMG_N and rep["lsl_in_force"]["samples"] == FORCE_N
    assert rep["lsl_in_force"]["rate_hz"] == 100 and rep["lsl_in_force"]["signal"] == "force"
    assert np.isfinite(both["signals"]["force_clock_offset"]).all()


def test_one_source_table_is_a_list_and_errors_name_its_keys():
    cfg = config.validate({"source": {"kind": "lsl", "name": "x"}})
    assert len(cfg.source) == 1 and cfg.source[0].name == "x"
    with pytest.raises(ConfigError) as e:
        config.validate({"source": {"kind": "lsl", "name": "x", "channels": 0}}, "s.toml")
    assert "s.toml: source.channels:" in str(e.value)
    with pytest.raises(ConfigError) as e:
        config.validate({"source": [{"kind": "lsl", "name": "x"}, {"kind": "lsl", "name": "y", "chanels": 2}]}, "s.toml")
    assert "s.toml: source[1].chanels is not a known key (did you mean source[1].channels?)" in str(e.value)


def test_a_second_source_is_recorded_in_full():
    with pytest.raises(ConfigError) as e:
        config.validate({"source": [{"kind": "lsl", "name": "x"}, {"kind": "lsl", "name": "y", "signal": "force"}],
                         "record": {"every_ticks": {"force_n": 10, "state": 10}}}, "s.toml")
    assert "record.every_ticks: force_n must be recorded every tick" in str(e.value)
