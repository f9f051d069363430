"""devices: LSL streams, serial transports, wire protocols, device emulators and firmware."""
