"""Failure taxonomy: one kind per non-passing sample, read from its status and `reason`.

The reasons come from the in-container runner (sandbox/runner.py `_reason`/`_judge`) and the pool:
"SyntaxError in solution line 3: ...", "AssertionError: assert f(1) == 2", "NameError: name 'x' is not
defined", "CPU limit exceeded (1.0 s)", "killed: out of memory (...)", "SystemExit(0) before the tests
finished", "exited with status 3 before the tests finished", "crashed: SIGSEGV", "the sample killed its
sandbox 2 times (...)". Pure; no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from coderun.records import Status

SYNTAX = "syntax error"
ASSERTION = "assertion"
TIMEOUT = "timeout"
MEMORY = "memory"
EARLY_EXIT = "exit before the tests finished"
HARNESS = "harness error"
OTHER = "other"

_EXCEPTION = re.compile(r"^([A-Z_][\w.]*)(?::\s|$)")  # the runner writes "Type: message" or "Type"
_SYNTAX_NAMES = ("SyntaxError", "IndentationError", "TabError")


def failure_kind(status: str, reason: str) -> str | None:
    """The kind of a sample's failure, None for a passing sample."""
    if status == Status.PASSED:
        return None
    if status == Status.TIMEOUT:
        return TIMEOUT
    if status == Status.ERROR:
        return HARNESS
    reason = reason or ""
    if reason.startswith(_SYNTAX_NAMES):
        return SYNTAX
    if reason.startswith("AssertionError"):
        return ASSERTION
    if reason.startswith("MemoryError") or "out of memory" in reason:
        return MEMORY
    if reason.startswith("SystemExit") or reason.startswith("exited with status"):
        return EARLY_EXIT
    if reason.startswith("crashed: "):
        return f"crash ({reason[len('crashed: '):].split()[0]})"
    if reason.startswith("the sample killed its sandbox"):
        return "killed its sandbox"
    m = _EXCEPTION.match(reason)
    if m:
        return m.group(1)  # each exception type its own kind: NameError, TypeError, RecursionError, ...
    return OTHER


def taxonomy(rows: Iterable) -> Counter:
    """Failure kind -> number of samples, most common first when iterated with most_common()."""
    kinds = (failure_kind(r.status, r.reason) for r in rows)
    return Counter(k for k in kinds if k is not None)
