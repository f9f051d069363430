"""LSL marker inlet source: an external program's text markers, pulled every tick, as task events.

A stimulus program (PsychoPy, a trigger box, the experimenter's script) sends string markers
over LSL. This source ([[source]] kind = "lsl_markers") pulls them in the compiled step, without
the GIL: each tick `lsl_pull_sample_str` (timeout 0) until the queue is empty or max_per_tick
markers were taken; liblsl allocates each string, the step copies its UTF-8 bytes onto the bus
and frees it (`lsl_destroy_string`). So every marker is recorded in session.xdf as a string
stream named after `signal`, with its sender's time stamp (the source's clock, with ClockOffset
chunks, as for numeric inlets), and `rtcore replay` feeds the same bytes back.

Task events: `actions` maps a marker's exact text to an operator action on the bus header, the
same one the live page's buttons set (rtcore.dashboard): "pause" (the task holds the centre, no
new trial), "resume", "next_block" (the rest of the block is skipped). The task records the
header as its `operator` signal, so a replay repeats the actions without this stage.

A marker stream is irregular, so it is never stale by silence. A broken connection is recovered
by liblsl itself (the inlet is opened with recover on, same source_id); the number of lost-
connection reports is counted. Markers longer than max_chars bytes are cut and counted.

Bus signals written (prefix `signal`, "events" by default): events [max_chars] (the newest
marker's bytes, 0-padded; types "Markers"), events_block [max_per_tick * max_chars] (this tick's
markers, oldest first), events_n [1] (markers this tick), events_time [1] (the newest one's stamp
on the local LSL clock, s), events_stamps [max_per_tick] (each one's local stamp, s),
events_clock_offset [1] (s, local = remote + offset).
"""
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from devices import lsl_c
from devices.lsl import inlet
from rtcore import status
from rtcore.bus import PAUSE, SKIP_BLOCK, TEXT_TYPE
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage

#: Operator actions a marker can trigger (the codes in the stage's action table).
ACTIONS = {"pause": 1, "resume": 2, "next_block": 3}


class LslMarkerSourceConfig(Strict):
    """[[source]] kind = "lsl_markers": an LSL string (marker) stream, as recorded events and task actions."""

    kind: Literal["lsl_markers"]
    name: str | None = Field(None, description="stream name to resolve (e.g. 'PsychoPyMarkers')")
    type: str | None = Field(None, description="stream type to resolve (e.g. 'Markers')")
    source_id: str | None = Field(None, description="stream source_id to resolve")
    resolve_timeout_s: float = Field(5.0, gt=0.0, le=600.0, description="how long to look for the stream before failing, s")
    signal: str = Field("events", pattern=r"^[a-z][a-z0-9_]*$", description="bus name of this inlet's signals (events, events_block, events_n, ...)")
    max_chars: int = Field(64, ge=1, le=1024, description="bytes kept per marker (UTF-8); longer markers are cut and counted")
    max_per_tick: int = Field(8, ge=1, le=256, description="most markers taken per tick (the rest wait for the next tick)")
    actions: dict[str, Literal["pause", "resume", "next_block"]] = Field(
        {}, description="marker text -> operator action on the task (e.g. {\"pause\" = \"pause\", \"go_on\" = \"resume\"})")
    time_correction_every_s: float = Field(1.0, gt=0.0, le=60.0, description="refresh period of the clock offset, s")
    buffer_s: int = Field(360, ge=1, le=3600, description="liblsl inlet buffer, s")

    @model_validator(mode="after")
    def _one_selector(self):
        if not (self.name or self.type or self.source_id):
            raise ValueError("give at least one of name, type, source_id")
        for text in self.actions:
            if not text or len(text.encode()) > self.max_chars:
                raise ValueError(f"actions: marker {text!r} must be 1..max_chars ({self.max_chars}) bytes")
        return self


