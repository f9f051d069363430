"""Live status in the parent's terminal: ticks, rate, misses, jitter p99, current error.

Refreshed a few times a second with rich; quiet when stdout is not a TTY.
"""
import sys
import time

import numpy as np

from rtcore.loop import CTRL_HOLD_TICKS, CTRL_MISSES, CTRL_RING_DROPPED, CTRL_TICKS

REFRESH_S = 0.25
WINDOW = 2000  # ticks of wake latency behind the displayed p99


class StatusView:
    def __init__(self, cfg, enabled: bool | None = None):
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.cfg = cfg
        self.live = None
        self.last = 0.0
        self.last_ticks, self.last_t = 0, time.monotonic()
        self.rate = 0.0
        if self.enabled:
            from rich.live import Live
            self.live = Live(self._render({}), refresh_per_second=4, transient=False)
            self.live.start()

    def update(self, ctrl, drain) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < REFRESH_S:
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
        }
        self.live.update(self._render(stats))

    def _render(self, s):
        from rich.table import Table
        t = Table.grid(padding=(0, 2))
        name = self.cfg.session.name
        if not s:
            t.add_row(f"[bold]{name}[/]", "compiling and starting ...")
            return t
        err = "" if s["error"] is None else f"error {s['error'] * 1000:7.1f} mm"
        t.add_row(f"[bold]{name}[/]", f"ticks {s['ticks']:>9d}", f"rate {s['rate']:8.1f} Hz",
                  f"misses {s['misses']:>5d}", f"wake p99 {s['p99']:7.1f} us",
                  f"hold {s['hold']}", f"dropped {s['dropped']}", err)
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
