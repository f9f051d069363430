"""Trial schedules for trial-level motor learning: what is perturbed, and what the learner sees.

A schedule is two per-trial arrays the compiled learners read (`perturbation`, `feedback`) plus
block labels for analysis. Perturbations are in the units of the output (deg of hand angle for a
visuomotor rotation, or a.u. for the two-state model's unit perturbation); the perturbation is
the shift of the output that would cancel it, so the error is e = f - x (Smith et al. 2006).

Feedback codes (one per trial):
- FB_FULL: the movement's outcome is seen; sensory prediction and task errors and reward exist.
- FB_CLAMP: error clamp; the error is the trial's `perturbation` value whatever the output
  (e = 0 in Smith et al. 2006, PLoS Biol 4:e179; a fixed nonzero error in Morehead et al. 2017).
- FB_NONE: no feedback (catch trial or probe); memories only decay.
- FB_REWARD: reward only (binary hit/miss, no cursor): no SPE, so only reward learning moves the
  aim (Izawa & Shadmehr 2011, PLoS Comput Biol 7:e1002012; Therrien et al. 2016, Brain 139:101).
- FB_CHANNEL: the hand is forced along the trial's `perturbation` direction (a channel); no error,
  no reward; only use-dependent learning sees it (Diedrichsen et al. 2010, J Neurosci 30:5159).
"""
from dataclasses import dataclass, field

import numpy as np

FB_FULL = 0  #: outcome seen: SPE, task error and reward
FB_CLAMP = 1  #: error clamp: error = perturbation value, independent of the movement
FB_NONE = 2  #: no feedback: no error, no reward (memories decay)
FB_REWARD = 3  #: binary reward only, no cursor (no SPE)
FB_CHANNEL = 4  #: hand forced to the perturbation value (use-dependent learning only)
FEEDBACK_NAMES = {"full": FB_FULL, "clamp": FB_CLAMP, "none": FB_NONE, "reward": FB_REWARD, "channel": FB_CHANNEL}


@dataclass
class Schedule:
    """Per-trial perturbation and feedback code, with named blocks.

    perturbation: [n_trials] float64, output units (deg or a.u.); on FB_CLAMP trials the clamped
    error, on FB_CHANNEL trials the channel direction. feedback: [n_trials] int64 FB_* codes.
    block: [n_trials] int64 index into block_names.
    """

    perturbation: np.ndarray
    feedback: np.ndarray
    block: np.ndarray
    block_names: list = field(default_factory=list)

    def __post_init__(self):
        self.perturbation = np.ascontiguousarray(self.perturbation, dtype=np.float64)
        self.feedback = np.ascontiguousarray(self.feedback, dtype=np.int64)
        self.block = np.ascontiguousarray(self.block, dtype=np.int64)
        n = self.perturbation.size
        if self.feedback.shape != (n,) or self.block.shape != (n,):
            raise ValueError(f"schedule: perturbation, feedback and block need one value per trial ({n})")
        if n and (self.feedback.min() < FB_FULL or self.feedback.max() > FB_CHANNEL):
            raise ValueError("schedule: feedback codes must be FB_FULL..FB_CHANNEL")
        if not np.all(np.isfinite(self.perturbation)):
            raise ValueError("schedule: perturbation has NaN or Inf")

    @property
    def n_trials(self) -> int:
        return int(self.perturbation.size)

    def trials(self, name: str) -> np.ndarray:
        """Trial indices of the block called `name` (ValueError if there is none)."""
        if name not in self.block_names:
            raise ValueError(f"schedule has no block '{name}' (blocks: {', '.join(self.block_names)})")
        return np.flatnonzero(self.block == self.block_names.index(name))


