"""A backlog is drained under the tick's time budget, not a few samples per tick, and every
sample of it is decoded exactly.

A real pylsl outlet in another process pushes 2000 samples (8 ch, 1 kHz stamps) as one burst
into the session's connected inlet before the first tick; the compiled loop (offline, paced by
the stream) then runs [source] lsl (block of 512 samples, catchup_budget_frac 0.25) and a linear
decoder. Proves: the 2000 samples are drained in one catch-up of consecutive ticks from the first
one, each tick as much as its budget and the block allow, counted (backlog, catch-up) in the
report; every sample arrives once, in order, and its decode equals y = W x computed in the same
order in Python.
"""
import time

import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore import config, status
from rtcore.session import compile_loop
from lsl_helpers import go, run_session, start_peer, unique

N, N_CH, BLOCK, SEED = 2000, 8, 512, 7


@pytest.fixture(scope="module")
def burst():
    compile_loop()
    name = unique("Burst")
    peer = start_peer(name, "--channels", N_CH, "--rate", 1000, "--count", N, "--chunk", N, "--go-on-stdin",
                      "--linger-s", 3)

    def push_burst():  # the inlet is connected: the burst queues in it before the first tick
        assert peer.stdout.readline().strip() == "consumer"
        go(peer)
        time.sleep(0.5)

    cfg = config.validate({
        "session": {"name": name, "duration_s": 60.0},
        "loop": {"rate_hz": 1000.0, "realtime": False},
        "outlet": [],
        "source": {"kind": "lsl", "name": name, "channels": N_CH, "rate_hz": 1000, "wait_s": 0.001,
                   "max_per_tick": BLOCK, "stale_after_s": 5.0, "lost_after_s": 6.0, "resolve_timeout_s": 30},
        "decoder": {"kind": "linear", "n_out": 2, "weights_seed": SEED, "output": "intent"},
        "record": {"signals": ["input_n", "input_block", "input_backlog", "intent", "intent_block"]},
    })
    try:
        res = run_session(cfg, max_ticks=300, before_loop=push_burst)
    finally:
        peer.kill()
        peer.wait()
    return res


def _taken(res, block, width):
    n = res["signals"]["input_n"][:, 0].astype(int)
    rows = res["signals"][block].reshape(len(n), -1, width)
    return n, np.concatenate([rows[t, :k] for t, k in enumerate(n) if k])


def test_backlog_drained_in_one_budgeted_catchup_from_the_first_tick(burst):
    n, _x = _taken(burst, "input_block", N_CH)
    busy = np.flatnonzero(n)
    assert n.sum() == N
    assert busy[0] == 0 and np.all(np.diff(busy) == 1)  # consecutive ticks, no idle tick inside
    assert n.max() <= BLOCK
    backlog = burst["signals"]["input_backlog"][:, 0]
    assert backlog[0] == N - n[0] and backlog[busy[-1]] == 0
    c = burst["reports"]["lsl_in"]
    assert c["catchups"] == 1 and c["largest_catchup_samples"] == N and c["largest_backlog"] == N - n[0]
    print(f"\n{N} samples drained in {len(busy)} ticks ({', '.join(map(str, n[busy]))}); "
          f"catch-up {c['longest_catchup_s'] * 1e3:.2f} ms")


def test_every_sample_of_the_burst_decoded_exactly(burst):
    _n, x = _taken(burst, "input_block", N_CH)
    _n, y = _taken(burst, "intent_block", 2)
    k = np.arange(N)[:, None] + np.arange(N_CH)[None, :] / 100.0
    np.testing.assert_array_equal(x, k.astype(np.float32).astype(np.float64))
    W = np.random.default_rng(SEED).standard_normal((2, N_CH)).astype(np.float32).astype(np.float64)
    ref = np.zeros((N, 2))
    for c in range(N_CH):  # the decoder's order of summation, so the check is exact
        ref += W[:, c][None, :] * x[:, c:c + 1]
    np.testing.assert_array_equal(y, ref)
    assert burst["counts"][0, status.BAD_SAMPLE] == 0
