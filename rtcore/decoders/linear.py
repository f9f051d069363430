"""Linear decoder: y = W x + b, for every input sample of the tick.

The common EMG-to-torque or features-to-velocity map. W comes from a .npy/.npz file or from a
seeded standard-normal generator (np.random.default_rng(seed).standard_normal((n_out, n_in)),
cast to float32 first when `float32_weights` is set, so that outputs match a float32 reference).

When the input has a block companion (`<input>_block`/`<input>_n` from a source), every sample of the
tick is decoded into `<output>_block` (oldest first), so a per-sample outlet publishes one output
per input sample; `<output>` holds the newest (the decode of `input`, the newest valid sample).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore.configbase import Strict
from rtcore.decoders.persistence import load_arrays
from rtcore.layout import stage_layout
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


#: f: W [n_out, n_in] (C order) and b [n_out]. i: input and output offsets and widths; the block
#: companions (x_block -1: none), the bus slot of the block's row count and the rows it holds.
LAYOUT = stage_layout("linear", f="W[n_out,n_in] b[n_out]",
                      i="x n_in y n_out x_block=-1 n_rows=-1 y_block=-1 max_rows=0")
I, AT = LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True, inline="always")
def _decode(f, w, b, n_in, n_out, bus, x_off, y_off):
    for r in range(n_out):
        acc = f[b + r]
        row = w + r * n_in
        for c in range(n_in):
            acc += f[row + c] * bus[x_off + c]
        bus[y_off + r] = acc


@njit(cache=True, nogil=True)
def linear_step(f, s, i, bus):
    """y = W x + b per sample (LAYOUT names f and i)."""
    x_off, n_in, y_off, n_out = i[I.x], i[I.n_in], i[I.y], i[I.n_out]
    w, b = AT.f_W, i[I.f_b]
    if i[I.x_block] >= 0:
        for r in range(min(int(bus[i[I.n_rows]]), i[I.max_rows])):
            _decode(f, w, b, n_in, n_out, bus, i[I.x_block] + r * n_in, i[I.y_block] + r * n_out)
    _decode(f, w, b, n_in, n_out, bus, x_off, y_off)
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
    block = {}
    blk = ctx.bus.signals.get(f"{cfg.input}_block")
    if blk is not None and ctx.bus.has(f"{cfg.input}_n") and blk.width % x.width == 0:
        rows = blk.width // x.width
        y_blk = ctx.bus.add(f"{cfg.output}_block", cfg.n_out * rows, "a.u.",
                            [f"{cfg.output}{k}@{r}" for r in range(rows) for k in range(cfg.n_out)])
        block = dict(x_block=blk.offset, n_rows=ctx.bus.get(f"{cfg.input}_n", 1, who=where).offset,
                     y_block=y_blk.offset, max_rows=rows)
    f, s, i = LAYOUT.fill(f=dict(W=W, b=b), i=dict(x=x.offset, n_in=x.width, y=y.offset, n_out=y.width, **block))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"n_in": x.width, "n_out": cfg.n_out})


SPEC = StageSpec(kind=2, name="linear", step=linear_step, config=LinearDecoderConfig, build=build)
