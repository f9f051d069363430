"""The replay source: recorded input samples fed back tick by tick (source kind "replay").

`rtcore replay DIR/session.xdf` swaps the session's [source] for this stage and runs the rest of
the recorded chain offline. Each tick it writes exactly what the recorded source wrote: the
samples that arrived that tick into input_block (oldest first), their count into input_n, the
newest into input (held when none arrived) and the recorded input_time; and the operator's
recorded task commands (pause, block skips: the task's `operator` signal) onto the bus header,
as the loop did from the control block. With the same config and seed every downstream stage sees
bit-identical inputs, so the outputs are reproduced exactly.
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status, xdf_load
from rtcore.bus import PAUSE, SKIP_BLOCK
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

#: f: the recording: samples per tick, input_time per tick (s), the operator's commands per tick
#: (pause, skip requests), and the samples. s: the next tick and sample. i: bus offsets (block -1:
#: one sample per tick) and the recording's sizes.
LAYOUT = stage_layout("replay", f="counts[n_ticks] input_time[n_ticks] operator[n_ticks,2] samples[n_samples,n_ch]",
                      s="tick sample",
                      i="input block=-1 n_off time n_ch n_ticks n_samples")
S, I, AT = LAYOUT.S, LAYOUT.I, LAYOUT.AT


class ReplaySourceConfig(Strict):
    """[source] kind = "replay": inputs from a recorded session.xdf."""

    kind: Literal["replay"]
    path: str = Field(description="the recorded session.xdf whose `input` stream is replayed")


@njit(cache=True, nogil=True)
def replay_step(f, s, i, bus):
    """Write tick `tick`'s recorded samples to input_block/input_n/input/input_time; DURATION at the end."""
    nch = i[I.n_ch]
    nt = i[I.n_ticks]
    t = int(s[S.tick])
    if t >= nt:
        return status.DURATION
    n = int(f[AT.f_counts + t])
    bus[i[I.n_off]] = n
    bus[i[I.time]] = f[i[I.f_input_time] + t]
    bus[PAUSE] = f[i[I.f_operator] + 2 * t]
    bus[SKIP_BLOCK] = f[i[I.f_operator] + 2 * t + 1]
    base = i[I.f_samples] + int(s[S.sample]) * nch
    if i[I.block] >= 0:
        for k in range(n * nch):
            bus[i[I.block] + k] = f[base + k]
    if n > 0:
        for c in range(nch):
            bus[i[I.input] + c] = f[base + (n - 1) * nch + c]
    s[S.sample] += n
    s[S.tick] = t + 1
    return status.OK


def recorded_inputs(rec: dict, where: str = "source.path"):
    """(samples [n, n_ch], counts [ticks], input_time [ticks], labels, (units, types), max_per_tick) from xdf_load.load()."""
    if "input" not in rec:
        raise ValueError(f"{where}: the recording has no `input` stream; only sessions with a [source] replay")
    st = rec["input"]
    info = st["info"]
    chans = info["desc"][0]["channels"][0]["channel"]
    labels = [ch["label"][0] for ch in chans]
    units = [ch["unit"][0] for ch in chans]
    types = [(ch.get("type") or [info["type"][0]])[0] for ch in chans]  # recordings before per-channel types
    meta = info["desc"][0]["rtcore"][0]
    mx, per_tick = int(meta["max_per_tick"][0]), int(meta["per_tick"][0])
    samples = np.asarray(st["time_series"], np.float64).reshape(-1, len(labels))
    ticks = len(rec["timing"]["time_stamps"])
    counts = (np.asarray(rec["input_n"]["time_series"], np.float64)[:, 0] if not per_tick and "input_n" in rec
              else np.ones(ticks))
    times = (np.asarray(rec["input_time"]["time_series"], np.float64)[:, 0] if "input_time" in rec
             else np.zeros(ticks))
    if counts.sum() != samples.shape[0] or counts.size != ticks:
        raise ValueError(f"{where}: the recording's input ({samples.shape[0]} samples) does not match its "
                         f"per-tick counts ({int(counts.sum())} over {counts.size} ticks); was it cut by a crash "
                         f"mid-flush or did the ring drop rows?")
    return samples, counts, times, labels, (units, types), (mx if not per_tick else 0)


def build(cfg: ReplaySourceConfig, ctx, where: str = "source") -> Stage:
    """The replay stage; registers input, input_block, input_n, input_time as the recorded source did."""
    try:
        rec = xdf_load.load(cfg.path)
    except OSError as e:
        raise ValueError(f"{where}.path: cannot read {cfg.path} ({e})") from None
    samples, counts, times, labels, (units, types), mx = recorded_inputs(rec, f"{where}.path ({cfg.path})")
    nch = len(labels)
    wires = {"input": ctx.bus.add("input", nch, units, labels, types).offset}
    if mx:
        wires["block"] = ctx.bus.add("input_block", mx * nch, units * mx,
                                     [f"{lab}@{r}" for r in range(mx) for lab in labels], types * mx).offset
    wires["n_off"] = ctx.bus.add("input_n", 1, "samples", ["input_n"]).offset
    wires["time"] = ctx.bus.add("input_time", 1, "s", ["input_time"]).offset
    operator = (np.asarray(rec["operator"]["time_series"], np.float64) if "operator" in rec
                else np.zeros((counts.size, 2)))
    f, s, i = LAYOUT.fill(f=dict(counts=counts, input_time=times, operator=operator, samples=samples),
                          i=dict(n_ch=nch, n_ticks=counts.size, n_samples=samples.shape[0], **wires))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"kind": "replay", "path": cfg.path, "ticks": int(counts.size),
                       "samples": int(samples.shape[0]), "n_channels": nch})


SPEC = StageSpec(kind=14, name="replay", step=replay_step, config=ReplaySourceConfig, build=build)
