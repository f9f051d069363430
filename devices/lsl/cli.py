"""`rtcore streams` (list visible LSL streams) and `rtcore source emg|neural` (publish a synthetic user).

rtcore/cli.py wires them in: add_streams_parser(sub) and add_source_parser(sub) register the
subcommands with `handler` set to cmd_streams / cmd_source (each returns an exit code).
"""
import pylsl

DEFAULTS = {"emg": (8, 2000.0, "rtcore-sim-emg"), "neural": (64, 20.0, "rtcore-sim-neural")}


def list_streams(wait_s: float = 1.0) -> list[dict]:
    """Every stream visible within wait_s: name, type, channels, rate_hz, source_id, host, age_s."""
    out = []
    now = pylsl.local_clock()
    for s in {s.uid(): s for s in pylsl.resolve_streams(wait_s)}.values():
        out.append({"name": s.name(), "type": s.type(), "channels": s.channel_count(),
                    "rate_hz": s.nominal_srate(), "source_id": s.source_id(), "host": s.hostname(),
                    "age_s": round(now - s.created_at(), 1)})
    return sorted(out, key=lambda d: (d["name"], d["source_id"]))


def format_streams(streams: list[dict]) -> str:
    """A plain table, one stream per line; a name that several streams share is marked DUPLICATE
    (a session that resolves it by name alone refuses to start), with a note below the table."""
    if not streams:
        return "no LSL streams visible"
    names = [d["name"] for d in streams]
    dups = sorted({n for n in names if names.count(n) > 1})
    head = ("name", "type", "channels", "rate_hz", "source_id", "host", "age_s", "")
    rows = [head] + [tuple("irregular" if (k == "rate_hz" and d[k] == 0) else
                           (f"{d[k]:g}" if k == "rate_hz" else
                            ("DUPLICATE" if d["name"] in dups else "") if k == "" else str(d[k])) for k in head)
                     for d in streams]
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    table = "\n".join("  ".join(r[c].ljust(widths[c]) for c in range(len(head))).rstrip() for r in rows)
    notes = [f"{names.count(n)} streams are named '{n}': select one by source_id" for n in dups]
    return "\n".join([table] + notes)


def cmd_streams(args) -> int:
    print(format_streams(list_streams(args.wait)))
    return 0


def add_streams_parser(sub):
    p = sub.add_parser("streams", help="list the LSL streams visible from this machine")
    p.add_argument("--wait", type=float, default=1.0, help="how long to listen for streams, s (default 1)")
    p.set_defaults(handler=cmd_streams)
    return p


def cmd_source(args) -> int:
    from devices.lsl import logfile
    from sims.users.standalone import publish
    n, rate, name = DEFAULTS[args.kind]
    logfile.to_file(args.log or logfile.default_path(f"source-{args.name or name}"))
    publish(args.kind, args.channels or n, args.rate or rate, args.name or name, session=args.session,
            seed=args.seed, duration_s=args.duration, overrides=args.set)
    return 0


def add_source_parser(sub):
    p = sub.add_parser("source", help="publish a synthetic user (EMG or intracortical counts) as an LSL stream")
    p.add_argument("kind", choices=sorted(DEFAULTS), help="emg: raw EMG; neural: spike counts per bin")
    p.add_argument("--channels", type=int, default=None, help="electrodes (emg, default 8) or units (neural, default 64)")
    p.add_argument("--rate", type=float, default=None, help="samples per s (emg default 2000; neural: bins per s, default 20)")
    p.add_argument("--name", default=None, help="LSL stream name and source_id (default rtcore-sim-<kind>)")
    p.add_argument("--session", default=None, help="follow this engine session's state and target outlets")
    p.add_argument("--seed", type=int, default=0, help="seed of the user's tuning and noise")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--log", default=None, help="liblsl's log file (default ~/.cache/rtcore/logs/source-<name>.log)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any key of the user's [source] config (synthetic_emg / synthetic_neural), e.g. kp_n_per_m=25")
    p.set_defaults(handler=cmd_source)
    return p
