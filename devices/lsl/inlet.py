"""LSL inlet source: drain 0..N samples per tick from liblsl inside the compiled step.

Build (Python, off the hot path): resolve the stream by name / type / source_id with a timeout
(the error lists what is visible), check channel count, format and nominal rate against the
config, open the stream and take a first clock offset. Step (compiled, no GIL, no allocation):

    n = lsl_pull_chunk_d(inlet, input_block, stamps, ..., 0.0, ec)   (slices of PULL_SLICE samples)

straight into the bus, so a sample costs one copy inside liblsl. A sample with a NaN or Inf
channel is replaced by the previous valid sample and counted (BAD_SAMPLE). `input` holds the
newest valid sample, `input_time` its LSL stamp mapped to the local clock
(t_local = t_remote + lsl_time_correction, refreshed every time_correction_every_s with a zero
timeout, so the tick never waits). In real time, samples queued before the first tick (build and
compile time) are dropped then (flush_at_start), so the loop starts on fresh data.

Catch-up under a budget: a tick drains everything queued, up to the block's capacity
(max_per_tick) and until catchup_budget_frac of the period has passed, so a backlog (a burst after
a network stall) is worked off in as few ticks as the budget allows, every sample through every
downstream stage (they all take input_n rows per tick). `input_backlog` counts what is still
queued after the drain; the report gives the number of catch-ups, the longest (s) and the largest.

Stale, lost and recovered: silence past stale_after_s (default STALE_PERIODS sample periods,
within STALE_MIN_S..STALE_MAX_S; never for an irregular stream) or a connection liblsl reports
lost sets bus HOLD (safe hold), emits MARKER_STREAM_STALE and returns STALE_STREAM once. A helper
thread (devices.lsl.recovery) then re-resolves the stream by the config's query and hands the tick
the stream that came back, under the same or a new source_id; the tick only swaps the handle. The
first sample after that clears HOLD, emits MARKER_STREAM_RESUMED, returns RESUMED and records the
gap: `input_gap` = [gaps, missed samples (gap x nominal rate), last gap s]. With on_lost = "fail",
silence past lost_after_s returns STREAM_LOST, which ends the session cleanly; with "hold" the
session waits in safe hold. Staleness is measured on the LSL local clock, so it is the same in
real-time and offline runs.

Tick alignment (align_ticks): the step phase-locks the loop's ticks to sample arrival
(rtcore.phaselock), so a sample waits about the LSL hop for its tick instead of up to a period.
A sample that still misses its tick waits a whole period for the next one; with due_wait_frac
the tick instead waits (blocked in liblsl, no spinning) up to that fraction of a period for a
sample the source's nominal rate says is due, and the phase lock counts that tick as late.

Bus signals written (prefix `signal`, "input" by default; a second [[source]] names its own):
input [n_ch] (stream unit), input_block [max_per_tick * n_ch] (oldest first), input_n [1]
(samples this tick), input_time [1] (s, local LSL clock), input_age [1] (s, tick time minus the
newest sample's stamp, when samples came), input_clock_offset [1] (s, the clock offset in use:
local = remote + offset; session.xdf records it as the input stream's ClockOffset chunks),
input_gap [3] (see above), input_backlog [1] (samples left queued after this tick's drain).
"""
import math
import time
from typing import Literal

import pylsl
from numba import njit
from pydantic import Field, model_validator

from devices import lsl_c
from devices.lsl import recovery, run_id
from rtcore import phaselock, status
from rtcore.bus import DT_S, MARKER, MARKER_STREAM_RESUMED, MARKER_STREAM_STALE, TICK_SHIFT_S, request_hold
from rtcore.configbase import Strict
from rtcore.layout import stage_layout
from rtcore.registry import StageSpec
from rtcore.stage import Stage


