"""The live operator view: a local web page for a running session, and for finished ones.

`rtcore run CONFIG --dashboard` (or `[dashboard] enabled = true`) serves the page from the
supervising parent, fed from the rows it drains from the loop's ring for the recording (never the
hot path), and prints its URL. `rtcore dashboard runs/DIR` shows a finished session from its
session.xdf and summary.json; `rtcore dashboard runs/` lists past runs.

- feed.py: decimated traces, per-trial kinematics and task counters, from recorded rows;
- page.py: the Bokeh document (status, controls, live panels, learning curve, hand paths);
- link.py: the page's status and the operator's actions (through the parent's control block);
- server.py: the Bokeh server thread, host check and token;
- finished.py: finished sessions and the run browser.
"""
import os
import sys

from rtcore.dashboard.server import MISSING, Dashboard, require_bokeh

__all__ = ["MISSING", "Dashboard", "require_bokeh", "serve_live"]


def serve_live(cfg, ctrl, drain, recorder, stops, ready: dict, host: str, messages: list):
    """Start the page of a running session; returns its Dashboard (close() it), or None when the
    server could not start (one line in messages: the session goes on without it)."""
    from rtcore.dashboard.feed import LiveFeed
    from rtcore.dashboard.link import LiveLink
    from rtcore.dashboard.page import SHOWN, make_document
    feed = LiveFeed(ready["columns"], ready["streams"], cfg.loop.rate_hz, SHOWN)
    drain.listeners.append(feed.push)
    link = LiveLink(cfg, ctrl, drain, recorder, stops)
    try:
        page = Dashboard(lambda doc: make_document(doc, feed, link, cfg.session.name), host, cfg.dashboard.port)
    except OSError as e:
        messages.append(str(e))
        return None
    print(f"dashboard: {page.url}", flush=True)
    if page.token:
        print(f"dashboard: serving on {host}, not loopback: the page needs the token in this URL", file=sys.stderr)
    if ready["rt"].get("others_off_cpu") is True:  # --rt: rtcore keeps off the loop's CPU; a browser should too
        cpu = ready["rt"]["cpu"]
        others = ",".join(str(c) for c in sorted(os.sched_getaffinity(0) - {cpu}))
        print(f"dashboard: the loop has CPU {cpu}; keep the browser off it (taskset -c {others} chromium URL): "
              f"sharing it, the page's work delays the loop", file=sys.stderr)
    return page
