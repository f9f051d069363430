"""Per-session report: DIR/report.png and DIR/report.html from session.xdf and summary.json.

The page: the verdict and the session's figures (rounded), the blocks, one row per trial, the
resolved config, and the figure. The figure has only the panels the session has data for:
learning curve (per-trial error, blocks shaded, catch trials marked; with a curl field the error
toward the field relative to baseline), hand paths per block (early vs late trials, catch trials
dashed), SPE over time, EMG (a raw window, the rectified envelope and the activations), the
decoder's output (decoded velocity, force or torque) against the user's intent when known,
commanded versus measured joints (joint-space plants: serial arms, the elbow), timing
histograms (wake latency, compute) and decoder performance (successes per minute).

Memory does not grow with the session: session.xdf is read chunk by chunk (rtcore.xdf_load.scan),
each stream is thinned to at most max_points samples (every k-th sample, k doubling as the
stream grows), the timing columns go into fixed histograms, and the EMG window is the first
WINDOW_S seconds of raw input after the first second.
`figure(DIR)` returns the matplotlib Figure (tests read its axes); `write(DIR)` saves both files.
"""
import html
import json
import math
import os

import numpy as np

BLOCK_COLORS = ("#dddddd", "#fde0c5", "#c6e2f5", "#d9f0d3", "#e8d5f0")
MAX_POINTS = 200_000  #: samples kept per stream (thinned above that)
WINDOW_S = (1.0, 3.0)  #: raw EMG shown from .. to, s after the first input sample
TIMING_BINS_US = np.geomspace(0.1, 1e6, 141)  #: histogram edges of wake latency and compute, us


class Thinned:
    """Every k-th sample of a stream (global index multiple of k), k doubling whenever more than
    max_points are kept: a uniform thinning in O(max_points) memory whatever the stream's length."""

    def __init__(self, max_points: int):
        self.max_points, self.k, self.seen = max_points, 1, 0
        self.t, self.v = [], []
        self.kept = 0

    def add(self, t, v) -> None:
        first = (-self.seen) % self.k
        self.t.append(t[first::self.k].copy())  # copies: a view would keep the whole chunk alive
        self.v.append(v[first::self.k].copy())
        self.kept += self.t[-1].size
        self.seen += t.size
        while self.kept > self.max_points:
            t_all, v_all = self.arrays()
            self.t, self.v = [t_all[::2]], [v_all[::2]]
            self.kept, self.k = self.t[0].size, 2 * self.k

    def arrays(self):
        if len(self.t) > 1:
            self.t, self.v = [np.concatenate(self.t)], [np.concatenate(self.v)]
        return (self.t[0], self.v[0]) if self.t else (np.zeros(0), np.zeros((0, 0)))


class Recorded:
    """What the report reads from session.xdf, bounded: per stream its info and thinned samples,
    the marker names, timing histograms and a raw window of the input."""

    def __init__(self, path: str, max_points: int = MAX_POINTS):
        from rtcore import xdf_load
        self.info, self.series, self.markers = {}, {}, []
        self.window = []
        self.hist = {"wake_latency_us": np.zeros(TIMING_BINS_US.size - 1), "compute_us": np.zeros(TIMING_BINS_US.size - 1)}
        names, t_first = {}, None
        if not os.path.exists(path):
            return
        for item in xdf_load.scan(path):
            if item[0] == "stream":
                _, sid, info = item
                names[sid] = info["name"]
                self.info[info["name"]] = info
                self.series[info["name"]] = Thinned(max_points)
            elif item[0] == "samples":
                _, sid, t, v = item
                name = names[sid]
                if isinstance(v, list):
                    self.markers += list(zip(t.tolist(), v))
                    continue
                self.series[name].add(t, v)
                if name == "timing":
                    for col, key in ((2, "wake_latency_us"), (3, "compute_us")):
                        self.hist[key] += np.histogram(v[:, col], TIMING_BINS_US)[0]
                if name == "input" and t.size:
                    t_first = t[0] if t_first is None else t_first
                    sel = (t >= t_first + WINDOW_S[0]) & (t < t_first + WINDOW_S[1])
                    if sel.any():
                        self.window.append((t[sel] - t_first, v[sel]))
        self.t0 = float(self.series["timing"].arrays()[0][0]) if "timing" in self.series and self.series["timing"].seen else 0.0

    def get(self, name):
        """(t - t0 [n], values [n, n_ch]) of a stream, or (None, None) without samples."""
        st = self.series.get(name)
        if st is None or st.seen == 0:
            return None, None
        t, v = st.arrays()
        return t - self.t0, v

    def channels(self, name) -> list:
        return self.info[name]["channels"] if name in self.info else []