class LslSourceConfig(Strict):
    """[source] kind = "lsl": an LSL stream pulled every tick."""

    kind: Literal["lsl"]
    name: str | None = Field(None, description="stream name to resolve (e.g. 'PeerBenchIn')")
    type: str | None = Field(None, description="stream type to resolve (e.g. 'EMG')")
    source_id: str | None = Field(None, description="stream source_id to resolve (unique per device)")
    resolve_timeout_s: float = Field(5.0, gt=0.0, le=600.0, description="how long to look for the stream before failing, s")
    channels: int | None = Field(None, ge=1, le=4096, description="expected channel count (checked before start)")
    rate_hz: float | None = Field(None, ge=0.0, description="expected nominal rate, Hz (0 = irregular; checked before start)")
    channel_format: Literal["float32", "double64", "int32", "int16", "int8", "int64"] | None = Field(
        None, description="expected channel format (checked before start)")
    signal: str = Field("input", pattern=r"^[a-z][a-z0-9_]*$", description="bus name of this inlet's signals (input, input_block, input_n, ...; a second [[source]] needs its own, e.g. 'force')")
    max_per_tick: int | None = Field(None, ge=1, le=8192, description="block capacity: most samples drained per tick (default: the larger of 4 x rate x period + 2 and 512 values / channels)")
    catchup_budget_frac: float = Field(0.25, gt=0.0, le=0.9, description="a backlog drains each tick until this fraction of the loop period is spent (or the block is full)")
    wait_s: float = Field(0.0, ge=0.0, le=1.0, description="wait up to this long for a sample when none is queued, s (offline pacing; keep 0 in real time)")
    stale_after_s: float | None = Field(None, gt=0.0, le=60.0, description="silence that triggers safe hold and recovery, s (default: 50 sample periods within 0.05..0.25 s; an irregular stream only when its connection is lost)")
    on_lost: Literal["hold", "fail"] = Field("fail", description="a stream that stays away: 'hold' waits for it in safe hold forever, 'fail' ends the session (STREAM_LOST) after lost_after_s")
    lost_after_s: float = Field(10.0, gt=0.0, le=3600.0, description="with on_lost = 'fail': silence that ends the session (STREAM_LOST), s")
    recover: bool = Field(True, description="a helper thread re-resolves a stale or lost stream by this query and swaps in the one that returns (same or new source_id)")
    time_correction_every_s: float = Field(1.0, gt=0.0, le=60.0, description="refresh period of the clock offset, s")
    buffer_s: int = Field(10, ge=1, le=360, description="liblsl inlet buffer, s of samples")
    flush_at_start: bool = Field(True, description="real time: drop samples queued before the first tick (stale by build and compile time)")
    align_ticks: bool = Field(False, description="phase-lock the loop's ticks to sample arrival (cuts the wait for the next tick to about the LSL hop)")
    align_late_frac: float = Field(0.02, gt=0.0, lt=0.5, description="with align_ticks: target fraction of samples that miss the first tick after their push (with due_wait_frac, e.g. 0.2)")
    align_step_us: float = Field(20.0, gt=0.0, le=200.0, description="with align_ticks: phase step, us (larger locks faster, jitters more)")
    due_wait_frac: float = Field(0.0, ge=0.0, le=0.5, description="real time: when the next sample is due but not queued, wait up to this fraction of the loop period for it (0: never)")

    @model_validator(mode="after")
    def _one_selector(self):
        if not (self.name or self.type or self.source_id):
            raise ValueError("give at least one of name, type, source_id")
        if self.stale_after_s is not None and self.lost_after_s <= self.stale_after_s:
            raise ValueError("lost_after_s must exceed stale_after_s")
        return self


