"""The session config: TOML sections validated into typed models.

Each section's model lives beside the code it configures (a stage's config model is in the
stage's file; a family's tagged union is in the family's __init__). This module assembles the
root, loads TOML, applies `--set a.b=value` overrides with the same validation, and writes the
resolved config back as TOML.
"""
import ast
import pathlib
import tomllib
from typing import Literal

import tomli_w
from pydantic import Field, ValidationError, field_validator, model_validator

from rtcore.configbase import ConfigError, Strict, format_error, read_toml
from rtcore.decoders import DecoderConfig
from rtcore.sources import SourceConfig
from devices.lsl.outlet import OutletConfig
from devices.lsl.scope import LslSection
from rtcore.cerebellum import FeedbackConfig, FeedforwardConfig, ForwardModelConfig
from rtcore.control import ControllerConfig
from sims.plants import PlantConfig
from sims.paradigms import BlockConfig, TaskConfig
from rtcore.learning import AimConfig, TrialLearningConfig
from rtcore.learning.lesions import LesionConfig
from rtcore.checkpoint import CheckpointSection, ResumeSection

#: the shipped session `rtcore bench` times per tick (the demo's chain, offline)
TICK_CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "bench" / "tick.toml"


class SessionSection(Strict):
    """[session]"""

    name: str = Field("session", pattern=r"^[A-Za-z0-9_.-]+$", description="session name; LSL outlets are rtcore-<name>-<signal>")
    seed: int = Field(0, ge=0, description="seed of every random generator in the session")
    duration_s: float | None = Field(10.0, gt=0, le=7 * 24 * 3600, description="session length, s (none: until Ctrl-C or the task ends)")
    out: str | None = Field(None, description="output directory (default runs/<timestamp>)")


class LoopSection(Strict):
    """[loop]"""

    rate_hz: float = Field(1000.0, ge=10.0, le=20000.0, description="control rate, Hz")
    realtime: bool = Field(True, description="sleep to absolute deadlines; false = offline, as fast as possible")
    spin_us: float = Field(100.0, ge=0.0, le=2000.0, description="busy-wait before each deadline, us (trades CPU for wake jitter)")
    rt: bool = Field(False, description="ask for SCHED_FIFO, CPU affinity, mlockall and 1 ns timer slack (best effort); the loop is pinned to `cpu` and every other thread rtcore runs (parent, companions, liblsl's) is kept off that CPU")
    fifo: bool = Field(True, description="a real-time session's loop asks for SCHED_FIFO at rt_priority even without rt = true, where the process may (root, CAP_SYS_NICE, an RLIMIT_RTPRIO); refused otherwise (summary.json rt.sched_fifo says why) and it runs at `nice`")
    rt_priority: int = Field(80, ge=1, le=99, description="SCHED_FIFO priority (with rt = true, or fifo)")
    nice: int | None = Field(-15, ge=-20, le=19, description="the loop thread's nice value in real-time sessions, where the process may set it (root, CAP_SYS_NICE, or an RLIMIT_NICE such as limits.conf's '@realtime - nice -15'); refused otherwise, and the session runs at the inherited one. None: keep the inherited one")
    slice_us: float = Field(100.0, ge=0.0, le=100000.0, description="the loop thread's scheduler slice, us (Linux 6.12+, no privilege needed; the kernel keeps it within 100..100000): a short one lets the waking loop preempt other work on its CPU at once; 0 = the kernel's default")
    cpu: int | None = Field(None, ge=0, description="CPU to pin the loop to with rt = true (default: the last one)")
    heartbeat_timeout_s: float = Field(3.0, gt=0.1, le=600, description="the parent declares the child hung after this long without a tick")
    ring_s: float = Field(8.0, gt=0.5, le=600, description="shared-memory ring capacity, seconds of ticks")
    max_miss_frac: float = Field(0.001, ge=0.0, le=1.0, description="the session is degraded when more than this fraction of its deadlines is missed")