#: f: the clock offset's refresh period (s), then the action table: each entry's marker bytes
#: (0-padded), byte length and action code (ACTIONS). s: clock offset, next refresh, counters, the
#: task state the markers set (paused, skips). i: the liblsl handle, the ec slot, the char* slot
#: liblsl writes a string's address into, sizes, bus offsets.
LAYOUT = stage_layout(
    "lsl_markers",
    f="tc_every_s text[n_actions,n_ch] text_len[n_actions] action[n_actions]",
    s="offset next_tc markers actions truncated lost_events tc_fails paused skips stamps[max]",
    i="handle ec=0 text_ptr=0 n_ch max n_actions latest block n_off time stamps_out clock_offset")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT


@njit(cache=True, nogil=True)
def _copy_text(addr, bus, row, width):
    """The C string at addr into bus[row:row + width] (0-padded); returns (bytes kept, cut)."""
    text = lsl_c.text_bytes(addr, width + 1)
    k = 0
    while k < width and text[k] != 0:
        bus[row + k] = text[k]
        k += 1
    cut = k == width and text[width] != 0
    for j in range(k, width):
        bus[row + j] = 0.0
    return k, cut


@njit(cache=True, nogil=True)
def _action(f, i, bus, row, n):
    """The action code of the marker in bus[row:row + n] (0: none in the table)."""
    width = i[I.n_ch]
    for a in range(i[I.n_actions]):
        if f[i[I.f_text_len] + a] != n:
            continue
        base = AT.f_text + a * width
        same = True
        for k in range(n):
            if f[base + k] != bus[row + k]:
                same = False
                break
        if same:
            return int(f[i[I.f_action] + a])
    return 0


@njit(cache=True, nogil=True)
def lsl_markers_step(f, s, i, bus):
    """Take this tick's markers, apply their actions; returns a status code."""
    now = lsl_c.lsl_local_clock()
    h, width, mx = i[I.handle], i[I.n_ch], i[I.max]
    if now >= s[S.next_tc]:
        s[S.next_tc] = now + f[F.tc_every_s]
        offset = lsl_c.lsl_time_correction(h, 0.0, lsl_c.ec_slot(i, I.ec))
        if lsl_c.ec_value(i, I.ec) == 0:
            s[S.offset] = offset
        else:
            s[S.tc_fails] += 1.0
    bus[i[I.clock_offset]] = s[S.offset]
    got = 0
    while got < mx:
        t = lsl_c.lsl_pull_sample_str(h, i.ctypes.data + 8 * I.text_ptr, 1, 0.0, lsl_c.ec_slot(i, I.ec))
        if t == 0.0:
            if lsl_c.ec_value(i, I.ec) == lsl_c.LSL_LOST_ERROR:
                s[S.lost_events] += 1.0
            break
        row = i[I.block] + got * width
        n, cut = _copy_text(i[I.text_ptr], bus, row, width)
        lsl_c.lsl_destroy_string(i[I.text_ptr])
        i[I.text_ptr] = 0
        s[S.truncated] += 1.0 if cut else 0.0
        local = t + s[S.offset]
        s[AT.s_stamps + got] = local
        bus[i[I.stamps_out] + got] = local
        act = 0 if cut else _action(f, i, bus, row, n)
        if act == 1:
            s[S.paused] = 1.0
        elif act == 2:
            s[S.paused] = 0.0
        elif act == 3:
            s[S.skips] += 1.0
        s[S.actions] += 1.0 if act != 0 else 0.0
        got += 1
    bus[i[I.n_off]] = got
    if got > 0:
        last = i[I.block] + (got - 1) * width
        for k in range(width):
            bus[i[I.latest] + k] = bus[last + k]
        bus[i[I.time]] = s[AT.s_stamps + got - 1]
        s[S.markers] += got
    bus[PAUSE] = max(bus[PAUSE], s[S.paused])
    bus[SKIP_BLOCK] += s[S.skips]
    return status.OK


