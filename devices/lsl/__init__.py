"""Lab Streaming Layer: the inlet source (inlet.py), outlets (outlet.py), `rtcore streams` and
`rtcore source` (cli.py) and the LSL benchmark (bench.py). C entry points: devices/lsl_c.py."""