#: f: parameters (align_step_s = 0: no tick alignment; due_wait_s = 0: no wait for due samples;
#: lost_s = inf: on_lost = "hold"; stale_s = inf: an irregular stream, stale only when lost; budget_s:
#: the catch-up's time budget per tick; steady_n: samples a tick takes without a backlog).
#: s: clock offset, arrival clocks and counters (next_offset: the clock offset of the inlet the
#: recovery thread hands over with next_handle; last_local: the newest stamp on the local clock, for
#: the gap across a swap; a catch-up is a run of ticks that drained more than steady_n samples or left
#: a backlog), the phase lock's state, the last good sample (held in place of a bad one) and this
#: tick's stamps. i: the liblsl handle, the error-code slot (a zeroed int64 that liblsl's int32 *ec
#: writes into: low 4 bytes, little-endian), sizes, bus offsets, the stale flag; next_handle: a fresh
#: inlet from the recovery thread, taken by the next tick (0: none); lost: the inlet reported its
#: connection lost (pulls stop until a swap); catchup: in a catch-up; dedup: after a swap, drop
#: samples the old inlet already delivered (liblsl reconnected it too).
LAYOUT = stage_layout(
    "lsl_inlet",
    f="stale_s lost_s tc_every_s wait_s align_late align_step_s flush due_wait_s sample_period_s budget_s rate_hz "
      "steady_n",
    s=f"offset last_arrival next_tc samples bad stale_events resumes tc_fails flushed last_stamp due_waits "
      f"next_offset last_local gaps missed gap_s gap_s_max swaps lost_events backlog_max catchups catchup_t0 "
      f"catchup_n catchup_s catchup_s_max catchup_n_max duplicates lock[{phaselock.PL_LEN}] prev[n_ch] stamps[max]",
    i="handle ec=0 n_ch max input block n_off time stale=0 age clock_offset next_handle=0 lost=0 gap backlog "
      "catchup=0 dedup=0")
F, S, I, AT = LAYOUT.F, LAYOUT.S, LAYOUT.I, LAYOUT.AT
PULL_SLICE = 64  #: during a catch-up, look at the clock after every this many samples


@njit(cache=True, nogil=True, inline="always")
def _call_ec(i):
    """Zero the ec slot before a call; returns its address (int32_t *)."""
    return lsl_c.ec_slot(i, I.ec)


@njit(cache=True, nogil=True, inline="always")
def _ec(i):
    """The int32 error code liblsl wrote into the ec slot."""
    return lsl_c.ec_value(i, I.ec)


@njit(cache=True, nogil=True)
def _take_swap(f, s, i, now):
    """Adopt the inlet the recovery thread handed over (its handle and clock offset)."""
    i[I.handle] = i[I.next_handle]
    s[S.offset] = s[S.next_offset]
    s[S.next_tc] = now  # measure the new inlet's offset from this tick on (liblsl probes in the background)
    s[S.swaps] += 1.0
    i[I.lost] = 0
    i[I.dedup] = 1
    i[I.next_handle] = 0  # last: the thread may now release the old inlet


@njit(cache=True, nogil=True)
def _drop_seen(s, i, bus, nch, got):
    """After a swap: drop the block's leading samples stamped no later than the newest one taken
    (liblsl's own recovery may have fed them through the old inlet); returns the samples left."""
    stamps = i[I.s_stamps]
    k = 0
    while k < got and s[stamps + k] + s[S.offset] <= s[S.last_local]:
        k += 1
    if k == 0:
        i[I.dedup] = 0 if got > 0 else 1
        return got
    blk = i[I.block]
    for r in range(got - k):
        s[stamps + r] = s[stamps + k + r]
        for c in range(nch):
            bus[blk + r * nch + c] = bus[blk + (k + r) * nch + c]
    s[S.duplicates] += k
    i[I.dedup] = 0 if got > k else 1
    return got - k


@njit(cache=True, nogil=True)
def _drain(f, s, i, bus, h, nch, mx, got, now):
    """Pull queued samples after the first `got` into the block until the queue is empty, the block
    is full or F.budget_s has passed since `now`; returns the block's sample count."""
    blk = i[I.block]
    stamps = i[I.s_stamps]
    bus_addr = bus.ctypes.data
    s_addr = s.ctypes.data
    end = now + f[F.budget_s]
    while got < mx:
        want = min(mx - got, PULL_SLICE)
        values = lsl_c.lsl_pull_chunk_d(h, bus_addr + 8 * (blk + got * nch), s_addr + 8 * (stamps + got),
                                        want * nch, want, 0.0, _call_ec(i))
        n = values // nch
        got += n
        if n < want or _ec(i) != 0 or lsl_c.lsl_local_clock() >= end:
            break
    return got


