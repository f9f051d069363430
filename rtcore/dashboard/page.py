"""The operator page: one Bokeh document per browser tab, fed by a LiveFeed.

Layout, top to bottom: the status line (ticks, rate, misses, wake p99, hold, dropped rows, the
verdict so far, block, trial, successes); the operator controls (pause/resume, next block, stop
with confirmation, a free-text marker); state, prediction and delayed feedback overlaid; the live
input (a heat map for wide ones, e.g. binned spike counts), decoded signals, command and SPE;
the learning curve (peak lateral deviation per trial, coloured by block) and the latest hand paths
with their targets.

A periodic callback every UPDATE_MS streams what is new since the tab's last update (Bokeh sends
only the new points over its websocket). The page is built from the feed's signal table, so a
session without a signal gets no empty panel.
"""
import math

import numpy as np

UPDATE_MS = 40  #: the page's update period, ms (25 updates a second)
WIDTH = 900
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
OVERLAY = (("state", "solid"), ("prediction", "dashed"), ("feedback", "dotted"), ("estimate", "dotdash"))
#: the panels below the overlay, in order, when the session has the signal: the input (raw EMG or
#: binned spike counts), what the decoder made of it, the command, and the SPE
PANELS = ("input", "intended_activation", "intended_velocity", "command", "spe")
SHOWN = tuple(n for n, _ in OVERLAY) + PANELS  #: the signals the page draws (the feed keeps their traces)


def make_document(doc, feed, link, title: str) -> None:
    """Fill `doc` (a bokeh Document) with the page of one session. link: rtcore.dashboard.link
    (status and operator actions), or a finished session's link (read-only)."""
    from bokeh.layouts import column, row
    from bokeh.models import Button, Div, TextInput, Toggle

    status = Div(name="status", text="", width=WIDTH)
    updates = {"n": 0}
    panels, streamers = [], []
    for name in (n for n in PANELS if n in feed.traces):
        fig, stream = (_heat_map if feed.is_wide(name) else _lines)(feed, name)
        panels.append(fig)
        streamers.append(stream)
    overlay = [n for n, _ in OVERLAY if n in feed.traces]
    if overlay:
        fig, stream = _overlay(feed, overlay)
        panels.insert(0, fig)
        streamers.insert(0, stream)
    curve_fig, paths_fig, learn = _learning(feed)
    controls = []
    if link.live:
        pause = Toggle(name="pause", label="pause task", button_type="warning", width=140)
        nxt = Button(name="next_block", label="next block", width=140)
        stop = Button(name="stop", label="stop session", button_type="danger", width=140)
        text = TextInput(name="marker_text", placeholder="marker text", width=260)
        send = Button(name="send_marker", label="add marker", width=120)
        pause.on_change("active", lambda _a, _o, on: link.pause(on) or
                        setattr(pause, "label", "resume task" if on else "pause task"))
        nxt.on_click(lambda: link.next_block())
        _confirm(stop, "Stop the session? The recording and the summary are kept.")
        stop.on_click(lambda: link.stop())
        send.on_click(lambda: (link.marker(text.value), setattr(text, "value", "")))
        controls = [row(pause, nxt, stop, text, send)]

    def update():
        updates["n"] += 1
        status.text = _status_html(title, link.status(), feed.task(), updates["n"])
        for stream in streamers:
            stream()
        learn()

    update()
    doc.add_root(column(status, *controls, *panels, row(curve_fig, paths_fig)))
    doc.title = f"rtcore · {title}"
    if link.live:
        doc.add_periodic_callback(update, UPDATE_MS)


def _confirm(button, question: str) -> None:
    """Ask in the browser before the button's Python callback runs (a cancelled click sends nothing)."""
    from bokeh.models import CustomJS
    button.js_on_event("button_click", CustomJS(args={"q": question}, code="if (!confirm(q)) { throw 'cancelled'; }"))


def _figure(title: str, unit: str, height: int = 170, **kw):
    from bokeh.plotting import figure
    fig = figure(title=f"{title} ({unit})" if unit else title, width=WIDTH, height=height, x_axis_label="session time (s)",
                 tools="xpan,xwheel_zoom,reset", **kw)
    fig.toolbar.logo = None
    return fig


def _lines(feed, name: str):
    from bokeh.models import ColumnDataSource
    tr = feed.traces[name]
    keys = [f"c{k}" for k in range(len(tr.labels))]
    src = ColumnDataSource({"t": [], **{k: [] for k in keys}}, name=f"trace:{name}")
    fig = _figure(name, tr.unit)
    for k, (key, label) in enumerate(zip(keys, tr.labels)):
        fig.line("t", key, source=src, color=PALETTE[k % len(PALETTE)], legend_label=label)
    fig.legend.location, fig.legend.label_text_font_size = "top_left", "8pt"
    return fig, _streamer(feed, {name: (src, keys)}, tr.t.size)


