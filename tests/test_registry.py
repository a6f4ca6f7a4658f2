"""Plug-ins: an installed package adds a language, a dataset, a backend and a reranker through entry points,
and coderun lists them without a change of its own (coderun/registry.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from coderun import languages


def _install(site, name: str, module: str, entry_points: str) -> None:
    """A package as pip leaves it: a module and a dist-info with its entry points."""
    (site / f"{name}.py").write_text(textwrap.dedent(module))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def _python(site, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_package_adds_a_language_row_and_a_dataset_in_it(tmp_path):
    _install(tmp_path, "coderun_awk", '''
        from coderun.languages import Language, Step
        AWK = Language(key="awk", title="AWK", file="main.awk", steps=(Step("run", ("awk", "-f", "{file}"), 5.0, 10.0),),
                       packages=("gawk",), mark='BEGIN { print "{mark}" }', mark_at="end")
    ''', '''
        [coderun.languages]
        awk = coderun_awk:AWK
    ''')
    out = _python(tmp_path, "from coderun import languages; row = languages.get('awk'); "
                            "print(languages.names()); print(row.step_messages(2.0)[0]['argv'])")
    assert "'awk'" in out.splitlines()[0] and "['awk', '-f', 'main.awk']" in out
    assert "awk" not in languages.names()  # this process has no such package


def test_plug_in_backends_rerankers_and_datasets_are_listed(tmp_path):
    _install(tmp_path, "coderun_extra", '''
        from coderun.rerank.base import Reranker, register
        @register("shortest")
        class Shortest(Reranker):
            pass
    ''', '''
        [coderun.rerankers]
        shortest = coderun_extra
        [coderun.backends]
        mybackend = coderun_extra
    ''')
    out = _python(tmp_path, "from coderun.rerank import method_names, get; from coderun.generate.base import "
                            "backend_names; print(method_names()); print(backend_names()); print(get('shortest').name)")
    lines = out.splitlines()
    assert "shortest" in lines[0] and "mybackend" in lines[1] and lines[2] == "shortest"


def test_a_broken_plug_in_is_reported_and_skipped(tmp_path):
    _install(tmp_path, "coderun_broken", "raise ImportError('no such thing')\n", '''
        [coderun.languages]
        broken = coderun_broken:ROW
    ''')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "from coderun import languages; print(languages.names())"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and "python" in result.stdout
    assert "skipping plug-in 'broken'" in result.stderr


def _language_datasets() -> list[str]:
    from coderun import datasets

    return [n for n, info in datasets.registry().items() if info.language != "python"]


@pytest.mark.parametrize("name", _language_datasets())
def test_every_row_places_its_end_mark_in_every_problem_of_its_datasets(name):
    """The mark goes where the row (or the suite's override of it) says, in every problem of every dataset in
    another language (none left without one)."""
    from coderun import datasets

    bench = datasets.load(name)
    row = getattr(bench, "row", None) or languages.get(bench.language)
    for problem in bench.problems:
        program = bench.program(problem, completion="")
        text, at = program.solution, program.command.mark_at
        line = text[text.rfind("\n", 0, at) + 1:text.find("\n", at)]
        assert line == row.mark.replace("{mark}", ""), (name, problem.task_id, line)
        assert text[:at].endswith(row.mark.split("{mark}")[0]), (name, problem.task_id)  # the slot is the mark's


def test_every_language_has_a_dataset():
    from coderun import datasets

    used = {info.language for info in datasets.registry().values()}
    assert set(languages.names()) <= used


def test_every_toolchain_row_says_how_to_read_its_versions():
    """The versions are the run's toolchain fingerprint (config.json, `coderun compare`): a row without them
    would record runs whose toolchain nobody can tell apart."""
    missing = [row.key for row in map(languages.get, languages.names()) if row.steps and not row.versions]
    assert missing == []
