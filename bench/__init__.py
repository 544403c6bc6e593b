"""Benchmarks: each reports our time as a ratio to a baseline measured in the same run."""
