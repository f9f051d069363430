"""`rtcore calibrate emg|kalman`: make a decoder's calibration from a live stream (or a recording).

emg: runs in the parent, off the hot path: pylsl resolves the stream (by name, type or source_id),
prompts rest, then MVC, then rest again, each on its own line and also as a string marker on
the LSL stream <stream>-prompts ("rest", "mvc", "done"), which a participant display or the
synthetic user (`rtcore source emg`) follows; it records rest_s and mvc_s seconds (after
react_s for the participant to follow each prompt), then fits rest/MVC envelope levels with
the decoder's own compiled chain (rtcore.decoders.calibration) and writes <out>.npz + <out>.json.
Filter settings come from a session config's [decoder] (kind "emg") when --config is given,
so calibration and decoding filter alike.
kalman: an observation block and a Kalman decoder fit (rtcore.decoders.calibrate_kalman).
"""
import sys
import time

import numpy as np

from rtcore.decoders.calibration import fit_emg_calibration, save_emg_calibration
from rtcore.decoders.emg import EmgDecoderConfig


PROMPTS = ("rest", "mvc", "done")  #: the marker strings of <stream>-prompts
PROMPT_WAIT_S = 3.0  #: how long to wait for a follower of the prompt stream before the first prompt, s


def prompt_stream_name(stream: str) -> str:
    """Name of the marker stream that carries the calibration prompts for EMG stream `stream`."""
    return f"{stream}-prompts"


def add_calibrate_parser(subparsers) -> None:
    """Register `calibrate emg|kalman ...` on the CLI's subparsers; the handler is args.handler(args) -> exit code."""
    from rtcore.decoders.calibrate_kalman import add_kalman_parser
    p = subparsers.add_parser("calibrate", help="record a decoder calibration from a live stream")
    sub = p.add_subparsers(dest="calibrate_what", required=True)
    e = sub.add_parser("emg", help="rest and MVC levels per EMG channel from a live LSL stream")
    e.add_argument("--stream", required=True, help="LSL stream name (or type:T / source_id:S)")
    e.add_argument("--out", required=True, help="output path (writes <out>.npz and <out>.json)")
    e.add_argument("--rest-s", type=float, default=5.0, help="rest recording, s (default 5)")
    e.add_argument("--mvc-s", type=float, default=5.0, help="maximal contraction recording, s (default 5)")
    e.add_argument("--config", help="session TOML whose [decoder] (kind emg) sets the filters")
    e.add_argument("--timeout-s", type=float, default=5.0, help="how long to look for the stream, s")
    e.add_argument("--react-s", type=float, default=1.0, help="time to follow a prompt before recording starts, s (default 1)")
    e.add_argument("--yes", action="store_true", help="do not wait for Enter before each phase")
    e.set_defaults(handler=run_calibrate_emg)
    add_kalman_parser(sub)


def resolve_inlet(stream: str, timeout_s: float):
    """An open pylsl inlet for `stream` (name, type:T or source_id:S); ValueError lists what is visible."""
    import pylsl
    prop, value = ("name", stream)
    for key in ("type", "source_id"):
        if stream.startswith(key + ":"):
            prop, value = key, stream[len(key) + 1:]
    found = pylsl.resolve_byprop(prop, value, 1, timeout_s)
    if not found:
        seen = pylsl.resolve_streams(1.0)
        visible = ", ".join(f"'{s.name()}' ({s.channel_count()} ch, {s.nominal_srate():g} Hz)" for s in seen) or "none"
        raise ValueError(f"stream {prop}='{value}' not found within {timeout_s:g} s; visible: {visible}")
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, processing_flags=pylsl.proc_clocksync)
    inlet.open_stream(timeout=timeout_s)
    return inlet


def record(inlet, seconds: float) -> np.ndarray:
    """Samples [n, n_ch] pulled for `seconds` (the buffer is flushed first)."""
    inlet.flush()
    rows = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        chunk, _ = inlet.pull_chunk(timeout=0.05)
        if chunk:
            rows.append(np.asarray(chunk, dtype=np.float64))
    n_ch = inlet.info().channel_count()
    return np.concatenate(rows) if rows else np.zeros((0, n_ch))


def calibrate_emg(inlet, rest_s: float, mvc_s: float, cfg: EmgDecoderConfig, prompt=None,
                  react_s: float = 0.0) -> tuple[dict, float]:
    """Record rest then MVC from an inlet (prompt(phase) before each, react_s to follow it), prompt
    rest again, and fit; returns (cal, rate_hz)."""
    rate_hz = inlet.info().nominal_srate()
    if rate_hz <= 0:
        raise ValueError(f"stream '{inlet.info().name()}' has an irregular rate; EMG calibration needs a nominal rate")
    prompt = prompt or (lambda phase: None)
    prompt("rest")
    time.sleep(react_s)
    rest = record(inlet, rest_s)
    prompt("mvc")
    time.sleep(react_s)
    mvc = record(inlet, mvc_s)
    prompt("done")
    return fit_emg_calibration(rest, mvc, rate_hz, cfg), rate_hz


def _decoder_cfg(path: str | None) -> EmgDecoderConfig:
    if path is None:
        return EmgDecoderConfig(kind="emg")
    from rtcore import config
    cfg = config.load(path)
    if cfg.decoder is None or cfg.decoder.kind != "emg":
        raise ValueError(f"{path}: [decoder] is not kind = \"emg\"; give a session with an EMG decoder")
    return cfg.decoder


def run_calibrate_emg(args) -> int:
    """Handler of `rtcore calibrate emg`: 0 on success, 2 with a one-line message on a user error."""
    from rtcore.configbase import ConfigError

    import pylsl
    from devices.lsl import logfile
    logfile.to_file(f"{args.out}.lsl.log")
    markers = pylsl.StreamOutlet(pylsl.StreamInfo(prompt_stream_name(args.stream), "Markers", 1, 0.0, "string",
                                                  prompt_stream_name(args.stream)))

    def ask(phase):
        text = {"rest": f"Relax completely for {args.rest_s:g} s",
                "mvc": f"Contract as hard as you can for {args.mvc_s:g} s",
                "done": "Relax: calibration recorded"}[phase]
        if args.yes or phase == "done":
            print(text + ("" if phase == "done" else " ..."), flush=True)
        else:
            input(text + ": press Enter to start ")
            if not sys.stdin.isatty():  # the Enter was not echoed: end the prompt's line here
                print(flush=True)
        markers.push_sample([phase])

    try:
        cfg = _decoder_cfg(args.config)
        inlet = resolve_inlet(args.stream, args.timeout_s)
        markers.wait_for_consumers(PROMPT_WAIT_S)  # a display or a synthetic user following the prompts
        cal, rate_hz = calibrate_emg(inlet, args.rest_s, args.mvc_s, cfg, ask, args.react_s)
        path = save_emg_calibration(args.out, cal, rate_hz, cfg, stream=args.stream)
    except (ValueError, ConfigError) as e:
        print(f"rtcore calibrate emg: {e}", file=sys.stderr)
        return 2
    ratio = cal["mvc"] / np.maximum(cal["rest"], 1e-30)
    print(f"saved {path}: {cal['rest'].size} channels at {rate_hz:g} Hz, MVC/rest {ratio.min():.1f}..{ratio.max():.1f}")
    return 0
