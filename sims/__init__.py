"""sims: MuJoCo plants, paradigms, synthetic users and sources."""
