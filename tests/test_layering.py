"""The layering of docs/design.md, checked on the source: every import, at module level or inside a function,
of every module. A rule broken here is a design change to argue for, not a test to loosen."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "coderun"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "sandbox":  # shipped as coderun.sandbox (pyproject's package-dir)
        parts = ["coderun", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from coderun import cli`
    return found


MODULES = {module_name(p): imports(p) for p in sorted([*PACKAGE.rglob("*.py"), *(REPO / "sandbox").glob("*.py")])}
# What a dataset module builds for the executor, and the limit rules it declares with: they run nothing.
DATA_TYPES = ("coderun.execute.program", "coderun.execute.limits")


def offenders(importer_prefixes: tuple[str, ...], forbidden_prefixes: tuple[str, ...]) -> list[str]:
    def within(name: str, prefixes: tuple[str, ...]) -> bool:
        return any(name == p or name.startswith(p + ".") for p in prefixes)

    return sorted(f"{mod} imports {imp}" for mod, imps in MODULES.items() if within(mod, importer_prefixes)
                  for imp in imps if within(imp, forbidden_prefixes) and not within(imp, DATA_TYPES))


def test_the_source_is_found():
    assert {"coderun.records", "coderun.orchestrate.stage", "coderun.execute.pool", "coderun.cli",
            "coderun.sandbox.runner"} <= set(MODULES)
    assert "coderun.records" in MODULES["coderun.orchestrate.stage"]
    assert "coderun.sandbox.plaindata" in MODULES["coderun.datasets.evalplus"]


def test_the_data_types_run_nothing():
    """A dataset module may build the executor's data types; those import nothing of coderun but records."""
    for name in DATA_TYPES:
        assert [i for i in MODULES[name] if i.startswith("coderun") and not i.startswith("coderun.records")] == [], name


def test_only_the_execution_service_builds_jobs():
    """One owner of program -> jobs -> outcome: no module but the service constructs a Job."""
    builders = sorted(p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py")
                      if any(isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "Job"
                             for n in ast.walk(ast.parse(p.read_text()))))
    assert builders == ["coderun/execute/service.py"]


@pytest.mark.parametrize("importers, forbidden, why", [
    (("coderun.execute",), ("coderun.datasets", "coderun.prompts", "coderun.samples", "coderun.generate",
                            "coderun.rerank", "coderun.orchestrate", "coderun.summary", "coderun.compare"),
     "the executor runs programs and knows no benchmark, no generator, no run"),
    (("coderun.generate",), ("coderun.execute", "coderun.orchestrate", "coderun.rerank", "coderun.summary"),
     "generation and execution meet in records; the orchestrators join them"),
    (("coderun.stats", "coderun.summary", "coderun.compare", "coderun.gates", "coderun.rerank.stats"),
     ("coderun.execute", "coderun.generate", "coderun.orchestrate", "coderun.datasets", "coderun.cluster"),
     "scoring stays pure: nothing that runs code or models"),
    (("coderun.records", "coderun.errors"), tuple(sorted({m.split(".")[0] + "." + m.split(".")[1]
                                                          for m in MODULES if m.count(".") >= 1}
                                                         - {"coderun.records", "coderun.errors"})),
     "the run record is the bottom layer: it imports only errors"),
    (("coderun.report", "coderun.tracking"), ("coderun.execute", "coderun.generate", "coderun.orchestrate",
                                              "coderun.rerank.judge", "coderun.cli"),
     "reports and MLflow tracking read run records and scores; they run nothing"),
    (("coderun.datasets", "coderun.prompts", "coderun.samples"), ("coderun.execute", "coderun.generate",
                                                                  "coderun.orchestrate", "coderun.rerank"),
     "datasets and prompts are data; they run nothing"),
])
def test_layering(importers, forbidden, why):
    assert offenders(importers, forbidden) == [], why


def test_nothing_imports_the_cli():
    """Only the CLI's own modules and the `python -m coderun` entry point import coderun.cli."""
    outside = [m for m in MODULES if not (m == "coderun.cli" or m.startswith("coderun.cli.") or m == "coderun.__main__")]
    assert sorted(f"{m} imports {i}" for m in outside for i in MODULES[m]
                  if i == "coderun.cli" or i.startswith("coderun.cli.")) == []


def test_the_sandbox_runner_uses_only_the_standard_library():
    """runner.py and its modules run inside the sandbox image, where only they and the standard library are."""
    modules = {p.stem: p for p in (REPO / "sandbox").glob("*.py") if p.stem != "__init__"}
    assert {"runner", "calltest", "plaindata"} <= set(modules)
    allowed = set(sys.stdlib_module_names) | {"__future__"} | set(modules)
    for name, path in modules.items():
        tops = {imported.split(".")[0] for imported in imports(path)}
        assert tops <= allowed, (name, tops - allowed)


def test_cli_help_imports_nothing_heavy():
    import subprocess

    code = ("import sys, coderun.cli\n"
            "heavy = {'datasets', 'docker', 'numpy', 'rich', 'vllm', 'torch', 'ray', 'httpx', 'plotly', 'pyarrow',"
            " 'mlflow'}\n"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_the_stage_has_no_tier_branch():
    """Tiers are a property of a problem's Program that the execution service folds: the stage that records
    outcomes neither builds tier jobs nor folds tier verdicts."""
    tree = ast.parse((PACKAGE / "orchestrate" / "stage.py").read_text())
    names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
             if isinstance(n, (ast.Attribute, ast.Name))}
    assert not names & {"tiers", "CallTier", "Call", "Job", "fold", "combine", "References"}
