"""Test helpers shipped with the package (used by the tests and the benchmarks)."""
