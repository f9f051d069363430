"""`rtcore calibrate kalman`: an observation block, then a velocity Kalman decoder fitted to it.

Live (`--stream NAME`): a supervised session (rtcore.supervisor) whose source is the LSL
spike-count stream, whose plant is a cursor that the autopilot controller (rtcore.control.autopilot)
flies to center-out targets, and whose state and target go out on LSL as rtcore-<session>-state
and rtcore-<session>-target, so that the participant watches (a display, or the synthetic user
`rtcore source neural --session <session>`). The recording is an ordinary run folder
(runs/<timestamp>/session.xdf, report and summary included).
Offline (`--from runs/X/session.xdf`): the same fit from such a recording, or from any session
that recorded a count stream `input` (with `input_n`) and a cursor `state` [x, y, vx, vy].

Bins: each count sample the loop received is one bin; its label, the intended kinematics, is the
cursor velocity averaged over the bin_s before the sample arrived. The fit is
kalman_fit.fit_kalman (Wu et al. 2006, least squares A, W, H, Q). Held-out R^2: fit on the first
(1 - holdout) of the bins, decode the rest with the stage's own filter (kalman.decode_counts),
R^2 = 1 - sum |v_dec - v|^2 / sum |v - mean v|^2 over both axes. The saved decoder is then refit
on every bin. With --steady-state the steady-state Kalman gain K = L B [5, n] (kalman.py) is
computed too and saved in the decoder's metadata.
"""
import os
import sys

import numpy as np

from rtcore.decoders import kalman, kalman_fit

HOLDOUT = 0.2  #: fraction of the bins (the last ones) kept out of the fit for the R^2


def add_kalman_parser(sub) -> None:
    """Register `calibrate kalman` on the calibrate subparsers."""
    k = sub.add_parser("kalman", help="observation block (automatic cursor, participant watching) and a "
                                      "velocity Kalman decoder fit; or the fit from a recorded session.xdf",
                       description=__doc__.split("\n\n")[0])
    src = k.add_mutually_exclusive_group(required=True)
    src.add_argument("--stream", help="LSL spike-count stream name (or type:T / source_id:S): run the observation block")
    src.add_argument("--from", dest="from_xdf", metavar="XDF", help="fit from a recorded session (runs/X/session.xdf)")
    k.add_argument("--out", required=True, help="decoder path (writes <out>.npz and <out>.json) for [decoder] decoder_file")
    k.add_argument("--session", default="calibrate",
                   help="session name: the cursor and targets are published as rtcore-<session>-state / -target")
    k.add_argument("--duration-s", type=float, default=60.0, help="observation block length, s (default 60)")
    k.add_argument("--bin-s", type=float, default=0.05, help="spike-count bin of the stream, s (default 0.05)")
    k.add_argument("--rate-hz", type=float, default=100.0, help="loop rate of the observation block, Hz (default 100)")
    k.add_argument("--n-targets", type=int, default=8, help="center-out targets (default 8)")
    k.add_argument("--radius-m", type=float, default=0.1, help="center-to-target distance, m (default 0.1)")
    k.add_argument("--speed-m-s", type=float, default=0.15, help="autopilot cursor speed, m/s (default 0.15)")
    k.add_argument("--run-dir", default=None, help="folder of the observation run (default a new runs/<timestamp>)")
    k.add_argument("--timeout-s", type=float, default=10.0, help="how long to look for the stream, s")
    k.add_argument("--steady-state", action="store_true", help="also compute and save the steady-state Kalman gain")
    k.set_defaults(handler=run_calibrate_kalman)


def observation_config(args) -> dict:
    """The observation block as a session config (raw TOML dict)."""
    source = {"kind": "lsl", "resolve_timeout_s": args.timeout_s}
    prop, value = "name", args.stream
    for key in ("type", "source_id"):
        if args.stream.startswith(key + ":"):
            prop, value = key, args.stream[len(key) + 1:]
    source[prop] = value
    n_trials = int(args.duration_s) + args.n_targets  # more than fit in the block: it ends on its duration
    return {"session": {"name": args.session, "duration_s": args.duration_s},
            "loop": {"rate_hz": args.rate_hz},
            "source": source,
            "plant": {"kind": "cursor"},
            "task": {"kind": "center_out", "n_targets": args.n_targets, "radius_m": args.radius_m,
                     "hold_s": 0.2, "timeout_s": 3.0, "target_tolerance_m": 0.01},
            "block": [{"name": "observation", "n_trials": n_trials}],
            "controller": {"kind": "autopilot", "speed_m_s": args.speed_m_s}}


def observe(args) -> str:
    """Run the observation block; returns the path of its session.xdf (ValueError if it failed)."""
    from devices.lsl import logfile
    from rtcore import config, runs, supervisor
    cfg = config.validate(observation_config(args), "rtcore calibrate kalman")
    out = runs.claim_out(args.run_dir) if args.run_dir else runs.new_run_dir()
    logfile.to_file(os.path.join(out, "lsl.log"))
    print(f"observation block: {args.duration_s:g} s, the cursor flies to {args.n_targets} targets; the participant "
          f"watches rtcore-{args.session}-state and -target", flush=True)
    outcome = supervisor.run(cfg, "rtcore calibrate kalman", out)
    s = outcome.summary
    for m in outcome.messages:
        print(m)
    if s["ticks"] == 0 or not os.path.exists(os.path.join(out, "session.xdf")):
        raise ValueError(f"the observation block did not run: {'; '.join(s['reasons'] or [s['exit_reason']])}")
    print(f"observation block recorded: {out}/session.xdf ({s['verdict']}, {s['duration_s']:.1f} s)", flush=True)
    return os.path.join(out, "session.xdf")


