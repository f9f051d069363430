"""Named status codes returned by compiled stage steps and by the loop.

A step returns OK or one of these codes; the loop counts each non-zero code per stage, and a
code >= FATAL ends the session with that code as its exit reason. Only the parent turns a
code into text (`describe`).
"""
OK = 0  #: the step ran normally
BAD_SAMPLE = 1  #: a NaN or Inf input sample was rejected and the previous value held
STALE_STREAM = 2  #: no new sample for longer than the stream's stale_after_s: safe hold
CORRUPT_FRAME = 3  #: a serial frame failed its CRC or framing and was dropped
LIMIT_CLIPPED = 4  #: a command was clipped to an actuator limit
RING_OVERFLOW = 5  #: a shared-memory ring was full and a row was dropped
DEVICE_FAULT = 6  #: the device reported a fault bit; safe hold
RESUMED = 7  #: a stale stream or device came back and the session left safe hold
PUSH_FAILED = 8  #: an LSL outlet or serial write did not take the sample
N_CODES = 16  #: size of the per-stage counter table (codes below it are counted)

FATAL = 100  #: codes from here on end the session
STREAM_LOST = 100  #: a stream stayed silent past the session timeout
DEVICE_LOST = 101  #: the serial device vanished (port closed or unplugged)
PLANT_UNSTABLE = 102  #: the simulated plant produced a non-finite state
INJECTED_CRASH = 103  #: the test-only crash stage fired (test.crash_at_tick)
TASK_DONE = 104  #: the paradigm ran all its blocks; a normal end
STOPPED = 105  #: the parent asked the loop to stop (Ctrl-C or duration reached)
DURATION = 106  #: the configured duration was reached; a normal end

_TEXT = {
    OK: "ok",
    BAD_SAMPLE: "NaN/Inf sample rejected (previous value held)",
    STALE_STREAM: "stream stale: safe hold",
    CORRUPT_FRAME: "corrupt frame dropped",
    LIMIT_CLIPPED: "command clipped to actuator limit",
    RING_OVERFLOW: "recording ring full: rows dropped",
    DEVICE_FAULT: "device fault: safe hold",
    RESUMED: "stream/device resumed",
    PUSH_FAILED: "output push failed",
    STREAM_LOST: "stream lost: no samples within the session timeout",
    DEVICE_LOST: "device lost: serial port closed or unplugged",
    PLANT_UNSTABLE: "plant unstable: non-finite state",
    INJECTED_CRASH: "injected crash (test.crash_at_tick)",
    TASK_DONE: "task done: all blocks run",
    STOPPED: "stopped by request",
    DURATION: "duration reached",
}

NORMAL_ENDS = (TASK_DONE, STOPPED, DURATION)


def describe(code: int) -> str:
    """Text for a status code, for summaries and the terminal."""
    return _TEXT.get(int(code), f"status {int(code)}")
