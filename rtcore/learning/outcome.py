"""The task's per-trial outcome on the bus (`outcome`), what the aim's learners read at trial ends.

Written by the center-out task (sims.paradigms.center_out): from the go cue, what kind of trial
it is; at its end, what happened. Channels (OUTCOME names them):
  reward_trial: 1 on a binary-reward trial (hit or miss is the only feedback), else 0;
  reward: that trial's hit (1) or miss (0), from its end (NaN before it: a trial the operator
      abandons, by a pause or a block skip, teaches nothing);
  seen_error_deg: the fed-back hand's direction at peak speed minus the target's, deg (counter-
      clockwise +): the target error a visuomotor rotation shows, from the trial's end (NaN before
      it, or without a reach);
  strategy_deg: the instructed re-aiming strategy of the trial's block, deg (Mazzoni & Krakauer
      2006, J Neurosci 26:3642: "aim 45 deg away"; 0 = none);
  exclude: 1 on an exclusion trial (reach straight at the target, no strategy, no feedback to learn
      from; Werner et al. 2015, PLoS One 10:e0123321): what the implicit system alone does.
"""
from rtcore.layout import Layout

OUTCOME = Layout("reward_trial reward seen_error_deg strategy_deg exclude", "outcome")
O, N_OUTCOME = OUTCOME.slots, OUTCOME.size({})