def blocks(*specs) -> Schedule:
    """A schedule from blocks (name, n_trials, perturbation, feedback).

    perturbation: a number or an array of n_trials; feedback: an FB_* code or its name
    ("full", "clamp", "none", "reward", "channel"). Block names must be unique.
    """
    pert, fb, blk, names = [], [], [], []
    for name, n, value, code in specs:
        if name in names:
            raise ValueError(f"schedule: block name '{name}' is used twice")
        code = FEEDBACK_NAMES[code] if isinstance(code, str) else int(code)
        values = np.broadcast_to(np.asarray(value, dtype=np.float64), (int(n),))
        pert.append(values)
        fb.append(np.full(int(n), code))
        blk.append(np.full(int(n), len(names)))
        names.append(name)
    return Schedule(np.concatenate(pert), np.concatenate(fb), np.concatenate(blk), names)


def adaptation(n_baseline=50, n_exposure=200, n_washout=200, size=1.0) -> Schedule:
    """Baseline (f = 0) -> exposure (f = size) -> washout (f = 0), all with full feedback."""
    return blocks(("baseline", n_baseline, 0.0, FB_FULL), ("exposure", n_exposure, size, FB_FULL),
                  ("washout", n_washout, 0.0, FB_FULL))


def savings(n_baseline=50, n_exposure=200, n_washout=20, n_relearn=200, size=1.0, washout=0.0) -> Schedule:
    """Learn, wash out (f = washout), relearn the same perturbation: relearning is faster (savings).

    De-adapting with the opposite perturbation (washout = -size) just until the output is back at
    baseline leaves the two-state model's slow state holding the first learning (Kojima et al.
    2004, J Neurosci 24:7531; Smith et al. 2006, Fig. 5). After a long washout only memories that
    washout does not erase remain (reinforced successful actions, Huang et al. 2011, Neuron 70:787).
    """
    return blocks(("baseline", n_baseline, 0.0, FB_FULL), ("exposure", n_exposure, size, FB_FULL),
                  ("washout", n_washout, washout, FB_FULL), ("relearn", n_relearn, size, FB_FULL))


def interference(n_baseline=50, n_a=200, n_b=200, size=1.0) -> Schedule:
    """Task A (f = size) then task B (f = -size): learning B after A is slower than naive B
    (anterograde interference; Smith et al. 2006; Sing & Smith 2010, PLoS Comput Biol 6:e1000893)."""
    return blocks(("baseline", n_baseline, 0.0, FB_FULL), ("a", n_a, size, FB_FULL), ("b", n_b, -size, FB_FULL))


def spontaneous_recovery(n_baseline=50, n_a=200, n_b=15, n_clamp=100, size=1.0) -> Schedule:
    """A (f = size), counter-perturbation B (f = -size) until the output is near 0, then an error
    clamp (e = 0): the output rebounds toward A (Smith et al. 2006, Fig. 4)."""
    return blocks(("baseline", n_baseline, 0.0, FB_FULL), ("a", n_a, size, FB_FULL),
                  ("b", n_b, -size, FB_FULL), ("clamp", n_clamp, 0.0, FB_CLAMP))


def ramp(n_baseline=40, n_ramp=160, n_hold=100, size=15.0, feedback=FB_REWARD) -> Schedule:
    """Baseline, a perturbation growing linearly to `size` over n_ramp trials, then held.

    The gradual rotation with binary reward of Therrien, Wolpert & Bastian 2016 (Brain 139:101)."""
    return blocks(("baseline", n_baseline, 0.0, feedback),
                  ("ramp", n_ramp, np.linspace(size / n_ramp, size, n_ramp), feedback),
                  ("hold", n_hold, size, feedback))


def with_catch_trials(schedule: Schedule, block: str, every: int, learn: bool = False) -> Schedule:
    """A copy with every `every`-th trial of `block` a catch trial: perturbation removed (f = 0).

    The output on a catch trial is the after-effect. learn=False gives it no feedback (FB_NONE),
    so it measures without teaching; learn=True lets the learner see the after-effect error.
    """
    idx = schedule.trials(block)[every - 1::every]
    pert, fb = schedule.perturbation.copy(), schedule.feedback.copy()
    pert[idx] = 0.0
    fb[idx] = FB_FULL if learn else FB_NONE
    return Schedule(pert, fb, schedule.block.copy(), list(schedule.block_names))
