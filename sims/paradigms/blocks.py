"""Blocks of trials and their perturbations ([[block]] list), expanded into a per-trial schedule.

    [[block]]
    name = "exposure"
    n_trials = 80
    perturbation = "curl"          # none | curl | rotation | clamp | gain | load | delay | channel | reward
    catch_prob = 0.1               # perturbation switched off on this fraction of trials
    channel_prob = 0.2             # force-channel trials (error clamp) on this fraction of trials
    jump_prob = 0.25               # target jumps mid-reach on this fraction of trials

Schedules are lists of blocks: baseline (none) -> exposure (curl) -> washout (none); or
exposure -> counter-perturbation (curl with -B) -> clamp, for spontaneous recovery (Smith,
Ghazizadeh & Shadmehr 2006, PLoS Biol 4:e179). Each perturbation has its own parameters and a
parameter of another perturbation is an error.

Perturbations: curl F = B v at the hand (Shadmehr & Mussa-Ivaldi 1994); rotation of the fed-back
hand position by rotation_deg about the reach start (Krakauer et al. 2000); clamp: fed-back hand
moves along a fixed line at clamp_deg from the target, error independent of the movement
(Morehead et al. 2017, J Cogn Neurosci 29:1061); gain: command gain; load: added mass at the
hand plus a constant force; delay: extra feedback delay (bus `extra_delay_ticks`); channel: a
stiff virtual channel from the reach start to the target, F = -(K d_perp + B v_perp) n, the
error clamp of force-field studies: the hand cannot err, so the lateral force it presses against
the channel shows the learned compensation (Scheidt, Reinkensmeyer, Conditt, Rymer & Mussa-Ivaldi
2000, J Neurophysiol 83:3230; Smith, Ghazizadeh & Shadmehr 2006, PLoS Biol 4:e179). Channel
trials come as a whole block or, with channel_prob, as probes inside any block (the field, if
any, is off on them). reward: binary reward instead of visual error (Izawa & Shadmehr 2011, PLoS
Comput Biol 7:e1002012; Therrien, Wolpert & Bastian 2016, Brain 139:101): the reach ends with the
movement and is rewarded (hit) only when its endpoint direction from the reach start lies within
reward_window_deg of the target's direction turned by reward_rotation_deg; the hand is never shown
away from where it is, so the only teacher is hit or miss (the aim's reward learning, [aim]).
A rotation block may instruct a re-aiming strategy (strategy_deg: "aim this far from the target",
Mazzoni & Krakauer 2006, J Neurosci 26:3642), and any block may be exclusion trials (aim_directly:
reach straight at the target, no strategy, nothing learned; Werner et al. 2015), which show the
implicit adaptation alone (Albert et al. 2022, eLife 11:e65361).

Target jumps (any block): on a jump_prob fraction of trials the target moves jump_deg (sign drawn
at random) about the reach start, jump_after_s after the go cue, so the reach must be corrected
online (Prablanc & Martin 1992; Smith, Brandt & Shadmehr 2000 tested the online correction in
Huntington's disease). The task reports the correction time (center_out.py).
"""
import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from rtcore.configbase import Strict
from rtcore.layout import Layout

CURL_B = (-10.1, -11.2, -11.2, 11.1)  #: B of Shadmehr & Mussa-Ivaldi 1994, N s/m, row-major

PARAMS = {"none": set(), "curl": {"curl_b"}, "rotation": {"rotation_deg", "strategy_deg"}, "clamp": {"clamp_deg"},
          "gain": {"gain"}, "load": {"load_kg", "load_force_n"}, "delay": {"extra_delay_s"},
          "channel": {"channel_stiffness_n_per_m", "channel_damping_ns_per_m"},
          "reward": {"reward_rotation_deg", "reward_window_deg"}}

