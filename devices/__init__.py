"""devices: LSL streams, serial transports, wire protocols, device emulators and firmware."""
import rtcore  # noqa: F401  (points Numba's cache at rtcore's before numba is imported)
