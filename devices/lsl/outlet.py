"""LSL outlets: publish any bus signals of the tick as LSL streams, pushed from the compiled step.

Each `[[outlet]]` entry is one stream named `rtcore-<session>-<stream>` (stable across runs, so
LabRecorder finds it again), with source_id `rtcore-<session>-<stream>@<run id>`
(devices.lsl.run_id: two sessions with the same name never share a source_id). Its channels are
a list of selections: "command" (all channels), "input[0]" (one channel), "input[0:4]" (a slice), in order.
The stream description carries each channel's label, unit and type (<desc><channels><channel>,
from the bus: position, velocity, force, EMG, activation ...) and the nominal rate. Each tick (or every k ticks) the step gathers the channels into a scratch row and
calls lsl_push_sample_dtp with the tick's stamp: by default the loop's stamp of the tick (bus
STAMP_S, the wake time on the LSL clock), the same stamp session.xdf records for that tick, so
an inlet and the recording agree to the bit; or the input's stamp; or lsl_local_clock at the push.

Modes:
- when = "nonzero": push only when the first channel is non-zero (event streams: markers).
- channel_format = "string": one channel of event codes pushed as their names ("go", "acquired";
  sims.paradigms.markers), the code table in <desc><codes>. The default markers stream is one.
- per_sample = true: one row per input sample of this tick (`input_n` rows), pushed as one
  chunk; a selected signal X that has a companion `X_block` (X's width x max_per_tick, e.g.
  input/input_block) contributes row r of X_block, other signals repeat their tick value.
  This keeps every input sample in a sample-by-sample pass-through or block decoder.

Defaults: with no `[[outlet]]` section in a real-time session, the engine publishes
`command`, `prediction`, `state`, `spe` and `target` (each as stream <name>, when the signal
exists) and the header `marker` as stream "markers" (irregular, non-zero codes only, as names).
`outlet = []` publishes nothing; offline runs publish only what is listed.
"""
import re
from typing import Literal

import numpy as np
import pylsl
from numba import njit
from pydantic import Field

from devices import lsl_c
from devices.lsl import run_id
from rtcore import status
from rtcore.bus import STAMP_S
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

DEFAULT_SIGNALS = ("command", "prediction", "state", "spe", "target")  #: published by default when present


class OutletConfig(Strict):
    """[[outlet]]: one LSL stream of bus signals."""

    stream: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", description="stream key; LSL name and source_id are rtcore-<session>-<stream>")
    signals: list[str] = Field(..., min_length=1, description="bus selections in channel order: 'state', 'input[0]', 'input[0:4]'")
    name: str | None = Field(None, description="LSL stream name override (default rtcore-<session>-<stream>)")
    type: str = Field("rtcore", description="LSL content type (e.g. 'Control', 'Markers')")
    every_ticks: int = Field(1, ge=1, le=100000, description="push every k ticks (nominal rate = loop rate / k)")
    when: Literal["tick", "nonzero"] = Field("tick", description="'nonzero': push only when the first channel is non-zero (events)")
    per_sample: bool = Field(False, description="one row per input sample of the tick (input_n rows, X_block companions)")
    channel_format: Literal["float32", "double64", "string"] = Field("float32", description="LSL channel format; 'string': one channel of event codes pushed as their names (markers)")
    stamp: Literal["tick", "input", "now"] = Field("tick", description="sample stamp: 'tick' = the tick's stamp, as in session.xdf; 'input' = the input's input_time; 'now' = lsl_local_clock at the push (later than the recording's stamp by the compute time)")
    rate_hz: float | None = Field(None, ge=0.0, description="nominal rate in the stream info, Hz (default loop rate / every_ticks; 0 for events)")


#: s: pushes and push failures, then the rows gathered for a push [max_rows, n_ch]. i: the liblsl
#: handle, the push period and tick counter, the events flag, the bus offsets of the row count (-1:
#: one row per push) and the stamp (STAMP_NOW: lsl_local_clock at the push), then per channel its bus offset and its
#: stride from one row to the next.
LAYOUT = stage_layout("lsl_outlet", s="pushes fails rows[max_rows,n_ch]",
                      i="handle n_ch every count nonzero rows_off max_rows stamp_off names n_names offsets[n_ch] strides[n_ch]")
# names: address of the name table (char* per code, string streams), else 0; n_names its length
S, I, AT = LAYOUT.S, LAYOUT.I, LAYOUT.AT
STAMP_NOW = -1