def observation_bins(rec: dict, bin_s: float, where: str) -> tuple[np.ndarray, np.ndarray]:
    """counts [T, n] (one row per received count sample) and cursor velocity [T, 2] (m/s, mean over
    the bin before the sample arrived) from a loaded recording (rtcore.recording.load)."""
    cols = rec["columns"]
    for need in ("input.", "input_n.", "state.vx"):
        if not any(c.startswith(need) for c in cols):
            raise ValueError(f"{where}: the recording has no '{need.rstrip('.')}' column; record the count stream "
                             f"(input, input_n) and a cursor state [x, y, vx, vy]")
    t_s = rec["rows"][:, cols.index("t_s")]
    dt_s = float(np.median(np.diff(t_s))) if t_s.size > 1 else 0.0
    if dt_s <= 0.0:
        raise ValueError(f"{where}: the recording has fewer than two ticks")
    per = max(1, round(bin_s / dt_s))
    n_in = rec["input_n"][:, 0].astype(np.int64)
    nch = rec["input"].shape[1]
    block = rec.get("input_block")
    v_off = cols.index("state.vx") - cols.index("state.x") if "state.x" in cols else 2
    vel_tick = rec["state"][:, v_off:v_off + 2]
    counts, vel = [], []
    arrivals = np.flatnonzero(n_in > 0)
    for t in arrivals[arrivals >= per]:
        v = vel_tick[t - per + 1:t + 1].mean(axis=0)
        for r in range(n_in[t]):
            counts.append(block[t, r * nch:(r + 1) * nch] if block is not None else rec["input"][t])
            vel.append(v)
    if len(arrivals) > 2:  # on the tick stamps: wall-clock arrival in real time, even when ticks fell behind
        stamp = rec["rows"][:, cols.index("stamp_s")] if "stamp_s" in cols else t_s
        gap_s = float(np.median(np.diff(stamp[arrivals])))
        if abs(gap_s - bin_s) > 0.25 * bin_s:
            raise ValueError(f"{where}: count samples arrive every {gap_s:.3f} s, but --bin-s is {bin_s:g} s; "
                             f"give the stream's bin with --bin-s")
    return np.array(counts, dtype=np.float64).reshape(-1, nch), np.array(vel, dtype=np.float64).reshape(-1, 2)


def held_out_r2(counts: np.ndarray, vel: np.ndarray, bin_s: float) -> float:
    """R^2 of the velocity decoded on the last HOLDOUT of the bins by a KF fitted on the rest."""
    k = int(len(vel) * (1.0 - HOLDOUT))
    model = kalman_fit.fit_kalman(vel[:k], counts[:k], bin_s)
    dec = kalman.decode_counts(model, counts[k:])
    v = vel[k:]
    return float(1.0 - ((dec - v) ** 2).sum() / max(((v - v.mean(axis=0)) ** 2).sum(), 1e-30))


def steady_state_gain(model) -> np.ndarray:
    """The steady-state Kalman gain K = L B [5, n] of a decoder (kalman.py's information form)."""
    arrays = kalman.state_arrays(model, True, None, model.bin_s)
    return kalman.LAYOUT.view(arrays, "Lss") @ kalman.LAYOUT.view(arrays, "B")


def run_calibrate_kalman(args) -> int:
    """Handler of `rtcore calibrate kalman`: 0 on success, 2 with a one-line message on a user error."""
    from rtcore import recording
    from rtcore.configbase import ConfigError
    from rtcore.runs import OutDirError
    try:
        xdf_path = args.from_xdf or observe(args)
        where = xdf_path
        if not os.path.isfile(xdf_path):
            raise ValueError(f"{xdf_path}: no such recording")
        try:
            rec = recording.load(os.path.dirname(os.path.abspath(xdf_path)))
        except Exception as e:  # pyxdf raises whatever its parser hits on a damaged file
            raise ValueError(f"{xdf_path}: not a readable session recording ({type(e).__name__}: {e})") from None
        counts, vel = observation_bins(rec, args.bin_s, where)
        r2 = held_out_r2(counts, vel, args.bin_s)
        settings = {"bin_s": args.bin_s, "recording": os.path.abspath(xdf_path), "held_out_r2": round(r2, 4)}
        model = kalman_fit.fit_kalman(vel, counts, args.bin_s, settings)
        if args.steady_state:
            model.meta["steady_state_gain"] = steady_state_gain(model).round(8).tolist()
        path = kalman_fit.save_kalman(args.out, model, settings)
    except (ValueError, ConfigError, OutDirError) as e:
        print(f"rtcore calibrate kalman: {e}", file=sys.stderr)
        return 2
    print(f"fitted on {len(vel)} bins ({len(vel) * args.bin_s:.0f} s), {counts.shape[1]} units; "
          f"held-out R^2 {r2:.2f} (last {HOLDOUT:.0%} of the bins)")
    print(f"saved {path}" + (" (with the steady-state gain)" if args.steady_state else ""))
    print(f'use it: [decoder] kind = "kalman", decoder_file = "{path}", bin_s = {args.bin_s:g}'
          + (", steady_state = true" if args.steady_state else ""))
    return 0
