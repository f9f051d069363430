"""Checkpoints of the learned state, and resuming a session from one.

What is saved. Each stage's StageSpec.learned names the segments and slots of its layout
(rtcore.layout) that hold learned state (Purkinje and feedforward weights, eligibility traces, the Kalman decoder with its
CLDA-adapted matrices, EMG calibration, generator states, trial counters) and their retention
class (rtcore.registry). A part is one stage of the chain, named by its role ("forward_model",
"feedforward", "decoder", "source", "task").

How it is taken. The loop copies the learned slices (the snapshot plan: slices of the chain's S,
I and F) into two snapshot buffers between ticks when the parent asks (rtcore.loop, CTRL_SNAP_*),
so no checkpoint holds weights torn mid-update; the child copies once more after the last
tick. The parent writes DIR/state.npz from the buffers, every checkpoint.every_s and at the
end, off the hot path: a temporary file, then an atomic rename, so a kill -9 at any moment
leaves the last complete checkpoint (no fsync: a power cut may lose the newest). The metadata
(rtcore version, written time, ticks, session time, trial counters, and per part its config
hash, its config section and the shapes of its arrays) is inside the .npz (`__meta__`) and, for
readers without numpy, in DIR/state.json.

Resuming. `[resume] from = "DIR"` (or `rtcore run --resume DIR`) loads each selected part
(`parts`, default: every part the checkpoint and the session share whose class is not
"session") into the freshly built chain before the first tick. A part that does not fit (other
shapes: another basis count, another channel count; another plant) is a one-line error naming
the part and what differs. Over a break (`break_h`, default: the hours since the checkpoint was
written) the "fast" and "slow" classes are forgotten as rtcore.learning.consolidation says,
and a stage's spec.over_break runs (the synthetic user's between-session tuning drift). The
supervised run copies the checkpoint it resumes into the run folder (resume_source.npz) and
records the resolved break, so `rtcore replay` of a resumed session reproduces it exactly.
"""
import datetime
import json
import os
import shutil
import time

import numpy as np
from pydantic import ConfigDict, Field

from rtcore import __version__
from rtcore.configbase import ConfigError, Strict
from rtcore.decoders.persistence import config_hash, load_arrays
from rtcore.learning import consolidation

STATE_FILE = "state.npz"
META_FILE = "state.json"
SOURCE_COPY = "resume_source.npz"  #: the resumed checkpoint, copied into the run folder
CLASSES = ("slow", "fast", "kept", "session")


class CheckpointSection(Strict):
    """[checkpoint]: the learned state written to <out>/state.npz."""

    enabled: bool = Field(True, description="write <out>/state.npz at the end of the session (and every every_s)")
    every_s: float | None = Field(30.0, gt=0.0, le=24 * 3600, description="also write it this often during the session, s of wall time (none: only at the end)")


