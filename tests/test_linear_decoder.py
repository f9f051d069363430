"""The linear decoder y = W x + b: every sample of the tick decoded (input_block rows into
intent_block, newest into intent), against numpy; weights from a seeded generator (the peer
benchmark's W), a .npy, or a .npz with its bias; wiring mistakes name the file or key."""
import numpy as np
import pytest

import rtcore  # noqa: F401
from rtcore.bus import Bus
from rtcore.decoders.linear import LinearDecoderConfig, build, linear_step
from rtcore.stage import BuildContext

N_IN, MAX_ROWS = 32, 6


def wired():
    bus = Bus()
    bus.add("input", N_IN)
    bus.add("input_block", N_IN * MAX_ROWS)
    bus.add("input_n", 1)
    return bus, BuildContext(bus=bus, dt_s=1e-3, seed=0)


def run(stage, bus, block, newest):
    b = bus.array()
    n = block.shape[0]
    b[bus.get("input_block").offset:][:n * N_IN] = block.ravel()
    b[bus.get("input_n").offset] = n
    b[bus.get("input").slice] = newest
    assert linear_step(stage.f, stage.s, stage.i, b) == 0
    y_blk = b[bus.get("intent_block").slice].reshape(MAX_ROWS, -1)
    return y_blk[:n], b[bus.get("intent").slice]


def test_seeded_weights_decode_every_sample_like_numpy():
    bus, ctx = wired()
    stage = build(LinearDecoderConfig(kind="linear", weights_seed=12345), ctx)
    W = np.random.default_rng(12345).standard_normal((2, N_IN)).astype(np.float32).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((4, N_IN)).astype(np.float32).astype(np.float64)
    y_blk, y = run(stage, bus, x, x[-1])
    np.testing.assert_allclose(y_blk, x @ W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, W @ x[-1], rtol=1e-12, atol=1e-12)
    assert bus.get("intent_block").width == 2 * MAX_ROWS
    y_blk, y = run(stage, bus, x[:0], x[-1])  # a tick without samples keeps decoding the held input
    np.testing.assert_allclose(y, W @ x[-1], rtol=1e-12)


def test_npz_weights_with_bias_and_config_bias_override(tmp_path):
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((3, N_IN)), rng.standard_normal(3)
    np.savez(tmp_path / "dec.npz", W=W, b=b)
    x = rng.standard_normal((2, N_IN))
    bus, ctx = wired()
    stage = build(LinearDecoderConfig(kind="linear", n_out=3, weights_file=str(tmp_path / "dec.npz"),
                                      float32_weights=False), ctx)
    y_blk, _ = run(stage, bus, x, x[-1])
    np.testing.assert_allclose(y_blk, x @ W.T + b, rtol=1e-12)
    np.save(tmp_path / "w.npy", W)
    bus, ctx = wired()
    stage = build(LinearDecoderConfig(kind="linear", n_out=3, weights_file=str(tmp_path / "w.npy"),
                                      float32_weights=False, bias=[1.0, 2.0, 3.0]), ctx)
    y_blk, _ = run(stage, bus, x, x[-1])
    np.testing.assert_allclose(y_blk, x @ W.T + [1.0, 2.0, 3.0], rtol=1e-12)


@pytest.mark.parametrize("cfg, match", [
    (dict(n_out=2, weights_file="missing.npy"), "decoder.weights_file: cannot read 'missing.npy'"),
    (dict(n_out=4, weights_file="{w}"), r"decoder: W has shape \(3, 32\), expected \(4, 32\)"),
    (dict(n_out=3, weights_file="{z}"), "has no array 'W'"),
    (dict(n_out=3, weights_seed=1, bias=[1.0]), "decoder.bias: 1 values for 3 outputs"),
    (dict(n_out=2), "give weights_file or weights_seed"),
])
def test_wiring_mistakes_are_one_line_errors(tmp_path, cfg, match):
    np.save(tmp_path / "w.npy", np.zeros((3, N_IN)))
    np.savez(tmp_path / "z.npz", weights=np.zeros((3, N_IN)))
    if "weights_file" in cfg:
        cfg["weights_file"] = cfg["weights_file"].format(w=tmp_path / "w.npy", z=tmp_path / "z.npz")
    _, ctx = wired()
    with pytest.raises(ValueError, match=match) as e:
        build(LinearDecoderConfig(kind="linear", **cfg), ctx)
    assert "\n" not in str(e.value)
