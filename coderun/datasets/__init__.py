"""Benchmarks: one Problem type, one module per dataset family, registered by name."""

from coderun.datasets.base import Benchmark, Problem, Program, dataset_names, load, register

__all__ = ["Benchmark", "Problem", "Program", "dataset_names", "load", "register"]
