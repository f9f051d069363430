"""`rtcore sweep FILE --out DIR`: run (or resume) an offline parameter sweep (rtcore/sweep.py)."""
import sys


def add_sweep_parser(sub):
    p = sub.add_parser("sweep", help="run an offline parameter sweep (grid of config overrides x seeds)",
                       description="Run every point of a sweep file offline; results keyed by config hash, "
                                   "so re-running resumes. Outputs: OUT/results.csv, OUT/points/*.json, "
                                   "OUT/sweep.png. Uses Ray when installed (pip install -e \".[sweep]\").")
    p.add_argument("sweep", help="sweep file (TOML), e.g. configs/sweeps/delay_vs_gain.toml")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (re-use it to resume)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster: ray://host:port or auto (default: local Ray)")
    p.add_argument("--workers", type=int, metavar="N", help="local Ray worker CPUs (default: all cores)")
    p.add_argument("--serial", action="store_true", help="run in this process even when Ray is installed")
    p.add_argument("--max-points", type=int, metavar="N", help="stop after N new runs (resume later)")
    p.set_defaults(handler=cmd_sweep)


def cmd_sweep(args) -> int:
    from rtcore.sweep import run_sweep
    res = run_sweep(args.sweep, args.out, address=args.address, workers=args.workers, max_points=args.max_points,
                    use_ray=False if args.serial else None)
    print(f"{args.out}/results.csv: {res['total']} runs ({res['skipped']} already done, {res['ran']} ran, "
          f"{res['failed']} failed) in {res['wall_s']:.1f} s [{res['backend']}]", file=sys.stderr)
    return 0 if res["failed"] == 0 else 1
