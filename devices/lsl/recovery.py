"""Stream recovery off the hot path: find a stale or lost LSL stream again and hand the tick a new inlet.

A daemon thread in the process that owns the inlet watches the inlet stage's state (the tick's
I_STALE and I_LOST flags, read from the stage's live int array). While the stream is away it sends
one-shot resolve waves for the config's query (`lsl_resolve_bypred`, name / type / source_id; each
returns at the first answer), and takes the stream that came back:
  - under a new uid, whether its source_id is the same (a restarted outlet) or new (a restarted
    device or program that numbers itself anew), only if it appeared after the loss (created after
    the bound stream's last sample, on the same clock: same host);
  - under the same uid only when the tick reported the connection lost (the outlet is alive, the
    link broke);
  - only from the bound stream's hostname, and only when it is the one such candidate: never a
    guess among several. A stream under the bound (non-empty) source_id is the same source by
    LSL's contract and is taken from the first answer; any other is taken only after a listening
    wave of LISTEN_S found no second one.
    Otherwise the session stays in hold and the report says why (`refused`).
It checks the stream against the config and the bound channel count, opens the new inlet
(open_stream: a blocking call, here and not in the tick) and publishes it: the clock offset
first, the handle last (one int64 store, atomic on the machines we run on). The tick takes
the handle at its next start (devices.lsl.inlet._take_swap) and zeroes the slot; only then is the
old inlet released, so the tick never pulls from a destroyed inlet. liblsl's own recovery stays on
(it keeps the samples queued when a connection breaks, and needs a second or more to reconnect by
source_id); when it reconnected the old inlet first, the tick drops what it already took
(devices.lsl.inlet._drop_seen), so a sample is never delivered twice.
"""
import threading

import pylsl

from devices import lsl_c

CREATED_SLACK_S = 0.05  #: a restarted outlet's created_at may precede the old one's last sample stamp by this, s
IDLE_POLL_S = 0.02  #: while the stream flows, look at the tick's flags this often, s
WAVE_S = 0.1  #: one resolve attempt listens this long at most (it returns at the first answer), s
#: liblsl's resolver sends a query wave at once and a multicast one this long after, which every
#: outlet on the host answers (all three twins of three by 0.501 s, 6 of 6 tries), s
QUERY_WAVE_S = 0.5
#: before taking a stream under another source_id, listen this long for a second candidate, s: one
#: multicast wave (the start waits two, devices.lsl.inlet.AMBIGUITY_WAIT_S), to resume a new
#: source_id in under 1 s
LISTEN_S = QUERY_WAVE_S + 0.1
RETRY_S = 0.03  #: after an attempt that found nothing new, wait this long before the next, s
OPEN_TIMEOUT_S = 1.0  #: a found stream must open and answer a time correction within this, s


class Recovery:
    """The recovery thread of one inlet stage (see the module docstring).

    stage: the inlet's Stage (its .i/.s are read live: after packing they are views of the chain).
    slots: (I_STALE, I_LOST, I_NEXT_HANDLE, S_OFFSET, S_NEXT_OFFSET, S_LAST_LOCAL: the last sample's
    local time). find(timeout_s, minimum) -> [StreamInfo] this run may bind, from one resolve wave
    that returns once `minimum` answered (0: listens the whole timeout_s). accept(info) -> None or
    raises ValueError (channel count, format, rate). open_(info) -> a subscribed inlet. The new
    inlet starts with the old clock offset (exact for a stream on the same host); the tick measures
    its own from the first tick after the swap.
    """

    def __init__(self, stage, inlet, info, slots, find, accept, open_):
        self.stage, self.inlet, self.info = stage, inlet, info
        self.i_stale, self.i_lost, self.i_next, self.s_offset, self.s_next_offset, self.s_last_local = slots
        self.find, self.accept, self.open_ = find, accept, open_
        self.stop = threading.Event()
        self.refused = ""  #: why the last stream found was not taken, since the last swap (for the report)
        self.swaps = []  #: [(found after s, source_id)] per swap
        self.thread = threading.Thread(target=self._run, name=f"lsl-recovery-{stage.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        """Stop the thread and drop its reference to the current inlet (the stage releases it)."""
        self.stop.set()
        self.thread.join(timeout=2 * OPEN_TIMEOUT_S + WAVE_S + LISTEN_S)
        self.inlet = None

    def _run(self) -> None:
        while not self.stop.wait(IDLE_POLL_S):
            i = self.stage.i
            if i[self.i_stale] == 0 and i[self.i_lost] == 0:
                continue
            t0 = pylsl.local_clock()
            while not self.stop.is_set() and (i[self.i_stale] != 0 or i[self.i_lost] != 0):
                new = self._choose(self.find(WAVE_S, 1), lost=i[self.i_lost] != 0)
                if new is not None and (new.source_id() != self.info.source_id() or not new.source_id()):
                    new = self._choose([new] + self.find(LISTEN_S, 0), lost=i[self.i_lost] != 0)
                if new is not None and self._hand_over(new, t0):
                    break
                self.stop.wait(RETRY_S)
                i = self.stage.i

    def _choose(self, found: list, lost: bool):
        """The returning stream to bind, or None with the reason in self.refused (module docstring)."""
        since = self.stage.s[self.s_last_local] - CREATED_SLACK_S
        host, uid = self.info.hostname(), self.info.uid()
        found = {s.uid(): s for s in found}.values()
        cands = [s for s in found if (lost and s.uid() == uid) or (s.uid() != uid and s.created_at() >= since)]
        here = [s for s in cands if s.hostname() == host]
        if len(here) == 1:
            return here[0]
        if len(here) > 1:
            self.refused = (f"{len(here)} streams came back on {host} ({', '.join(repr(s.source_id()) for s in here)}): "
                            "binding none; stop all but one")
        elif cands:
            self.refused = f"{cands[0].source_id()!r} came back on {cands[0].hostname()}, not on {host}: not bound"
        return None

    def _hand_over(self, info, t0: float) -> bool:
        try:
            self.accept(info)
            inlet = self.open_(info)
        except Exception as e:  # noqa: BLE001  (any refusal or liblsl error: keep looking, say why in the report)
            self.refused = f"{info.source_id()!r}: {e}"
            return False
        if self.stage.i[self.i_stale] == 0 and self.stage.i[self.i_lost] == 0:  # it came back by itself
            return True
        self.stage.s[self.s_next_offset] = self.stage.s[self.s_offset]
        self.stage.i[self.i_next] = lsl_c.handle(inlet)
        while self.stage.i[self.i_next] != 0 and not self.stop.wait(IDLE_POLL_S / 4):
            pass
        if self.stage.i[self.i_next] != 0:  # the loop ended before it took the inlet: keep the old one
            self.stage.i[self.i_next] = 0
            return True
        old = self.inlet
        self.inlet, self.info = inlet, info
        self.stage.keep[:] = [inlet]
        del old  # lsl_destroy_inlet: the tick pulls from the new handle only
        self.swaps.append((round(pylsl.local_clock() - t0, 4), info.source_id()))
        self.refused = ""  # an earlier refusal is history once a stream is bound
        return True