class ResumeSection(Strict):
    """[resume]: start from the learned state of an earlier session's checkpoint."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)

    from_: str | None = Field(None, alias="from", description="run folder (or its state.npz) to resume from (none: start naive)")
    parts: list[str] | None = Field(None, description="parts to load, e.g. [\"forward_model\", \"decoder\"] (none: every shared part)")
    break_h: float | None = Field(None, ge=0.0, le=24 * 365, description="hours between the sessions, for forgetting (none: since the checkpoint was written)")
    fast_tau_h: float = Field(consolidation.FAST_TAU_H, gt=0.0, description="time constant of the fast state's forgetting over a break, h")
    slow_retention_24h: float = Field(consolidation.SLOW_RETENTION_24H, gt=0.0, le=1.0, description="fraction of the slow state kept over 24 h")


# ---- the snapshot plan (child) --------------------------------------------------------------

def _spec_of(stage):
    from rtcore import families
    for _family, spec in families.specs():
        if spec.kind == stage.kind and spec.learned:
            return spec
    return None


def learned_parts(pipe) -> list:
    """[(part name, stage index, stage, spec)] for every stage of the chain that declares learned state."""
    out = []
    for k, st in enumerate(pipe.chain.stages):
        spec = _spec_of(st)
        if spec is not None:
            out.append((st.name, k, st, spec))
    return out


def plan(pipe) -> tuple[np.ndarray, dict, int, int]:
    """(plan int64[m, 4], layout, float size, int size): where each learned segment sits in the chain's
    S or I and in the snapshot buffers. layout: {part: {"kind", "arrays": {name: {...}}}} (JSON)."""
    rows, layout, n_f, n_i = [], {}, 0, 0
    chain = pipe.chain
    for part, k, st, spec in learned_parts(pipe):
        arrays = {}
        for name, cls in spec.learned.items():
            which, start, shape = spec.layout.place(st, name)
            size = int(np.prod(shape, dtype=np.int64))
            if which in ("s", "f"):
                off = chain.soff if which == "s" else chain.foff
                rows.append((0 if which == "s" else 2, int(off[k]) + start, size, n_f))
                dest, n_f = n_f, n_f + size
            else:
                rows.append((1, int(chain.ioff[k]) + start, size, n_i))
                dest, n_i = n_i, n_i + size
            arrays[name] = {"array": which, "dest": dest, "shape": list(shape), "class": cls}
        layout[part] = {"kind": spec.name, "arrays": arrays}
    table = np.array(rows, np.int64).reshape(-1, 4)
    return table, layout, n_f, n_i


def arrays_of(layout: dict, snap_f: np.ndarray, snap_i: np.ndarray) -> dict:
    """{"part.name": array copy} from snapshot buffers laid out by `layout`."""
    out = {}
    for part, p in layout.items():
        for name, a in p["arrays"].items():
            size = int(np.prod(a["shape"], dtype=np.int64))
            buf = snap_i if a["array"] == "i" else snap_f
            out[f"{part}.{name}"] = buf[a["dest"]:a["dest"] + size].reshape(a["shape"]).copy()
    return out


def describe(pipe, cfg=None) -> dict:
    """The session-side metadata of each part: kind, config hash and section, learned_on values
    (cfg None: a chain scripted without a config, rtcore.api)."""
    dumped = cfg.model_dump(mode="json") if cfg is not None else {}
    parts = {}
    for part, _k, _st, spec in learned_parts(pipe):
        section = dumped.get(part)
        parts[part] = {"kind": spec.name, "config_hash": config_hash(section), "config": section,
                       "learned_on": {key: _lookup(dumped, key) for key in spec.learned_on}}
    return parts


def _lookup(dumped: dict, key: str):
    node = dumped
    for k in key.split("."):
        node = node.get(k) if isinstance(node, dict) else None
    return node


# ---- writing and reading (parent) ------------------------------------------------------------

def write(out_dir: str, arrays: dict, meta: dict) -> int:
    """Write out_dir/state.npz (arrays + meta) and state.json atomically; returns the .npz size, bytes."""
    path = os.path.join(out_dir, STATE_FILE)
    tmp = path + ".tmp"
    text = json.dumps(meta, indent=1)  # once, for both files (json.dump to a file writes piece by piece)
    with open(tmp, "wb") as fh:  # no fsync: a killed process loses nothing the kernel holds (fsync
        np.savez(fh, __meta__=np.array(text), **arrays)  # costs ~100 ms on a busy disk)
    os.replace(tmp, path)
    js = os.path.join(out_dir, META_FILE)
    with open(js + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(js + ".tmp", js)
    return os.path.getsize(path)


def source_path(where: str) -> str:
    """The state.npz of a run folder, or the file itself."""
    return os.path.join(where, STATE_FILE) if os.path.isdir(where) else where


def load(where: str, what: str = "resume.from") -> tuple[dict, dict]:
    """(arrays {"part.name": array}, meta) of a checkpoint; one-line ValueError when unreadable."""
    path = source_path(where)
    if not os.path.exists(path):
        raise ValueError(f"{what}: no checkpoint at '{path}' (a run folder holding {STATE_FILE}, or the file)")
    arrays = load_arrays(path, what)
    if "__meta__" not in arrays:
        raise ValueError(f"{what}: '{path}' is not an rtcore checkpoint (no metadata)")
    return arrays, json.loads(str(arrays.pop("__meta__")))


def meta(cfg, info: dict, tick: int, arrays: dict, final: bool, out_dir: str, rate_hz: float) -> dict:
    """The checkpoint's metadata (module docstring); cfg may be None (a scripted chain)."""
    parts = {}
    for part, p in info["parts"].items():
        layout = info["layout"][part]["arrays"]
        parts[part] = {**p, "shapes": {n: a["shape"] for n, a in layout.items()},
                       "classes": {n: a["class"] for n, a in layout.items()}}
    trials = {part: int(arrays[f"{part}.{n}"].sum()) for part, p in info["layout"].items()
              for n, a in p["arrays"].items() if a["class"] == "session"}
    resumed = info.get("resumed") or {}
    prior = resumed.get("trials_total", {})
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"rtcore_version": __version__, "written_at": now.isoformat(timespec="seconds"),
            "written_unix": now.timestamp(), "session": cfg.session.name if cfg is not None else None,
            "out_dir": os.path.abspath(out_dir), "ticks": tick, "session_time_s": tick / rate_hz, "final": final,
            "plant": cfg.plant.kind if cfg is not None and cfg.plant is not None else None,
            "trials": trials, "trials_total": {k: prior.get(k, 0) + v for k, v in trials.items()},
            "sessions": resumed.get("sessions", 0) + 1, "resumed_from": resumed.get("from"), "parts": parts}


