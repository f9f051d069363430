"""`rtcore dashboard PATH`: serve a finished run's page, or the browser over a folder of runs."""
import os
import sys
import time


def add_dashboard_parser(sub):
    p = sub.add_parser("dashboard", help="show a finished session (or browse past runs) in the web page",
                       description="Serve the operator page of a finished run folder, or an index of the "
                                   "runs in a folder (e.g. runs/). Stop with Ctrl-C.")
    p.add_argument("path", help="a run folder (with summary.json), or a folder of runs")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (not loopback: a token is required)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    p.set_defaults(handler=cmd_dashboard)


def cmd_dashboard(args) -> int:
    from rtcore.dashboard.server import Dashboard, require_bokeh
    from rtcore.lifeline import StopRequests
    try:
        require_bokeh()
    except ImportError as e:
        print(e, file=sys.stderr)
        return 2
    if not os.path.isdir(args.path):
        print(f"{args.path}: no such folder", file=sys.stderr)
        return 2
    from rtcore.dashboard.finished import finished_document, index_document, is_run, run_document
    if is_run(args.path):
        if not os.path.isfile(os.path.join(args.path, "session.xdf")):
            print(f"{args.path}: no session.xdf in this run folder", file=sys.stderr)
            return 2
        apps = finished_document(args.path)
    else:
        apps = {"/": index_document(args.path), "/run": run_document(args.path)}
    page = Dashboard(apps, args.host, args.port)
    print(f"dashboard: {page.url} (Ctrl-C to stop)", flush=True)
    with StopRequests() as stops:
        while not stops.requested:
            time.sleep(0.2)
    page.close()
    return 0
