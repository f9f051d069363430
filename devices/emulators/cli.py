"""`rtcore emulate framed|dynamixel|firmware` and `rtcore ports`: subcommand parsers for rtcore/cli.py.

    add_emulate_parser(subparsers)   # sets handler=run_emulate
    add_ports_parser(subparsers)     # sets handler=run_ports
Each handler takes the parsed args and returns a process exit code.
"""
import signal
import sys
import threading


def add_emulate_parser(subparsers) -> None:
    p = subparsers.add_parser("emulate", help="run a serial device emulator on a pty and print its path")
    p.add_argument("protocol", choices=("framed", "dynamixel", "firmware"),
                   help="framed: rtcore framed-protocol arm; dynamixel: Protocol 2.0 bus; "
                        "firmware: the real devices/firmware binary on a simulated ATmega328P (simavr)")
    p.add_argument("--joints", type=int, default=2, help="framed: number of joints (default 2)")
    p.add_argument("--ids", default="1,2", help="dynamixel: servo IDs, comma separated (default 1,2)")
    p.add_argument("--watchdog-ms", type=float, default=100.0, help="framed: device watchdog, ms (dynamixel: set by the host)")
    p.add_argument("--tau-s", type=float, default=0.05, help="joint position time constant, s")
    p.add_argument("--baud", type=int, default=115200, help="firmware: line rate the firmware is built for, bit/s (default 115200)")
    p.add_argument("--fault", action="append", default=[], metavar="KIND=VALUE[@S]",
                   help="inject a fault S seconds after the host's first bytes (repeatable): corrupt=N "
                        "(N replies with a flipped bit), drop=N (N replies not sent), garbage=S (S seconds "
                        "of line noise both ways), stall=S (the device hangs for S seconds)")
    p.set_defaults(handler=run_emulate)


def add_ports_parser(subparsers) -> None:
    p = subparsers.add_parser("ports", help="list serial ports")
    p.set_defaults(handler=run_ports)


def make_emulator(args):
    """The emulator the arguments describe, its --fault schedule added (not started)."""
    from devices.emulators.pty_device import parse_fault
    try:
        faults = [parse_fault(text) for text in args.fault]
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.protocol == "firmware":
        if faults:
            raise SystemExit("--fault: the framed and dynamixel emulators inject faults; the firmware runs as built")
        from devices.emulators.firmware import FirmwareEmulator
        try:
            return FirmwareEmulator(baud=args.baud, joints=args.joints, watchdog_ms=int(args.watchdog_ms))
        except RuntimeError as e:
            raise SystemExit(f"rtcore emulate firmware: {e}") from None
    if args.protocol == "framed":
        from devices.emulators.framed_arm import FramedArmEmulator
        em = FramedArmEmulator(n_joints=args.joints, watchdog_ms=args.watchdog_ms, tau_s=args.tau_s)
    else:
        from devices.emulators.dynamixel_bus import DynamixelBusEmulator
        try:
            ids = [int(k) for k in args.ids.split(",") if k.strip()]
        except ValueError:
            raise SystemExit(f"--ids {args.ids!r}: expected comma-separated integers, e.g. 1,2,3") from None
        em = DynamixelBusEmulator(ids=ids, tau_s=args.tau_s)
    for fault in faults:
        em.add_fault(fault)
    return em


def run_emulate(args) -> int:
    """Print the pty path (first line of stdout) and serve until Ctrl-C or SIGTERM."""
    em = make_emulator(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(em.path, flush=True)
    print(f"{args.protocol} emulator on {em.path}; set [plant] port = \"{em.path}\". Ctrl-C to stop.",
          file=sys.stderr, flush=True)
    em.start()
    while not stop.wait(0.2):
        pass
    snap = em.snapshot()
    em.close()
    corrupt = "reported by the device (STATS)" if snap["corrupt"] is None else snap["corrupt"]
    fired = ", ".join(f"{k}={v:g}" for k, v, _ in getattr(em, "faults_fired", [])) or "none"
    print(f"stopped; watchdog trips: {snap['watchdog_trips']}, corrupt frames: {corrupt}, "
          f"faults injected: {fired}", file=sys.stderr)
    return 0


def run_ports(args) -> int:
    from serial.tools import list_ports
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    if not ports:
        print("no serial ports found (an emulator's pty is not listed: use the path it prints)")
        return 0
    for p in ports:
        print(f"{p.device}\t{p.description}\t{p.hwid}")
    return 0


if __name__ == "__main__":  # python -m devices.emulators.cli emulate framed
    import argparse
    ap = argparse.ArgumentParser(prog="python -m devices.emulators.cli")
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_emulate_parser(sub)
    add_ports_parser(sub)
    a = ap.parse_args()
    sys.exit(a.handler(a))
