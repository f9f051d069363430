"""`rtcore bench` section: round trip COMMAND -> STATE over the real firmware on simulated silicon.

bench_firmware_hil() -> dict, per line rate (115200 and 1 Mbit/s):
- rtt_us: wall-clock round trip of a framed COMMAND (16 B) to its STATE reply (33 B), matched
  by sequence number, through the pty, the simavr harness and the firmware ({p50, p99, max});
- wire_us: what the bytes alone take at the programmed rate (49 B x 10 bits), for comparison;
- byte_us: the measured time between reply bytes on the host (median over replies, from the
  spread of arrival times of the first and last byte) against the programmed byte time;
- slipped_share: fraction of the run the simulation lost against the wall clock (a busy machine).
Also the firmware's flash and RAM use. Without the AVR tools or simavr: {"skipped": reason}.
"""
import os
import select
import struct
import time

import numpy as np

from devices.emulators.firmware import FirmwareEmulator, build_firmware, missing_tools
from devices.protocols import framed
from rtcore.summary import percentiles

N_EXCHANGES = 300


def _exchange(fd, reader, seq: int, goal: bytes):
    """One COMMAND -> STATE; (round trip s, [(arrival s, bytes)]) or None on a 0.5 s timeout."""
    os.write(fd, framed.encode(framed.MSG_COMMAND, seq, goal))
    t0 = time.perf_counter()
    chunks = []
    while time.perf_counter() - t0 < 0.5:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        data = os.read(fd, 4096)
        chunks.append((time.perf_counter() - t0, len(data)))
        for msg, _, payload in reader.feed(data):
            if msg == framed.MSG_STATE and payload[1] == seq & 0xFF:
                return chunks[-1][0], chunks
    return None


def _one_rate(baud: int) -> dict:
    from devices.serial import framed_arm
    from devices.serial import plant_base
    with FirmwareEmulator(baud=baud) as fw:
        cfg = framed_arm.FramedArmConfig(kind="framed_arm", port=fw.path, baud=baud, timeout_s=2.0)
        drv = framed_arm.FramedArmDriver(cfg)
        plant_base.start(drv)
        try:
            fd = drv.sp.fileno()
            before = fw.stats()
            rtt, byte_us, missed = [], [], 0
            for k in range(N_EXCHANGES):
                goal = struct.pack("<BB2i", framed.MODE_POSITION, 2, 200_000 * (k % 2), -100_000)
                got = _exchange(fd, drv.reader, k, goal)
                if got is None:
                    missed += 1
                    continue
                rtt.append(got[0] * 1e6)
                chunks = got[1]
                n_after_first = sum(n for _, n in chunks[1:])
                if n_after_first >= 10:
                    byte_us.append((chunks[-1][0] - chunks[0][0]) * 1e6 / n_after_first)
                time.sleep(0.005)  # a 200 Hz device rate
            after = fw.stats()
        finally:
            drv.close()
    wall = after["wall_us"] + after["slipped_us"] - before["wall_us"] - before["slipped_us"]
    frame_bytes = len(framed.encode(framed.MSG_COMMAND, 0, bytes(10))) + len(framed.encode(framed.MSG_STATE, 0, bytes(27)))
    return {"rtt_us": percentiles(rtt), "wire_us": round(frame_bytes * 10 / fw.uart["baud"] * 1e6, 1),
            "byte_us": {"measured_p50": round(float(np.median(byte_us)), 2) if byte_us else None,
                        "programmed": fw.uart["byte_us"]},
            "missed": missed, "exchanges": N_EXCHANGES,
            "slipped_share": round((after["slipped_us"] - before["slipped_us"]) / max(wall, 1.0), 3)}


def bench_firmware_hil() -> dict:
    reason = missing_tools()
    if reason:
        return {"skipped": reason}
    out = {"sizes": {k: v for k, v in build_firmware(115200).sizes().items() if k != "baud"}}
    for baud in (115200, 1_000_000):
        out[f"baud_{baud}"] = _one_rate(baud)
    return out
