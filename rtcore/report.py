"""Per-session report: DIR/report.png and DIR/report.html from session.xdf and summary.json.

Panels: learning curve (per-trial error, blocks shaded, catch trials marked; with a curl field the
error toward the field relative to baseline, so adaptation, catch-trial after-effects and washout
show as falling, negative and decaying values), SPE over time,
hand paths per block (early vs late trials, catch trials dashed), timing histograms (wake
latency, compute, deadline misses) and decoder performance (successes per minute).
`figure(DIR)` returns the matplotlib Figure (tests read its axes titles); `write(DIR)` saves both.
"""
import html
import json
import os

import numpy as np

TITLES = ("Learning curve", "SPE over time", "Timing", "Decoder performance")
BLOCK_COLORS = ("#dddddd", "#fde0c5", "#c6e2f5", "#d9f0d3", "#e8d5f0")


def _load(run_dir: str):
    from rtcore import xdf
    with open(os.path.join(run_dir, "summary.json")) as fh:
        summary = json.load(fh)
    path = os.path.join(run_dir, "session.xdf")
    rec = xdf.load(path) if os.path.exists(path) else {}
    return summary, rec


def _series(rec, name):
    if name not in rec or len(rec[name]["time_stamps"]) == 0:
        return None, None
    st = rec[name]
    return np.asarray(st["time_stamps"]) - _t0(rec), np.asarray(st["time_series"], dtype=np.float64)


def _t0(rec):
    ts = rec["timing"]["time_stamps"] if "timing" in rec else []
    return float(ts[0]) if len(ts) else 0.0


