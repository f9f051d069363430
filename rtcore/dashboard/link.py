"""The page's link to its session: the status it shows and the operator's actions.

`LiveLink` belongs to the supervising parent of a running session. Every action goes through the
parent: stop sets the control block's stop flag (as Ctrl-C does); pause and next block set the
control block's operator slots, which the loop copies onto the bus for the task; each action, and
every free-text marker, is written into session.xdf's marker stream at the stamp of the latest
recorded tick. `FinishedLink` shows a finished session's summary and takes no action.
"""
import time

import numpy as np

from rtcore import verdict
from rtcore.loop import (CTRL_HOLD_TICKS, CTRL_MISSES, CTRL_NEXT_BLOCK, CTRL_PAUSE, CTRL_RING_DROPPED, CTRL_TICKS)

P99_WINDOW = 2000  #: ticks of wake latency behind the shown p99
STOPPED_BY = "the operator (dashboard)"  #: summary.json's stopped_by for the page's stop button
MARKER_MAX_CHARS = 200  #: a typed marker is cut to this length


class LiveLink:
    live = True

    def __init__(self, cfg, ctrl, drain, recorder, stops):
        self.cfg, self.ctrl, self.drain, self.recorder, self.stops = cfg, ctrl, drain, recorder, stops
        self._last = (time.monotonic(), 0)
        self._rate = 0.0

    def status(self) -> dict:
        ctrl = self.ctrl
        ticks, misses = int(ctrl[CTRL_TICKS]), int(ctrl[CTRL_MISSES])
        now = time.monotonic()
        t0, n0 = self._last
        if now - t0 >= 0.5:
            self._rate = (ticks - n0) / (now - t0)
            self._last = (now, ticks)
        wake = self.drain.last_wake[-P99_WINDOW:]
        dropped = int(ctrl[CTRL_RING_DROPPED])
        limit = self.cfg.loop.max_miss_frac
        so_far = verdict.OK
        if dropped or (ticks + misses and misses / (ticks + misses) > limit):
            so_far = verdict.DEGRADED
        return {"ticks": ticks, "rate_hz": self._rate, "misses": misses,
                "wake_p99_us": float(np.percentile(wake, 99)) if wake.size else float("nan"),
                "hold": int(ctrl[CTRL_HOLD_TICKS]), "dropped": dropped, "verdict": so_far,
                "paused": bool(ctrl[CTRL_PAUSE])}

    def marker(self, text: str) -> None:
        """A free-text marker from the operator, into session.xdf (empty text is ignored)."""
        text = " ".join(str(text).split())[:MARKER_MAX_CHARS]
        if text:
            self.recorder.operator_marker(f"operator: {text}")

    def stop(self) -> None:
        """Stop the session as Ctrl-C does: the parent asks the loop to stop and keeps the recording."""
        self.recorder.operator_marker("operator: stop")
        self.stops.request(STOPPED_BY)

    def pause(self, on: bool) -> None:
        """Pause (the loop runs, the arm holds the centre, no trial starts) or resume the task."""
        self.recorder.operator_marker("operator: pause" if on else "operator: resume")
        self.ctrl[CTRL_PAUSE] = int(bool(on))

    def next_block(self) -> None:
        self.recorder.operator_marker("operator: next block")
        self.ctrl[CTRL_NEXT_BLOCK] += 1


class FinishedLink:
    """A finished session's status, from its summary.json; no actions."""

    live = False

    def __init__(self, summary: dict):
        self.summary = summary

    def status(self) -> dict:
        s = self.summary
        timing = s.get("wake_latency_us", {})
        return {"ticks": s.get("ticks", 0), "rate_hz": s.get("config", {}).get("loop", {}).get("rate_hz", 0.0),
                "misses": s.get("deadline_misses", 0), "wake_p99_us": float(timing.get("p99", float("nan"))),
                "hold": s.get("hold_ticks", 0), "dropped": s.get("ring_dropped_rows", 0),
                "verdict": s.get("verdict", "?"), "paused": False}
