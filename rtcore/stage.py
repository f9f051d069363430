"""The stage contract.

A stage is one compiled step over three preallocated arrays, built once by a factory:

    step(f, s, i, bus) -> int      # @njit(cache=True, nogil=True), in the stage's own file

- f: float64[:]  parameters, constant during the run (gains, filter coefficients, matrices).
- s: float64[:]  float state the step updates in place (filter memories, weights, buffers).
- i: int64[:]    integer parameters and state: bus offsets of the signals the step reads and
                 writes, sizes, ring indices, C handles (pointers as int64).
- bus: float64[:] the signal bus (rtcore.bus).
- returns a status code from rtcore.status (0 = ok). Codes >= status.FATAL end the session.

A factory `build(cfg, ctx) -> Stage` validates the config against the wiring (bus signals,
channel counts), turns physical parameters into per-tick constants, registers output signals
on ctx.bus, and allocates the arrays. Each stage file declares its arrays' layout once
(rtcore.layout: named scalar slots and named segments with shapes), fills them by name, and its
step reads slots through compile-time constants (`i[I.n_x]`). Matrices live in f or s as flat
C-order segments; the step views them with `f[a:b].reshape((n, m))`, which allocates nothing.

Each stage file ends with its registration, `SPEC = StageSpec(kind, name, step, config, build)`
(rtcore.registry); its family lists the file in MEMBERS, and rtcore.dispatch checks at import that
its compiled chain reaches every registered step.

The chain is packed into flat arrays with offsets (`pack`), so the loop has one compiled
signature whatever the configuration: the engine compiles once per install, and every
session, test and sweep reuses the cache.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rtcore.bus import Bus


@dataclass(frozen=True)
class NominalPlant:
    """The plant's own point-mass model at its start posture, for the forward model's nominal part.

    mass_matrix_kg (Lambda) [n, n] kg: endpoint inertia (J M_q^-1 J^T)^-1 (Khatib 1987, Hogan 1985);
    mass_kg: its isotropic fit tr(Lambda) / n.
    """

    mass_matrix_kg: np.ndarray

    @property
    def mass_kg(self) -> float:
        return float(np.trace(self.mass_matrix_kg) / self.mass_matrix_kg.shape[0])


@dataclass(frozen=True)
class ArmGeometry:
    """A planar two-link arm's geometry (sims.plants.two_link_kinematics): lengths m, angles rad."""

    l1_m: float
    l2_m: float
    shoulder_xy_m: tuple
    start_q_rad: tuple


@dataclass(frozen=True)
class PlantInfo:
    """What the plant tells later stages at build time (the task, the forward model, the parent).

    Every plant publishes one on ctx.plant; a stage that needs it calls ctx.require_plant(who).
    """

    kind: str  # the [plant] kind ("two_link_arm", "cursor", "framed_arm", ...)
    state_labels: tuple  # labels of the plant's `state` signal
    model_path: str | None = None  # MJCF file the viewer loads; None for non-MuJoCo plants
    hand_site: str | None = None  # the MJCF site used as the hand (the viewer's trail and ghost); None without
    start_hand_m: tuple | None = None  # hand (or cursor) position at the start, m; None without a hand
    payload: bool = False  # the model has a payload body (a task's load_kg)
    nominal: NominalPlant | None = None  # the plant's own nominal model, if it has one
    arm: ArmGeometry | None = None  # two-link geometry, for the shipped arm
    model: object = None  # mujoco.MjModel (MuJoCo plants; benches and tests read it)
    data: object = None  # mujoco.MjData stepped by the compiled plant


@dataclass
class BuildContext:
    """What a factory sees: the bus so far, the control period, the session's seed and the plant."""

    bus: Bus
    dt_s: float
    seed: int
    realtime: bool = True
    session_name: str = "session"
    config_path: str = "<config>"
    plant: PlantInfo | None = None  # published by the plant factory (built before the stages that read it)
    links: list = field(default_factory=list)  # late bindings, resolved by run_links

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.dt_s

    def require_plant(self, who: str, why: str = "") -> PlantInfo:
        """The plant's build info; a one-line error naming `who` when no plant has been built."""
        if self.plant is None:
            raise ValueError(f"{who}: needs a plant{f' ({why})' if why else ''}, but none was built "
                             f"before it; add a [plant] section")
        return self.plant


