"""Wire protocols: framing, byte stuffing, CRC and resync, as compiled kernels over uint8 arrays."""
