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
        finished = code == 0 and "task done" in text  # --fast: every row recorded, verdict ok
        if name == "spontaneous_recovery" and not finished:
            result[name] = text  # its test says why (the counter-field block throws the arm about)
            continue
        assert finished, text
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
    # motor noise, what the learners pick up in the baseline): measured |index| <= 0.020 (0.007, 0.014,
    # 0.002, 0.020, 0.004, 0.014, 0.001, 0.002 per target) beside a late-exposure index of 0.78
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


def _simulate(params, kind, two):
    """Index per trial of a one- or two-state model driven by the trial kinds (1 field, 0 null, -1 channel)."""
    af, bf, a_s, bs = params if two else (params[0], params[1], 0.0, 0.0)
    xf = xs = 0.0
    out = np.empty(kind.size)
    for n, k in enumerate(kind):
        out[n] = xf + xs
        e = 0.0 if k < 0 else k - (xf + xs)
        xf, xs = af * xf + bf * e, a_s * xs + bs * e
    return out


def _fit(kind, obs_at, obs, two):
    def resid(p):
        return _simulate(p, kind, two)[obs_at] - obs
    starts = [(0.9, 0.1, 0.995, 0.02), (0.8, 0.2, 0.99, 0.05), (0.95, 0.05, 0.999, 0.01)] if two else \
        [(0.9, 0.05), (0.99, 0.02), (0.95, 0.1)]
    lo, hi = ([0, 0, 0, 0], [1, 1, 1, 1]) if two else ([0, 0], [1, 1])
    best = min((least_squares(resid, s, bounds=(lo, hi)) for s in starts), key=lambda r: r.cost)
    return 2 * best.cost, best.x


@pytest.mark.xfail(strict=True, reason="measured: SSE two-state 1.73 vs one-state 1.91 over 44 channel trials, BIC "
                   "-127.34 vs -130.55: the one-state model wins; the index's residual SD (~0.2) hides what the "
                   "slow state adds")
def test_two_state_fit_beats_one_state(runs):
    """Both models fit the index on every channel trial from the first exposure on (field trials
    f = 1, washout f = 0, channel trials e = 0); the two-state model wins by BIC."""
    t, s = runs["channel_adaptation"], runs["channel_adaptation"]["_summary"]
    start = int(np.flatnonzero(block_of(t, s, "exposure"))[0])
    curl = np.isin(t["block"], [b for b, blk in enumerate(s["config"]["block"]) if blk["perturbation"] == "curl"])
    kind = np.where(t["channel"] == 1, -1.0, np.where(curl, 1.0, 0.0))[start:]
    obs_at = np.flatnonzero(t["channel"][start:] == 1)
    obs = t["adaptation_index"][start:][obs_at]
    n = obs.size
    sse1, p1 = _fit(kind, obs_at, obs, two=False)
    sse2, p2 = _fit(kind, obs_at, obs, two=True)
    bic1, bic2 = n * np.log(sse1 / n) + 2 * np.log(n), n * np.log(sse2 / n) + 4 * np.log(n)
    assert bic2 < bic1, (sse1, sse2, p1, p2)


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


@pytest.mark.xfail(strict=True, reason="measured: with 5 N s/m intrinsic damping the counter-field block (-B) throws "
                   "the delayed endpoint-PD arm past the elbow's 10 rad/s (fault at 316.7 s, with 4 or 10 -B trials). With "
                   "10 N s/m it finishes and the index does rebound in the clamp, but less than asked: start 0.12 -> "
                   "0.19 over channel trials 6-20 (3 -B trials), 0.06 -> 0.13 (4), -0.16 -> 0.06 (6), -0.53 -> 0.00 "
                   "(10). The large -B errors erase the slow state's xx entry (3.3 -> 1.3 N s/m in 4 trials) while yy "
                   "keeps A, so no -B length zeroes the index and leaves the slow state holding A")
def test_spontaneous_recovery_in_the_channel_block(runs):
    assert isinstance(runs["spontaneous_recovery"], dict), runs["spontaneous_recovery"]  # the session ran to its end
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
    assert abs(p - h) <= 0.2 * h, (p, h)  # measured 6.48 vs 6.20 mm: initial adaptation spared
    sav_h, sav_p, sav_on = (ad[k]["savings_m"] for k in ad)
    # measured 0.32, -0.49, 0.09 mm (seed 1: 0.95, 0.05, 0.63 mm)
    assert sav_h > 0 and sav_p < 0.3 * sav_h, (sav_h, sav_p)
    assert sav_on - sav_p >= 0.5 * (sav_h - sav_p), (sav_h, sav_p, sav_on)  # measured 0.71 restored (seed 1: 0.64)