def _empty(ax, title, text):
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def figure(run_dir: str):
    """The report Figure of a recorded session (matplotlib, Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    summary, rec = _load(run_dir)
    task = summary.get("task") or {}
    blocks = [b["name"] for b in task.get("blocks", [])]
    n_paths = max(1, min(len(blocks), 3))
    fig = Figure(figsize=(16, 10), layout="constrained")
    grid = fig.add_gridspec(2, max(3, n_paths))
    fig.suptitle(f"{summary.get('config', {}).get('session', {}).get('name', '')}: {summary.get('ticks', 0)} ticks, "
                 f"{summary.get('duration_s', 0):.1f} s, {summary.get('exit_reason', '')}")
    _learning_curve(fig.add_subplot(grid[0, 0]), task, blocks)
    _spe(fig.add_subplot(grid[0, 1]), rec)
    _timing(fig.add_subplot(grid[0, 2]), rec, summary)
    tr = task.get("trials") or {}
    catch = {int(n) for n, c in zip(tr.get("trial", []), tr.get("catch", [])) if c}
    for k in range(n_paths):
        _paths(fig.add_subplot(grid[1, k]), rec, blocks, k, catch)
    if max(3, n_paths) > n_paths:
        _decoder(fig.add_subplot(grid[1, n_paths:]), task)
    return fig


def _learning_curve(ax, task, blocks):
    tr = task.get("trials") or {}
    if not tr.get("trial"):
        return _empty(ax, "Learning curve", "no task trials")
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
    ax.plot(trial[catch], err[catch], "rx", label="catch (field off)")
    ax.set_title("Learning curve")
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
    t, spe = _series(rec, "spe")
    if t is None:
        return _empty(ax, "SPE over time", "no spe signal recorded")
    mag = np.linalg.norm(spe[:, :min(2, spe.shape[1])], axis=1) * 1000
    step = max(1, mag.size // 4000)
    ax.plot(t[::step], mag[::step], lw=0.6)
    _shade_blocks(ax, rec)
    tw, wn = _series(rec, "purkinje_norm")
    if tw is not None:
        ax2 = ax.twinx()
        ax2.plot(tw[::step], wn[::step, 0], color="tab:red", lw=0.8)
        ax2.set_ylabel("Purkinje ||W|| (red)")
    ax.set_title("SPE over time")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("|SPE| position (mm)")


def _shade_blocks(ax, rec):
    t, trial = _series(rec, "trial")
    if t is None:
        return
    block = trial[:, 1]
    edges = np.flatnonzero(np.diff(block)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, block.size] - 1
    for a, b in zip(starts, ends):
        ax.axvspan(t[a], t[b], color=BLOCK_COLORS[int(block[a]) % len(BLOCK_COLORS)], zorder=0)


def _paths(ax, rec, blocks, b, catch=frozenset()):
    title = f"Hand paths: {blocks[b]}" if blocks else "Hand paths"
    ts, state = _series(rec, "state")
    tt, trial = _series(rec, "trial")
    _, tgt = _series(rec, "target")
    if ts is None or tt is None or state.shape[1] < 2:
        return _empty(ax, title, "no hand state / trials recorded")
    if tgt is not None and tgt.shape[1] == 1:  # a joint angle and its target (one-joint task)
        sel = trial[:, 1] == b
        ax.plot(ts[sel], np.degrees(state[sel, 0]), lw=0.8, label="angle")
        ax.plot(ts[sel], np.degrees(tgt[sel, 0]), "k--", lw=0.8, label="target")
        ax.set_title(title.replace("Hand paths", "Joint angle"))
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
    if tgt is not None and tgt.shape[0] == idx.size:
        shown = tgt[trial[:, 1] == b]
        ax.plot(shown[:, 0] * 100, shown[:, 1] * 100, "k+", ms=8)
    ax.set_title(title)
    ax.set_xlabel("x (cm)")
    ax.set_ylabel("y (cm)")
    ax.set_aspect("equal", adjustable="datalim")
    if in_block.size or caught.size:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "block not reached", ha="center", va="center", transform=ax.transAxes, color="gray")


def _timing(ax, rec, summary):
    title = f"Timing (deadline misses {summary.get('deadline_misses', 0)}, ring dropped {summary.get('ring_dropped_rows', 0)})"
    _, timing = _series(rec, "timing")
    if timing is None:
        return _empty(ax, title, "no timing stream")
    for col, label in ((2, "wake latency"), (3, "compute")):
        x = timing[:, col]
        if np.any(x):
            ax.hist(x, bins=60, alpha=0.6, label=label, log=True)
    ax.set_title(title)
    ax.set_xlabel("us")
    ax.set_ylabel("ticks")
    ax.legend(fontsize=8)


def _decoder(ax, task):
    tr = task.get("trials") or {}
    if not tr.get("trial") or "t_go_s" not in tr:
        return _empty(ax, "Decoder performance", "no task trials")
    t_go = np.array([np.nan if v is None else v for v in tr["t_go_s"]], float)
    ok = np.array(tr["success"], float) > 0
    t_min = t_go / 60.0
    edges = np.arange(0.0, np.nanmax(t_min) + 0.25, 0.25) if np.isfinite(t_min).any() else np.array([0.0, 0.25])
    hits, _ = np.histogram(t_min[ok], edges)
    ax.bar(edges[:-1], hits / 0.25, width=0.25, align="edge", alpha=0.7)
    ax.set_title(f"Decoder performance ({ok.sum()}/{ok.size} successes)")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("successes per minute")


def write(run_dir: str) -> tuple:
    """Write report.png and report.html into run_dir; returns their paths."""
    fig = figure(run_dir)
    png = os.path.join(run_dir, "report.png")
    fig.savefig(png, dpi=80)
    summary, _ = _load(run_dir)
    rows = [(k, summary.get(k)) for k in ("ticks", "duration_s", "exit_reason", "deadline_misses",
                                            "ring_dropped_rows", "wake_latency_us", "compute_us")]
    blocks = (summary.get("task") or {}).get("blocks", [])
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>rtcore session report</title></head><body>",
            f"<h1>Session {html.escape(run_dir)}</h1><table border=1 cellpadding=3>"]
    page += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>" for k, v in rows]
    page.append("</table><h2>Blocks</h2><table border=1 cellpadding=3>")
    for b in blocks:
        page.append("<tr>" + "".join(f"<td>{html.escape(k)}: {html.escape(json.dumps(v))}</td>" for k, v in b.items()) + "</tr>")
    page.append("</table><img src='report.png' style='max-width:100%'></body></html>")
    path = os.path.join(run_dir, "report.html")
    with open(path, "w") as fh:
        fh.write("\n".join(page))
    return png, path


def add_report_parser(sub):
    p = sub.add_parser("report", help="write report.png and report.html for a recorded session",
                       description="Learning curve, SPE, hand paths, timing and decoder performance of a session.")
    p.add_argument("dir", help="session output directory (with summary.json and session.xdf)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args) -> int:
    from rtcore.configbase import ConfigError
    if not os.path.isfile(os.path.join(args.dir, "summary.json")):
        what = "no summary.json in this folder" if os.path.isdir(args.dir) else "no such session folder"
        raise ConfigError(f"{args.dir}: {what} (give a run folder, e.g. runs/<timestamp>)")
    png, page = write(args.dir)
    print(f"written: {png}, {page}")
    return 0