@njit(cache=True, nogil=True)
def _catchup(f, s, i, bus, h, got, now):
    """Count the backlog left queued and time the catch-up (ticks draining more than F.steady_n)."""
    backlog = lsl_c.lsl_samples_available(h) if got == i[I.max] or got > f[F.steady_n] else 0
    bus[i[I.backlog]] = backlog
    s[S.backlog_max] = max(s[S.backlog_max], backlog)
    busy = backlog > 0 or got > f[F.steady_n]
    if busy and i[I.catchup] == 0:
        i[I.catchup] = 1
        s[S.catchups] += 1.0
        s[S.catchup_t0] = now
        s[S.catchup_n] = 0.0
    if i[I.catchup] != 0:
        s[S.catchup_n] += got
        if backlog == 0:
            i[I.catchup] = 0
            s[S.catchup_s] = lsl_c.lsl_local_clock() - s[S.catchup_t0]
            s[S.catchup_s_max] = max(s[S.catchup_s_max], s[S.catchup_s])
            s[S.catchup_n_max] = max(s[S.catchup_n_max], s[S.catchup_n])


@njit(cache=True, nogil=True)
def _gap(f, s, i, bus, first_local):
    """A stale stream flows again: count the gap and the samples its nominal rate says were missed.

    missed = max(0, round(gap_s * rate_hz) - 1), gap_s = first new stamp - last old stamp (local clock).
    input_gap = [gaps, missed samples in all gaps, last gap s]."""
    if s[S.last_local] == 0.0:
        return
    gap_s = first_local - s[S.last_local]
    s[S.gaps] += 1.0
    s[S.gap_s] = gap_s
    s[S.gap_s_max] = max(s[S.gap_s_max], gap_s)
    if f[F.rate_hz] > 0.0:
        s[S.missed] += max(0.0, round(gap_s * f[F.rate_hz]) - 1.0)
    g = i[I.gap]
    bus[g], bus[g + 1], bus[g + 2] = s[S.gaps], s[S.missed], gap_s


@njit(cache=True, nogil=True)
def lsl_inlet_step(f, s, i, bus):
    """Drain the inlet into input_block, hold bad samples, track staleness; returns a status code."""
    now = lsl_c.lsl_local_clock()
    if i[I.next_handle] != 0:
        _take_swap(f, s, i, now)
    h, nch, mx = i[I.handle], i[I.n_ch], i[I.max]
    blk = i[I.block]
    prev = AT.s_prev
    stamps = i[I.s_stamps]
    if s[S.last_arrival] == 0.0:  # first tick: the silence clock starts now, not at build
        s[S.last_arrival] = now
        if f[F.flush] != 0.0:
            s[S.flushed] = lsl_c.lsl_inlet_flush(h)
    lost = i[I.lost] != 0
    if now >= s[S.next_tc] and not lost:
        s[S.next_tc] = now + f[F.tc_every_s]
        offset = lsl_c.lsl_time_correction(h, 0.0, _call_ec(i))
        if _ec(i) == 0:
            s[S.offset] = offset
        else:
            s[S.tc_fails] += 1.0
    bus[i[I.clock_offset]] = s[S.offset]
    got = 0
    waited = False
    if not lost:
        wait = f[F.wait_s]
        due = f[F.due_wait_s] > 0.0 and now >= s[S.last_stamp] + s[S.offset] + f[F.sample_period_s]
        if due:  # the source should have pushed its next sample by now: give it a moment to arrive
            wait = max(wait, f[F.due_wait_s])
        if wait > 0.0 and lsl_c.lsl_samples_available(h) == 0:
            t = lsl_c.lsl_pull_sample_d(h, bus.ctypes.data + 8 * blk, nch, wait, _call_ec(i))
            if t != 0.0:
                s[stamps] = t
                got = 1
                waited = due
                s[S.due_waits] += 1.0 if due else 0.0
        if _ec(i) != lsl_c.LSL_LOST_ERROR:
            got = _drain(f, s, i, bus, h, nch, mx, got, now)
        if i[I.dedup] != 0:
            got = _drop_seen(s, i, bus, nch, got)
        if _ec(i) == lsl_c.LSL_LOST_ERROR:  # the outlet is gone: hold now, the recovery thread looks for it
            i[I.lost] = 1
            lost = True
            s[S.lost_events] += 1.0
        else:
            _catchup(f, s, i, bus, h, got, now)
    code = status.OK
    for r in range(got):
        row = blk + r * nch
        finite = True
        for c in range(nch):
            if not math.isfinite(bus[row + c]):
                finite = False
                break
        if finite:
            for c in range(nch):
                s[prev + c] = bus[row + c]
        else:
            for c in range(nch):
                bus[row + c] = s[prev + c]
            s[S.bad] += 1.0
            code = status.BAD_SAMPLE
    bus[i[I.n_off]] = got
    if got > 0:
        for c in range(nch):
            bus[i[I.input] + c] = s[prev + c]
        resumed = i[I.stale] != 0
        if resumed:
            _gap(f, s, i, bus, s[stamps] + s[S.offset])
        s[S.last_stamp] = s[stamps + got - 1]
        bus[i[I.time]] = s[S.last_stamp] + s[S.offset]
        s[S.last_local] = bus[i[I.time]]
        bus[i[I.age]] = now - bus[i[I.time]]
        if f[F.align_step_s] > 0.0:
            bus[TICK_SHIFT_S] += phaselock.observe(s[AT.s_lock:AT.s_lock + phaselock.PL_LEN], now, s[stamps:stamps + got],
                                                     got, s[S.offset], bus[DT_S], f[F.align_late], f[F.align_step_s],
                                                     waited)
        s[S.samples] += got
        s[S.last_arrival] = now
        if resumed:
            i[I.stale] = 0
            bus[MARKER] = MARKER_STREAM_RESUMED
            s[S.resumes] += 1.0
            return status.RESUMED
        return code
    silent = now - s[S.last_arrival]
    if silent > f[F.lost_s]:
        return status.STREAM_LOST
    if lost or silent > f[F.stale_s]:
        request_hold(bus)
        if i[I.stale] == 0:
            i[I.stale] = 1
            bus[MARKER] = MARKER_STREAM_STALE
            s[S.stale_events] += 1.0
            return status.STALE_STREAM
    return code