#: Schedule columns, one row per trial (the task copies them to the plant/observe inputs): block,
#: target angle (rad), catch flag, command gain - 1, rotation (or clamp offset) of the fed-back
#: hand (rad), error clamp flag (1 = clamp), extra feedback delay (ticks), curl B [4] (N s/m,
#: row-major), load [3] (added mass kg, fx N, fy N), target jump about the reach start (rad, 0 = none)
#: and its time after the go cue (s), force channel [2] (stiffness N/m, damping N s/m; 0 = no channel),
#: binary reward [2] (the rewarded direction from the target's, rad; the window's half-width, rad; 0 =
#: not a reward trial), the instructed re-aiming strategy (rad) and the exclusion flag (1 = aim
#: straight at the target, rtcore.learning.outcome).
ROW = Layout("block target_rad catch gain_change visuo_rad clamp delay_ticks jump_rad jump_after_s curl[4] load[3] "
             "channel[2] reward[2] strategy_rad exclude", "schedule_row")
T, T_COLS = ROW.slots, ROW.size({})


class BlockConfig(Strict):
    """[[block]]: a run of trials under one perturbation."""

    name: str = Field(description="block name, shown in the summary (baseline, exposure, washout ...)")
    n_trials: int = Field(ge=1, le=100000, description="trials in this block")
    targets_deg: list[float] | None = Field(None, min_length=1, max_length=64, description="this block's targets, deg (a value twice: that target twice per cycle); default: the task's n_targets")
    perturbation: Literal["none", "curl", "rotation", "clamp", "gain", "load", "delay", "channel", "reward"] = Field("none", description="what this block changes")
    curl_b: tuple[float, float, float, float] = Field(CURL_B, description="curl: viscous field B, N s/m, row-major [Bxx, Bxy, Byx, Byy]; F = B v")
    rotation_deg: float = Field(30.0, ge=-180, le=180, description="rotation: fed-back hand rotated about the reach start, deg (counter-clockwise +)")
    clamp_deg: float = Field(0.0, ge=-180, le=180, description="clamp: angle of the clamped feedback path from the target direction, deg")
    gain: float = Field(1.5, gt=0, le=10, description="gain: command gain (1 = none)")
    load_kg: float = Field(1.0, ge=0, le=20, description="load: mass added at the hand, kg")
    load_force_n: tuple[float, float] = Field((0.0, 0.0), description="load: constant force at the hand [fx, fy], N")
    extra_delay_s: float = Field(0.1, ge=0, le=2.0, description="delay: extra sensory feedback delay, s")
    catch_prob: float = Field(0.0, ge=0, le=1, description="probability that a trial is a catch trial (perturbation off)")
    channel_prob: float = Field(0.0, ge=0, le=1, description="probability that a trial is a force-channel trial (perturbation off, channel on)")
    channel_stiffness_n_per_m: float = Field(6000.0, gt=0, le=2e4, description="channel: stiffness across the channel, N/m (Scheidt 2000: 2000-6000)")
    channel_damping_ns_per_m: float = Field(50.0, ge=0, le=500, description="channel: damping across the channel, N*s/m")
    strategy_deg: float = Field(0.0, ge=-90, le=90, description="rotation: instructed re-aiming strategy, deg from the target (counter-clockwise +; Mazzoni & Krakauer 2006)")
    aim_directly: bool = Field(False, description="exclusion trials: reach straight at the target, no strategy and nothing learned (Werner et al. 2015): the implicit component alone")
    reward_rotation_deg: float = Field(10.0, ge=-90, le=90, description="reward: the rewarded direction from the target's, deg (counter-clockwise +); only hit or miss is shown")
    reward_window_deg: float = Field(5.0, gt=0, le=45, description="reward: a reach is a hit when its endpoint direction is within this of the rewarded direction, deg")
    jump_prob: float = Field(0.0, ge=0, le=1, description="probability that the target jumps mid-reach (online correction)")
    jump_deg: float = Field(45.0, gt=0, le=180, description="size of a target jump about the reach start, deg (sign random)")
    jump_after_s: float = Field(0.1, ge=0, le=10, description="time of a target jump after the go cue, s")

    @model_validator(mode="after")
    def check_params(self):
        # a resolved config (config.toml) writes every default back: only a changed value is a mistake
        for key in self.model_fields_set & set().union(*PARAMS.values()):
            if key not in PARAMS[self.perturbation] and getattr(self, key) != type(self).model_fields[key].default:
                owner = next(p for p, keys in PARAMS.items() if key in keys)
                raise ValueError(f"{key} is a parameter of perturbation = '{owner}', "
                                 f"this block has perturbation = '{self.perturbation}'")
        if self.catch_prob > 0 and self.perturbation == "none":
            raise ValueError("catch_prob needs a perturbation to switch off")
        if self.channel_prob > 0 and self.perturbation == "channel":
            raise ValueError("channel_prob in a channel block: every trial is a channel trial already")
        if self.catch_prob + self.channel_prob > 1:
            raise ValueError(f"catch_prob + channel_prob = {self.catch_prob + self.channel_prob} > 1")
        return self


