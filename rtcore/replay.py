"""The replay source: recorded input samples fed back tick by tick (source kind "replay").

`rtcore replay DIR/session.xdf` swaps each of the session's [[source]] entries for this stage
(`signal` names which one: input, force, events ...) and runs the rest of the recorded chain
offline. Each tick it writes exactly what the recorded source wrote: the samples that arrived that
tick into <signal>_block (oldest first), their count into <signal>_n, the newest into <signal>
(held when none arrived) and the recorded <signal>_time; a marker inlet's texts as their bytes.
The first one also writes the operator's recorded task commands (pause, block skips: the task's
`operator` signal, which includes what a marker inlet's actions set) onto the bus header, as the
loop did from the control block. With the same config and seed every downstream stage sees
bit-identical inputs, so the outputs are reproduced exactly.
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field

from rtcore import status, xdf_load
from rtcore.bus import PAUSE, SKIP_BLOCK, TEXT_TYPE
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

#: f: the recording: samples per tick, input_time per tick (s), the operator's commands per tick
#: (pause, skip requests), and the samples. s: the next tick and sample. i: bus offsets (block -1:
#: one sample per tick) and the recording's sizes.
LAYOUT = stage_layout("replay", f="counts[n_ticks] input_time[n_ticks] operator[n_ticks,2] samples[n_samples,n_ch]",
                      s="tick sample",
                      i="input block=-1 n_off time n_ch n_ticks n_samples carries_operator=0")
S, I, AT = LAYOUT.S, LAYOUT.I, LAYOUT.AT


class ReplaySourceConfig(Strict):
    """[source] kind = "replay": inputs from a recorded session.xdf."""

    kind: Literal["replay"]
    path: str = Field(description="the recorded session.xdf whose source stream is replayed")
    signal: str = Field("input", pattern=r"^[a-z][a-z0-9_]*$", description="the recorded source's signal (its stream's name: input, force, events ...)")


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
    if i[I.carries_operator] != 0:
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


def recorded_inputs(rec: dict, where: str = "source.path", sig: str = "input"):
    """(samples [n, n_ch], counts [ticks], input_time [ticks], labels, (units, types), max_per_tick)
    of source signal `sig` from xdf_load.load()."""
    if sig not in rec:
        raise ValueError(f"{where}: the recording has no `{sig}` stream; only sessions with a source writing "
                         f"`{sig}` replay it")
    st = rec[sig]
    info = st["info"]
    meta = info["desc"][0]["rtcore"][0]
    mx, per_tick = int(meta["max_per_tick"][0]), int(meta["per_tick"][0])
    if info["channel_format"][0] == "string":  # a marker inlet's texts: max_chars bytes each
        nch = int(meta["max_chars"][0])
        labels, units, types = [f"byte{k}" for k in range(nch)], [""] * nch, [TEXT_TYPE] * nch
    else:
        chans = info["desc"][0]["channels"][0]["channel"]
        labels = [ch["label"][0] for ch in chans]
        units = [ch["unit"][0] for ch in chans]
        types = [(ch.get("type") or [info["type"][0]])[0] for ch in chans]  # recordings before per-channel types
    samples = xdf_load.samples_of(st, len(labels))
    ticks = len(rec["timing"]["time_stamps"])
    counts = (np.asarray(rec[f"{sig}_n"]["time_series"], np.float64)[:, 0] if not per_tick and f"{sig}_n" in rec
              else np.ones(ticks))
    times = (np.asarray(rec[f"{sig}_time"]["time_series"], np.float64)[:, 0] if f"{sig}_time" in rec
             else np.zeros(ticks))
    if counts.sum() != samples.shape[0] or counts.size != ticks:
        raise ValueError(f"{where}: the recording's {sig} ({samples.shape[0]} samples) does not match its "
                         f"per-tick counts ({int(counts.sum())} over {counts.size} ticks); was it cut by a crash "
                         f"mid-flush or did the ring drop rows?")
    return samples, counts, times, labels, (units, types), (mx if not per_tick else 0)


def build(cfg: ReplaySourceConfig, ctx, where: str = "source") -> Stage:
    """The replay stage; registers <signal>, _block, _n, _time as the recorded source did (the first
    replay source of a session also replays the operator's commands)."""
    try:
        rec = xdf_load.load(cfg.path)
    except OSError as e:
        raise ValueError(f"{where}.path: cannot read {cfg.path} ({e})") from None
    sig = cfg.signal
    samples, counts, times, labels, (units, types), mx = recorded_inputs(rec, f"{where}.path ({cfg.path})", sig)
    nch = len(labels)
    wires = {"input": ctx.bus.add(sig, nch, units, labels, types).offset}
    if mx:
        wires["block"] = ctx.bus.add(f"{sig}_block", mx * nch, units * mx,
                                     [f"{lab}@{r}" for r in range(mx) for lab in labels], types * mx).offset
    wires["n_off"] = ctx.bus.add(f"{sig}_n", 1, "samples", [f"{sig}_n"]).offset
    wires["time"] = ctx.bus.add(f"{sig}_time", 1, "s", [f"{sig}_time"]).offset
    first = where in ("source", "source[0]")  # the first [[source]] carries the operator's commands
    operator = (np.asarray(rec["operator"]["time_series"], np.float64) if "operator" in rec
                else np.zeros((counts.size, 2)))
    f, s, i = LAYOUT.fill(f=dict(counts=counts, input_time=times, operator=operator, samples=samples),
                          i=dict(n_ch=nch, n_ticks=counts.size, n_samples=samples.shape[0], carries_operator=int(first), **wires))
    return Stage(where, SPEC.kind, f, s, i,
                 info={"kind": "replay", "path": cfg.path, "signal": sig, "ticks": int(counts.size),
                       "samples": int(samples.shape[0]), "n_channels": nch})


SPEC = StageSpec(kind=14, name="replay", step=replay_step, config=ReplaySourceConfig, build=build)