@njit(cache=True, nogil=True)
def lsl_outlet_step(f, s, i, bus):
    """Gather the selected channels and push them (one sample, or one chunk of input_n rows)."""
    i[I.count] += 1
    if i[I.count] < i[I.every]:
        return status.OK
    i[I.count] = 0
    nch = i[I.n_ch]
    offs = AT.i_offsets
    strides = i[I.i_strides]
    if i[I.nonzero] != 0 and bus[i[offs]] == 0.0:
        return status.OK
    rows = 1
    if i[I.rows_off] >= 0:
        rows = min(int(bus[i[I.rows_off]]), i[I.max_rows])
        if rows <= 0:
            return status.OK
    for r in range(rows):
        base = AT.s_rows + r * nch
        for c in range(nch):
            s[base + c] = bus[i[offs + c] + r * i[strides + c]]
    stamp = bus[i[I.stamp_off]] if i[I.stamp_off] != STAMP_NOW else lsl_c.lsl_local_clock()
    addr = s.ctypes.data + 8 * AT.s_rows
    if i[I.names] != 0:  # the code's name: entry k of the table (the last one: codes outside it)
        code = min(max(int(s[AT.s_rows]), 0), i[I.n_names] - 1)
        rc = lsl_c.lsl_push_sample_strtp(i[I.handle], i[I.names] + 8 * code, stamp, 1)
    elif rows == 1:
        rc = lsl_c.lsl_push_sample_dtp(i[I.handle], addr, stamp, 1)
    else:
        rc = lsl_c.lsl_push_chunk_dtp(i[I.handle], addr, rows * nch, stamp, 1)
    if rc != 0:
        s[S.fails] += 1.0
        return status.PUSH_FAILED
    s[S.pushes] += rows
    return status.OK


_SEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)(?::(\d+))?\])?$")


def select(bus, text: str, where: str) -> tuple:
    """A selection 'name', 'name[k]' or 'name[a:b]' -> (signal, [channel indices])."""
    m = _SEL.match(text.strip())
    if not m:
        raise ValueError(f"{where}: '{text}' is not a selection (use 'name', 'name[k]' or 'name[a:b]')")
    name, a, b = m.group(1), m.group(2), m.group(3)
    if not bus.has(name):
        raise ValueError(f"{where}: no bus signal '{name}'; have: {', '.join(bus.signals)}")
    sig = bus.signals[name]
    lo = 0 if a is None else int(a)
    hi = sig.width if a is None else (lo + 1 if b is None else int(b))
    if not 0 <= lo < hi <= sig.width:
        raise ValueError(f"{where}: '{text}' is outside '{name}' ({sig.width} channels)")
    return sig, list(range(lo, hi))


def _companion(bus, sig, rows_max: int):
    blk = bus.signals.get(f"{sig.name}_block")
    if blk is not None and blk.width == sig.width * rows_max:
        return blk
    return None