def _at(t_src, v_src, t):
    """v_src held at times t (the last sample at or before each t)."""
    return v_src[np.maximum(np.searchsorted(t_src, t, side="right") - 1, 0)]


def _load(run_dir: str, max_points: int = MAX_POINTS):
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    return summary, Recorded(os.path.join(run_dir, "session.xdf"), max_points)


def panels(summary, rec) -> list:
    """[(title, draw(ax))] of the panels this session has data for, in reading order."""
    task = summary.get("task") or {}
    tr = task.get("trials") or {}
    blocks = [b["name"] for b in task.get("blocks", [])]
    out = []
    if tr.get("trial"):
        out.append(("Learning curve", lambda ax: _learning_curve(ax, task, blocks)))
    hand = [u for _l, u, _t in rec.channels("state")[:2]] == ["m", "m"]
    if hand and rec.get("trial")[0] is not None and rec.get("state")[0] is not None:
        catch = {int(n) for n, c in zip(tr.get("trial", []), tr.get("catch", [])) if c}
        reached = [b for b, blk in enumerate(task.get("blocks", [])) if blk.get("n_done")][:3]
        for b in reached if blocks else [0]:
            out.append((f"Hand paths: {blocks[b]}" if blocks else "Hand paths",
                        lambda ax, b=b: _paths(ax, rec, blocks, b, catch)))
    if rec.get("spe")[0] is not None:
        out.append(("SPE over time", lambda ax: _spe(ax, rec)))
    if rec.info.get("input", {}).get("type") == "EMG":
        out.append(("EMG: raw, envelope and activation", lambda ax: _emg(ax, rec)))
    decoded = _decoder_output(summary, rec)
    if decoded is not None:
        kind = _common([t for _l, _u, t in rec.channels(decoded)])
        out.append((f"Decoded {kind if kind not in ('misc', 'mixed') else 'output'} ({decoded})",
                    lambda ax: _decoded(ax, rec, decoded)))
    if [u for _l, u, _t in rec.channels("state")][:1] == ["rad"] and rec.get("command")[0] is not None:
        out.append(("Commanded vs measured joints", lambda ax: _joints(ax, rec)))
    if rec.get("timing")[0] is not None:
        out.append((f"Timing (deadline misses {summary.get('deadline_misses', 0)}, ring dropped "
                    f"{summary.get('ring_dropped_rows', 0)})", lambda ax: _timing(ax, rec)))
    if tr.get("trial") and "t_go_s" in tr:
        ok = np.array(tr["success"], float) > 0
        who = "Decoder" if (summary.get("config") or {}).get("decoder") else "Task"
        out.append((f"{who} performance ({ok.sum()}/{ok.size} successes)", lambda ax: _performance(ax, tr)))
    return out


