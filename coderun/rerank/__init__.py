"""Rerankers: pick one of a problem's n candidates without looking at its hidden tests.

Each method registers itself (base.register) in its own module, imported only when asked for, so
`coderun --help` imports nothing here but this table.
"""

from __future__ import annotations

import importlib

from coderun.errors import InputError

_MODULES = {"logprob": "coderun.rerank.logprob", "exec": "coderun.rerank.execution",
            "judge": "coderun.rerank.judge", "judge+exec": "coderun.rerank.combined"}


def _modules() -> dict[str, str]:
    """The built-in methods, then those of installed packages (entry points `coderun.rerankers`)."""
    from coderun.registry import plugin_modules

    return {**_MODULES, **{n: m for n, m in plugin_modules("coderun.rerankers").items() if n not in _MODULES}}


def method_names() -> list[str]:
    return list(_modules())


def get(name: str):
    """The Reranker class registered as `name`."""
    from coderun.rerank.base import REGISTRY

    modules = _modules()
    if name not in modules:
        raise InputError(f"unknown rerank method {name!r}; known: {', '.join(modules)}")
    importlib.import_module(modules[name])
    if name not in REGISTRY:
        raise InputError(f"rerank method {name!r}: its module {modules[name]} registers no reranker of that name")
    return REGISTRY[name]
