"""Rerankers: pick one of a problem's n candidates without looking at its hidden tests.

Each method registers itself (base.register) in its own module, imported only when asked for, so
`coderun --help` imports nothing here but this table.
"""

from __future__ import annotations

import importlib

from coderun.errors import InputError

_MODULES = {"logprob": "coderun.rerank.logprob", "exec": "coderun.rerank.execution",
            "judge": "coderun.rerank.judge", "judge+exec": "coderun.rerank.combined"}


def method_names() -> list[str]:
    return list(_MODULES)


def get(name: str):
    """The Reranker class registered as `name`."""
    from coderun.rerank.base import REGISTRY

    if name not in _MODULES:
        raise InputError(f"unknown rerank method {name!r}; known: {', '.join(_MODULES)}")
    importlib.import_module(_MODULES[name])
    return REGISTRY[name]