def _predicate(cfg: LslSourceConfig) -> str:
    parts = [f"{key}='{val}'" for key, val in (("name", cfg.name), ("type", cfg.type), ("source_id", cfg.source_id)) if val]
    return " and ".join(parts)


def describe_stream(info: pylsl.StreamInfo) -> str:
    """'name' (6 ch, 1000 Hz, EMG) for error messages and listings."""
    rate = info.nominal_srate()
    rate_s = "irregular" if rate == 0 else f"{rate:g} Hz"
    return f"'{info.name()}' ({info.channel_count()} ch, {rate_s}, {info.type() or 'no type'})"


def resolve(cfg: LslSourceConfig, where: str = "source") -> pylsl.StreamInfo:
    """The one stream matching the config, or a one-line ValueError: none visible (lists what is),
    or several (lists them: hostname, source_id, age). Streams are told apart by the run id in
    their source_id (devices.lsl.run_id): inside a run, a stream another run published is never
    taken unless the config names its source_id, even when it is the only match (this run's own
    companion may start later: wait for it up to resolve_timeout_s)."""
    pred = _predicate(cfg)
    resolver = pylsl.ContinuousResolver(pred=pred, forget_after=cfg.resolve_timeout_s + AMBIGUITY_WAIT_S)
    found = _first_takeable(resolver, cfg)
    if found:  # the resolver keeps every answer to every query wave, so a second match is not missed
        time.sleep(AMBIGUITY_WAIT_S)
        found = {s.uid(): s for s in found + resolver.results()}.values()
    if not found:
        visible = pylsl.resolve_streams(1.0)
        seen = ", ".join(describe_stream(s) for s in visible) or "none"
        what = " ".join(f"{k}={v!r}" for k, v in (("name", cfg.name), ("type", cfg.type), ("source_id", cfg.source_id)) if v)
        raise ValueError(f"{where}: stream {what} not found within {cfg.resolve_timeout_s:g} s; visible: {seen}")
    return pick(list(found), cfg, where)


def _first_takeable(resolver: pylsl.ContinuousResolver, cfg: LslSourceConfig) -> list:
    """All matches seen once one this run may bind appears (or what is seen at the timeout; other
    runs' streams alone keep it waiting, since this run's own companion may start later)."""
    deadline = time.monotonic() + cfg.resolve_timeout_s
    while True:
        found = resolver.results()
        if _takeable(found, cfg) or time.monotonic() >= deadline:
            return found
        time.sleep(RESOLVE_POLL_S)


