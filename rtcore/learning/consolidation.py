"""Forgetting over a break between sessions: a time-based decay per learning state.

Within a session the two-state model forgets per trial (rtcore.learning.two_state). Between
sessions nothing is practised, so each state decays with time, at its own rate (science.md §7):

    x_f(T + h) = x_f(T) exp(-h / tau_f)              fast state, tau_f = fast_tau_h (h)
    x_s(T + h) = x_s(T) r_s24^(h / 24)               slow state, r_s24 = slow_retention_24h

with h the break in hours. The fast state is gone within an hour (tau_f = 0.05 h = 3 min: the
fast process of Smith, Ghazizadeh & Shadmehr 2006, PLoS Biol 4:e179, forgets within tens of
trials, i.e. about a minute of reaching); the slow state keeps most of itself over a day. Joiner &
Smith 2008 (J Neurophysiol 100:2948) showed that 24 h retention of force-field adaptation is
predicted by the level of the slow state at the end of training, not by the total adaptation,
with roughly half to two thirds of that slow level still expressed the next day; Krakauer, Ghez &
Ghilardi 2005 (J Neurosci 25:473) show such partial retention as savings at 24 h (faster
re-adaptation). r_s24 = 0.6 is our reading of those data; it is a [resume] parameter to refit.

Retention classes of learned state (StageSpec.learned): "fast" and "slow" decay as above; the
cerebellar weights (forward model, feedforward) are the consolidated memory of the movement and
decay as "slow"; "kept" (decoder matrices, calibrations, generator states) and "session" (trial
counters) do not decay.
"""
import math

FAST_TAU_H = 0.05  #: tau_f, time constant of the fast state's forgetting, h
SLOW_RETENTION_24H = 0.6  #: r_s24, fraction of the slow state kept over 24 h


def retention(break_h: float, fast_tau_h: float = FAST_TAU_H, slow_retention_24h: float = SLOW_RETENTION_24H) -> dict:
    """Multipliers per retention class for a break of break_h hours (module equations)."""
    return {"fast": math.exp(-break_h / fast_tau_h), "slow": slow_retention_24h ** (break_h / 24.0)}
