"""What the operator view shows, computed in the supervising parent from the recorded rows.

The parent drains the loop's shared-memory ring into the recorder; the same rows go through
`LiveFeed.push` (never the hot path). The feed keeps, bounded in memory:
- the last `history_s` seconds of every plotted signal, decimated to `display_hz` rows a second
  (a screen shows a few hundred points per trace);
- per trial: the reach's hand path (decimated) and its peak lateral deviation from the straight
  line to the target (m), the learning curve's kinematic error; successes counted from the task's
  markers.
Readers (the web page's periodic callback, in another thread) take what is new since their last
sequence number with `since`; a lock guards the short copies.
"""
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sims.paradigms.center_out import PH_REACH
from sims.paradigms.markers import SUCCESS

WIDE_CHANNELS = 8  #: a signal with more channels than this is shown as a heat map, not as lines
PATHS_KEPT = 24  #: hand paths of the latest trials drawn with the targets
TRIALS_KEPT = 5000  #: learning-curve points kept (a long multi-block session)


@dataclass
class Trial:
    """One finished trial of the learning curve."""

    index: int
    block: int
    error_m: float  #: peak lateral deviation of the reach from the straight line to the target, m
    success: bool
    path: np.ndarray = field(repr=False)  #: (n, 2) decimated hand positions of the reach, m
    target: tuple = (np.nan, np.nan)  #: target position, m


