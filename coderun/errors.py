"""One error family, turned into a one-line message and an exit code at the CLI edge.

Exit codes are a stable contract (README, "Contracts"): 0 completed, 2 bad input or usage,
1 internal failure or incomplete run, 3 a quality gate tripped.
"""

from __future__ import annotations


class CoderunError(Exception):
    """Base of every error coderun reports to a user. `exit_code` decides the process status."""

    exit_code = 1


class InputError(CoderunError):
    """Bad input from the user: a file, an id, an option. Exit 2."""

    exit_code = 2


class SandboxError(CoderunError):
    """The sandbox cannot run at all (no daemon, no image, limits not applied). Exit 1."""

    exit_code = 1


class GateTripped(CoderunError):
    """A quality gate (--fail-under, --fail-if-regression) tripped. Exit 3."""

    exit_code = 3
