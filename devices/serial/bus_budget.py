"""Bus budget: can the serial line carry one device transaction per device period? Checked at build,
before anything is opened, so a loop the line cannot carry is refused with one line.

Wire time of a transaction, 10 bits per byte (8N1) at `baud`:
    dynamixel (half duplex, one line):  t = bytes(SYNC_WRITE + read request + status packets) * 10 / baud
                                            + (status packets that wait their Return Delay Time) * rdt
    framed (full duplex, reply after command):  t = bytes(COMMAND + STATE) * 10 / baud
The transaction must fit in `LINE_SHARE` of the device period; the rest is left for the host's
wake-up, the USB adapter's latency and the device's own processing. For Dynamixel the three read
instructions are costed (Protocol 2.0 e-Manual packet layouts, byte stuffing not counted):
    SYNC_READ       request 14 + n,  n status packets of 11 + L, each after its return delay;
    FAST_SYNC_READ  request 14 + n,  one packet of 8 + n (L + 4), one return delay;
    BULK_READ       request 10 + 5n, n status packets of 11 + L, each after its return delay.
The engine reads with FAST_SYNC_READ where the servos answer it (read_instruction), else SYNC_READ;
a refusal names the faster reads and the rate each would allow.
"""
from devices.protocols import dynamixel
from devices.protocols import framed

LINE_SHARE = 0.8  #: fraction of the device period the transaction may occupy on the wire
BITS_PER_BYTE = 10


def dynamixel_transaction(n: int, baud: int, goal_bytes: int, read_len: int = dynamixel.PRESENT_BLOCK_LEN,
                          return_delay_us: float = 0.0) -> dict:
    """Wire time (s) and bytes of one SYNC_WRITE of n goals plus each kind of read of read_len bytes."""
    write = 14 + n * (1 + goal_bytes)
    reads = {"sync_read": (14 + n + n * (11 + read_len), n),
             "fast_sync_read": (14 + n + 8 + n * (read_len + 4), 1),
             "bulk_read": (10 + 5 * n + n * (11 + read_len), n)}
    out = {}
    for name, (nbytes, delays) in reads.items():
        total = write + nbytes
        out[name] = {"bytes": total, "s": total * BITS_PER_BYTE / baud + delays * return_delay_us * 1e-6}
    return out


def framed_transaction(n: int, baud: int) -> dict:
    """Wire time (s) and bytes of one COMMAND of n joints and its STATE reply."""
    total = len(framed.encode(framed.MSG_COMMAND, 0, bytes(2 + 4 * n))) + len(framed.encode(framed.MSG_STATE, 0, bytes(3 + 12 * n)))
    return {"bytes": total, "s": total * BITS_PER_BYTE / baud}


def _refusal(where: str, what: str, t_s: float, nbytes: int, baud: int, rate_hz: float) -> str:
    max_hz = LINE_SHARE / t_s
    return (f"{where}.device_rate_hz = {rate_hz:g}: {what} is {nbytes} B, {t_s * 1e3:.2f} ms on the wire at "
            f"{baud} bit/s, over {LINE_SHARE:.0%} of the {1e3 / rate_hz:.2f} ms period; "
            f"set device_rate_hz <= {max_hz:.0f} or raise {where}.baud")


def check_dynamixel(cfg, device_rate_hz: float, fast: bool, where: str = "plant") -> dict:
    """The engine's SYNC_WRITE + read (FAST_SYNC_READ if fast, else SYNC_READ) against the period;
    ValueError (one line) if it does not fit. Returns the budget (all three reads) for the info."""
    n = len(cfg.ids)
    goal_bytes = 4 if cfg.command_mode == "position" else 2
    reads = dynamixel_transaction(n, cfg.baud, goal_bytes, return_delay_us=cfg.return_delay_us)
    name = "fast_sync_read" if fast else "sync_read"
    used = reads[name]
    if used["s"] > LINE_SHARE / device_rate_hz:
        others = ", ".join(f"{k.replace('_', ' ')} would allow {LINE_SHARE / v['s']:.0f} Hz"
                           for k, v in reads.items() if k != name and v["s"] < used["s"])
        msg = _refusal(where, f"a sync write + {name.replace('_', ' ')} of {n} servos", used["s"], used["bytes"],
                       cfg.baud, device_rate_hz)
        raise ValueError(msg + (f" ({others})" if others else ""))
    return {k: {"bytes": v["bytes"], "ms": round(v["s"] * 1e3, 3)} for k, v in reads.items()} | \
        {"used": name, "line_share": round(used["s"] * device_rate_hz, 3)}


def check_framed(cfg, device_rate_hz: float, where: str = "plant") -> dict:
    """COMMAND + STATE against the period; ValueError (one line) if it does not fit."""
    t = framed_transaction(cfg.n_joints, cfg.baud)
    if t["s"] > LINE_SHARE / device_rate_hz:
        raise ValueError(_refusal(where, f"a COMMAND + STATE of {cfg.n_joints} joints", t["s"], t["bytes"],
                                  cfg.baud, device_rate_hz))
    return {"bytes": t["bytes"], "ms": round(t["s"] * 1e3, 3), "line_share": round(t["s"] * device_rate_hz, 3)}
