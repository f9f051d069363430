"""sims: MuJoCo plants, paradigms, synthetic users and sources."""
import rtcore  # noqa: F401  (points Numba's cache at rtcore's before numba is imported)