#: Bus signals always recorded every tick: a replay's inputs and per-tick sample counts, single-tick events.
FULL_RATE_SIGNALS = ("input", "input_block", "input_n", "input_time", "input_age", "input_clock_offset", "marker", "hold")
#: A further [[source]]'s signals (prefix: its `signal`) that are recorded every tick like input's.
SOURCE_SIGNAL_SUFFIXES = ("", "_block", "_n", "_time", "_age", "_clock_offset", "_stamps")


class RecordSection(Strict):
    """[record]"""

    signals: list[str] | None = Field(None, description="bus signals recorded every tick (default: all)")
    flush_s: float = Field(0.5, gt=0.0, le=5.0, description="the parent flushes the recording at least this often, s")
    every_ticks: dict[str, int] = Field({}, description="engine outputs recorded every k ticks, e.g. {state = 10, spe = 10} "
                                        "(default: every signal every tick); inputs are always recorded in full, so replay stays exact")

    @model_validator(mode="after")
    def _inputs_in_full(self):
        full = sorted(set(self.every_ticks) & set(FULL_RATE_SIGNALS))
        if full:
            raise ValueError(f"every_ticks: {', '.join(full)} must be recorded every tick (replay re-runs the inputs; "
                             f"the markers mark single ticks); decimate engine outputs only")
        bad = [k for k, v in self.every_ticks.items() if not 1 <= v <= 100000]
        if bad:
            raise ValueError(f"every_ticks: {', '.join(bad)}: k must be 1..100000 ticks")
        return self


class DashboardSection(Strict):
    """[dashboard]: the live operator page (rtcore.dashboard), served by the supervising parent
    on 127.0.0.1; another host only with `rtcore run --dashboard-host` (then with a token)."""

    enabled: bool = Field(False, description="serve the operator page during the session (as --dashboard)")
    port: int = Field(0, ge=0, le=65535, description="TCP port of the page; 0 = a free port (the URL is printed)")


class CompanionSection(Strict):
    """[[companion]]: a process the session starts before its loop and stops after it
    (a synthetic user publishing over LSL, a stimulus program). Its output goes to
    <out>/companion-<name>.log."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="label of the process (log file name)")
    command: list[str] = Field(min_length=1, description="argv; a leading 'rtcore' runs this rtcore")
    start_s: float = Field(1.0, ge=0.0, le=120.0, description="wait this long after starting it before the loop is built, s")


class TestSection(Strict):
    """[test]: fault injection for the engine's own tests."""

    crash_at_tick: int | None = Field(None, ge=0, description="make the crash stage fail at this tick")
    crash_mode: Literal["status", "abort", "hang"] = Field("status", description="how it fails")


class SessionConfig(Strict):
    """Root of a session config (one TOML file)."""

    session: SessionSection = SessionSection()
    loop: LoopSection = LoopSection()
    source: list[SourceConfig] = []  # [source] (one inlet) or [[source]] (several), normalised to a list
    decoder: DecoderConfig | None = None
    feedback: FeedbackConfig | None = None  # None with a plant: default delays (proprioceptive 50 ms)
    forward_model: ForwardModelConfig | None = None  # None: the controller acts on delayed feedback
    feedforward: FeedforwardConfig | None = None  # None: no learned feedforward added to the command
    learning: TrialLearningConfig | None = None  # None: no trial-level learner in the session
    aim: AimConfig | None = None  # None: the controller's plan is the target (no use-dependent learning)
    controller: ControllerConfig | None = None
    plant: PlantConfig | None = None
    task: TaskConfig | None = None
    block: list[BlockConfig] = []
    record: RecordSection = RecordSection()
    outlet: list[OutletConfig] | None = None  # None: default outlets in real time; [] none
    dashboard: DashboardSection = DashboardSection()
    lsl: LslSection = LslSection()  # scope: where the session's streams can be seen
    lesion: LesionConfig = LesionConfig()  # none: healthy; multipliers via rtcore.learning.lesions.lesion_effects
    companion: list[CompanionSection] = []
    checkpoint: CheckpointSection = CheckpointSection()  # learned state written to <out>/state.npz
    resume: ResumeSection = ResumeSection()  # none: start naive
    test: TestSection = TestSection()

    @field_validator("source", mode="before")
    @classmethod
    def _sources_as_list(cls, v):
        """[source] is one table, [[source]] an array of tables: both become a list."""
        return [] if v is None else [v] if isinstance(v, dict) else v


