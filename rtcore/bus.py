"""The signal bus: one float64 vector that carries every named signal of the tick.

Stages exchange data only through the bus. A factory registers the signals it writes with
`Bus.add` and looks up the ones it reads with `Bus.get`, then stores their offsets in its int
array, so the compiled step indexes the bus directly. Outlets and the recorder select signals
by name, so any signal of the tick can be published or recorded.

The first HEADER slots are written by the loop itself.

While a session is built, `who` names the config section being built ("[decoder] kind =
'kalman'"); the bus remembers which section registered each signal (`writers`) and which
sections looked it up (`users`), for the wiring checks of rtcore.wiring and for errors that
name both stages.
"""
from dataclasses import dataclass, field

import numpy as np
from numba import njit

TICK = 0  #: tick index since the first deadline
T_S = 1  #: session time, s (tick * dt_s)
DT_S = 2  #: control period, s
HOLD = 3  #: 1.0 while the session is in its safe state this tick (read it; set it via request_hold)
MARKER = 4  #: event code emitted this tick (0 = none); see sims.paradigms markers
HOLD_NEXT = 5  #: hold requests made this tick, carried into the next tick by the loop
TICK_SHIFT_S = 6  #: a stage's request to move the next deadlines by this much, s (phase lock); the loop applies and clears it
#: the tick's time stamp, s: in real time its wake time on the LSL clock (lsl_local_clock ==
#: CLOCK_MONOTONIC), offline simulated time. Outlets push with it and session.xdf records it, so
#: both carry the same stamp. Never feed it into a computation: replay must stay bit-exact.
STAMP_S = 7
#: the operator's task commands (rtcore.dashboard), copied by the loop from the control block each
#: tick: PAUSE is 1.0 while the task is paused; SKIP_BLOCK counts next-block requests (the task
#: skips one block each time it grows). A replay writes the recorded values instead.
PAUSE = 8
SKIP_BLOCK = 9
HEADER = 10
#: the engine's own `marker` codes (the task's are sims.paradigms.markers, which names both):
MARKER_STREAM_STALE = 900  #: an LSL input stream went silent, the session is in safe hold
MARKER_STREAM_RESUMED = 901  #: its samples flow again, safe hold released


@njit(cache=True, nogil=True)
def request_hold(bus):
    """Ask for the safe state this tick and the next: a stage that needs hold asks every tick.

    Hold is a level the loop rebuilds each tick (HOLD = requests of the previous tick), so one
    stage recovering never releases a hold another stage still needs.
    """
    bus[HOLD] = 1.0
    bus[HOLD_NEXT] = 1.0


class MissingSignal(KeyError):
    """A stage reads a bus signal that no earlier stage writes: a wiring mistake in the user's config,
    reported as one line (a KeyError for older callers; any other KeyError is a bug)."""

    def __str__(self) -> str:  # the message as is (KeyError would quote it)
        return str(self.args[0]) if self.args else ""


#: The channel type a unit implies when a stage names none (XDF/LSL <channel><type>).
TYPE_OF_UNIT = {"m": "position", "rad": "position", "m/s": "velocity", "rad/s": "velocity", "N": "force",
                "N*m": "torque", "Nm": "torque", "s": "time", "bool": "flag", "code": "code"}
TEXT_TYPE = "Markers"  #: the channel type of a text signal: a string's UTF-8 bytes, one per channel (recorded as strings)
MISC = "misc"  #: the type of a channel whose unit implies none (MNE's name for it)


def per_channel(value, width: int, what: str, name: str) -> tuple:
    """One value for every channel (a str) or one per channel (a sequence of width strs)."""
    if isinstance(value, str):
        return (value,) * width
    value = tuple(value)
    if len(value) != width:
        raise ValueError(f"bus signal '{name}': {len(value)} {what} for {width} channels")
    return value


@dataclass(frozen=True)
class Signal:
    """A named slice of the bus: bus[offset : offset + width], with each channel's label, unit and type.

    unit: the signal's unit as one text (the channels' distinct units joined by ','), for messages
    and checks; units/types: one per channel, written into the LSL and XDF stream descriptions."""

    name: str
    offset: int
    width: int
    unit: str = ""
    labels: tuple = ()
    units: tuple = ()
    types: tuple = ()

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.width)


@dataclass
class Bus:
    """Registry of named signals; `array()` allocates the bus once the chain is built."""

    signals: dict = field(default_factory=dict)
    size: int = HEADER
    who: str = ""  #: the config section being built (set by the pipeline), for writers/users
    writers: dict = field(default_factory=dict)  #: signal name -> section that registered it
    users: dict = field(default_factory=dict)  #: signal name -> set of sections that looked it up

    def __post_init__(self):
        for name, off, unit in (("tick", TICK, "1"), ("t", T_S, "s"), ("dt", DT_S, "s"),
                                ("hold", HOLD, "bool"), ("marker", MARKER, "code"),
                                ("hold_next", HOLD_NEXT, "bool"), ("tick_shift", TICK_SHIFT_S, "s"),
                                ("stamp", STAMP_S, "s")):
            self.signals[name] = Signal(name, off, 1, unit, (name,), (unit,), (TYPE_OF_UNIT.get(unit, MISC),))

    def add(self, name: str, width: int, unit="", labels=None, types=None) -> Signal:
        """Register a signal written by one stage.

        unit, types: one str for every channel or one per channel; types default to what each
        unit implies (TYPE_OF_UNIT: m -> position, m/s -> velocity, N -> force ...), else "misc".
        Labels default to name0..nameN."""
        if name in self.signals:
            first, second = self.writers.get(name) or "the loop", self.who or "another stage"
            hint = (' (e.g. [decoder] output = "intent" read by [plant] velocity_signal = "intent" or by '
                    '[controller] kind = "passthrough")' if "[decoder]" in first + second else "")
            raise ValueError(f"bus signal '{name}' is written by two stages: {first} and {second}; only one may "
                             f"write it: give one of them another output and let the other read that{hint}")
        labels = per_channel(labels if labels is not None else [f"{name}{k}" for k in range(width)], width, "labels", name)
        units = per_channel(unit, width, "units", name)
        types = per_channel(types, width, "types", name) if types is not None else tuple(TYPE_OF_UNIT.get(u, MISC) for u in units)
        text = unit if isinstance(unit, str) else ",".join(dict.fromkeys(units))
        sig = Signal(name, self.size, int(width), text, labels, units, types)
        self.signals[name] = sig
        self.writers[name] = self.who
        self.size += int(width)
        return sig

    def derive(self, name: str, source: Signal, labels) -> Signal:
        """Register a signal channel for channel like source (its units and types), e.g. a delayed copy."""
        return self.add(name, source.width, source.units, labels, source.types)

    def get(self, name: str, width: int | None = None, who: str = "") -> Signal:
        """Look up a signal a stage reads; a clear error lists what exists."""
        sig = self.signals.get(name)
        if sig is None:
            have = ", ".join(self.signals)
            raise MissingSignal(f"{who + ': ' if who else ''}needs bus signal '{name}', "
                           f"which no earlier stage writes; have: {have}")
        if width is not None and sig.width != width:
            raise ValueError(f"{who + ': ' if who else ''}bus signal '{name}' has "
                             f"{sig.width} channels, expected {width}")
        self.note_use(name, self.who)
        return sig

    def note_use(self, name: str, section: str) -> None:
        """Remember that `section` reads (or drives) signal `name`."""
        if section:
            self.users.setdefault(name, set()).add(section)

    def has(self, name: str) -> bool:
        return name in self.signals

    def array(self) -> np.ndarray:
        return np.zeros(self.size, dtype=np.float64)
