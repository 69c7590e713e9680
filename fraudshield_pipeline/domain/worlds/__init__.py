"""Benchmark worlds unlike the embedded simulator, to check that defaults are not fitted to it."""
