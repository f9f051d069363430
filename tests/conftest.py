"""Shared test setup: LSL discovery stays on this machine (127.0.0.1, no multicast on the LAN).

LSLAPICFG must be set before liblsl reads its configuration (first use), and child processes
inherit it.
"""
import os
import pathlib

os.environ["LSLAPICFG"] = str(pathlib.Path(__file__).with_name("lsl_api.cfg"))
