"""A synthetic user as its own LSL publisher (`rtcore source emg|neural`), for real-time demos.

The same compiled stage as in-process runs on a private bus at a 1 kHz tick, paced by the wall
clock in 5 ms batches; its input_block rows are pushed to an LSL outlet. What the user sees:
- with --session, that engine session's `state` and `target` outlets (rtcore-<session>-state,
  rtcore-<session>-target; started by a session, only those of its own run, by source_id:
  devices.lsl.run_id), pulled every batch; until they appear (the user may start before the
  engine, which needs its stream at build time) the user rests at the centre and keeps looking;
- without --session, a local world: center-out targets (8 directions, radius 0.1 m, a new one every
  2 s, back to the centre in between) and a cursor moved by the user's own output (neural: the
  intended velocity; EMG: a 1 kg point mass pushed by f_max U (a - c0) with 5 N s/m damping).
Each sample carries its own stamp, as an amplifier's clock would: sample k of the stream is stamped
T0 + (k + 1) / rate_hz on the LSL clock (T0 moves on by the time skipped after a stall), so stamps only go forward
(liblsl back-dating a chunk from one stamp made them step back at every batch).
The stream description carries each channel's label, unit and type (EMG, SpikeCounts).
An EMG user also follows calibration prompts: `rtcore calibrate emg --stream NAME` publishes the
marker stream NAME-prompts ("rest", "mvc", "done"; rtcore.decoders.calibrate_cli), and while a
prompt is on, the user relaxes or contracts every muscle (sims.users.emg, bus `prompt`).
"""
import math
import time

import numpy as np
import pylsl

from devices.lsl import run_id
from rtcore.bus import Bus
from rtcore.decoders.calibrate_cli import PROMPTS, prompt_stream_name
from rtcore.stage import BuildContext
from sims.users import emg, neural

TICK_S = 0.001
BATCH_S = 0.005


