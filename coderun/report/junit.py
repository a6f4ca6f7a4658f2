"""JUnit XML for CI dashboards: one testcase per problem, plus one per quality gate.

- evaluate: a problem passes when at least one sample passed; otherwise its testcase carries a
  <failure> with a failing sample's reason (or an <error> when every sample was a harness error).
- compare: per run against the baseline and dataset, a problem fails when it regressed: solved by
  the baseline (a passing sample) and not by the run; the failure carries the run's failing reason.
Gates go into a suite of their own, so a tripped gate shows as a failed test too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable

from coderun.records import STATUSES, Status
from coderun.report import write_text as write  # noqa: F401  (html.write / junit.write)

MESSAGE_CAP = 500
# Characters XML 1.0 cannot carry at all (a reason may quote any bytes a sample printed or raised).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=_clean(name))


def _case(suite: ET.Element, classname: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=_clean(classname), name=_clean(name), time=f"{seconds:.3f}")


def _finish_suite(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", "0")
    suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")


def _by_task(rows: Iterable) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for r in rows:
        grouped.setdefault(r.task_id, []).append(r)
    return grouped


def _failing(samples: list):
    """The first failing (or timed-out) sample, else the first harness error."""
    for r in samples:
        if r.status in (Status.FAILED, Status.TIMEOUT):
            return r
    return samples[0]


def _fail(case: ET.Element, samples: list, prefix: str = "") -> None:
    bad = _failing(samples)
    tag = "error" if all(r.status == Status.ERROR for r in samples) else "failure"
    message = _clean(f"{prefix}sample {bad.sample_index}: {bad.status}: {bad.reason}"[:MESSAGE_CAP])
    element = ET.SubElement(case, tag, message=message, type=bad.status)
    counts = {s: sum(1 for r in samples if r.status == s) for s in STATUSES}
    element.text = f"{message}\n" + ", ".join(f"{n} {s}" for s, n in counts.items())


def evaluation_suite(root: ET.Element, rows: list, name: str) -> None:
    suite = _suite(root, name)
    for task, samples in _by_task(rows).items():
        case = _case(suite, name, task, sum(r.time for r in samples))
        if not any(r.passed for r in samples):
            _fail(case, samples)
    _finish_suite(suite)
    if any("base_passed" in r.extra for r in rows):  # HumanEval+/MBPP+: the base tier as a suite of its own
        base = _suite(root, f"{name} (base tests)")
        for task, samples in _by_task(rows).items():
            case = _case(base, f"{name}.base", task)
            if not any(r.extra.get("base_passed") for r in samples):
                _fail(case, [r for r in samples if not r.extra.get("base_passed")] or samples)
        _finish_suite(base)


def gates_suite(root: ET.Element, gates: list) -> None:
    if not gates:
        return
    suite = _suite(root, "coderun gates")
    for g in gates:
        case = _case(suite, f"coderun.{g.gate}", f"{g.subject} (threshold {g.threshold:g})")
        if g.tripped:
            text = _clean(g.describe())
            ET.SubElement(case, "failure", message=text, type="gate").text = text
    _finish_suite(suite)


def evaluation_xml(rows: list, name: str, gates: list | None = None) -> str:
    """JUnit for one run (`coderun evaluate`): one testcase per problem."""
    root = ET.Element("testsuites", name="coderun")
    evaluation_suite(root, rows, name)
    gates_suite(root, gates or [])
    return _serialize(root)


def comparison_xml(comparison, runs: dict[str, object], gates: list | None = None) -> str:
    """JUnit for `coderun compare`: per (dataset, run), one testcase per common problem; lost = failure.

    `runs` maps each run label in the comparison to its compare.Run (rows, for the failing reason).
    """
    root = ET.Element("testsuites", name="coderun compare")
    for ds in comparison.datasets:
        for flips in ds.flips:
            name = f"{ds.dataset}: {flips.run} vs {flips.baseline}"
            suite = _suite(root, name)
            run, base = runs[flips.run], runs[flips.baseline]
            rows, run_counts, lost = _by_task(run.rows), run.counts(), set(flips.lost)
            for task in (t for t in base.counts() if t in run_counts):
                case = _case(suite, name, task, sum(r.time for r in rows[task]))
                if task in lost:
                    _fail(case, rows[task], prefix="solved by the baseline, not by this run; ")
            _finish_suite(suite)
    gates_suite(root, gates or [])
    return _serialize(root)


def _serialize(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