def figure(run_dir: str, max_points: int = MAX_POINTS):
    """The report Figure of a recorded session (matplotlib, Agg): one axes per panel with data."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    summary, rec = _load(run_dir, max_points)
    chosen = panels(summary, rec)
    cols = 3 if len(chosen) > 2 else max(1, len(chosen))
    rows = max(1, math.ceil(len(chosen) / cols))
    fig = Figure(figsize=(5.5 * cols, 4.2 * rows + 0.6), layout="constrained")
    fig.suptitle(f"{(summary.get('config') or {}).get('session', {}).get('name', '')}: {summary.get('ticks', 0)} ticks, "
                 f"{summary.get('duration_s', 0):.1f} s, {summary.get('exit_reason', '')}")
    for k, (title, draw) in enumerate(chosen):
        ax = fig.add_subplot(rows, cols, k + 1)
        draw(ax)
        ax.set_title(title, fontsize=10)
    return fig


def _common(types) -> str:
    kinds = set(types)
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _learning_curve(ax, task, blocks):
    tr = task["trials"]
    trial = np.array(tr["trial"], float)
    if "endpoint_error_deg" in tr:  # a one-joint task (sims.paradigms.joint_tracking)
        err = np.array(tr["endpoint_error_deg"], float)
        ok = np.array(tr["success"], float) > 0
        ax.plot(trial[ok], err[ok], "o", ms=4, label="success")
        ax.plot(trial[~ok], err[~ok], "rx", label="timeout")
        ax.set_title("Tracking: error at trial end")
        ax.set_xlabel("trial")
        ax.set_ylabel("|angle - target| (deg)")
        ax.legend(loc="upper right", fontsize=8)
        return
    field = "field_error_m" in tr  # curl sessions: signed toward the field, relative to baseline
    err = np.array([np.nan if v is None else v for v in tr["field_error_m" if field else "perp_error_m"]], float) * 1000
    err = err if field else np.abs(err)
    block = np.array(tr["block"], float)
    catch = np.array(tr["catch"], float) > 0
    for b, name in enumerate(blocks):
        sel = trial[block == b]
        if sel.size:
            ax.axvspan(sel.min() - 0.5, sel.max() + 0.5, color=BLOCK_COLORS[b % len(BLOCK_COLORS)], zorder=0)
            ax.text(sel.mean(), 0.98, name, ha="center", va="top", transform=ax.get_xaxis_transform())
    ax.plot(trial[~catch], err[~catch], "o-", ms=3, label="reach")
    if catch.any():
        ax.plot(trial[catch], err[catch], "rx", label="catch (field off)")
    ax.set_xlabel("trial")
    if field:
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_ylabel("error at peak speed toward the field, vs baseline (mm)")
        _adaptation_note(ax, task.get("adaptation") or {})
    else:
        ax.set_ylabel("|perpendicular error| (mm)")
    ax.legend(loc="upper right", fontsize=8)


def _adaptation_note(ax, a):
    """Early/late exposure, catch after-effect and washout in mm, in the corner of the curve."""
    def mm(key):
        v = a.get(key)
        return "-" if v is None else f"{v * 1000:.1f}"
    frac = a.get("catch_opposite_fraction")
    ax.text(0.01, 0.02, f"exposure early {mm('early_exposure_m')} -> late {mm('late_exposure_m')} mm; "
            f"catch {mm('catch_mean_m')} mm ({'-' if frac is None else f'{100 * frac:.0f}%'} opposite); "
            f"washout first {mm('washout_first_m')}, last {mm('washout_last_m')} mm",
            transform=ax.transAxes, fontsize=7, va="bottom")


def _spe(ax, rec):
    t, spe = rec.get("spe")
    ax.plot(t, np.linalg.norm(spe[:, :min(2, spe.shape[1])], axis=1) * 1000, lw=0.6)
    _shade_blocks(ax, rec)
    tw, wn = rec.get("purkinje_norm")
    if tw is not None:
        ax2 = ax.twinx()
        ax2.plot(tw, wn[:, 0], color="tab:red", lw=0.8)
        ax2.set_ylabel("Purkinje ||W|| (red)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("|SPE| position (mm)")


def _shade_blocks(ax, rec):
    t, trial = rec.get("trial")
    if t is None:
        return
    block = trial[:, 1]
    edges = np.flatnonzero(np.diff(block)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, block.size] - 1
    for a, b in zip(starts, ends):
        ax.axvspan(t[a], t[b], color=BLOCK_COLORS[int(block[a]) % len(BLOCK_COLORS)], zorder=0)


def _paths(ax, rec, blocks, b, catch=frozenset()):
    ts, state = rec.get("state")
    tt, trial = rec.get("trial")
    trial = _at(tt, trial, ts)  # streams may be recorded at different rates (record.every_ticks)
    tg, tgt = rec.get("target")
    tgt = _at(tg, tgt, ts) if tgt is not None else None
    if tgt is not None and tgt.shape[1] == 1:  # a joint angle and its target (one-joint task)
        sel = trial[:, 1] == b
        ax.plot(ts[sel], np.degrees(state[sel, 0]), lw=0.8, label="angle")
        ax.plot(ts[sel], np.degrees(tgt[sel, 0]), "k--", lw=0.8, label="target")
        ax.set_title(f"Joint angle: {blocks[b]}" if blocks else "Joint angle")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("angle (deg)")
        ax.legend(loc="upper right", fontsize=8)
        return
    idx = trial[:, 0].astype(int)
    in_block = np.unique(idx[trial[:, 1] == b])
    caught = np.array([n for n in in_block if n in catch], int)
    in_block = np.setdiff1d(in_block, caught)
    half = in_block.size // 2
    early, late = in_block[:min(3, half)], in_block[max(half, in_block.size - 3):]
    for trials, style, label in ((early, "-", "early"), (late, "-", "late"), (caught, "--", "catch")):
        color = {"early": "tab:orange", "late": "tab:blue", "catch": "tab:red"}[label]
        for k, n in enumerate(trials):
            sel = idx == n
            ax.plot(state[sel, 0] * 100, state[sel, 1] * 100, style, color=color, lw=0.8,
                    label=label if k == 0 else None)
    if tgt is not None:
        shown = tgt[trial[:, 1] == b]
        ax.plot(shown[:, 0] * 100, shown[:, 1] * 100, "k+", ms=8)
    ax.set_xlabel("x (cm)")
    ax.set_ylabel("y (cm)")
    ax.set_aspect("equal", adjustable="datalim")
    if in_block.size or caught.size:
        ax.legend(loc="upper right", fontsize=8)
    else:  # a session without a task: the whole path
        ax.plot(state[:, 0] * 100, state[:, 1] * 100, color="tab:blue", lw=0.6)


def _emg(ax, rec):
    """Raw EMG (a window, offset per channel), its rectified envelope over the session, and the
    activations on the bus (decoded and intended), each channel in its own colour."""
    labels = [lab for lab, _u, _t in rec.channels("input")]
    unit = rec.channels("input")[0][1] if labels else ""
    if rec.window:
        t = np.concatenate([w[0] for w in rec.window])
        x = np.concatenate([w[1] for w in rec.window])
        span = max(float(np.percentile(np.abs(x), 99)), 1e-12) * 2.5
        inset = ax.inset_axes([0.0, 0.62, 1.0, 0.38])
        for c in range(x.shape[1]):
            inset.plot(t, x[:, c] + c * span, lw=0.3, color=f"C{c}")
        inset.set_yticks([c * span for c in range(x.shape[1])], labels, fontsize=6)
        inset.set_xlabel(f"raw EMG ({unit}), s after the first sample", fontsize=7, labelpad=1)
        inset.tick_params(labelsize=6)
    t, x = rec.get("input")
    n = max(1, x.shape[0] // 400)
    env = np.abs(x[:x.shape[0] // n * n]).reshape(-1, n, x.shape[1]).mean(axis=1)
    te = t[:env.shape[0] * n:n]
    for c in range(env.shape[1]):
        ax.plot(te, env[:, c] / max(env[:, c].max(), 1e-12), lw=0.8, color=f"C{c}", label=f"|{labels[c]}| envelope")
    for name in _typed(rec, "activation"):
        ta, a = rec.get(name)
        for c in range(a.shape[1]):
            ax.plot(ta, a[:, c], lw=0.6, ls="--", color=f"C{c}", label=f"{name} {c}" if c == 0 else None)
    ax.set_ylim(-0.05, 1.9)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("envelope (of max) / activation (0..1)")
    ax.legend(loc="center right", fontsize=6, ncol=2)


def _typed(rec, kind) -> list:
    """Recorded streams whose channels are all of this type."""
    return [name for name in rec.info if rec.channels(name) and rec.get(name)[0] is not None
            and all(t == kind for _l, _u, t in rec.channels(name))]


def _decoder_output(summary, rec):
    """The decoder's output signal, if the session has a decoder and recorded its output."""
    dec = (summary.get("config") or {}).get("decoder")
    name = dec.get("output") if isinstance(dec, dict) else None
    return name if name and rec.get(name)[0] is not None else None