def check(info, where: str) -> None:
    """A marker stream has one string channel; else a one-line ValueError."""
    desc = inlet.describe_stream(info)
    if info.channel_format() != lsl_c.STRING_FORMAT:
        raise ValueError(f"{where}: stream {desc} is numeric; kind = \"lsl_markers\" takes string (marker) "
                         f"streams, use kind = \"lsl\" for it")
    if info.channel_count() != 1:
        raise ValueError(f"{where}: marker stream {desc} has {info.channel_count()} channels; rtcore takes "
                         f"one-channel marker streams")


def build(cfg: LslMarkerSourceConfig, ctx, where: str = "source") -> Stage:
    """Resolve and open the marker stream; register <signal>, _block, _n, _time, _stamps, _clock_offset."""
    info = inlet.resolve(cfg, where)
    check(info, where)
    try:
        stream_in, _full, offset = inlet.open_inlet(info, cfg.buffer_s, cfg.resolve_timeout_s)
    except Exception as e:  # pylsl's timeout or lost error
        raise ValueError(f"{where}: marker stream {inlet.describe_stream(info)} did not answer within "
                         f"{cfg.resolve_timeout_s:g} s ({e}); is its outlet still running?") from None
    width, mx, sig = cfg.max_chars, cfg.max_per_tick, cfg.signal
    labels = [f"byte{k}" for k in range(width)]
    text = [TEXT_TYPE] * width
    latest = ctx.bus.add(sig, width, [""] * width, labels, text)
    block = ctx.bus.add(f"{sig}_block", mx * width, [""] * (mx * width),
                        [f"{lab}@{r}" for r in range(mx) for lab in labels], text * mx)
    n_off = ctx.bus.add(f"{sig}_n", 1, "markers", [f"{sig}_n"])
    t_off = ctx.bus.add(f"{sig}_time", 1, "s", [f"{sig}_time"])
    stamps = ctx.bus.add(f"{sig}_stamps", mx, "s", [f"stamp@{r}" for r in range(mx)])
    c_off = ctx.bus.add(f"{sig}_clock_offset", 1, "s", [f"{sig}_clock_offset"])
    table = np.zeros((len(cfg.actions), width))
    for a, marker in enumerate(cfg.actions):
        raw = marker.encode()
        table[a, :len(raw)] = list(raw)
    f, s, i = LAYOUT.fill(
        f=dict(tc_every_s=cfg.time_correction_every_s, text=table,
               text_len=[len(m.encode()) for m in cfg.actions], action=[ACTIONS[a] for a in cfg.actions.values()]),
        s=dict(offset=offset),
        i=dict(handle=lsl_c.handle(stream_in), n_ch=width, max=mx, n_actions=len(cfg.actions), latest=latest.offset,
               block=block.offset, n_off=n_off.offset, time=t_off.offset, stamps_out=stamps.offset,
               clock_offset=c_off.offset))
    stream = {"name": info.name(), "type": info.type(), "source_id": info.source_id(), "host": info.hostname(),
              "signal": sig, "max_chars": width, "max_per_tick": mx, "actions": dict(cfg.actions)}
    stage = Stage(where, SPEC.kind, f, s, i, keep=[stream_in], info={f"lsl_markers_{sig}": stream})
    stage.close = lambda: lsl_c.release(stage, I.handle)
    stage.report = lambda: {f"lsl_markers_{sig}": {**stream, **counters(stage)}}
    return stage


def counters(stage: Stage) -> dict:
    """Markers taken, those that triggered an action, those cut at max_chars, lost connections."""
    s = stage.s
    return {"markers": int(s[S.markers]), "actions_applied": int(s[S.actions]), "truncated": int(s[S.truncated]),
            "lost_events": int(s[S.lost_events]), "time_correction_s": float(s[S.offset]),
            "time_correction_failures": int(s[S.tc_fails])}


SPEC = StageSpec(kind=15, name="lsl_markers", step=lsl_markers_step, config=LslMarkerSourceConfig, build=build)