class LocalWorld:
    """Center-out targets and a cursor driven by the user itself (used when no engine is visible)."""

    def __init__(self, kind: str, stage, bus: Bus):
        self.kind, self.stage, self.bus = kind, stage, bus
        self.pos = np.zeros(2)
        self.vel = np.zeros(2)
        if kind == "emg":
            n = int(stage.i[emg.I.n])
            self.force_map = 10.0 * emg.muscle_directions(n, 2)  # f_max U, N
            self.c0 = stage.f[emg.F.c0]

    def target(self, t: float) -> np.ndarray:
        k = int(t // 2.0)
        if k % 2 == 0:
            return np.zeros(2)
        a = 2.0 * math.pi * ((k // 2) % 8) / 8.0
        return 0.1 * np.array([math.cos(a), math.sin(a)])

    def step(self, b: np.ndarray) -> None:
        if self.kind == "neural":
            self.vel = b[self.bus.get("intended_velocity").slice].copy()
        else:
            a = b[self.bus.get("intended_activation").slice]
            force = self.force_map @ (a - self.c0) - 5.0 * self.vel
            self.vel = self.vel + TICK_S * force  # 1 kg
        self.pos = self.pos + TICK_S * self.vel


class EngineLink:
    """The session's state and target outlets, looked up without blocking until both appear."""

    def __init__(self, session: str):
        self.ids = {sig: run_id.tag(f"rtcore-{session}-{sig}") for sig in ("state", "target")}
        self.resolver = pylsl.ContinuousResolver(forget_after=5.0)
        self.inlets = {}

    def connected(self) -> bool:
        if len(self.inlets) < 2:
            for info in self.resolver.results():
                for sig, sid in self.ids.items():
                    if info.source_id() == sid and sig not in self.inlets:
                        self.inlets[sig] = pylsl.StreamInlet(info)
        return len(self.inlets) == 2

    def latest(self, sig: str):
        chunk, _ = self.inlets[sig].pull_chunk(timeout=0.0)
        return chunk[-1] if chunk else None


class PromptLink:
    """The calibration prompts for stream `name` (NAME-prompts), looked up without blocking."""

    CODES = dict(zip(PROMPTS, (emg.PROMPT_REST, emg.PROMPT_MVC, emg.PROMPT_NONE)))

    def __init__(self, name: str):
        self.resolver = pylsl.ContinuousResolver(prop="name", value=prompt_stream_name(name), forget_after=5.0)
        self.inlet = None
        self.value = emg.PROMPT_NONE
        self.next_look = 0.0

    def poll(self) -> float:
        """The prompt in force (PROMPT_NONE until one arrives)."""
        if self.inlet is None:
            now = time.monotonic()
            if now < self.next_look:
                return self.value
            self.next_look = now + 0.2
            found = self.resolver.results()
            if not found:
                return self.value
            self.inlet = pylsl.StreamInlet(found[0])
        chunk, _ = self.inlet.pull_chunk(timeout=0.0)
        for (text,) in chunk:
            self.value = self.CODES.get(text, self.value)
        return self.value


def build_user(kind: str, channels: int, rate_hz: float, seed: int, overrides=()):
    """The user's stage on a private bus that already carries state [4] and target [2].
    overrides: "key=value" settings of the user's config model, validated like a session's."""
    from rtcore.config import parse_value
    from rtcore.configbase import ConfigError
    from pydantic import ValidationError
    extra = {}
    for item in overrides:
        key, _, text = item.partition("=")
        extra[key.strip()] = parse_value(text.strip())
    bus = Bus()
    bus.add("state", 4, "m", ["x", "y", "vx", "vy"])
    bus.add("target", 2, "m", ["x", "y"])
    if kind == "emg":
        bus.add("prompt", 1, "code", ["prompt"])
    ctx = BuildContext(bus=bus, dt_s=TICK_S, seed=seed, realtime=True)
    if kind == "emg":
        model, raw = emg.SyntheticEmgConfig, dict(kind="synthetic_emg", n_channels=channels, rate_hz=rate_hz)
    else:
        model = neural.SyntheticNeuralConfig
        raw = dict(kind="synthetic_neural", n_units=channels, bin_s=round(1.0 / rate_hz / TICK_S) * TICK_S)
    try:
        cfg = model.model_validate({**raw, **extra})
    except ValidationError as e:
        from rtcore.configbase import format_error
        raise ConfigError(format_error(e, model, f"rtcore source {kind} --set")) from None
    if kind == "emg":
        return bus, emg.build(cfg, ctx), emg.emg_user_step
    return bus, neural.build(cfg, ctx), neural.neural_step


def publish(kind: str, channels: int, rate_hz: float, name: str, session: str | None = None,
            seed: int = 0, duration_s: float | None = None, log=print, overrides=()) -> int:
    """Publish the user's stream until Ctrl-C (or duration_s); returns samples pushed."""
    bus, stage, step = build_user(kind, channels, rate_hz, seed, overrides)
    b = bus.array()
    step(stage.f, stage.s, stage.i, b)  # compile (or load) before the stream appears
    n_ch = bus.get("input").width
    sig = bus.get("input")
    info = pylsl.StreamInfo(name, sig.types[0], n_ch, rate_hz, "float32", run_id.tag(name))
    chans = info.desc().append_child("channels")
    for lab, unit, kind_k in zip(sig.labels, sig.units, sig.types):
        ch = chans.append_child("channel")
        ch.append_child_value("label", lab)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", kind_k)
    outlet = pylsl.StreamOutlet(info)
    link = EngineLink(session) if session else None
    world = None if link else LocalWorld(kind, stage, bus)
    prompts = PromptLink(name) if kind == "emg" else None
    log(f"publishing '{name}' ({n_ch} ch, {rate_hz:g} Hz, {kind}); following "
        + (f"session '{session}'" if link else "a local center-out world") + "; Ctrl-C to stop")
    st_sl, tg_sl = bus.get("state").slice, bus.get("target").slice
    blk, n_off = bus.get("input_block").offset, bus.get("input_n").offset
    rows = np.zeros((int(BATCH_S / TICK_S) * 8 + 64, n_ch))
    t0 = pylsl.local_clock()  # CLOCK_MONOTONIC, moved on by stalls: paces the ticks and stamps the samples
    ticks = pushed = 0
    try:
        while duration_s is None or ticks * TICK_S < duration_s:
            if link is not None and link.connected():
                for sl, sig in ((st_sl, "state"), (tg_sl, "target")):
                    v = link.latest(sig)
                    if v is not None:
                        b[sl] = v[:sl.stop - sl.start]
            if prompts is not None:
                b[bus.get("prompt").offset] = prompts.poll()
            due = int((pylsl.local_clock() - t0) / TICK_S)
            if due - ticks > 0.1 / TICK_S:  # stalled (e.g. descheduled): skip ahead, never burst
                t0 += (due - ticks) * TICK_S
                due = ticks
            k = 0
            while ticks < due and k + 8 < len(rows):
                if world is not None:
                    b[st_sl] = [*world.pos, *world.vel]
                    b[tg_sl] = world.target(ticks * TICK_S)
                step(stage.f, stage.s, stage.i, b)
                if world is not None:
                    world.step(b)
                n = int(b[n_off])
                rows[k:k + n] = b[blk:blk + n * n_ch].reshape(n, n_ch)
                k += n
                ticks += 1
            if k:
                stamps = t0 + (pushed + 1 + np.arange(k)) / rate_hz
                outlet.push_chunk(rows[:k].astype(np.float32), stamps.tolist())
                pushed += k
            time.sleep(BATCH_S)
    except KeyboardInterrupt:
        pass
    log(f"stopped after {pushed} samples")
    return pushed