AMBIGUITY_WAIT_S = 2 * recovery.QUERY_WAVE_S  #: after the first match, listen this long for others (two of liblsl's query waves: on one host, some outlets answer only the multicast wave), s
RESOLVE_POLL_S = 0.05  #: until a bindable match appears, look at the resolver's results this often, s


def _takeable(found: list, cfg: LslSourceConfig) -> list:
    """The matches this run may bind: all of them when the config names a source_id or outside a
    run; inside a run, those that carry no run id or this run's."""
    rid = run_id.current()
    if cfg.source_id or rid is None:
        return found
    return [s for s in found if run_id.run_of(s.source_id()) in (None, rid)]


def pick(found: list, cfg: LslSourceConfig, where: str) -> pylsl.StreamInfo:
    """The stream to bind among those matching the query (see resolve)."""
    mine = _takeable(found, cfg)
    if len(mine) == 1:
        return mine[0]
    rid = run_id.current()
    own = [s for s in mine if rid is not None and run_id.run_of(s.source_id()) == rid]
    if len(own) == 1:
        return own[0]
    now = pylsl.local_clock()
    cands = "; ".join(f"{s.hostname()} source_id={s.source_id()!r} age {now - s.created_at():.0f} s"
                      for s in sorted(found, key=lambda s: s.created_at()))
    pred = _predicate(cfg)
    why = f"{len(found)} streams match {pred}" if mine else f"only other sessions' streams match {pred}"
    raise ValueError(f"{where}: {why} ({cands}); set {where}.source_id "
                     f"to choose one, or stop the other session")


def check(cfg: LslSourceConfig, info: pylsl.StreamInfo, where: str = "source") -> None:
    """Channel count, format and nominal rate against the config; one-line ValueError on mismatch."""
    desc = describe_stream(info)
    if cfg.channels is not None and info.channel_count() != cfg.channels:
        raise ValueError(f"{where}: stream {desc} has {info.channel_count()} channels, but {where}.channels = "
                         f"{cfg.channels}; fix {where}.channels or the stream")
    fmt = lsl_c.NUMERIC_FORMATS.get(info.channel_format())
    if fmt is None:
        hint = ("; a marker stream is read by kind = \"lsl_markers\"" if info.channel_format() == lsl_c.STRING_FORMAT
                else "")
        raise ValueError(f"{where}: stream {desc} has a non-numeric channel format (code {info.channel_format()}); "
                         f"kind = \"lsl\" pulls numbers only{hint}")
    if cfg.channel_format is not None and fmt != cfg.channel_format:
        raise ValueError(f"{where}: stream {desc} is {fmt}, but {where}.channel_format = '{cfg.channel_format}'")
    if cfg.rate_hz is not None and not math.isclose(info.nominal_srate(), cfg.rate_hz, rel_tol=1e-6, abs_tol=1e-9):
        raise ValueError(f"{where}: stream {desc} runs at {info.nominal_srate():g} Hz, but {where}.rate_hz = "
                         f"{cfg.rate_hz:g}; fix {where}.rate_hz or the stream")


