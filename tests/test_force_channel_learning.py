"""Trial-level learning in whole sessions, measured in force channels (Smith, Ghazizadeh & Shadmehr 2006).

Three shipped configs run as a user would (`rtcore run --fast`), at once, read through summary.json:
- configs/channel_adaptation.toml: baseline -> curl field A with 20% force-channel trials ->
  washout -> A again; also with `lesion.kind = "parkinson"`, off and on therapy (same seed);
- configs/spontaneous_recovery.toml: A -> brief counter-field -A -> a block of channel trials;
- configs/interference.toml: -A first, then A.
The trial-level two-state learner ([learning], rtcore/learning/trial_learning.py) makes the
feedforward field; the feedforward's per-tick learning is off. The measures are the task's
per-trial metrics: the adaptation index on channel trials (lateral force against the channel
regressed on the ideal field force, relative to the mean of each target's baseline channel trials)
and the field-signed perpendicular error at peak speed on field trials.
"""
import pathlib

import numpy as np
import pytest
from scipy.optimize import least_squares

from enginecli import fast_sessions, summary
from rtcore import checkpoint, config, pipeline
from rtcore.learning import consolidation
from rtcore.learning.trial_learning import LAYOUT as LEARNING

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"
#: label: (config, --set items)
SESSIONS = {"channel_adaptation": ("channel_adaptation", []), "spontaneous_recovery": ("spontaneous_recovery", []),
            "interference": ("interference", []),
            "parkinson": ("channel_adaptation", ["lesion.kind=parkinson"]),
            "parkinson_on": ("channel_adaptation", ["lesion.kind=parkinson", "lesion.therapy_on=true"])}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{label: per-trial metrics as arrays, plus '_summary'}: the sessions run at once."""
    runs = fast_sessions(tmp_path_factory, {name: (CONFIGS / f"{cfg}.toml", sets) for name, (cfg, sets) in SESSIONS.items()},
                         "tl", "loop.heartbeat_timeout_s=120", timeout=1500)  # five sessions on a shared machine
    result = {}
    for name, (out, code, text) in runs.items():
        assert code == 0 and "task done" in text, text  # --fast: every row recorded, verdict ok
        s = summary(out)
        tr = s["task"]["trials"]
        result[name] = {k: np.array([np.nan if v is None else v for v in col], float) for k, col in tr.items()}
        result[name]["_summary"] = s
        result[name]["_out"] = str(out)
    return result


def block_of(t: dict, s: dict, name: str) -> np.ndarray:
    names = [b["name"] for b in s["task"]["blocks"]]
    return t["block"] == names.index(name)


def channel_index(t: dict, sel: np.ndarray) -> np.ndarray:
    return t["adaptation_index"][sel & (t["channel"] == 1)]


def field_errors(t: dict, sel: np.ndarray) -> np.ndarray:
    return t["field_error_m"][sel & (t["channel"] == 0)]


def test_channel_trials_hold_the_hand_and_measure_the_index(runs):
    t, s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    ch = t["channel"] == 1
    assert ch.sum() >= 40 and np.isfinite(t["adaptation_index"][ch]).all()
    assert np.isnan(t["adaptation_index"][~ch]).all()
    # the channel keeps the hand on the line: far smaller peak-speed deviation than field trials
    expo = block_of(t, s, "exposure")
    assert np.abs(t["perp_error_m"][expo & ch]).mean() < 0.35 * np.abs(t["perp_error_m"][expo & ~ch]).mean()  # measured 0.09
    base = block_of(t, s, "baseline_channel")
    assert base.sum() == 16 and (t["channel"][base] == 1).all()
    # the index's zero: each target's two baseline channel trials average to 0 by construction; they
    # differ by the reach's own variability (the hand's state at the go cue within the center window,
    # motor noise, what the learners pick up in the baseline): measured |index| <= 0.021 (0.002, 0.001,
    # 0.009, 0.005, 0.013, 0.013, 0.021, 0.001 per target) beside a late-exposure index of 0.86
    index, target = t["adaptation_index"][base], t["target_deg"][base]
    np.testing.assert_allclose([index[target == a].mean() for a in np.unique(target)], 0.0, atol=1e-9)
    assert np.abs(index).max() < 0.1 * channel_index(t, expo)[-8:].mean(), index
    assert s["trial_learning"]["trial"][-1] == s["task"]["n_trials"] - 1  # one update per trial


def test_the_fast_and_slow_fields_are_checkpointed_and_forgotten_over_a_break(runs):
    """K_f and K_s are the learning stage's learned state in state.npz (part 'learning'); loaded into
    a new session after 24 h, K_f is gone and K_s kept at the slow retention (consolidation)."""
    s, out = runs["channel_adaptation"]["_summary"], runs["channel_adaptation"]["_out"]
    arrays, meta = checkpoint.load(out)
    assert meta["parts"]["learning"]["classes"] == {"fast": "fast", "slow": "slow"}
    fast, slow = arrays["learning.fast"].ravel(), arrays["learning.slow"].ravel()
    np.testing.assert_array_equal(fast, s["trial_learning"]["fast_field_ns_per_m"][-1])  # the end of the session
    np.testing.assert_array_equal(slow, s["trial_learning"]["slow_field_ns_per_m"][-1])
    assert np.abs(slow).max() > 1.0, slow  # a learned field, N s/m
    cfg = config.load(str(CONFIGS / "channel_adaptation.toml"))
    pipe = pipeline.build(cfg, str(CONFIGS / "channel_adaptation.toml"))
    checkpoint.load_into(pipe, out, parts=["learning"], break_h=24.0, cfg=cfg)
    stage = next(st for part, _k, st, _spec in checkpoint.learned_parts(pipe) if part == "learning")
    np.testing.assert_allclose(LEARNING.view(stage, "slow").ravel(), consolidation.SLOW_RETENTION_24H * slow)
    assert np.abs(LEARNING.view(stage, "fast")).max() < 1e-100  # exp(-24 h / 3 min)


def test_index_rises_to_sixty_percent_during_exposure(runs):
    t, s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    idx = channel_index(t, block_of(t, s, "exposure"))
    early, late = idx[:4].mean(), idx[-8:].mean()
    assert early < 0.35, idx
    assert late >= 0.6, idx


def _simulate(params, field, clamp, two):
    """Index per trial of a one- or two-state model: field[n] the perturbation (1 A, -1 the
    counter-field, 0 none), clamp[n] a channel trial (no error: the states only decay)."""
    af, bf, a_s, bs = params if two else (params[0], params[1], 0.0, 0.0)
    xf = xs = 0.0
    out = np.empty(field.size)
    for n in range(field.size):
        out[n] = xf + xs
        e = 0.0 if clamp[n] else field[n] - (xf + xs)
        xf, xs = af * xf + bf * e, a_s * xs + bs * e
    return out


def _fit(field, clamp, obs_at, obs, two):
    def resid(p):
        return _simulate(p, field, clamp, two)[obs_at] - obs
    starts = [(0.9, 0.1, 0.995, 0.02), (0.8, 0.2, 0.99, 0.05), (0.95, 0.05, 0.999, 0.01)] if two else \
        [(0.9, 0.05), (0.99, 0.02), (0.95, 0.1)]
    lo, hi = ([0, 0, 0, 0], [1, 1, 1, 1]) if two else ([0, 0], [1, 1])
    best = min((least_squares(resid, s, bounds=(lo, hi)) for s in starts), key=lambda r: r.cost)
    return 2 * best.cost, best.x


def _bic_one_and_two_state(t: dict, s: dict, first: str, field_of: dict) -> tuple:
    """BIC of the one- and two-state fits to the index on every channel trial from block `first`
    on; field_of: block name -> perturbation (1 A, -1 counter-field; others 0)."""
    names = [b["name"] for b in s["task"]["blocks"]]
    start = int(np.flatnonzero(block_of(t, s, first))[0])
    field = np.array([field_of.get(names[int(b)], 0.0) for b in t["block"]])[start:]
    clamp = t["channel"][start:] == 1
    obs_at = np.flatnonzero(clamp)
    obs, n = t["adaptation_index"][start:][obs_at], obs_at.size
    (sse1, p1), (sse2, p2) = _fit(field, clamp, obs_at, obs, two=False), _fit(field, clamp, obs_at, obs, two=True)
    return n * np.log(sse1 / n) + 2 * np.log(n), n * np.log(sse2 / n) + 4 * np.log(n), (sse1, sse2, p1, p2)


def test_two_state_fit_beats_one_state_from_exposure_through_recovery(runs):
    """Smith et al. 2006's test of the model: both fit the index on every channel trial of the
    spontaneous-recovery session from A on (exposure with 20% channel trials, the counter-field,
    the clamp block); the two-state model wins by BIC. Measured: SSE 2.08 vs 2.94 over 69 channel
    trials, BIC -224.9 vs -209.2, fitted A_f 0.82, B_f 0.14, A_s 0.992, B_s 0.028 (seeds 1 and 2:
    BIC better by 8.8 and 27.2)."""
    t, s = runs["spontaneous_recovery"], runs["spontaneous_recovery"]["_summary"]
    bic1, bic2, fits = _bic_one_and_two_state(t, s, "a", {"a": 1.0, "b": -1.0})
    assert bic2 < bic1 - 6.0, fits  # "strong" evidence on Kass & Raftery's scale


@pytest.mark.xfail(strict=True, reason="measured: SSE two-state 1.95 vs one-state 2.19 over 44 channel trials, BIC "
                   "-122.0 vs -124.4: the one-state model wins; the index's residual SD (~0.2) hides what the "
                   "slow state adds to exposure, washout and re-exposure alone")
def test_two_state_fit_beats_one_state_over_exposure_and_savings(runs):
    t, s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    bic1, bic2, fits = _bic_one_and_two_state(t, s, "exposure", {"exposure": 1.0, "reexposure": 1.0})
    assert bic2 < bic1, fits


def _trials_to_half(err: np.ndarray, level: float, window: int = 5) -> int:
    """First trial at which the running mean of the field error is at or below level."""
    run = np.convolve(err, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(run <= level)
    return int(below[0]) if below.size else err.size


def test_savings_second_exposure_reaches_half_asymptote_sooner(runs):
    t, s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    first, second = field_errors(t, block_of(t, s, "exposure")), field_errors(t, block_of(t, s, "reexposure"))
    wash = field_errors(t, block_of(t, s, "washout"))
    naive, asymptote = first[:4].mean(), first[-16:].mean()
    half = asymptote + 0.5 * (naive - asymptote)  # half of the first exposure's learning
    n1, n2 = _trials_to_half(first, half), _trials_to_half(second, half)
    assert abs(wash[-8:].mean()) < 0.5 * naive  # washed out in the movement ...
    assert n2 < n1, (n1, n2, naive, asymptote)  # ... yet relearning is faster
    assert second[:16].mean() < first[:16].mean()


def test_spontaneous_recovery_in_the_channel_block(runs):
    """A learned (index 0.92 over its last 6 channel trials), six counter-field trials bring it to
    about 0 (-0.11 over the first two clamp trials), and in the clamp it rebounds toward A: 0.23
    over clamp trials 6-20 (seeds 1 and 2: start 0.04 and 0.06, rebound 0.23 and 0.22)."""
    t, s = runs["spontaneous_recovery"], runs["spontaneous_recovery"]["_summary"]
    learned = channel_index(t, block_of(t, s, "a"))[-6:].mean()
    clamp = channel_index(t, block_of(t, s, "channel"))
    start, rebound = clamp[:2].mean(), clamp[6:20].mean()
    assert learned >= 0.5, learned
    assert abs(start) < 0.3 * learned, (start, learned)  # the counter-field brought the index to ~0
    assert rebound > start + 0.15 and rebound > 0.2, clamp  # then it rebounds toward A in the clamp


def test_anterograde_interference(runs):
    """A after -A is learned more slowly than naive A (indices relative to A: sign flipped in interference)."""
    naive_t, naive_s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    t, s = runs["interference"], runs["interference"]["_summary"]
    naive = channel_index(naive_t, block_of(naive_t, naive_s, "exposure"))[:16]
    after = -channel_index(t, block_of(t, s, "a"))[:16]  # the index of interference is relative to -A
    assert after.mean() < naive.mean() - 0.2, (after, naive)
    # and in the movement: the field errors of A after -A stay larger (field sign relative to -A: flip)
    naive_err = field_errors(naive_t, block_of(naive_t, naive_s, "exposure"))[:40].mean()
    after_err = -field_errors(t, block_of(t, s, "a"))[:40].mean()
    assert after_err > naive_err, (after_err, naive_err)


def test_parkinson_adapts_but_loses_savings_and_therapy_restores_half(runs):
    """Parkinson's (Marinelli et al. 2009; Leow, Loftus & Hammond 2012): the first exposure is
    learned as the healthy arm learns it, savings on re-exposure are lost, and levodopa/DBS
    (therapy_on) gives back at least half of them. Mechanism: the dopamine gain scales the slow
    state's learning rate B_s (rtcore.learning.lesions, rpe_gain). Same seed and schedule, so the
    three sessions' reaches differ by the lesion alone; savings_m = mean field error of the first
    16 field trials of the first exposure minus that of the re-exposure (summary.json)."""
    ad = {k: runs[k]["_summary"]["task"]["adaptation"] for k in ("channel_adaptation", "parkinson", "parkinson_on")}
    for k in ("parkinson", "parkinson_on"):
        ok = np.nansum(runs[k]["success"])
        assert ok >= 0.9 * np.nansum(runs["channel_adaptation"]["success"]), (k, ok)
    h, p, on = (ad[k]["early_exposure_m"] for k in ad)
    assert abs(p - h) <= 0.2 * h, (p, h)  # measured 6.86 vs 6.37 mm: initial adaptation spared
    sav_h, sav_p, sav_on = (ad[k]["savings_m"] for k in ad)
    # measured 1.33, -0.33, 0.97 mm (seed 1: 1.71, 0.22, 1.42 mm)
    assert sav_h > 0 and sav_p < 0.3 * sav_h, (sav_h, sav_p)
    assert sav_on - sav_p >= 0.5 * (sav_h - sav_p), (sav_h, sav_p, sav_on)  # measured 0.78 restored (seed 1: 0.80)
