"""Plug-ins from installed packages: Python entry points, read once per group when a registry is first used.

A package adds a language, a dataset, a generation backend or a reranker by declaring an entry point in the
group of that registry (pyproject.toml):

    [project.entry-points."coderun.languages"]
    kotlin = "coderun_kotlin:KOTLIN"          # a Language row (registered as is)
    [project.entry-points."coderun.datasets"]
    mine = "coderun_mine.dataset"             # a module that registers its datasets when imported

Loading an entry point imports its module, which may register things itself; the loaded object is returned
so that the registry can register it too. A plug-in that fails to load is reported once on stderr and
skipped: a broken third-party package never stops a run that does not use it.
"""

from __future__ import annotations

import functools
import sys
from importlib.metadata import entry_points
from typing import Any

GROUPS = ("coderun.languages", "coderun.datasets", "coderun.backends", "coderun.rerankers")


@functools.cache
def _installed():
    """Every installed package's entry points, read once per process: a scan of all their metadata costs
    ~40 ms, and a run's registries ask several times."""
    return entry_points()


def _group(group: str):
    return _installed().select(group=group)


def load_entry_points(group: str) -> list[tuple[str, Any]]:
    """(name, loaded object) for every entry point of `group` that loads."""
    loaded = []
    for ep in _group(group):
        try:
            loaded.append((ep.name, ep.load()))
        except Exception as exc:  # noqa: BLE001 - someone else's package: report, never crash
            print(f"coderun: skipping plug-in {ep.name!r} ({group}, {ep.value}): {exc}", file=sys.stderr)
    return loaded


def plugin_modules(group: str) -> dict[str, str]:
    """name -> module of each entry point of `group`, read from the installed packages' metadata without
    importing anything (for registries whose members register themselves when their module is imported)."""
    return {ep.name: ep.value.split(":", 1)[0] for ep in _group(group)}
