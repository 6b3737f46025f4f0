"""Complexity profiling and benchmarks."""
