"""Benchmarks of the real bridge against the sandbox; ``python -m bench`` writes BENCHMARKS.md."""