def _overlay(feed, names: list):
    """State, prediction, delayed feedback and estimate, first two channels (hand x, y) overlaid."""
    from bokeh.models import ColumnDataSource
    fig = _figure(" · ".join(names), feed.traces[names[0]].unit.split(",")[0])
    routes = {}
    for (name, dash) in ((n, d) for n, d in OVERLAY if n in names):
        tr = feed.traces[name]
        keys = [f"c{k}" for k in range(min(2, len(tr.labels)))]
        src = ColumnDataSource({"t": [], **{k: [] for k in keys}}, name=f"trace:{name}")
        for k, key in enumerate(keys):
            fig.line("t", key, source=src, color=PALETTE[k], line_dash=dash, legend_label=f"{name} {tr.labels[k]}")
        routes[name] = (src, keys)
    fig.legend.location, fig.legend.label_text_font_size = "top_left", "8pt"
    return fig, _streamer(feed, routes, feed.traces[names[0]].t.size)


def _streamer(feed, routes: dict, rollover: int):
    seqs = {}

    def stream():
        for name, (t, v) in feed.since(seqs).items():
            if name in routes:
                src, keys = routes[name]
                src.stream({"t": t, **{k: v[:, j] for j, k in enumerate(keys)}}, rollover=rollover)
    return stream


def _heat_map(feed, name: str):
    """A wide signal (e.g. 96 binned spike counts) as channels x time, the latest history."""
    from bokeh.models import ColumnDataSource, LinearColorMapper
    tr = feed.traces[name]
    src = ColumnDataSource({"image": [np.zeros((len(tr.labels), 1))], "x": [0.0], "dw": [1.0]}, name=f"trace:{name}")
    fig = _figure(name, tr.unit, height=220, y_range=(0, len(tr.labels)))
    fig.image("image", x="x", y=0, dw="dw", dh=len(tr.labels), source=src,
              color_mapper=LinearColorMapper(palette="Viridis256"))
    seqs = {}

    def stream():
        if feed.since(seqs).get(name) is None:
            return
        with feed.lock:
            _seq, t, v = tr.since(0)
        if t.size > 1:
            src.data = {"image": [np.nan_to_num(v.T)], "x": [float(t[0])], "dw": [float(t[-1] - t[0])]}
    return fig, stream


def _learning(feed):
    """The learning curve (error per trial, by block) and the latest hand paths with their targets."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure
    curve = ColumnDataSource({"trial": [], "error_mm": [], "color": []}, name="learning_curve")
    curve_fig = figure(title="learning curve: peak lateral deviation per trial (mm)", width=WIDTH // 2, height=300,
                       x_axis_label="trial", tools="pan,wheel_zoom,reset")
    curve_fig.scatter("trial", "error_mm", source=curve, color="color", size=5)
    paths = ColumnDataSource({"xs": [], "ys": []}, name="hand_paths")
    targets = ColumnDataSource({"x": [], "y": []}, name="targets")
    paths_fig = figure(title="hand paths and targets (m)", width=WIDTH // 2, height=300, match_aspect=True,
                       tools="pan,wheel_zoom,reset")
    paths_fig.multi_line("xs", "ys", source=paths, color="#555555", alpha=0.6)
    paths_fig.scatter("x", "y", source=targets, size=14, fill_alpha=0.2, color="#d62728")
    for f in (curve_fig, paths_fig):
        f.toolbar.logo = None
    seen = {"n": 0}

    def learn():
        new = feed.curve(seen["n"])
        if not new:
            return
        seen["n"] += len(new)
        curve.stream({"trial": [t.index for t in new],
                      "error_mm": [1000.0 * t.error_m if math.isfinite(t.error_m) else None for t in new],
                      "color": [PALETTE[t.block % len(PALETTE)] for t in new]}, rollover=len(feed.trials))
        latest = list(feed.trials)[-24:]
        paths.data = {"xs": [list(t.path[:, 0]) for t in latest], "ys": [list(t.path[:, 1]) for t in latest]}
        tg = {t.target for t in latest if math.isfinite(t.target[0])}
        targets.data = {"x": [p[0] for p in tg], "y": [p[1] for p in tg]}
    return curve_fig, paths_fig, learn


def _status_html(title: str, st: dict, task: dict, n: int) -> str:
    """The status line: the session's health, its verdict so far and the task's progress."""
    parts = [f"<b>{title}</b>", f"ticks <span id='ticks'>{st['ticks']}</span>", f"rate {st['rate_hz']:.0f} Hz",
             f"misses {st['misses']}", f"wake p99 {st['wake_p99_us']:.0f} µs", f"hold {st['hold']}",
             f"dropped {st['dropped']}", f"verdict so far <b>{st['verdict']}</b>"]
    if task["block"] >= 0:
        parts += [f"block {task['block']}", f"trial {task['trial']}", f"successes {task['successes']}"]
    if st.get("paused"):
        parts.append("<b style='color:#b36b00'>task paused</b>")
    return " · ".join(parts) + f"<span data-update='{n}'></span>"
