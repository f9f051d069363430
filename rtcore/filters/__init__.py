"""Signal filters shared by stages (designed at build time, run per sample in compiled code)."""
