"""configs/bench/peer_lsl.toml does the peer benchmark's job exactly: a real 32-channel 1 kHz LSL
source (one sample per push), the supervised real-time session (LSL inlet with the tick phase lock,
seeded linear decoder, per-sample outlet), and a real inlet here. Every input sample from the first
one the session publishes onwards comes out once, in order, as [y0, y1, x0] with y = W x for the
benchmark's W (np.random.default_rng(12345).standard_normal((2, 32)).astype(float32)).
Latency is measured by benchmarks/run_peers.sh, not asserted here.
"""
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pylsl

from enginecli import RTCORE, summary
from lsl_helpers import go, start_peer, unique

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "bench" / "peer_lsl.toml"
N = 3000


def test_every_sample_decoded_once_in_order(tmp_path):
    name = unique("PeerIn")
    peer = start_peer(name, "--channels", 32, "--rate", 1000, "--count", N, "--linger-s", 2,
                      "--wait-consumer-s", 600, "--go-on-stdin")
    out_dir = tmp_path / "run"
    sess = subprocess.Popen(RTCORE + ["run", str(CONFIG), "--set", f"source.name={name}",
                                      "--set", f"outlet.0.name={name}-out", "--set", "session.duration_s=600",
                                      "--set", f"session.out={out_dir}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found = pylsl.resolve_byprop("name", f"{name}-out", 1, 600.0)  # first run: the engine compiles
        assert found, "the session's output stream never appeared"
        inlet = pylsl.StreamInlet(found[0], max_buflen=60)
        inlet.open_stream(30.0)
        time.sleep(1.0)  # the loop is ticking once the stream is up; give it a moment
        go(peer)
        rows, deadline = [], time.monotonic() + 60.0
        while time.monotonic() < deadline:
            chunk, _ = inlet.pull_chunk(timeout=0.5)
            rows.extend(chunk)
            if rows and rows[-1][2] == N - 1:
                break
    finally:
        sess.send_signal(signal.SIGINT)
        log = sess.communicate(timeout=60)[0]
        peer.wait(30)
    assert sess.returncode == 130, log  # stopped by the user (the README's exit-code table)
    out = np.asarray(rows, dtype=np.float32)
    k = out[:, 2].astype(np.int64)  # lsl_peer: sample k has channel c = k + c / 100
    assert k[-1] == N - 1 and len(k) >= N // 2, f"got {len(k)} of {N} samples, last {k[-1]}"
    np.testing.assert_array_equal(k, np.arange(k[0], N))  # once each, in order, none lost
    x = (k[:, None] + np.arange(32) / 100.0).astype(np.float32).astype(np.float64)
    W = np.random.default_rng(12345).standard_normal((2, 32)).astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(out[:, :2], (x @ W.T).astype(np.float32), rtol=1e-6, atol=1e-3)
    s = summary(out_dir)
    lock = s["lsl_in"]["phase_lock"]
    assert lock["single_sample_pushes"] and lock["judged"] >= len(k) // 2
    assert s["lsl_out.out"]["pushed"] >= len(k) and s["lsl_out.out"]["push_failures"] == 0
