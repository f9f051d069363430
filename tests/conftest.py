"""Shared test setup: LSL discovery stays on this machine (127.0.0.1, no multicast on the LAN), and
Ctrl-C (SIGINT) reaches the processes the tests start.

LSLAPICFG must be set before liblsl reads its configuration (first use), and child processes
inherit it.

A suite started in the background of a non-interactive shell (`bash .ci/run &`, nohup) inherits
SIGINT ignored, and an ignored signal stays ignored across exec: every `rtcore source` or session a
test stops with SIGINT, as a user's Ctrl-C would, then ran on to its end (an EMG user with
--duration 60 exited 55 s after it). The tests' own process takes Python's default handler, which
exec resets to the default action, so their children see SIGINT as a terminal would send it.
"""
import os
import pathlib
import signal

os.environ["LSLAPICFG"] = str(pathlib.Path(__file__).with_name("lsl_api.cfg"))
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
