"""The `rtcore` command line."""
import argparse
import json
import os
import sys

from rtcore import __version__
from rtcore.configbase import ConfigError
from rtcore.lifeline import Interrupted, StopRequests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rtcore", description=__doc__ and
                                     "Real-time closed-loop BCI and robotics control engine.")
    parser.add_argument("--version", action="version", version=f"rtcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_bench(sub)
    _add_family_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2


def _add_run(sub):
    p = sub.add_parser("run", help="run a closed-loop session from a TOML config",
                       description="Run a closed-loop session. The loop runs in a supervised child "
                                   "process; outputs go to --out (default a new runs/<timestamp>/).")
    p.add_argument("config", help="session config (TOML), e.g. configs/demo.toml")
    p.add_argument("--duration", type=float, metavar="S", help="session length, s (sets session.duration_s)")
    p.add_argument("--out", metavar="DIR", help="output directory (refused if it holds a session, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace the session already in --out")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set loop.rate_hz=2000 (repeatable)")
    p.add_argument("--fast", action="store_true", help="offline mode: no sleeping, as fast as possible")
    p.add_argument("--rt", action="store_true", help="ask for SCHED_FIFO, affinity, mlockall (best effort); rtcore's other threads leave the loop's CPU")
    p.add_argument("--view", action="store_true", help="open the MuJoCo passive viewer (needs a display)")
    p.add_argument("--quiet", action="store_true", help="no live status, only the final lines")
    p.add_argument("--resume", metavar="DIR", help="start from the learned state of DIR/state.npz (sets resume.from)")
    p.add_argument("--resume-parts", metavar="PARTS", help="comma-separated parts to resume, e.g. forward_model,decoder")
    p.add_argument("--dashboard", action="store_true",
                   help="serve the live operator page on 127.0.0.1 (needs the dashboard extra); prints its URL")
    p.add_argument("--dashboard-host", metavar="HOST",
                   help="serve the page on this address instead (implies --dashboard; the page then needs the printed token)")
    p.add_argument("--dashboard-port", type=int, metavar="PORT", help="the page's port (default: a free one)")
    p.add_argument("--allow-companion-set", action="store_true",
                   help="accept --set on [[companion]] keys (a companion's command runs as a program)")
    p.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    from rtcore import config, preflight, runs, supervisor
    overrides = list(args.set)
    for item in overrides:
        if item.split("=", 1)[0].strip().split(".")[0] == "companion" and not args.allow_companion_set:
            raise ConfigError(f"{args.config}: --set {item.split('=', 1)[0].strip()}: a companion's command runs "
                              f"as a program; refused unless --allow-companion-set is given")
    if args.duration is not None:
        if not args.duration > 0:
            raise ConfigError(f"{args.config}: --duration {args.duration:g}: the session length must be > 0 s "
                              f"(leave --duration out to use the config's session.duration_s)")
        overrides.append(f"session.duration_s={args.duration}")
    if args.fast:
        overrides.append("loop.realtime=false")
    if args.rt:
        overrides.append("loop.rt=true")
    if args.resume is not None:
        overrides.append(f"resume.from={json.dumps(args.resume)}")
    if args.resume_parts is not None:
        overrides.append(f"resume.parts={json.dumps([p.strip() for p in args.resume_parts.split(',') if p.strip()])}")
    if args.dashboard or args.dashboard_host:
        overrides.append("dashboard.enabled=true")
    if args.dashboard_port is not None:
        overrides.append(f"dashboard.port={args.dashboard_port}")
    cfg = preflight.check(config.load(args.config, overrides), args.config)
    if cfg.dashboard.enabled:
        from rtcore.dashboard.server import MISSING, require_bokeh
        try:
            require_bokeh()
        except ImportError:
            raise ConfigError(f"{args.config}: [dashboard] enabled: {MISSING}") from None
    from devices.lsl import logfile, run_id, scope
    scope.apply(cfg.lsl)  # LSLAPICFG (and the loopback shim) for the child and the companions
    run_id.start()  # the child and the companions inherit it: this run's streams carry it
    try:
        out = args.out or cfg.session.out
        out = runs.claim_out(out, args.overwrite) if out else runs.new_run_dir()
    except runs.OutDirError as e:
        print(e, file=sys.stderr)
        return 2
    logfile.to_file(os.path.join(out, "lsl.log"))  # liblsl's own lines, of every process of the run
    with StopRequests() as stops:
        outcome = supervisor.run(cfg, args.config, out, view=args.view, live=False if args.quiet else None,
                                 stops=stops, dashboard_host=args.dashboard_host or "127.0.0.1")
        s = outcome.summary
        print(_final_lines(s, out))
        for m in outcome.messages:
            print(m)
        _report(out, stops)
        print(_verdict_line(s, outcome.exit_code), flush=True)
    return outcome.exit_code


def _report(out: str, stops) -> None:
    """report.html, unless the user asked twice to stop; a report problem never changes the exit code."""
    if stops.repeated:
        print("  report: skipped (asked twice to stop)")
        return
    page = None
    try:
        with stops.interruptible():
            from rtcore import report
            page = report.write(out)[1]
    except Interrupted:
        pass
    except Exception as e:
        if not stops.repeated:
            print(f"  report: not written ({type(e).__name__}: {e})")
            return
    if stops.repeated:
        # asked again while it was written: a stop that lands inside matplotlib can be swallowed
        # there or surface as matplotlib's own error, so what was written goes
        for name in ("report.html", "report.png"):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
        print("  report: skipped (asked twice to stop)")
        return
    print(f"  report: {page}")


def _final_lines(s: dict, out: str) -> str:
    lines = [f"session ended: {s['exit_reason']}",
             f"  ticks {s['ticks']} at {s['rate_hz']:g} Hz ({s['duration_s']:.3f} s simulated, "
             f"realtime factor {s['realtime_factor']}), deadline misses {s['deadline_misses']}"]
    if s.get("wake_latency_us"):
        w, c = s["wake_latency_us"], s["compute_us"]
        lines.append(f"  wake latency p50/p99/max {w['p50']}/{w['p99']}/{w['max']} us, "
                     f"compute p50/p99 {c['p50']}/{c['p99']} us, compile {s['compile_s']} s")
    if s.get("status_counts"):
        lines.append(f"  status counts: {json.dumps(s['status_counts'])}")
    if s.get("resumed"):
        r = s["resumed"]
        lines.append(f"  resumed {', '.join(r['parts']) or 'nothing'} from {r['from']} "
                     f"(after {r['break_h']:g} h; kept slow x{r['retention']['slow']:.3g}, fast x{r['retention']['fast']:.3g})")
    if s.get("checkpoint") and s["checkpoint"]["path"]:
        lines.append(f"  checkpoint: {s['checkpoint']['path']} ({s['checkpoint']['writes']} writes)")
    lines.append(f"  outputs: {out}/summary.json")
    return "\n".join(lines)


def _verdict_line(s: dict, code: int) -> str:
    """The terminal's last line: the verdict, the exit code and why (rtcore.verdict)."""
    return f"{s['verdict']} (exit code {code}): " + "; ".join(s["reasons"] or [s["exit_reason"]])


def _add_bench(sub):
    p = sub.add_parser("bench", help="time the compiled tick vs the same code with the JIT off",
                       description="Benchmarks report; they never assert times.")
    p.add_argument("--config", default=None, help="session to time (default: configs/bench/tick.toml, the demo chain without I/O)")
    p.add_argument("--ticks", type=int, default=20000, help="compiled offline ticks")
    p.add_argument("--nojit-ticks", type=int, default=500, help="ticks with NUMBA_DISABLE_JIT=1")
    p.add_argument("--jitter-s", type=float, default=3.0, help="seconds of real-time 1 kHz wake jitter")
    p.add_argument("--out", default=None, help="JSON results (default runs/<timestamp>/bench.json)")
    p.set_defaults(handler=cmd_bench)


def cmd_bench(args) -> int:
    from devices.lsl import logfile
    from rtcore import bench, runs
    if args.out is None:
        args.out = os.path.join(runs.new_run_dir(), "bench.json")
    logfile.to_file(os.path.join(os.path.dirname(os.path.abspath(args.out)), "lsl.log"))
    results = bench.run(args.config, args.ticks, args.nojit_ticks, args.jitter_s)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)
    print(bench.table(results))
    print(f"written: {args.out}")
    return 0


def _add_family_commands(sub):
    """Subcommands that live beside the code they drive (imported here, run on demand)."""
    from devices.emulators.cli import add_emulate_parser, add_ports_parser
    from devices.lsl.cli import add_source_parser, add_streams_parser
    from rtcore.dashboard.cli import add_dashboard_parser
    from rtcore.decoders.calibrate_cli import add_calibrate_parser
    from rtcore.protocol import add_protocol_parser
    from rtcore.replay_cli import add_replay_parser
    from rtcore.report import add_report_parser
    from rtcore.sweep_cli import add_sweep_parser
    for add in (add_streams_parser, add_source_parser, add_calibrate_parser, add_emulate_parser,
                add_ports_parser, add_replay_parser, add_report_parser, add_sweep_parser, add_protocol_parser,
                add_dashboard_parser):
        add(sub)


def entry() -> None:
    """The `rtcore` command: main(), then exit without the interpreter's teardown, which takes
    ~0.5 s of every command's end once Numba and matplotlib are loaded (their objects are freed
    one by one). Every file is closed by then; stdout and stderr are flushed here."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    entry()
