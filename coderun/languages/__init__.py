"""Languages, one data row each (base.py: what a row holds; builtin.py: coderun's own rows)."""

from coderun.languages.base import (
    MARK_SLOT,
    Check,
    Language,
    Step,
    get,
    names,
    register,
    registry,
)

__all__ = ["MARK_SLOT", "Check", "Language", "Step", "get", "names", "register", "registry"]
