"""Load benchmarks for Steg (run by `make bench`; not part of the test suite)."""
