"""Renderings of run results: terminal tables, JSON, JUnit XML, an HTML page."""

from __future__ import annotations

from pathlib import Path

from coderun.errors import CoderunError


def write_text(path: str, text: str) -> None:
    """Write a report file, creating its directory; a failure is one clear error, not a traceback."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CoderunError(f"cannot write {path}: {exc.strerror or exc}") from None