def _decoded(ax, rec, name):
    """The decoder's output over time, with the user's intent (intended_*) where the user is simulated."""
    t, y = rec.get(name)
    chans = rec.channels(name)
    for c, (lab, unit, _t) in enumerate(chans):
        ax.plot(t, y[:, c], lw=0.6, color=f"C{c}", label=f"{lab} ({unit})")
    kind = _common([t for _l, _u, t in chans])
    for intent in ("intended_velocity",) if kind == "velocity" else ():
        ti, v = rec.get(intent)
        if ti is not None:
            for c in range(min(v.shape[1], y.shape[1])):
                ax.plot(ti, v[:, c], lw=0.6, ls="--", color=f"C{c}", label=f"intended {c}" if c == 0 else None)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{name} ({', '.join(dict.fromkeys(u for _l, u, _t in chans))})")
    ax.legend(loc="upper right", fontsize=7)


def _joints(ax, rec):
    """Each joint's command and measured angle over time (on a second axis when the command is a torque)."""
    t, q = rec.get("state")
    tc, cmd = rec.get("command")
    chans = rec.channels("state")
    joints = [k for k, (_l, u, _t) in enumerate(chans) if u == "rad"]
    same = all(u == "rad" for _l, u, _t in rec.channels("command"))
    other = ax if same else ax.twinx()
    for j, k in enumerate(joints):
        ax.plot(t, q[:, k], lw=0.9, color=f"C{j}", label=f"{chans[k][0]} measured")
        if j < cmd.shape[1]:
            other.plot(tc, cmd[:, j], lw=0.9, ls="--", color=f"C{j}", label=f"{rec.channels('command')[j][0]} commanded")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("joint angle (rad)")
    if not same:
        other.set_ylabel(f"command ({rec.channels('command')[0][1]})")
    ax.legend(loc="upper left", fontsize=7)
    if not same:
        other.legend(loc="upper right", fontsize=7)