class Trace:
    """The last rows of one signal at the display rate: a ring of (t_s, values), numbered by seq."""

    def __init__(self, name: str, labels: list, unit: str, rows: int):
        self.name, self.labels, self.unit = name, list(labels), unit
        self.t = np.full(rows, np.nan)
        self.v = np.full((rows, len(labels)), np.nan)
        self.seq = 0  #: rows ever added

    def add(self, t: np.ndarray, v: np.ndarray) -> None:
        cap = self.t.size
        if t.size > cap:
            t, v = t[-cap:], v[-cap:]
            self.seq += t.size - cap
        at = (self.seq + np.arange(t.size)) % cap
        self.t[at], self.v[at] = t, v
        self.seq += t.size

    def since(self, seq: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(seq now, t, values) of the rows added after `seq` that are still kept."""
        first = max(seq, self.seq - self.t.size)
        at = np.arange(first, self.seq) % self.t.size
        return self.seq, self.t[at].copy(), self.v[at].copy()


class LiveFeed:
    """Decimated traces, trial metrics and task counters of a running (or replayed) session.

    columns, streams: the ring's column names and the signal table the child reported
    (name, units, labels, first column, types). rate_hz: the loop rate. signals: the signals to keep
    traces of (those the session has)."""

    def __init__(self, columns: list, streams: list, rate_hz: float, signals: tuple, history_s: float = 5.0,
                 display_hz: float = 100.0):
        self.columns = list(columns)
        self.sig = {name: (int(first), list(labels), _unit_text(units)) for name, units, labels, first, *_ in streams}
        self.every = max(1, int(round(rate_hz / display_hz)))
        rows = int(history_s * rate_hz / self.every) + 1
        self.traces = {name: Trace(name, *self.sig[name][1:], rows) for name in signals if name in self.sig}
        self.lock = threading.Lock()
        self.ticks = 0
        self.t_s = 0.0
        self.successes = 0
        self.block = self.trial = -1
        self.trials: deque = deque(maxlen=TRIALS_KEPT)
        self.trials_seen = 0  #: finished trials ever (the deque keeps the latest)
        self._path: list = []
        self._phase_col = self.sig["trial"][0] + 2 if "trial" in self.sig else None
        self._hand = self.sig["state"][0] if "state" in self.sig and \
            self.sig["state"][1][:2] == ["hand_x", "hand_y"] else None
        self._target = self.sig["target"][0] if "target" in self.sig else None
        self._marker = self.sig["marker"][0] if "marker" in self.sig else None
        self._t_col = self.columns.index("t_s")
        self._succeeded = False
        self._start = None
        self._finished = -1  #: the latest trial index closed into the curve

    def is_wide(self, name: str) -> bool:
        return len(self.traces[name].labels) > WIDE_CHANNELS

    def push(self, rows: np.ndarray) -> None:
        """New ring rows, in order (any number)."""
        if not rows.size:
            return
        keep = (self.ticks + np.arange(rows.shape[0])) % self.every == 0
        dec = rows[keep]
        with self.lock:
            self.ticks += rows.shape[0]
            self.t_s = float(rows[-1, self._t_col])
            if dec.size:
                t = dec[:, self._t_col]
                for name, tr in self.traces.items():
                    first = self.sig[name][0]
                    tr.add(t, dec[:, first:first + len(tr.labels)])
            if self._marker is not None:
                self.successes += int(np.count_nonzero(rows[:, self._marker] == SUCCESS))
            if self._phase_col is not None:
                self._trials(rows, keep)

    def _trials(self, rows: np.ndarray, keep: np.ndarray) -> None:
        """Follow trial changes; the reach phase's decimated hand path makes the trial's error."""
        trial_col = self._phase_col - 2
        idx = rows[:, trial_col].astype(np.int64)
        for start, stop in _runs(idx):
            k = int(idx[start])
            if k != self.trial:
                self._finish(abandoned=k < self.trial)
                self.trial, self.block = k, int(rows[start, trial_col + 1])
            if self._marker is not None and np.any(rows[start:stop, self._marker] == SUCCESS):
                self._succeeded = True
            if self._hand is None:
                continue
            seg = rows[start:stop]
            reach = (seg[:, self._phase_col] == PH_REACH) & keep[start:stop]
            if reach.any():
                self._path.append(seg[reach][:, self._hand:self._hand + 2])
                if self._target is not None:
                    self._start = self._start if self._start is not None else \
                        (seg[reach][0, self._hand:self._hand + 2], seg[reach][0, self._target:self._target + 2])

    def _finish(self, abandoned: bool = False) -> None:
        """Close the current trial into the learning curve. Not when it was abandoned (the index went
        back: the operator paused, and on resume the task starts that trial again) or was already
        closed (the tick before the restart shows the trial before it)."""
        if abandoned or self.trial <= self._finished:
            self._path, self._start, self._succeeded = [], None, False
            return
        self._finished = self.trial
        path = np.concatenate(self._path) if self._path else np.zeros((0, 2))
        err, target = np.nan, (np.nan, np.nan)
        if self._start is not None and path.shape[0]:
            origin, tgt = self._start
            err = lateral_deviation(path, origin, tgt)
            target = (float(tgt[0]), float(tgt[1]))
        self.trials.append(Trial(self.trial, self.block, err, self._succeeded, path, target))
        self.trials_seen += 1
        self._path, self._start, self._succeeded = [], None, False

    def since(self, seqs: dict) -> dict:
        """New rows per trace since the sequence numbers in `seqs` (updated in place)."""
        out = {}
        with self.lock:
            for name, tr in self.traces.items():
                seqs[name], t, v = tr.since(seqs.get(name, 0))
                if t.size:
                    out[name] = (t, v)
        return out

    def curve(self, seen: int) -> list:
        """Finished trials after the first `seen` (bounded by what is kept)."""
        with self.lock:
            first = max(0, seen - (self.trials_seen - len(self.trials)))
            return list(self.trials)[first:]

    def task(self) -> dict:
        with self.lock:
            return {"block": self.block, "trial": self.trial, "successes": self.successes,
                    "trials_done": self.trials_seen}


def _unit_text(units) -> str:
    """One axis label for a signal's per-channel units: "m, m/s" (each unit once)."""
    return units if isinstance(units, str) else ", ".join(dict.fromkeys(u for u in units if u))


def lateral_deviation(path: np.ndarray, origin: np.ndarray, target: np.ndarray) -> float:
    """Peak signed perpendicular distance of path (n, 2) from the line origin -> target, m
    (positive to the left of the direction of motion); the largest in magnitude."""
    d = np.asarray(target, float) - np.asarray(origin, float)
    norm = float(np.hypot(*d))
    if norm == 0.0 or not path.shape[0]:
        return float("nan")
    rel = path - origin
    perp = (d[0] * rel[:, 1] - d[1] * rel[:, 0]) / norm
    return float(perp[np.argmax(np.abs(perp))])


def _runs(idx: np.ndarray):
    """(start, stop) of each run of equal values in idx."""
    cut = np.flatnonzero(np.diff(idx)) + 1
    edges = np.concatenate([[0], cut, [idx.size]])
    return zip(edges[:-1], edges[1:])
