"""Synthetic users that close the loop: an intracortical population (neural) and an EMG user (emg).

Each is a compiled source stage (in-process, for offline tests and sweeps) and a standalone LSL
publisher (`rtcore source neural|emg`, for real-time demos).
"""