def save(pipe, out_dir: str, cfg=None, ticks: int = 0) -> int:
    """Write the learned state of a pipeline that is not running (an offline or scripted session,
    after its run) to out_dir/state.npz; returns its size, bytes."""
    from rtcore.bus import DT_S
    from rtcore.loop import copy_snapshot
    table, layout, n_f, n_i = plan(pipe)
    snap_f, snap_i = np.zeros(n_f), np.zeros(n_i, np.int64)
    copy_snapshot(pipe.chain.F, pipe.chain.S, pipe.chain.I, table, snap_f, snap_i)
    arrays = arrays_of(layout, snap_f, snap_i)
    about = {"layout": layout, "parts": describe(pipe, cfg), "resumed": pipe.resumed}
    os.makedirs(out_dir, exist_ok=True)
    return write(out_dir, arrays, meta(cfg, about, ticks, arrays, True, out_dir, 1.0 / pipe.bus[DT_S]))


class Writer:
    """The parent's side: asks the loop for snapshots every every_s and writes them.

    ctrl: the control block; snap_f, snap_i: the child's snapshot buffers; info: the child's
    checkpoint description (child_ready.json "checkpoint")."""

    def __init__(self, cfg, out_dir: str, ctrl, info: dict, snap_f, snap_i):
        from rtcore.loop import CTRL_SNAP_DONE, CTRL_SNAP_REQ, CTRL_SNAP_TICK
        self._req, self._done, self._tick = CTRL_SNAP_REQ, CTRL_SNAP_DONE, CTRL_SNAP_TICK
        self.cfg, self.out_dir, self.ctrl, self.info = cfg, out_dir, ctrl, info
        self.snap_f, self.snap_i = snap_f, snap_i
        self.every_s = cfg.checkpoint.every_s
        self.next_at = time.monotonic() + (self.every_s or float("inf"))
        self.pending = False
        self.writes, self.write_ms, self.bytes, self.last_tick = 0, [], 0, None

    def poll(self, now: float) -> None:
        """Ask for a snapshot when one is due; write it once the loop has taken it."""
        if self.pending and self.ctrl[self._done] == self.ctrl[self._req]:
            self.pending = False
            self._write(int(self.ctrl[self._tick]), final=False)
        if not self.pending and now >= self.next_at:
            self.ctrl[self._req] += 1
            self.pending = True
            self.next_at = now + self.every_s

    def final(self, tick: int) -> None:
        """Write the child's last snapshot (taken after its last tick)."""
        self._write(tick, final=True)

    def _write(self, tick: int, final: bool) -> None:
        t = time.perf_counter()
        arrays = arrays_of(self.info["layout"], self.snap_f, self.snap_i)
        if int(self.ctrl[self._tick]) != tick and not final:
            return  # the buffers moved under us (the child's final copy): that one is written next
        self.bytes = write(self.out_dir, arrays, meta(self.cfg, self.info, tick, arrays, final, self.out_dir,
                                                      self.cfg.loop.rate_hz))
        self.write_ms.append((time.perf_counter() - t) * 1e3)
        self.writes += 1
        self.last_tick = tick

    def report(self) -> dict:
        """summary.json's `checkpoint` entry."""
        ms = np.asarray(self.write_ms)
        return {"path": os.path.join(os.path.abspath(self.out_dir), STATE_FILE) if self.writes else None,
                "writes": self.writes, "last_tick": self.last_tick, "bytes": self.bytes,
                "write_ms": {"median": round(float(np.median(ms)), 3), "max": round(float(ms.max()), 3)} if ms.size else None}


# ---- resuming ---------------------------------------------------------------------------------

def prepare(cfg, out_dir: str):
    """The parent's part of a resume: copy the checkpoint into the run folder and resolve the break.

    Returns cfg with resume.from = that copy and resume.break_h set (from the checkpoint's time
    when not given), which is what the recording keeps: its replay loads the same state."""
    r = cfg.resume
    if r.from_ is None:
        return cfg
    try:
        _arrays, meta = load(r.from_)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    copy = os.path.join(out_dir, SOURCE_COPY)
    if os.path.abspath(source_path(r.from_)) != os.path.abspath(copy):
        shutil.copyfile(source_path(r.from_), copy)
    break_h = r.break_h
    if break_h is None:
        break_h = max(0.0, (time.time() - meta["written_unix"]) / 3600.0)
    resume = r.model_copy(update={"from_": os.path.abspath(copy), "break_h": round(break_h, 6)})
    return cfg.model_copy(update={"resume": resume})