def load(path: str, overrides: list[str] = ()) -> SessionConfig:
    """Read a TOML session, apply `a.b=value` overrides, validate. Raises ConfigError (one line each)."""
    raw = read_toml(path, f"{path}: no such config file", f"{path}: not valid TOML")
    if not raw:
        raise ConfigError(f"{path}: empty config (no keys or sections); start from configs/demo.toml")
    if isinstance(raw.get("base"), str):
        raise ConfigError(f"{path}: a sweep file (base = \"{raw['base']}\"), not a session config; "
                          f"run it with: rtcore sweep {path} --out DIR")
    return validate(raw, path, overrides)


def validate(raw: dict, source: str = "<config>", overrides: list[str] = ()) -> SessionConfig:
    """Validate a dict (parsed TOML) with overrides applied."""
    raw = _copy(raw)
    for item in overrides:
        _apply_override(raw, item, source)
    try:
        cfg = SessionConfig.model_validate(raw)
    except ValidationError as e:
        label = source if not overrides else f"{source} (with --set)"
        text = format_error(e, SessionConfig, label)
        if isinstance(raw.get("source"), dict):  # the user wrote one [source] table: name its keys as written
            text = text.replace("source[0].", "source.").replace("source[0]:", "source:")
        raise ConfigError(text) from None
    sources = {f"{getattr(src, 'signal', 'input')}{end}" for src in cfg.source for end in SOURCE_SIGNAL_SUFFIXES}
    full = sorted(set(cfg.record.every_ticks) & sources)
    if full:  # a replay re-runs every [[source]]: none of their signals may be decimated
        raise ConfigError(f"{source}: record.every_ticks: {', '.join(full)} must be recorded every tick (a "
                          f"[[source]]'s signals; replay re-runs every source); decimate engine outputs only")
    if cfg.task is not None and not cfg.block:
        raise ConfigError(f"{source}: [task] has no [[block]]; add at least one, e.g. "
                          f"[[block]] name = \"baseline\", n_trials = 8")
    if cfg.block and cfg.task is None:
        raise ConfigError(f"{source}: [[block]] given without a [task] section; add [task] kind = \"center_out\"")
    return cfg


def _copy(obj):
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def parse_value(text: str):
    """A --set value: TOML syntax first (1, 2.5, true, "x", [1, 2]), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


def _apply_override(raw: dict, item: str, source: str) -> None:
    """Set raw[a][b]... = value for `a.b...=value`; a list is indexed by a number (`block.0.name`).
    Raises ConfigError naming the key when the path runs through a value or past a list's end."""
    if "=" not in item:
        raise ConfigError(f"{source}: --set {item!r}: expected key.path=value")
    key, text = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{source}: --set {key}: empty part in the key path")
    node = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        here = ".".join(parts[:depth]) or "the config"
        if isinstance(node, list):
            try:
                idx = int(part)
            except ValueError:
                raise ConfigError(f"{source}: --set {key}: {here} is a list; '{part}' is not an index") from None
            if not -len(node) <= idx < len(node):
                raise ConfigError(f"{source}: --set {key}: {here} has {len(node)} entries; no index {idx}") from None
            if last:
                node[idx] = parse_value(text.strip())
            else:
                node = node[idx]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: --set {key}: {here} is a value ({node!r}), not a section or list")
        if last:
            node[part] = parse_value(text.strip())
        else:
            node = node.setdefault(part, {})


def dump(cfg: SessionConfig) -> str:
    """The fully resolved config as TOML (None values are left out: TOML has no null)."""
    return tomli_w.dumps(_drop_none(cfg.model_dump(mode="json")))


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj
