"""`rtcore streams` lists a stream started by the test; `rtcore source emg|neural` publishes a
synthetic user that a real pylsl inlet receives at its nominal rate, and stops cleanly on Ctrl-C."""
import signal
import subprocess
import sys
import time

import numpy as np
import pylsl

from devices.lsl.cli import format_streams, list_streams
from lsl_helpers import start_peer, unique


def test_streams_lists_a_stream_started_by_the_test():
    name = unique("Listed")
    peer = start_peer(name, "--channels", 3, "--rate", 250, "--count", 1, "--wait-consumer-s", 0, "--linger-s", 20)
    try:
        mine = [s for s in list_streams(2.0) if s["name"] == name]
        assert mine == [{"name": name, "type": "EMG", "channels": 3, "rate_hz": 250.0, "source_id": name,
                         "host": mine[0]["host"], "age_s": mine[0]["age_s"]}]
        assert name in format_streams(mine) and "250" in format_streams(mine)
    finally:
        peer.terminate()
        peer.wait()


SOURCE = "import sys; from devices.lsl.cli import add_source_parser; import argparse; " \
         "p = argparse.ArgumentParser(); s = p.add_subparsers(); add_source_parser(s); " \
         "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))"


def receive(kind, name, *args, seconds=1.5):
    proc = subprocess.Popen([sys.executable, "-c", SOURCE, "source", kind, "--name", name, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = pylsl.resolve_byprop("name", name, 1, 30.0)
        assert info, f"'rtcore source {kind}' did not publish '{name}'"
        inlet = pylsl.StreamInlet(info[0])
        inlet.open_stream(5.0)
        inlet.pull_sample(timeout=20.0)  # the first sample, then discard the start-up
        inlet.pull_chunk(timeout=0.3, max_samples=100000)
        t = time.monotonic()
        rows = []
        while time.monotonic() - t < seconds:
            x, _ = inlet.pull_chunk(timeout=0.1, max_samples=100000)
            rows.extend(x)
        elapsed = time.monotonic() - t
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        return info[0], np.array(rows), elapsed, proc.returncode, out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_source_emg_publishes_raw_emg_at_its_rate():
    info, rows, elapsed, code, out = receive("emg", unique("SimEMG"), "--channels", "6", "--rate", "1000")
    assert info.channel_count() == 6 and info.nominal_srate() == 1000.0 and info.type() == "EMG"
    assert abs(len(rows) / elapsed - 1000.0) < 150.0
    assert np.all(np.isfinite(rows)) and rows.std() > 0.0
    assert code == 0 and "stopped after" in out


def test_source_neural_publishes_counts_per_bin():
    info, rows, elapsed, code, out = receive("neural", unique("SimNeural"), "--channels", "30", "--rate", "50")
    assert info.channel_count() == 30 and info.nominal_srate() == 50.0
    assert abs(len(rows) / elapsed - 50.0) < 10.0
    assert np.all(rows == np.round(rows)) and rows.min() >= 0.0 and 0.05 < rows.mean() < 2.0  # ~10 Hz x 20 ms
    assert code == 0