def build(cfg: OutletConfig, ctx, where: str = "outlet") -> Stage:
    """Create the LSL outlet for cfg and the stage that pushes it."""
    bus = ctx.bus
    key = f"rtcore-{ctx.session_name}-{cfg.stream}"
    picks = [select(bus, text, f"{where}.signals") for text in cfg.signals]
    rows_off, rows_max = -1, 1
    if cfg.per_sample:
        n_sig = bus.get("input_n", 1, who=f"{where}.per_sample")
        inp = bus.get("input", who=f"{where}.per_sample")
        rows_off, rows_max = n_sig.offset, bus.get("input_block", who=f"{where}.per_sample").width // inp.width
    offsets, strides, labels, units, types = [], [], [], [], []
    for sig, chans in picks:
        blk = _companion(bus, sig, rows_max) if cfg.per_sample else None
        for k in chans:
            offsets.append((blk.offset if blk is not None else sig.offset) + k)
            strides.append(sig.width if blk is not None else 0)
            labels.append(sig.labels[k] if len(picks) == 1 else f"{sig.name}.{sig.labels[k]}")
            units.append(sig.units[k])
            types.append(sig.types[k])
    nch = len(offsets)
    if len(set(labels)) != nch:
        raise ValueError(f"{where}.signals: channel selected twice in {cfg.signals}")
    names = cfg.channel_format == "string"
    if names and (nch != 1 or cfg.per_sample):
        raise ValueError(f"{where}.channel_format: 'string' pushes one channel of event codes as names; "
                         f"{cfg.signals} selects {nch} channel(s){' per sample' if cfg.per_sample else ''}")
    stamp_off = {"tick": STAMP_S, "now": STAMP_NOW}.get(cfg.stamp)
    if cfg.stamp == "input":
        stamp_off = bus.get("input_time", 1, who=f"{where}.stamp").offset
    events = cfg.when == "nonzero"
    rate = cfg.rate_hz if cfg.rate_hz is not None else (0.0 if events else ctx.rate_hz / cfg.every_ticks)
    source_id = run_id.tag(key)
    info = pylsl.StreamInfo(cfg.name or key, cfg.type, nch, rate, cfg.channel_format, source_id)
    chans = info.desc().append_child("channels")
    for lab, unit, kind in zip(labels, units, types):
        ch = chans.append_child("channel")
        ch.append_child_value("label", lab)
        ch.append_child_value("unit", "" if names else unit)
        ch.append_child_value("type", cfg.type if names else kind)
    table = _name_table(info) if names else None
    meta = info.desc().append_child("rtcore")
    meta.append_child_value("session", ctx.session_name)
    meta.append_child_value("signals", ", ".join(cfg.signals))
    meta.append_child_value("loop_rate_hz", f"{ctx.rate_hz:g}")
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=10)
    f, s, i = LAYOUT.fill(i=dict(handle=lsl_c.handle(outlet), n_ch=nch, every=cfg.every_ticks, count=cfg.every_ticks - 1,
                                 nonzero=int(events), rows_off=rows_off, max_rows=rows_max, stamp_off=stamp_off,
                                 offsets=offsets, strides=strides,
                                 names=table[0].ctypes.data if table is not None else 0,
                                 n_names=table[0].size if table is not None else 0))
    desc = {"name": cfg.name or key, "source_id": source_id, "channels": labels, "rate_hz": rate, "type": cfg.type}
    stage = Stage("outlet", SPEC.kind, f, s, i, keep=[outlet, table], info={f"lsl_out.{cfg.stream}": desc})
    stage.close = lambda: lsl_c.release(stage, I.handle)
    stage.report = lambda: {f"lsl_out.{cfg.stream}": {**desc, "pushed": int(stage.s[S.pushes]),
                                                      "push_failures": int(stage.s[S.fails])}}
    return stage


def _name_table(info):
    """The marker names as C strings for lsl_push_sample_strtp, and their code table in the description.

    Returns (pointers uint64[max code + 2], buffers): entry k points at the name of code k; the last
    entry, "unknown", is pushed for codes outside the table. Keep both alive with the outlet."""
    from sims.paradigms.markers import NAMES
    codes = info.desc().append_child("codes")
    for code, name in sorted(NAMES.items()):
        c = codes.append_child("code")
        c.append_child_value("value", str(code))
        c.append_child_value("name", name)
    n = max(NAMES) + 2
    buffers = [np.frombuffer((NAMES.get(k, "none" if k == 0 else "unknown") + "\0").encode(), np.uint8).copy()
               for k in range(n - 1)] + [np.frombuffer(b"unknown\0", np.uint8).copy()]
    return np.array([b.ctypes.data for b in buffers], np.uint64), buffers


def default_outlets(bus) -> list:
    """The outlets of a real-time session without [[outlet]]: DEFAULT_SIGNALS present, and markers."""
    cfgs = [OutletConfig(stream=name, signals=[name]) for name in DEFAULT_SIGNALS if bus.has(name)]
    cfgs.append(OutletConfig(stream="markers", signals=["marker"], type="Markers", when="nonzero", channel_format="string"))
    return cfgs


def build_all(cfgs, ctx) -> list:
    """One stage per outlet config (None: the defaults in real time, nothing offline)."""
    if cfgs is None:
        cfgs = default_outlets(ctx.bus) if ctx.realtime else []
    names = [c.stream for c in cfgs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"outlet: stream key(s) {sorted(dup)} used twice; each [[outlet]] needs its own stream")
    return [build(c, ctx, f"outlet[{k}]") for k, c in enumerate(cfgs)]


def build_from_session(cfg, ctx) -> list:
    """Pipeline hook: the [[outlet]] stages (or the defaults of a real-time session)."""
    return build_all(cfg.outlet, ctx)


SPEC = StageSpec(kind=11, name="lsl_outlet", step=lsl_outlet_step, config=OutletConfig, build=build)
