"""`rtcore replay DIR/session.xdf`: the recorded inputs through the same pipeline, offline
(or, with --lsl NAME, published in real time as an LSL stream: rtcore/replay_lsl.py).

The config is the recorded one (embedded in the XDF file header) unless --config names another
(e.g. a new decoder). Each [[source]] becomes kind "replay" of its recorded stream (signal) and the
session lasts as many ticks as were recorded. Outputs: OUT/session.xdf and OUT/summary.json (OUT defaults to DIR/replay), and
the largest difference per output signal against the recording.
"""
import json
import os
import tomllib

import numpy as np

#: Engine outputs compared against the recording after a replay.
COMPARED = ("command", "intent", "state", "prediction", "estimate", "spe", "purkinje_norm")


def recording_path(arg: str) -> str:
    """The session.xdf the user named: the file itself, or a run folder holding one; else ConfigError."""
    from rtcore.configbase import ConfigError
    path = os.path.join(arg, "session.xdf") if os.path.isdir(arg) else arg
    if not os.path.isfile(path):
        where = f"{arg}: no session.xdf in this folder" if os.path.isdir(arg) else f"{arg}: no such recording"
        raise ConfigError(f"{where} (give a run folder or its session.xdf)")
    return path


def load_recording(path: str) -> dict:
    """xdf.load(path), with a damaged file as a one-line ConfigError."""
    from rtcore import xdf
    from rtcore.configbase import ConfigError
    try:
        rec = xdf.load(path)
    except Exception as e:  # pyxdf raises whatever its parser hits on a damaged file
        raise ConfigError(f"{path}: not a readable XDF recording ({type(e).__name__}: {e})") from None
    if "rtcore" not in rec.get("_header", {}).get("info", {}) or "timing" not in rec:
        raise ConfigError(f"{path}: not an rtcore session recording (no rtcore header or timing stream)")
    return rec


def replay_config(xdf_path: str, rec: dict, config_path: str | None = None):
    """The session config for replaying xdf_path: recorded (or config_path), source = replay."""
    from rtcore import config
    if config_path is None:
        raw = tomllib.loads(rec["_header"]["info"]["rtcore"][0]["config_toml"][0])
        where = f"{xdf_path} (recorded config)"
    else:
        with open(config_path, "rb") as fh:
            raw = tomllib.load(fh)
        where = config_path
    signals = [getattr(src, "signal", "input") for src in config.validate(dict(raw), where).source]
    raw["source"] = [{"kind": "replay", "path": os.path.abspath(xdf_path), "signal": sig} for sig in signals
                     if sig in rec] or {"kind": "replay", "path": os.path.abspath(xdf_path)}
    ticks = len(rec["timing"]["time_stamps"])
    raw.setdefault("session", {})["duration_s"] = ticks / raw.get("loop", {}).get("rate_hz", 1000.0)
    raw.setdefault("loop", {})["realtime"] = False
    raw.pop("companion", None)
    return config.validate(raw, where), ticks


def recorded_every(stream) -> int:
    """k of a stream recorded every k ticks (record.every_ticks; 1 for files before it)."""
    try:
        return int(stream["info"]["desc"][0]["rtcore"][0]["every_ticks"][0])
    except (KeyError, IndexError, TypeError):
        return 1


def replay(xdf_path: str, config_path: str | None = None, out_dir: str | None = None) -> dict:
    """Replay offline; returns {"out": dir, "ticks": n, "max_abs_diff": {signal: float}}."""
    from rtcore import xdf
    from rtcore.session import run_offline
    xdf_path = recording_path(xdf_path)
    rec = load_recording(xdf_path)
    cfg, ticks = replay_config(xdf_path, rec, config_path)
    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(xdf_path)), "replay")
    os.makedirs(out_dir, exist_ok=True)
    res = run_offline(cfg, xdf_path, max_ticks=ticks)
    writer = xdf.XdfRecorder(out_dir, cfg)
    writer.open(res.columns, res.pipeline.streams)
    writer.write(res.rows)
    writer.close()
    res.summary["learning"] = writer.learning()
    res.summary["replay_of"] = os.path.abspath(xdf_path)
    diffs = {}
    for name in COMPARED:
        if name in rec:
            try:
                new = res.signal(name)
            except KeyError:
                continue
            old = np.asarray(rec[name]["time_series"], np.float64)
            new = new[::recorded_every(rec[name])]  # a signal recorded every k ticks: compare those ticks
            n = min(len(old), len(new))
            diffs[name] = float(np.max(np.abs(old[:n] - new[:n]))) if n else 0.0
    res.summary["replay_max_abs_diff"] = diffs
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(res.summary, fh, indent=1)
    return {"out": out_dir, "ticks": int(res.rows.shape[0]), "max_abs_diff": diffs}


def add_replay_parser(sub):
    p = sub.add_parser("replay", help="re-run a recorded session's inputs through the pipeline (offline)",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("xdf", help="recorded DIR/session.xdf, or the run folder DIR")
    p.add_argument("--config", help="session config to replay through (default: the recorded one)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: DIR/replay)")
    p.add_argument("--lsl", metavar="NAME", help="instead: publish the recorded inputs in real time as LSL stream NAME")
    p.add_argument("--speed", type=float, default=1.0, help="with --lsl: playback speed factor (default 1)")
    p.add_argument("--wait-s", type=float, default=30.0, help="with --lsl: wait this long for a consumer, s")
    p.set_defaults(handler=cmd_replay)


def cmd_replay(args) -> int:
    if args.lsl:
        from rtcore.replay_lsl import stream_inputs
        n = stream_inputs(recording_path(args.xdf), args.lsl, args.speed, args.wait_s, announce=lambda m: print(m, flush=True))
        print(f"pushed {n} samples")
        return 0
    r = replay(args.xdf, args.config, args.out)
    print(f"replayed {r['ticks']} ticks into {r['out']}")
    for name, d in r["max_abs_diff"].items():
        print(f"  {name}: max |replay - recorded| = {d:.3g}")
    return 0
