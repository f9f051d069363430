"""A synthetic user as its own LSL publisher (`rtcore source emg|neural`), for real-time demos.

The same compiled stage as in-process runs on a private bus at a 1 kHz tick, paced by the wall
clock in 5 ms batches; its input_block rows are pushed to an LSL outlet. What the user sees:
- when an engine session is running, its `state` and `target` outlets
  (rtcore-<session>-state, rtcore-<session>-target), pulled every batch;
- otherwise a local world: center-out targets (8 directions, radius 0.1 m, a new one every
  2 s, back to the centre in between) and a cursor moved by the user's own output (neural: the
  intended velocity; EMG: a 1 kg point mass pushed by f_max U (a - c0) with 5 N s/m damping).
"""
import math
import time

import numpy as np
import pylsl

from rtcore.bus import Bus
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
            n = int(stage.i[emg.I_N])
            self.force_map = 10.0 * emg.muscle_directions(n, 2)  # f_max U, N
            self.c0 = stage.f[emg.F_C0]

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


def _engine_inlet(session: str, signal: str):
    found = pylsl.resolve_byprop("source_id", f"rtcore-{session}-{signal}", 1, 1.0)
    if not found:
        return None
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(2.0)
    return inlet


def build_user(kind: str, channels: int, rate_hz: float, seed: int):
    """The user's stage on a private bus that already carries state [4] and target [2]."""
    bus = Bus()
    bus.add("state", 4, "m", ["x", "y", "vx", "vy"])
    bus.add("target", 2, "m", ["x", "y"])
    ctx = BuildContext(bus=bus, dt_s=TICK_S, seed=seed, realtime=True)
    if kind == "emg":
        cfg = emg.SyntheticEmgConfig(kind="synthetic_emg", n_channels=channels, rate_hz=rate_hz)
        return bus, emg.build(cfg, ctx), emg.emg_user_step
    bin_s = round(1.0 / rate_hz / TICK_S) * TICK_S
    cfg = neural.SyntheticNeuralConfig(kind="synthetic_neural", n_units=channels, bin_s=bin_s)
    return bus, neural.build(cfg, ctx), neural.neural_step


def publish(kind: str, channels: int, rate_hz: float, name: str, session: str | None = None,
            seed: int = 0, duration_s: float | None = None, log=print) -> int:
    """Publish the user's stream until Ctrl-C (or duration_s); returns samples pushed."""
    bus, stage, step = build_user(kind, channels, rate_hz, seed)
    b = bus.array()
    step(stage.f, stage.s, stage.i, b)  # compile (or load) before the stream appears
    n_ch = bus.get("input").width
    info = pylsl.StreamInfo(name, "EMG" if kind == "emg" else "SpikeCounts", n_ch, rate_hz, "float32", name)
    chans = info.desc().append_child("channels")
    for lab in bus.get("input").labels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", lab)
        ch.append_child_value("unit", bus.get("input").unit)
    outlet = pylsl.StreamOutlet(info)
    state_in = _engine_inlet(session, "state") if session else None
    target_in = _engine_inlet(session, "target") if session else None
    world = None if (state_in and target_in) else LocalWorld(kind, stage, bus)
    log(f"publishing '{name}' ({n_ch} ch, {rate_hz:g} Hz, {kind}); following "
        + (f"session '{session}'" if world is None else "a local center-out world") + "; Ctrl-C to stop")
    st_sl, tg_sl = bus.get("state").slice, bus.get("target").slice
    blk, n_off = bus.get("input_block").offset, bus.get("input_n").offset
    rows = np.zeros((int(BATCH_S / TICK_S) * 8 + 64, n_ch))
    t0 = time.perf_counter()
    ticks = pushed = 0
    try:
        while duration_s is None or ticks * TICK_S < duration_s:
            if world is None:
                s, _ = state_in.pull_chunk(timeout=0.0)
                g, _ = target_in.pull_chunk(timeout=0.0)
                if s:
                    v = s[-1][:4]
                    b[st_sl.start:st_sl.start + len(v)] = v
                if g:
                    v = g[-1][:2]
                    b[tg_sl.start:tg_sl.start + len(v)] = v
            due = int((time.perf_counter() - t0) / TICK_S)
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
                outlet.push_chunk(rows[:k].astype(np.float32), pylsl.local_clock())
                pushed += k
            time.sleep(BATCH_S)
    except KeyboardInterrupt:
        pass
    log(f"stopped after {pushed} samples")
    return pushed
