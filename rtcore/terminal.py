"""Live status in the parent's terminal: ticks, rate, misses, jitter p99, current error, and the
task's block, trial and successes.

On a TTY a rich line refreshed a few times a second; when stdout is not a TTY (piped, logged)
one plain line every LINE_EVERY_S; nothing with --quiet. Before the loop is ready, a first
compile of the engine is announced with its expected length.
"""
import sys
import time

import numpy as np

from rtcore.loop import CTRL_HOLD_TICKS, CTRL_MISSES, CTRL_RING_DROPPED, CTRL_TICKS

REFRESH_S = 0.25
LINE_EVERY_S = 10.0  #: period of the plain status line when stdout is not a TTY, s
WINDOW = 2000  # ticks of wake latency behind the displayed p99
FIRST_COMPILE = "compiling the engine once, ~1-3 min; later runs start in a few seconds"


class StatusView:
    """enabled: True = the rich live line, False = nothing, None = rich on a TTY, else plain lines."""

    def __init__(self, cfg, enabled: bool | None = None, first_compile: bool = False):
        self.mode = "off" if enabled is False else ("rich" if enabled or sys.stdout.isatty() else "lines")
        self.cfg = cfg
        self.live = None
        self.last = 0.0
        self.last_ticks, self.last_t = 0, time.monotonic()
        self.rate = 0.0
        self.first_compile = first_compile
        if self.mode == "rich":
            from rich.live import Live
            self.live = Live(self._render({}), refresh_per_second=4, transient=False)
            self.live.start()
        elif self.mode == "lines":
            self.last = time.monotonic()  # the first line after LINE_EVERY_S of running
            if first_compile:
                print(f"{cfg.session.name}: {FIRST_COMPILE}", flush=True)

    def update(self, ctrl, drain) -> None:
        if self.mode == "off":
            return
        now = time.monotonic()
        if now - self.last < (REFRESH_S if self.mode == "rich" else LINE_EVERY_S):
            return
        ticks = int(ctrl[CTRL_TICKS])
        self.rate = (ticks - self.last_ticks) / max(now - self.last_t, 1e-9)
        self.last_ticks, self.last_t, self.last = ticks, now, now
        wake = drain.last_wake[-WINDOW:]
        stats = {
            "ticks": ticks,
            "rate": self.rate,
            "misses": int(ctrl[CTRL_MISSES]),
            "p99": float(np.percentile(wake, 99)) if wake.size else float("nan"),
            "hold": int(ctrl[CTRL_HOLD_TICKS]),
            "dropped": int(ctrl[CTRL_RING_DROPPED]),
            "error": _current_error(drain),
            "task": self._task(drain),
        }
        if self.mode == "rich":
            self.live.update(self._render(stats))
        else:
            print(self.line(stats), flush=True)

    def _task(self, drain) -> str:
        """'block 2/3 exposure, trial 17, successes 15/16', or '' without a task."""
        row, cols = drain.last_row, drain.columns
        if row is None or "trial.trial" not in cols:
            return ""
        trial, block = int(row[cols.index("trial.trial")]), int(row[cols.index("trial.block")])
        names = [b.name for b in self.cfg.block]
        name = f" {names[block]}" if 0 <= block < len(names) else ""
        return (f"block {block + 1}/{len(names)}{name}, trial {trial + 1}, "
                f"successes {drain.successes}/{drain.trials_ended}")

    def line(self, s) -> str:
        """The plain status line (no TTY)."""
        t_s = s["ticks"] / self.cfg.loop.rate_hz
        parts = [f"{self.cfg.session.name}: t {t_s:7.1f} s", s["task"], f"misses {s['misses']}",
                 f"hold {s['hold']}", f"dropped {s['dropped']}"]
        if s["error"] is not None:
            parts.append(f"error {s['error'] * 1000:.1f} mm")
        return " | ".join(p for p in parts if p)

    def _render(self, s):
        from rich.table import Table
        t = Table.grid(padding=(0, 2))
        name = self.cfg.session.name
        if not s:
            t.add_row(f"[bold]{name}[/]", FIRST_COMPILE if self.first_compile else "starting ...")
            return t
        err = "" if s["error"] is None else f"error {s['error'] * 1000:7.1f} mm"
        t.add_row(f"[bold]{name}[/]", f"ticks {s['ticks']:>9d}", f"rate {s['rate']:8.1f} Hz",
                  f"misses {s['misses']:>5d}", f"wake p99 {s['p99']:7.1f} us",
                  f"hold {s['hold']}", f"dropped {s['dropped']}", s["task"], err)
        return t

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _current_error(drain):
    """Distance from the hand (or state) to the target, m, from the latest recorded row."""
    row, cols = drain.last_row, drain.columns
    if row is None or "target.target0" not in cols:
        return None
    for pos in ("state.hand_x", "state.state0"):
        if pos in cols:
            i, j = cols.index(pos), cols.index("target.target0")
            return float(np.hypot(row[i] - row[j], row[i + 1] - row[j + 1]))
    return None
