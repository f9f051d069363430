"""Serial device emulators on pseudo-terminals: they speak the real protocols (CRC, error bits,
watchdog), so tests and users drive them exactly as they would drive hardware."""
