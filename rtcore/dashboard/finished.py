"""`rtcore dashboard PATH`: a finished session's page, or a browser over past runs.

PATH is a run folder (session.xdf + summary.json): its page shows the whole session the way the
live page did (the recorded rows go through the same LiveFeed, decimated to fit a screen), with the
report's figure (report.png) below. PATH is a folder of runs (e.g. runs/): the index lists them,
newest first, with date, config, verdict and key metrics, each linking to its page.
"""
import base64
import datetime
import html
import json
import os

from rtcore.dashboard.feed import LiveFeed
from rtcore.dashboard.link import FinishedLink
from rtcore.dashboard.page import SHOWN, make_document

SCREEN_POINTS = 5000  #: rows per trace of a finished session's page


def is_run(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "summary.json"))


def finished_document(run_dir: str):
    """A function filling a Bokeh document with the page of the finished run in run_dir."""
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    from rtcore import recording
    rec = recording.load(run_dir)
    rows, columns, streams, rate = rec["rows"], rec["columns"], rec["streams"], rec["rate_hz"]
    seconds = max(rows.shape[0] / rate, 1.0 / rate)
    feed = LiveFeed(columns, streams, rate, SHOWN, history_s=seconds, display_hz=min(rate, SCREEN_POINTS / seconds))
    feed.push(rows)
    feed.successes = sum(1 for x in ((summary.get("task") or {}).get("trials") or {}).get("success") or [] if x)
    link = FinishedLink(summary)
    report = os.path.join(run_dir, "report.png")

    def make(doc):
        from bokeh.models import Div
        make_document(doc, feed, link, summary.get("config", {}).get("session", {}).get("name", run_dir))
        if os.path.isfile(report):
            with open(report, "rb") as fh:
                png = base64.b64encode(fh.read()).decode()
            doc.add_root(Div(text=f"<h3>report</h3><img src='data:image/png;base64,{png}' style='max-width:900px'>"))
    return make


def index_document(runs_dir: str):
    """A function filling a Bokeh document with the table of the runs under runs_dir."""
    def make(doc):
        from bokeh.models import Div
        rows = "".join(_index_row(runs_dir, name) for name in _runs(runs_dir))
        doc.add_root(Div(name="runs", text=f"<h2>runs in {html.escape(os.path.abspath(runs_dir))}</h2>"
                         "<table><tr><th>date</th><th>run</th><th>session</th><th>verdict</th><th>duration</th>"
                         "<th>misses</th><th>trials</th><th>success</th></tr>" + rows + "</table>"))
        doc.title = "rtcore · runs"
    return make


def run_document(runs_dir: str):
    """The page of one run of the index, chosen by the URL's ?run=NAME."""
    def make(doc):
        args = doc.session_context.request.arguments if doc.session_context else {}
        name = (args.get("run") or [b""])[0].decode()
        if name not in _runs(runs_dir):
            from bokeh.models import Div
            doc.add_root(Div(text=f"no run named {html.escape(name)!r} in {html.escape(runs_dir)}"))
            return
        finished_document(os.path.join(runs_dir, name))(doc)
    return make


def _runs(runs_dir: str) -> list:
    names = [n for n in os.listdir(runs_dir) if is_run(os.path.join(runs_dir, n))]
    return sorted(names, key=lambda n: os.path.getmtime(os.path.join(runs_dir, n, "summary.json")), reverse=True)


def _index_row(runs_dir: str, name: str) -> str:
    path = os.path.join(runs_dir, name, "summary.json")
    try:
        with open(path) as fh:
            s = json.load(fh)
    except (OSError, ValueError) as e:
        return f"<tr><td colspan=8>{html.escape(name)}: unreadable summary.json ({html.escape(str(e))})</td></tr>"
    when = datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime("%Y-%m-%d %H:%M")
    task = s.get("task") if isinstance(s.get("task"), dict) else {}
    success = [x for x in (task.get("trials") or {}).get("success") or [] if x is not None]
    rate = f"{100.0 * sum(map(bool, success)) / len(success):.0f}%" if success else ""
    ticks = s.get("ticks", 0)
    hz = s.get("config", {}).get("loop", {}).get("rate_hz", 1000.0)
    cells = [when, f"<a href='/run?run={html.escape(name)}'>{html.escape(name)}</a>",
             html.escape(s.get("config", {}).get("session", {}).get("name", "")), html.escape(s.get("verdict", "?")),
             f"{ticks / hz:.1f} s", str(s.get("deadline_misses", "")), str(task.get("n_done", "")), rate]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