@dataclass
class Stage:
    """One built stage of the chain."""

    name: str  # the config section or role, used in counters and errors ("decoder", "plant")
    kind: int  # dispatch code: the SPEC.kind of the stage's file (rtcore.registry)
    f: np.ndarray
    s: np.ndarray
    i: np.ndarray
    keep: list = field(default_factory=list)  # Python objects that must outlive the loop
    close: Callable | None = None  # off-hot-path cleanup after the loop (safe state, close handles)
    info: dict = field(default_factory=dict)  # shown in summary.json (e.g. stream names, sizes)
    report: Callable | None = None  # after the loop: () -> dict merged into summary.json (e.g. per-trial metrics)

    def __post_init__(self):
        self.f = np.ascontiguousarray(self.f, dtype=np.float64).ravel()
        self.s = np.ascontiguousarray(self.s, dtype=np.float64).ravel()
        self.i = np.ascontiguousarray(self.i, dtype=np.int64).ravel()


@dataclass
class Chain:
    """Stages packed into flat arrays for the compiled loop (stage k owns F[foff[k]:foff[k+1]])."""

    stages: list
    kinds: np.ndarray
    foff: np.ndarray
    soff: np.ndarray
    ioff: np.ndarray
    F: np.ndarray
    S: np.ndarray
    I: np.ndarray


def pack(stages: list) -> Chain:
    """Concatenate the stages' arrays. After packing, each Stage's f/s/i are views into F/S/I,
    so Python-side code (tests, the recorder, the parent) still reads live stage state."""

    def cat(arrays, dtype):
        off = np.zeros(len(arrays) + 1, dtype=np.int64)
        off[1:] = np.cumsum([a.size for a in arrays])
        flat = np.zeros(max(int(off[-1]), 1), dtype=dtype)
        for k, a in enumerate(arrays):
            flat[off[k]:off[k + 1]] = a
        return off, flat

    foff, F = cat([st.f for st in stages], np.float64)
    soff, S = cat([st.s for st in stages], np.float64)
    ioff, I = cat([st.i for st in stages], np.int64)
    for k, st in enumerate(stages):
        st.f, st.s, st.i = F[foff[k]:foff[k + 1]], S[soff[k]:soff[k + 1]], I[ioff[k]:ioff[k + 1]]
    kinds = np.array([st.kind for st in stages], dtype=np.int64)
    return Chain(stages, kinds, foff, soff, ioff, F, S, I)


# Late binding: a stage built early (a synthetic user is a source) may read a signal that a
# later-built stage registers (the plant's `state`, the task's `target`). bind_signal stores the
# offset now if the signal exists, else queues the lookup; the pipeline resolves the queue with
# run_links once every family is built.

def bind_signal(ctx, stage, slot: int, name: str, index: int, width: int, who: str,
                required: bool = True) -> None:
    """Set stage.i[slot] to the bus offset of name[index] (reading `width` channels), now or at
    link time. An optional signal that never appears leaves the slot as it was."""

    section = ctx.bus.who

    def link(bus):
        if not required and not bus.has(name):
            return
        sig = bus.get(name, who=who)
        bus.note_use(name, section)
        if sig.width < index + width:
            raise ValueError(f"{who}: bus signal '{name}' has {sig.width} channels, "
                             f"needs {index + width} (index {index} + {width})")
        stage.i[slot] = sig.offset + index

    if ctx.bus.has(name):
        link(ctx.bus)
    else:
        ctx.links.append(link)


def run_links(ctx) -> None:
    """Resolve every queued lookup against the complete bus (clear errors name the missing signal)."""
    pending, ctx.links = ctx.links, []
    for link in pending:
        link(ctx.bus)
