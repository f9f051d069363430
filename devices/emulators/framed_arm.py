"""Emulated microcontroller arm speaking the rtcore framed protocol (devices.protocols.framed).

It behaves as the reference firmware (devices/firmware/src/rtdevice.c) does: version
handshake, enable/disable, COMMAND -> STATE replies with the acknowledged sequence number,
corrupt frames dropped and counted, and the watchdog: armed by the first COMMAND after ENABLE,
then no valid host frame for watchdog_ms -> disable (zero torque), FLAG_WATCHDOG, FAULT(FAULT_WATCHDOG).
"""
import struct

import numpy as np

from devices.emulators.joint_model import MAX_STEP_S, JointModel
from devices.emulators.pty_device import PtyDevice
from devices.protocols import framed


class FramedArmEmulator(PtyDevice):
    """A fake n-joint arm on a pty; `path` is the port to give the engine."""

    def __init__(self, n_joints: int = 2, watchdog_ms: float = 100.0, tau_s: float = 0.05,
                 rate_hz: float = 1000.0, protocol_version: int = framed.PROTOCOL_VERSION, q0_rad=None):
        super().__init__(rate_hz)
        self.n = n_joints
        self.watchdog_s = watchdog_ms * 1e-3
        self.version = protocol_version
        self.joints = JointModel(n_joints, tau_s=tau_s, q0_rad=q0_rad)
        self.reader = framed.FrameReader()
        self.reader.feed(framed.encode(framed.MSG_HEARTBEAT, 0))  # load the compiled parser now, not mid-reply
        self.enabled = False
        self.flags = 0
        self.mode = framed.MODE_POSITION
        self.goal = self.joints.q.copy()
        self.seq = 0
        self.last_host_s = None
        self.armed = False  # the watchdog arms at the first COMMAND after ENABLE
        self.last_step_s = None
        self.watchdog_trips = 0
        self.trip_after_s = None  # time from the last host frame to the latest trip, s
        self.commands = 0
        self.rx_frames = 0

    # --- protocol ------------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        for msg, seq, payload in self.reader.feed(data):
            self.last_host_s = now
            self.rx_frames += 1
            if msg == framed.MSG_HELLO:
                if payload[:1] == bytes([self.version]):
                    self._reply(framed.MSG_HELLO_ACK, struct.pack("<BBH", self.version, self.n, int(self.watchdog_s * 1e3)))
                else:
                    self._reply(framed.MSG_FAULT, bytes([framed.FAULT_BAD_VERSION]))
            elif msg == framed.MSG_ENABLE:
                self.enabled = True
                self.armed = False
                self.flags = framed.FLAG_ENABLED
                self.goal = self.joints.q.copy() if self.mode == framed.MODE_POSITION else np.zeros(self.n)
                self._state(seq)
            elif msg == framed.MSG_DISABLE:
                self._disable()
                self._state(seq)
            elif msg == framed.MSG_COMMAND:
                self._command(seq, payload)
            elif msg == framed.MSG_HEARTBEAT:
                self._state(seq)
            elif msg == framed.MSG_STATS:  # this emulator has no joint limits of its own: limit_clips = 0
                self._reply(framed.MSG_STATS_REPLY, struct.pack("<4I", self.rx_frames, self.reader.corrupt,
                                                           self.watchdog_trips, 0))

    def _command(self, seq: int, payload: bytes) -> None:
        if len(payload) < 2 or payload[1] != self.n or len(payload) != 2 + 4 * self.n \
                or payload[0] not in (framed.MODE_TORQUE, framed.MODE_POSITION):
            self._disable()
            self.flags |= framed.FLAG_FAULT
            self._reply(framed.MSG_FAULT, bytes([framed.FAULT_BAD_COMMAND]))
            self._state(seq)
            return
        self.commands += 1
        self.armed = True
        self.contact(self.last_host_s)
        if self.enabled:
            self.mode = payload[0]
            self.goal = np.array(struct.unpack(f"<{self.n}i", payload[2:]), dtype=float) / framed.FIXED_SCALE
        self._state(seq)

    def _disable(self) -> None:
        self.enabled = False
        self.flags &= ~framed.FLAG_ENABLED

    def _reply(self, msg: int, payload: bytes) -> None:
        self.send(framed.encode(msg, self.seq, payload))
        self.seq = (self.seq + 1) & 0xFF

    def _state(self, ack_seq: int) -> None:
        j = self.joints
        vals = np.stack([j.q, j.qd, j.tau], axis=1).ravel() * framed.FIXED_SCALE
        payload = struct.pack("<BBB", self.flags, ack_seq & 0xFF, self.n) + \
            struct.pack(f"<{3 * self.n}i", *np.round(vals).astype(np.int64))
        self._reply(framed.MSG_STATE, payload)

    # --- model and watchdog --------------------------------------------------------------
    def on_tick(self, now: float) -> None:
        if self.enabled and self.armed and now - self.last_host_s > self.watchdog_s:
            self._disable()
            self.flags |= framed.FLAG_WATCHDOG
            self.watchdog_trips += 1
            self.trip_after_s = now - self.last_host_s
            self._reply(framed.MSG_FAULT, bytes([framed.FAULT_WATCHDOG]))
        dt = 0.0 if self.last_step_s is None else now - self.last_step_s
        self.last_step_s = now
        self.joints.step(min(dt, MAX_STEP_S), self.enabled, self.mode == framed.MODE_POSITION, self.goal)

    def _snapshot(self) -> dict:
        return {"q": self.joints.q.copy(), "qd": self.joints.qd.copy(), "enabled": self.enabled,
                "flags": self.flags, "watchdog_trips": self.watchdog_trips, "corrupt": self.reader.corrupt,
                "commands": self.commands, "trip_after_s": self.trip_after_s, "mode": self.mode, "goal": np.array(self.goal, dtype=float)}
