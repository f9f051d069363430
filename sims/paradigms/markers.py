"""Event codes the task writes into the bus header `marker` slot (one per tick; 0 = none).

The loop clears the slot every tick, so a code marks exactly the tick its event happened.
Recorded with every tick (session.xdf writes the names); the default LSL markers outlet pushes the
names as strings and carries this code table in its description. The table also names the
engine's own codes (rtcore.bus: an LSL input went stale, or resumed), so no consumer sees a number.
"""
from rtcore.bus import MARKER_STREAM_RESUMED, MARKER_STREAM_STALE

TRIAL_START = 1  #: a new trial began in the same block: the center target is shown
GO = 2  #: the peripheral target appeared (go cue); the reach starts
ACQUIRED = 3  #: the fed-back hand entered the target
LEFT_TARGET = 4  #: the fed-back hand left the target during the hold: back to reaching
SUCCESS = 5  #: the target was held for hold_s: trial succeeded
TIMEOUT = 6  #: timeout_s passed after the go cue without a completed hold: trial failed
BLOCK_START = 7  #: the first trial of a new block began (replaces TRIAL_START)
TASK_DONE = 8  #: every block has run; the session ends on this tick
CENTER_TIMEOUT = 9  #: center_timeout_s passed without a completed center hold: trial failed, not started
PAUSED = 10  #: the operator paused the task: the trial under way is abandoned, the target is the center
RESUMED = 11  #: the operator resumed the task: the abandoned trial starts again
BLOCK_SKIPPED = 12  #: the operator skipped the rest of the block: the next block starts (or the task ends)

NAMES = {TRIAL_START: "trial_start", GO: "go", ACQUIRED: "acquired", LEFT_TARGET: "left_target",
         SUCCESS: "success", TIMEOUT: "timeout", BLOCK_START: "block_start", TASK_DONE: "task_done",
         CENTER_TIMEOUT: "center_timeout", PAUSED: "paused", RESUMED: "resumed", BLOCK_SKIPPED: "block_skipped",
         MARKER_STREAM_STALE: "stream_stale", MARKER_STREAM_RESUMED: "stream_resumed"}


def code_table() -> list:
    """The codes and their names, for stream descriptions: [("code", {"value": 2, "name": "go"}), ...]."""
    return [("code", {"value": code, "name": name}) for code, name in sorted(NAMES.items())]