def channel_labels(info: pylsl.StreamInfo) -> tuple[list[str], list[str], list[str]]:
    """Channel labels, units and types from the stream's <desc><channels>; else ch0.., the first
    unit given (or ''), and the stream's content type (EMG, SpikeCounts ...)."""
    n = info.channel_count()
    labels, units, types = [], [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(labels) < n:
        labels.append(ch.child_value("label") or f"ch{len(labels)}")
        units.append(ch.child_value("unit"))
        types.append(ch.child_value("type") or info.type() or "misc")
        ch = ch.next_sibling("channel")
    if len(labels) != n or len(set(labels)) != n:
        labels = [f"ch{k}" for k in range(n)]
    if len(units) != n:
        units = [next((u for u in units if u), "")] * n
        types = [info.type() or "misc"] * n
    return labels, units, types


STALE_PERIODS = 50  #: default stale_after_s: this many sample periods of silence ...
STALE_MIN_S, STALE_MAX_S = 0.05, 0.25  #: ... within these bounds, s
BLOCK_VALUES = 512  #: default block capacity: at least this many values (samples x channels) per tick


def stale_after_s(cfg: LslSourceConfig, rate_hz: float) -> float:
    """Silence that makes the stream stale, s: the config's, else STALE_PERIODS sample periods within
    [STALE_MIN_S, STALE_MAX_S]; an irregular stream (a marker stream) is never stale by silence."""
    if cfg.stale_after_s is not None:
        return cfg.stale_after_s
    if rate_hz <= 0:
        return math.inf
    return min(STALE_MAX_S, max(STALE_MIN_S, STALE_PERIODS / rate_hz))


def connect(info: pylsl.StreamInfo, buffer_s: int, timeout_s: float) -> pylsl.StreamInlet:
    """An inlet subscribed to a resolved stream (samples pushed from now on queue in it). liblsl's
    own recovery stays on: without it a broken connection discards the samples still queued in the
    inlet; devices.lsl.recovery is faster than it and also finds a stream under a new source_id."""
    inlet = pylsl.StreamInlet(info, max_buflen=buffer_s, recover=True)
    inlet.open_stream(timeout=timeout_s)
    return inlet


def open_inlet(info: pylsl.StreamInfo, buffer_s: int, timeout_s: float) -> tuple:
    """(inlet, full info with <desc>, clock offset s) for the session's start: connected, with a
    first time correction (several probes: blocking, so never in the recovery's swap)."""
    inlet = connect(info, buffer_s, timeout_s)
    return inlet, inlet.info(timeout=timeout_s), inlet.time_correction(timeout=timeout_s)


def build(cfg: LslSourceConfig, ctx, where: str = "source") -> Stage:
    """Resolve, check and open the stream; register <signal>, <signal>_block, _n, _time, _age,
    _clock_offset, _gap, _backlog (signal = cfg.signal, "input" by default); start its recovery thread."""
    info = resolve(cfg, where)
    check(cfg, info, where)
    try:
        inlet, full, offset = open_inlet(info, cfg.buffer_s, cfg.resolve_timeout_s)
    except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
        raise ValueError(f"{where}: stream {describe_stream(info)} did not answer within "
                         f"{cfg.resolve_timeout_s:g} s ({e}); is its outlet still running?") from None
    nch = info.channel_count()
    rate = info.nominal_srate()
    steady = 4 * math.ceil(rate * ctx.dt_s) + 2 if rate > 0 else 16
    mx = cfg.max_per_tick or max(steady, BLOCK_VALUES // nch)
    labels, units, types = channel_labels(full)
    sig = cfg.signal
    sig_in = ctx.bus.add(sig, nch, units, labels, types)
    sig_block = ctx.bus.add(f"{sig}_block", mx * nch, units * mx, [f"{lab}@{r}" for r in range(mx) for lab in labels], types * mx)
    sig_n = ctx.bus.add(f"{sig}_n", 1, "samples", [f"{sig}_n"])
    sig_t = ctx.bus.add(f"{sig}_time", 1, "s", [f"{sig}_time"])
    sig_age = ctx.bus.add(f"{sig}_age", 1, "s", [f"{sig}_age"])
    sig_offset = ctx.bus.add(f"{sig}_clock_offset", 1, "s", [f"{sig}_clock_offset"])
    sig_gap = ctx.bus.add(f"{sig}_gap", 3, "", ["gaps", "missed_samples", "last_gap_s"])
    sig_backlog = ctx.bus.add(f"{sig}_backlog", 1, "samples", [f"{sig}_backlog"])
    stale_s = stale_after_s(cfg, rate)
    f, s, i = LAYOUT.fill(
        f=dict(stale_s=stale_s, lost_s=cfg.lost_after_s if cfg.on_lost == "fail" else math.inf,
               tc_every_s=cfg.time_correction_every_s, wait_s=cfg.wait_s, align_late=cfg.align_late_frac,
               flush=float(cfg.flush_at_start and ctx.realtime),
               align_step_s=cfg.align_step_us * 1e-6 if cfg.align_ticks and ctx.realtime else 0.0,
               due_wait_s=cfg.due_wait_frac * ctx.dt_s if ctx.realtime and rate > 0 else 0.0,
               sample_period_s=1.0 / rate if rate > 0 else math.inf,
               budget_s=cfg.catchup_budget_frac * ctx.dt_s, rate_hz=rate, steady_n=steady),
        s=dict(offset=offset),
        i=dict(handle=lsl_c.handle(inlet), n_ch=nch, max=mx, input=sig_in.offset, block=sig_block.offset,
               n_off=sig_n.offset, time=sig_t.offset, age=sig_age.offset, clock_offset=sig_offset.offset,
               gap=sig_gap.offset, backlog=sig_backlog.offset))
    stream = {"name": info.name(), "type": info.type(), "source_id": info.source_id(), "host": info.hostname(),
              "channels": nch, "rate_hz": rate, "format": lsl_c.NUMERIC_FORMATS[info.channel_format()],
              "max_per_tick": mx, "signal": sig, "stale_after_s": stale_s if math.isfinite(stale_s) else None,
              "on_lost": cfg.on_lost}
    key = "lsl_in" if sig == "input" else f"lsl_in_{sig}"
    stage = Stage(where, SPEC.kind, f, s, i, keep=[inlet], info={key: stream})
    rec = None
    if cfg.recover:
        def accept(new):
            check(cfg, new, where)
            if new.channel_count() != nch or new.channel_format() != info.channel_format():
                raise ValueError(f"{describe_stream(new)} differs from the bound stream's channels or format")

        rec = recovery.Recovery(stage, inlet, info, (I.stale, I.lost, I.next_handle, S.offset, S.next_offset, S.last_local),
                                find=lambda timeout_s, minimum: _takeable(list(pylsl.resolve_bypred(_predicate(cfg), minimum, timeout_s)), cfg),
                                accept=accept,
                                open_=lambda new: connect(new, cfg.buffer_s, recovery.OPEN_TIMEOUT_S))
        rec.start()

    def close():
        if rec is not None:
            rec.close()
        lsl_c.release(stage, I.handle)

    stage.close = close
    stage.report = lambda: {key: {**stream, **counters(stage), **(recovered(rec) if rec else {})}}
    return stage


def recovered(rec) -> dict:
    """What the recovery thread did: each swap (found after s, source_id), and the last refusal."""
    out = {"swaps": [{"found_after_s": t, "source_id": sid} for t, sid in rec.swaps]}
    if rec.refused:
        out["refused"] = rec.refused
    return out


def counters(stage: Stage) -> dict:
    """What the inlet saw: samples, bad samples, stale events, resumes, the clock offset, samples
    flushed at start, and with align_ticks the phase lock's late fraction and push kind."""
    s = stage.s
    out = {"samples": int(s[S.samples]), "bad_samples": int(s[S.bad]), "stale_events": int(s[S.stale_events]),
           "resumes": int(s[S.resumes]), "lost_events": int(s[S.lost_events]), "inlet_swaps": int(s[S.swaps]),
           "gaps": int(s[S.gaps]), "missed_samples": int(s[S.missed]), "longest_gap_s": float(s[S.gap_s_max]),
           "catchups": int(s[S.catchups]), "longest_catchup_s": float(s[S.catchup_s_max]),
           "largest_catchup_samples": int(s[S.catchup_n_max]), "largest_backlog": int(s[S.backlog_max]),
           "time_correction_s": float(s[S.offset]),
           "time_correction_failures": int(s[S.tc_fails]), "flushed_at_start": int(s[S.flushed]),
           "due_waits": int(s[S.due_waits]), "duplicates_dropped": int(s[S.duplicates])}
    if stage.f[F.align_step_s] > 0.0:
        lock, PL = LAYOUT.view(stage, "lock"), phaselock.PL
        out["phase_lock"] = {"late_frac": float(lock[PL.late] / max(lock[PL.judged], 1.0)),
                             "judged": int(lock[PL.judged]), "single_sample_pushes": bool(lock[PL.single])}
    return out


SPEC = StageSpec(kind=10, name="lsl", step=lsl_inlet_step, config=LslSourceConfig, build=build)