def _timing(ax, rec):
    centers = np.sqrt(TIMING_BINS_US[:-1] * TIMING_BINS_US[1:])
    for key, label in (("wake_latency_us", "wake latency"), ("compute_us", "compute")):
        h = rec.hist[key]
        if h.any():
            ax.stairs(h, TIMING_BINS_US, label=label, fill=True, alpha=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    used = centers[(rec.hist["wake_latency_us"] + rec.hist["compute_us"]) > 0]
    if used.size:
        ax.set_xlim(used.min() / 2, used.max() * 2)
    ax.set_xlabel("us")
    ax.set_ylabel("ticks")
    ax.legend(fontsize=8)


def _performance(ax, tr):
    t_go = np.array([np.nan if v is None else v for v in tr["t_go_s"]], float)
    ok = np.array(tr["success"], float) > 0
    t_min = t_go / 60.0
    edges = np.arange(0.0, np.nanmax(t_min) + 0.25, 0.25) if np.isfinite(t_min).any() else np.array([0.0, 0.25])
    hits, _ = np.histogram(t_min[ok], edges)
    ax.bar(edges[:-1], hits / 0.25, width=0.25, align="edge", alpha=0.7)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("successes per minute")


def rounded(v):
    """A value for the page: floats to 4 significant digits, dicts as 'k v' pairs, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return ", ".join(f"{k} {rounded(x)}" for k, x in v.items()) or "-"
    if isinstance(v, list):
        return ", ".join(rounded(x) for x in v) or "-"
    return str(v)


def _table(header, rows) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(rounded(c))}</td>" for c in r) + "</tr>" for r in rows]
    return "".join(out) + "</table>"


SUMMARY_KEYS = ("verdict", "reasons", "exit_reason", "ticks", "rate_hz", "duration_s", "realtime_factor",
                "deadline_misses", "ring_dropped_rows", "hold_ticks", "wake_latency_us", "compute_us", "status_counts")
STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
         "td,th{border:1px solid #bbb;padding:2px 6px;font-size:13px;text-align:right}th{background:#eee}"
         "td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:.8em;font-size:12px}")


def page(run_dir: str, summary: dict) -> str:
    """The report's HTML: verdict and figures, blocks, per-trial table, learning, resolved config, figure."""
    task = summary.get("task") or {}
    name = (summary.get("config") or {}).get("session", {}).get("name", "")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>rtcore report: {html.escape(name)}</title>"
           f"<style>{STYLE}</style></head><body><h1>Session {html.escape(name)}</h1>"
           f"<p>{html.escape(os.path.abspath(run_dir))}</p><h2>Summary</h2>"]
    out.append(_table(("", ""), [(k, summary.get(k)) for k in SUMMARY_KEYS if k in summary]))
    blocks = task.get("blocks") or []
    if blocks:
        keys = list(dict.fromkeys(k for b in blocks for k in b))
        out.append("<h2>Blocks</h2>" + _table(keys, [[b.get(k) for k in keys] for b in blocks]))
    tr = task.get("trials") or {}
    if tr.get("trial"):
        keys = list(tr)
        ints = {"trial", "block", "catch", "success", "center_timeout"}
        rows = [[int(tr[k][n]) if k in ints and tr[k][n] is not None else tr[k][n] for k in keys]
                for n in range(len(tr["trial"]))]
        out.append(f"<h2>Trials ({len(rows)})</h2>" + _table(keys, rows))
    learning = {**(task.get("adaptation") or {}), **{k: v for k, v in (summary.get("learning") or {}).items()
                                                     if not isinstance(v, list)}}
    if learning:
        out.append("<h2>Learning</h2>" + _table(("", ""), list(learning.items())))
    out.append("<h2>Figure</h2><img src='report.png' style='max-width:100%'>")
    toml = os.path.join(run_dir, "config.toml")
    if os.path.exists(toml):
        with open(toml) as fh:
            out.append(f"<h2>Resolved config</h2><pre>{html.escape(fh.read())}</pre>")
    out.append("</body></html>")
    return "\n".join(out)


def write(run_dir: str, max_points: int = MAX_POINTS) -> tuple:
    """Write report.png and report.html into run_dir; returns their paths."""
    fig = figure(run_dir, max_points)
    png = os.path.join(run_dir, "report.png")
    fig.savefig(png, dpi=80)
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    path = os.path.join(run_dir, "report.html")
    with open(path, "w") as fh:
        fh.write(page(run_dir, summary))
    return png, path


def add_report_parser(sub):
    p = sub.add_parser("report", help="write report.png and report.html for a recorded session",
                       description="The verdict, blocks, per-trial table and resolved config of a session, with "
                                   "the panels it has data for (learning curve, hand paths, SPE, EMG, decoder "
                                   "output, joints, timing, decoder performance).")
    p.add_argument("dir", help="session output directory (with summary.json and session.xdf)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args) -> int:
    from rtcore.configbase import ConfigError
    if not os.path.isfile(os.path.join(args.dir, "summary.json")):
        what = "no summary.json in this folder" if os.path.isdir(args.dir) else "no such session folder"
        raise ConfigError(f"{args.dir}: {what} (give a run folder, e.g. runs/<timestamp>)")
    png, page_path = write(args.dir)
    print(f"written: {png}, {page_path}")
    return 0