def schedule(blocks: list, target_rad: np.ndarray, random_order: bool, seed: int, dt_s: float) -> np.ndarray:
    """Per-trial rows [n_trials, T_COLS]: block, target angle, catch flag and perturbation inputs.

    Targets cycle through target_rad (a block's own targets_deg instead, when it has them), each
    cycle in a random order (np.random.default_rng((seed, 5))) when random_order, else in order; a
    new block starts a new cycle. Catch trials are drawn with each block's catch_prob from the same
    generator and have every perturbation off; force channel probes (channel_prob, one draw with
    the catch draw) have it off and the channel on. Target jumps (and their signs) are drawn after
    them, only in blocks with jump_prob > 0.
    """
    rng = np.random.default_rng((seed, 5))
    rows = []
    for b, blk in enumerate(blocks):
        angles = np.radians(blk.targets_deg) if blk.targets_deg else target_rad
        order = []
        while len(order) < blk.n_trials:
            cycle = rng.permutation(angles.size) if random_order else np.arange(angles.size)
            order.extend(cycle.tolist())
        draw = rng.random(blk.n_trials)
        catch = draw < blk.catch_prob
        probe = (draw >= blk.catch_prob) & (draw < blk.catch_prob + blk.channel_prob)
        jump = np.zeros(blk.n_trials)
        if blk.jump_prob > 0:
            sign = np.where(rng.random(blk.n_trials) < 0.5, -1.0, 1.0)
            jump = np.where(rng.random(blk.n_trials) < blk.jump_prob, sign * math.radians(blk.jump_deg), 0.0)
        for k in range(blk.n_trials):
            row = ROW.alloc()
            row[T.block], row[T.target_rad], row[T.catch] = b, angles[order[k]], float(catch[k])
            row[T.jump_rad], row[T.jump_after_s] = jump[k], blk.jump_after_s
            row[T.exclude] = float(blk.aim_directly)
            if probe[k] or blk.perturbation == "channel":
                ROW.view(row, "channel")[:] = blk.channel_stiffness_n_per_m, blk.channel_damping_ns_per_m
            elif not catch[k]:
                p = blk.perturbation
                if p == "curl":
                    ROW.view(row, "curl")[:] = blk.curl_b
                elif p == "rotation":
                    row[T.visuo_rad] = math.radians(blk.rotation_deg)
                    row[T.strategy_rad] = math.radians(blk.strategy_deg)
                elif p == "clamp":
                    row[T.visuo_rad], row[T.clamp] = math.radians(blk.clamp_deg), 1.0
                elif p == "gain":
                    row[T.gain_change] = blk.gain - 1.0
                elif p == "load":
                    ROW.view(row, "load")[:] = (blk.load_kg, *blk.load_force_n)
                elif p == "delay":
                    row[T.delay_ticks] = round(blk.extra_delay_s / dt_s)
                elif p == "reward":
                    ROW.view(row, "reward")[:] = math.radians(blk.reward_rotation_deg), math.radians(blk.reward_window_deg)
            rows.append(row)
    return np.array(rows).reshape(-1, T_COLS)
