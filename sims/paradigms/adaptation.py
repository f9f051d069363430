"""Force-field adaptation in the hand's path, from the center-out task's per-trial metrics.

The measure (Shadmehr & Mussa-Ivaldi 1994, J Neurosci 14:3208): the perpendicular error at peak
speed (the task's perp_error_m, true hand), minus the mean of the same target's baseline trials,
signed so that + is the side the curl field pushes a reach to that target: sign(n . B u) for the
reach direction u, its left normal n and the session's field B (the first curl block's).
Baseline trials: the non-catch trials without a target jump of the perturbation-free blocks before
the first curl block (a target without one has baseline 0). Force-channel trials (the hand held on
the line) count neither as field nor as catch trials.

`measures` adds the per-trial `field_error_m` and returns, for summary.json:
- per block: mean field error of its non-catch and of its catch trials;
- `adaptation`: early and late exposure (mean of the first and last EDGE_TRIALS non-catch trials
  of the first curl block), their ratio; the catch trials after the first CATCH_SKIP_CYCLES
  target cycles of that block (how many, the fraction opposite in sign to the early error, their
  mean); the washout block after it (first WASHOUT_FIRST trials: the after-effect, and the mean
  of its last EDGE_TRIALS / 2 trials); the first curl block after that washout, a re-exposure
  (mean of its first SAVINGS_TRIALS non-catch trials, and of the first exposure's): savings =
  first-exposure early error - re-exposure early error (Krakauer et al. 2005; Leow et al. 2012).
  These are computed from the compiled task's metrics table, not from recorded rows.
"""
import numpy as np

EDGE_TRIALS = 16  #: trials in the early and late exposure windows
CATCH_SKIP_CYCLES = 2  #: catch trials in the first target cycles of exposure are not counted (nothing learned yet)
WASHOUT_FIRST = 4  #: washout trials whose mean is the after-effect
SAVINGS_TRIALS = 16  #: early trials of the first exposure and of the re-exposure compared for savings


def field_sign(target_deg: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sign(n . B u) per reach direction (deg): the side the field F = B v pushes the hand."""
    a = np.radians(np.asarray(target_deg, dtype=float))
    u = np.stack([np.cos(a), np.sin(a)], axis=1)
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    return np.sign(np.einsum("ki,ij,kj->k", n, b, u))


def _mean(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def channel_index(met: dict, blocks: list) -> None:
    """Adds met["adaptation_index"]: each force-channel trial's channel_force_index minus the mean of
    the same target's channel trials in the perturbation-free blocks before the first curl block
    (0 for a target without one); NaN off channel trials.

    A straight reach in a channel presses on it even unadapted (the arm's interaction torques);
    the baseline-subtracted index is the learned compensation alone (Smith, Ghazizadeh & Shadmehr
    2006, PLoS Biol 4:e179, Methods: force profiles relative to baseline channel trials)."""
    raw, block = met["channel_force_index"], met["block"].astype(int)
    target = np.round(met["target_deg"], 6)
    first = next((b for b, blk in enumerate(blocks) if blk.perturbation == "curl"), len(blocks))
    base_sel = np.isin(block, [b for b in range(first) if blocks[b].perturbation in ("none", "channel")])
    base_sel &= (met["channel"] == 1) & np.isfinite(raw)
    baseline = {t: float(raw[base_sel & (target == t)].mean()) for t in np.unique(target[base_sel])}
    met["adaptation_index"] = raw - np.array([baseline.get(t, 0.0) for t in target])


def measures(met: dict, blocks: list, n_targets: int) -> tuple:
    """(per-block dicts, adaptation dict), or ([], None) without a curl block; adds met["field_error_m"]."""
    curl = [b for b, blk in enumerate(blocks) if blk.perturbation == "curl"]
    if not curl:
        return [], None
    first = curl[0]
    b_field = np.array(blocks[first].curl_b, dtype=float).reshape(2, 2)
    block, catch = met["block"].astype(int), met["catch"] == 1
    plain_trial = ~catch & (met["channel"] == 0)
    perp, target = met["perp_error_m"], np.round(met["target_deg"], 6)
    jump = met["jump_deg"] != 0
    base_sel = np.isin(block, [b for b in range(first) if blocks[b].perturbation == "none"]) & plain_trial & ~jump
    baseline = {t: float(np.nanmean(perp[base_sel & (target == t)])) for t in np.unique(target[base_sel])}
    err = field_sign(target, b_field) * (perp - np.array([baseline.get(t, 0.0) for t in target]))
    met["field_error_m"] = err
    per_block = [{"mean_field_error_m": _mean(err[(block == b) & plain_trial]),
                  "catch_mean_field_error_m": _mean(err[(block == b) & catch]), "n_catch": int(((block == b) & catch).sum())}
                 for b in range(len(blocks))]
    expo = np.flatnonzero(block == first)
    plain = expo[plain_trial[expo]]
    early, late = _mean(err[plain[:EDGE_TRIALS]]), _mean(err[plain[-EDGE_TRIALS:]])
    late_catch = expo[CATCH_SKIP_CYCLES * n_targets:]
    late_catch = late_catch[catch[late_catch]]
    opposite = None
    if early is not None and late_catch.size:
        opposite = float(np.mean(np.sign(err[late_catch]) == -np.sign(early)))
    out = {"field_b_ns_per_m": b_field.ravel().tolist(), "exposure_block": blocks[first].name,
           "baseline_targets": len(baseline), "early_exposure_m": early, "late_exposure_m": late,
           "late_over_early": late / early if early and late is not None else None,
           "n_catch_after_skip": int(late_catch.size), "catch_opposite_fraction": opposite,
           "catch_mean_m": _mean(err[late_catch])}
    after = [b for b in range(first + 1, len(blocks)) if blocks[b].perturbation == "none"]
    if after:
        wash = np.flatnonzero(block == after[0])
        out.update({"washout_block": blocks[after[0]].name,
                    "washout_first_m": _mean(err[wash[:WASHOUT_FIRST]]),
                    "washout_last_m": _mean(err[wash[-EDGE_TRIALS // 2:]]) if wash.size > WASHOUT_FIRST else None})
        again = [b for b in curl if b > after[0]]
        if again:
            re_plain = np.flatnonzero((block == again[0]) & plain_trial)  # as the first exposure's
            first_early, re_early = _mean(err[plain[:SAVINGS_TRIALS]]), _mean(err[re_plain[:SAVINGS_TRIALS]])
            out.update({"reexposure_block": blocks[again[0]].name, "first_exposure_early_m": first_early,
                        "reexposure_early_m": re_early,
                        "savings_m": first_early - re_early if None not in (first_early, re_early) else None})
    return per_block, out
