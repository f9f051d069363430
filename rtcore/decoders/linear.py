"""Linear decoder: y = W x + b, for every input sample of the tick.

The common EMG-to-torque or features-to-velocity map. W comes from a .npy/.npz file or from a
seeded standard-normal generator (np.random.default_rng(seed).standard_normal((n_out, n_in)),
cast to float32 first when `float32_weights` is set, so that outputs match a float32 reference).

When the input has a block companion (`input_block`/`input_n` from a source), every sample of the
tick is decoded into `<output>_block` (oldest first), so a per-sample outlet publishes one output
per input sample; `<output>` holds the newest (the decode of `input`, the newest valid sample).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore.configbase import Strict
from rtcore.decoders.persistence import load_arrays
from rtcore.registry import StageSpec
from rtcore.stage import Stage


class LinearDecoderConfig(Strict):
    """[decoder] kind = "linear"."""

    kind: Literal["linear"]
    n_out: int = Field(2, ge=1, le=4096, description="number of decoded channels")
    weights_file: str | None = Field(None, description=".npy or .npz (key 'W', optional 'b') with W of shape (n_out, n_in)")
    weights_seed: int | None = Field(None, description="seed of a standard-normal W when no file is given")
    float32_weights: bool = Field(True, description="round W to float32 before use (matches float32 pipelines)")
    bias: list[float] | None = Field(None, description="b, one per output (default 0)")
    input: str = Field("input", description="bus signal decoded (x)")
    output: str = Field("intent", description="bus signal written (y)")


@njit(cache=True, nogil=True, inline="always")
def _decode(f, n_in, n_out, bus, x_off, y_off):
    for r in range(n_out):
        acc = f[n_out * n_in + r]
        row = r * n_in
        for c in range(n_in):
            acc += f[row + c] * bus[x_off + c]
        bus[y_off + r] = acc


@njit(cache=True, nogil=True)
def linear_step(f, s, i, bus):
    """y = W x + b per sample. f = [W (n_out*n_in, C order), b (n_out)];
    i = [x_off, n_in, y_off, n_out, x_block_off (-1: none), n_off, y_block_off, max_rows]."""
    x_off, n_in, y_off, n_out = i[0], i[1], i[2], i[3]
    if i[4] >= 0:
        for r in range(min(int(bus[i[5]]), i[7])):
            _decode(f, n_in, n_out, bus, i[4] + r * n_in, i[6] + r * n_out)
    _decode(f, n_in, n_out, bus, x_off, y_off)
    return 0


def load_weights(cfg: LinearDecoderConfig, n_in: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """W (n_out, n_in) and b (n_out) from the config; errors name the file or key."""
    b = None
    if cfg.weights_file:
        data = load_arrays(cfg.weights_file, f"{where}.weights_file")
        if "" in data:  # a .npy
            W = data[""]
        elif "W" not in data:
            raise ValueError(f"{where}.weights_file: '{cfg.weights_file}' has no array 'W' (keys: {', '.join(data)})")
        else:
            W, b = data["W"], data.get("b")
    elif cfg.weights_seed is not None:
        W = np.random.default_rng(cfg.weights_seed).standard_normal((cfg.n_out, n_in))
    else:
        raise ValueError(f"{where}: give weights_file or weights_seed")
    if cfg.float32_weights:
        W = W.astype(np.float32)
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (cfg.n_out, n_in):
        raise ValueError(f"{where}: W has shape {W.shape}, expected ({cfg.n_out}, {n_in}) for input of {n_in} channels")
    if cfg.bias is not None:
        b = cfg.bias
    b = np.zeros(cfg.n_out) if b is None else np.asarray(b, dtype=np.float64)
    if b.shape != (cfg.n_out,):
        raise ValueError(f"{where}.bias: {b.size} values for {cfg.n_out} outputs")
    return W, b


def build(cfg: LinearDecoderConfig, ctx, where="decoder") -> Stage:
    x = ctx.bus.get(cfg.input, who=where)
    W, b = load_weights(cfg, x.width, where)
    y = ctx.bus.add(cfg.output, cfg.n_out, "a.u.")
    i = np.array([x.offset, x.width, y.offset, y.width, -1, -1, -1, 0])
    blk = ctx.bus.signals.get(f"{cfg.input}_block")
    if blk is not None and ctx.bus.has("input_n") and blk.width % x.width == 0:
        rows = blk.width // x.width
        y_blk = ctx.bus.add(f"{cfg.output}_block", cfg.n_out * rows, "a.u.",
                            [f"{cfg.output}{k}@{r}" for r in range(rows) for k in range(cfg.n_out)])
        i[4:] = blk.offset, ctx.bus.get("input_n", 1, who=where).offset, y_blk.offset, rows
    return Stage(where, SPEC.kind, np.concatenate([W.ravel(), b]), np.zeros(0), i,
                 info={"n_in": x.width, "n_out": cfg.n_out})


SPEC = StageSpec(kind=2, name="linear", step=linear_step, config=LinearDecoderConfig, build=build)
