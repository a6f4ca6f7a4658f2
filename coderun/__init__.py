"""coderun: execute and score code-LLM benchmarks (HumanEval, MBPP) in warm Docker sandboxes.

From Python (docs/api.md): `coderun.evaluate`, `coderun.generate`, `coderun.compare`, `coderun.Run`, and for
RL trainers `coderun.Reward` and `coderun.compute_score`. They load on first use, so `import coderun` imports
nothing heavy (no datasets, docker, numpy, rich or vllm).
"""

import sys
import types

__version__ = "0.1.0"

_API = {"evaluate": "coderun.api", "generate": "coderun.api", "compare": "coderun.api", "Run": "coderun.api",
        "Reward": "coderun.reward", "compute_score": "coderun.reward"}
__all__ = ["__version__", *_API]

# `compare` and `generate` are also submodules (coderun/compare.py, coderun/generate/), and importing a
# submodule binds it on the package, so `coderun.compare` is that module whatever happens. Those two modules
# are made callable instead: calling one calls the API function of its name, and `from coderun import
# compare as cmp; cmp.compare(...)` keeps working.
_CALLABLE_MODULES = ("compare", "generate")


class _ApiModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from coderun import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _CALLABLE_MODULES and type(value) is types.ModuleType:
            value.__class__ = _ApiModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    import importlib

    if name in _CALLABLE_MODULES:
        return importlib.import_module(f"{__name__}.{name}")  # binds it, callable, on the package
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
