"""`coderun report --html`, rendered in headless Chromium (Debian's chromium) with every network fetch
made to fail: what a reader sees equals summary.json, the plots are drawn, the comparison lists the flips."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from coderun.report.taxonomy import failure_kind
from tests.runfiles import ENDLESS, WRONG, benchmark, humaneval_ids, make_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TASKS = humaneval_ids(10)
HOSTILE = "</code></pre><script>document.title='pwned'</script>"

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason="Debian's chromium is not installed (scripts/setup.sh installs it)")


def failures(task: str) -> list[tuple[str, str]]:
    """Programs that fail `task` in a spread of ways: (status, program)."""
    entry = benchmark().get(task).entry_point
    return [("failed", "def broken():\n    return 1 +\n"),  # SyntaxError in solution line 2
            ("failed", WRONG),  # NameError: the function under test is not defined
            ("failed", "buffer = bytearray(1 << 40)\n"),  # MemoryError: above the sandbox's memory limit
            ("failed", f"def {entry}(*args, **kwargs):\n    return None\n"),  # a wrong answer: AssertionError
            ("failed", f"def {entry}(*args, **kwargs):\n    return None + 1\n")]  # TypeError


def outcomes(solved: set[int]) -> dict[str, list]:
    """Four samples per problem; the unsolved fail in a spread of ways so the taxonomy has every kind (one
    timeout: each costs a CPU second). Problem 3's first sample, a failing one, carries hostile text."""
    result = {}
    for i, task in enumerate(TASKS):
        kinds = failures(task)
        samples = [kinds[(i + j) % len(kinds)] for j in range(4)]
        if i in solved:
            samples[1] = "passed"
        result[task] = samples
    result[TASKS[3]][0] = ("failed", f"shown = {HOSTILE!r}\n{WRONG}")
    result[TASKS[9]][3] = ("timeout", ENDLESS)
    return result


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    make_run(root / "base", outcomes({0, 1, 2, 3, 4, 5}), ks=[1, 2, 4])
    make_run(root / "ft", outcomes({2, 3, 4, 5, 6, 7, 8}), ks=[1, 2, 4])
    page = root / "out" / "report.html"
    result = subprocess.run([sys.executable, "-m", "coderun", "report", "base", "ft", "--html", str(page)],
                            capture_output=True, text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    return root, page


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    profile = page.parent / "chromium-profile"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--disable-sync",
                           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                           "--virtual-time-budget=10000", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


class Cells(HTMLParser):
    """Text of every element by class name, with its attributes (a small DOM reader for the dump)."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.found: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "meta", "img", "input", "link", "path", "rect", "line", "circle", "use"):
            return
        entry = (tag, dict(attrs), [])
        self.stack.append(entry)
        self.found.append(entry)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, _, texts in self.stack:
            texts.append(data)

    def by_class(self, name: str) -> list[tuple[dict, str]]:
        return [(a, "".join(t).strip()) for _, a, t in self.found if name in (a.get("class") or "").split()]


@pytest.fixture(scope="module")
def dom(report):
    _, page = report
    result = chromium(page, "--dump-dom")
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    parser = Cells()
    parser.feed(result.stdout)
    return result.stdout, parser


@needs_chromium
@pytest.mark.docker
def test_the_figures_a_reader_sees_equal_summary_json(report, dom):
    root, _ = report
    _, cells = dom
    scores = {(a["data-run"], a["data-k"]): text for a, text in cells.by_class("score")}
    cis = {(a["data-run"], a["data-k"]): text for a, text in cells.by_class("ci")}
    for run in ("base", "ft"):
        summary = json.loads((root / run / "summary.json").read_text())
        assert set(summary["pass@k"]) == {"1", "2", "4"}
        for k, value in summary["pass@k"].items():
            assert scores[(run, k)] == f"{100 * value:.2f}%"
            ci = summary["pass@k_ci"][k]
            assert cis[(run, k)] == f"{100 * ci['low']:.2f} – {100 * ci['high']:.2f}"
    assert scores[("base", "1")] == "15.00%" and scores[("ft", "1")] == "17.50%"  # 6/40 and 7/40 samples
    assert [t for _, t in cells.by_class("problem-count")] == ["10", "10"]


@needs_chromium
@pytest.mark.docker
def test_the_plots_are_drawn(dom):
    text, cells = dom
    # plotly.js ran (inline: every network request fails) and drew each figure into SVG.
    assert len(re.findall(r'<svg class="main-svg"', text)) >= 4  # two figures, two layers each
    legend = [t for _, t in cells.by_class("legendtext")]
    assert legend.count("base") == 2 and legend.count("ft") == 2  # the curve and the taxonomy, both runs
    assert len(re.findall(r'class="trace scatter', text)) == 2
    assert len(re.findall(r'class="trace bars"', text)) == 2
    assert "pass@k — humaneval" in [t for _, t in cells.by_class("gtitle")]


@needs_chromium
@pytest.mark.docker
def test_the_comparison_lists_the_flips(dom):
    _, cells = dom
    gained = [t for _, t in cells.by_class("gained")]
    lost = [t for _, t in cells.by_class("lost")]
    assert gained == ["HumanEval/6HumanEval/7HumanEval/8"]
    assert lost == ["HumanEval/0HumanEval/1"]
    diffs = [t for _, t in cells.by_class("diff")]
    assert diffs[0] == "+2.50"  # pass@1: 17.50% - 15.00%, paired over the same ten problems


@needs_chromium
@pytest.mark.docker
def test_taxonomy_and_samples(report, dom):
    root, _ = report
    text, cells = dom
    table = re.search(r'<table id="taxonomy-table">(.*?)</table>', text, re.S).group(1)
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td>", table))
    base_rows = [json.loads(line) for line in (root / "base" / "results.jsonl").read_text().splitlines()]
    for kind in ("syntax error", "assertion", "NameError", "TypeError", "timeout", "memory"):
        expected = sum(1 for r in base_rows if failure_kind(r["status"], r["reason"]) == kind)
        assert expected > 0 and rows[kind] == str(expected)
    passing = benchmark().canonical(benchmark().get(TASKS[0])).solution  # base's sample 1 of HumanEval/0
    assert html.escape(passing, quote=False) in text  # a passing sample's program, from the samples file
    assert "document.title" in text and "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in text  # escaped, inert
    assert "<title>coderun report" in text and "pwned" not in re.search(r"<title>(.*?)</title>", text).group(1)


@needs_chromium
@pytest.mark.docker
def test_self_contained_and_readable(report):
    _, page = report
    html = page.read_text()
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="?(https?:)?//', html)
    shot = page.parent / "report.png"
    result = chromium(page, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.stat().st_size > 50_000  # a page with tables and plots, not blank


@pytest.mark.docker
def test_report_without_samples_shows_reasons_and_warns(tmp_path):
    run = make_run(tmp_path / "only", outcomes({1}))
    Path(json.loads((run / "config.json").read_text())["samples"]["path"]).unlink()  # moved away since
    page = tmp_path / "r.html"
    result = subprocess.run([sys.executable, "-m", "coderun", "report", "only", "--html", str(page)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "samples file is not available" in result.stderr
    html = page.read_text()
    assert "sample 0 (failed): SyntaxError in solution line 2" in html and 'id="comparison"' not in html


def test_report_bad_input_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "coderun", "report", "missing", "--html", "x.html"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and result.stderr.strip() == "coderun: error: run not found: missing"


@pytest.mark.docker
def test_report_on_a_bare_results_file_computes_the_same_figures(report, tmp_path):
    root, _ = report
    page = tmp_path / "bare.html"
    result = subprocess.run([sys.executable, "-m", "coderun", "report", "base/results.jsonl", "ft", "--html", str(page)],
                            capture_output=True, text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "nothing about it (dataset, prompt, settings) can be checked" in result.stderr
    summary = json.loads((root / "base" / "summary.json").read_text())
    cells = Cells()
    cells.feed(page.read_text())
    scores = {(a["data-run"], a["data-k"]): text for a, text in cells.by_class("score")}
    bare = {k: text for (run, k), text in scores.items() if run == "base/results.jsonl"}
    assert list(bare) == ["1"]  # without a config, the default ks that 4 samples allow
    assert bare["1"] == f"{100 * summary['pass@k']['1']:.2f}%"
    assert [t for _, t in cells.by_class("gained")] == ["HumanEval/6HumanEval/7HumanEval/8"]
