"""Benchmarks of hot paths (`make bench` = `python -m bench`). Timings are printed, never
asserted: they depend on the machine."""