def resume(pipe, cfg) -> dict:
    """Load cfg.resume's checkpoint into the built pipeline (load_into with the [resume] settings)."""
    r = cfg.resume
    return load_into(pipe, r.from_, r.parts, r.break_h, r.fast_tau_h, r.slow_retention_24h, cfg)


def load_into(pipe, where: str, parts=None, break_h: float | None = None, fast_tau_h: float = consolidation.FAST_TAU_H,
              slow_retention_24h: float = consolidation.SLOW_RETENTION_24H, cfg=None) -> dict:
    """Load the selected parts of a checkpoint into a built pipeline and forget over the break
    (module docstring); returns the summary's `resumed` entry and sets pipe.resumed.
    One-line ValueError for a part that does not fit."""
    arrays, meta_ = load(where)
    here = {part: (st, spec) for part, _k, st, spec in learned_parts(pipe)}
    saved = meta_["parts"]
    if parts is not None:
        for part in parts:
            if part not in saved:
                raise ValueError(f"resume.parts: '{part}' is not in the checkpoint {source_path(where)} "
                                 f"(it has: {', '.join(saved) or 'no parts'})")
            if part not in here:
                raise ValueError(f"resume.parts: '{part}' has no learned state in this session "
                                 f"(its parts: {', '.join(here) or 'none'})")
        chosen = list(parts)
    else:
        chosen = [p for p in saved if p in here and any(c != "session" for c in saved[p]["classes"].values())]
    mine = describe(pipe, cfg)
    for part in chosen:
        _check_fits(part, saved[part], here[part][0], here[part][1], mine[part])
    if break_h is None:
        break_h = max(0.0, (time.time() - meta_["written_unix"]) / 3600.0)
    retention = consolidation.retention(break_h, fast_tau_h, slow_retention_24h)
    seed = np.random.SeedSequence([cfg.session.seed if cfg is not None else 0, int(meta_["ticks"]),
                                   int(meta_.get("sessions", 1))])
    for part in chosen:
        st, spec = here[part]
        for name, cls in spec.learned.items():
            if cls != "session":
                which, start, shape = spec.layout.place(st, name)
                view = getattr(st, which)[start:start + int(np.prod(shape, dtype=np.int64))]
                view[...] = arrays[f"{part}.{name}"].ravel() * retention.get(cls, 1.0)
        if spec.over_break is not None:
            spec.over_break(st, break_h, np.random.default_rng(seed.spawn(1)[0]))
    pipe.resumed = {"from": meta_.get("out_dir"), "checkpoint": os.path.abspath(source_path(where)),
                    "written_at": meta_.get("written_at"), "ticks": meta_.get("ticks"), "parts": chosen,
                    "not_resumed": sorted(set(saved) - set(chosen)), "break_h": round(break_h, 6),
                    "retention": {k: round(v, 6) for k, v in retention.items()},
                    "sessions": meta_.get("sessions", 1), "trials_total": meta_.get("trials_total", {})}
    return pipe.resumed


def _check_fits(part: str, saved: dict, st, spec, mine: dict) -> None:
    """ValueError naming the part and what differs when the checkpoint's part does not fit."""
    if saved["kind"] != spec.name:
        raise ValueError(f"resume: part '{part}' is a {saved['kind']} in the checkpoint, a {spec.name} here")
    for key, value in mine["learned_on"].items():
        old = saved.get("learned_on", {}).get(key)
        if old != value:
            raise ValueError(f"resume: part '{part}' was learned with {key} = {old!r}, this session has {value!r}")
    for name in spec.learned:
        old = tuple(saved["shapes"].get(name, ()))
        new = tuple(spec.layout.place(st, name)[2])
        if old != new:
            diff = _config_diff(saved.get("config"), mine.get("config"), part)
            why = f" ({diff})" if diff else ""
            raise ValueError(f"resume: part '{part}' does not fit: {name} is {old} in the checkpoint, "
                             f"{new} here{why}")


def _config_diff(old, new, prefix: str) -> str:
    """'n_basis 48 vs 50' for the keys of a config section that differ (first three)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ""
    diffs = [f"{prefix}.{k} {old.get(k)!r} vs {new.get(k)!r}" for k in sorted(set(old) | set(new))
             if old.get(k) != new.get(k)]
    return ", ".join(diffs[:3])
