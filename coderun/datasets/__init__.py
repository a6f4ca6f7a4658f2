"""Benchmarks: one Problem type, one module per dataset family, registered by name (base.py)."""

from coderun.datasets.base import (Benchmark, DatasetInfo, Problem, Program, dataset_names, info, load, load_checked,
                                   register, registry)

__all__ = ["Benchmark", "DatasetInfo", "Problem", "Program", "dataset_names", "info", "load", "load_checked",
           "register", "registry"]
