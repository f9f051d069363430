"""Reward-prediction-error learning of the aim (basal ganglia), and a memory of rewarded actions.

Two dopamine-dependent processes, both scaled by the dopamine gain g_DA (rpe_gain of a lesion):

1. Actor-critic on the aim (Sutton & Barto 2018, ch. 13; Therrien, Wolpert & Bastian 2016,
   Brain 139:101). The learner explores around its aim (xi ~ N(0, sd_explore), a deviation it
   knows) and is also moved by motor noise it does not know. After a binary reward r:
       delta = r - V,   V <- V + alpha_V delta,   aim <- aim + alpha_aim g_DA delta xi.
   A rewarded exploration pulls the aim toward itself; motor noise corrupts the credit given to
   xi, so more motor noise means less reward learning (Therrien 2016). The aim is a command: it
   does not change the forward model's predictions (Izawa & Shadmehr 2011, PLoS Comput Biol
   7:e1002012), so it never enters the sensory prediction error.

2. Model-free memory of successful actions (Huang, Haith, Mazzoni & Krakauer 2011, Neuron 70:787):
   the hand directions that earned a better-than-expected reward (delta > 0, a phasic dopamine
   burst) are reinforced, and a miss recalls the rewarded actions near the correction it calls
   for, pulling the plan toward them. This is how savings arise and why they need dopamine: Parkinson's
   patients adapt normally at first but relearn no faster (Leow, Loftus & Hammond 2012, Exp
   Brain Res 218:295; Bedard & Sanes 2011, Exp Brain Res 209:385), while implicit adaptation
   itself is preserved (Tsay et al. 2022, Brain Commun 4:fcac303).
       Q_k <- A_op Q_k + alpha_op g_DA max(delta, 0) K(h - c_k),
       pull = rho sum_k Q_k K(c_k - g) (c_k - p) / (1 + sum_k Q_k K(c_k - g)),   g = p + e_cue,
   K(d) = exp(-d^2 / 2 w^2) over memory centres c_k = lo + k spacing (deg). The cue e_cue is the
   last seen task error: after a miss (|e_cue| > reward window) the memories near the action that
   would have hit (g) are recalled; after a hit the learner keeps its plan. A first exposure finds
   nothing near g; a second one finds the actions reinforced the first time: savings.
"""
import math

from numba import njit


@njit(cache=True, nogil=True)
def binary_reward(task_error, window):
    """r = 1 if |task_error| <= window else 0 (hit/miss, deg)."""
    return 1.0 if abs(task_error) <= window else 0.0


@njit(cache=True, nogil=True)
def actor_critic_update(state, i_value, i_aim, reward, explore, value_rate, aim_rate, dopamine_gain):
    """delta = r - V; V += value_rate delta; aim += aim_rate dopamine_gain delta explore. Returns delta.

    state: float64 array holding V (reward units) at i_value and the aim (deg) at i_aim.
    explore: this trial's known exploratory deviation of the aim (deg).
    """
    delta = reward - state[i_value]
    state[i_value] += value_rate * delta
    state[i_aim] += aim_rate * dopamine_gain * delta * explore
    return delta


@njit(cache=True, nogil=True)
def operant_encode(strength, lo, spacing, width, hand, drive, retention):
    """Q_k <- retention Q_k + drive K(hand - c_k), in place (Huang et al. 2011).

    strength: [n_memories] Q >= 0; c_k = lo + k spacing (deg); width w (deg);
    drive = alpha_op g_DA max(delta, 0) (0 on trials without reward feedback).
    """
    inv = 0.5 / (width * width)
    for k in range(strength.shape[0]):
        d = hand - (lo + k * spacing)
        strength[k] = retention * strength[k] + drive * math.exp(-d * d * inv)


@njit(cache=True, nogil=True)
def operant_pull(strength, lo, spacing, width, plan, cue, window):
    """Pull of the plan toward the reinforced actions near the one the last miss called for (deg).

    pull = sum_k Q_k K(c_k - g) (c_k - plan) / (1 + sum_k Q_k K(c_k - g)),  g = plan + cue,
    and 0 after a hit (|cue| <= window). Multiply by the retrieval gain rho outside.
    strength: [n_memories] Q; c_k = lo + k spacing; plan, cue (last task error), window in deg.
    """
    if abs(cue) <= window:
        return 0.0
    inv = 0.5 / (width * width)
    goal = plan + cue
    num = 0.0
    den = 1.0
    for k in range(strength.shape[0]):
        c = lo + k * spacing
        w = strength[k] * math.exp(-(c - goal) * (c - goal) * inv)
        num += w * (c - plan)
        den += w
    return num / den
