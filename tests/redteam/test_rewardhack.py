"""Reward hacking, in real containers: the attacks of rewardhack_cases.py against the three judging modes.

One `coderun.evaluate` run per (mode, dataset) holds every attack as its own sample, beside a correct and a
wrong neighbour whose verdicts must hold (a container start costs seconds; one run per attack would not fit
CI). Each run is made once, at its first test, and shared by the tests that read its rows.

- plus (humaneval-plus, mbpp-plus): no attack passes, base tier included; the run is complete.
- strict (humaneval and mbpp with strict=True): no attack passes (a TypeError where `coderun.evaluate` does
  not take `strict`).
- plus and strict: the attack that disables its input timer and blocks every signal must be killed by the
  runner at its input's limit + SLACK, before it prints SPUN (docs/evalplus.md says the runner does this).
- classic (humaneval, mbpp): each attack gets the verdict its case records (`classic_passes`, explained in
  rewardhack_cases.py's docstring); the tables printed say what every attack found.
- the memory scan (plus and strict): a sample scans every readable mapping of its own process for the expected
  outputs of HumanEval/27 (flip_case: outputs that no input holds, computed here with the reference solution)
  and for two positive controls, a string it built itself and the argument it was called with. FOUND must be
  0 and the controls found, so a broken scanner cannot pass by finding nothing. On the sandbox of HEAD
  3eb1e09 (the child forked from a runner that had decoded the expected outputs) it found 7 copies in a base
  tier's process and about 100 in a plus tier's; in a container that never received them, 0.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

import coderun
from coderun import datasets
from coderun.sandbox import plaindata
from tests.redteam.rewardhack_cases import WRONG, Attack, attacks_for, memory_scan_program

pytestmark = pytest.mark.docker

TIMEOUT = 1.5  # CPU seconds per sample (classic, strict) and per input (plus): SPIN_CPU > TIMEOUT + SLACK
WORKERS = 2


@dataclass(frozen=True)
class Target:
    classic: str  # the dataset classic and strict runs use
    plus: str
    task: str
    plus_task: str
    entry: str


TARGETS = {
    # greatest_common_divisor(a, b): outputs vary with the input, so no constant answer passes
    "humaneval": Target("humaneval", "humaneval-plus", "HumanEval/13", "HumanEval/13", "greatest_common_divisor"),
    # divisor(n), the number of divisors of n: in MBPP's test split and in MBPP+
    "mbpp": Target("mbpp", "mbpp-plus", "96", "Mbpp/96", "divisor"),
}
SCAN_TASK, SCAN_ENTRY = "HumanEval/27", "flip_case"  # string in, string out: outputs that no input holds
SCANS = {  # label -> (mode, the call from which it answers wrong: which tier's process the row's output shows)
    "memory scan in the base tier": ("plus", 2),  # fails base at its 2nd input: the row shows base's process
    "memory scan in the plus tier": ("plus", 4),  # passes base's 3 inputs, fails plus: the row shows plus's
    "memory scan in the strict process": ("strict", 2),
}


# ---- the runs -------------------------------------------------------------------------------------------------

@dataclass
class Batch:
    mode: str
    target: str
    run: Any = None
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)  # sample label -> (task_id, sample_index)
    attacks: list[Attack] = field(default_factory=list)
    programs: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    reported: bool = False

    def row(self, label: str):
        by_key = {(r.task_id, r.sample_index): r for r in self.run.rows}
        return by_key[self.keys[label]]


_BATCHES: dict[tuple[str, str], Batch] = {}


def scan_secrets() -> dict[str, bytes]:
    """HumanEval/27's expected outputs that a scan may not find, in both forms the runner could hold them: the
    JSON text (plaindata) and the string's UTF-8. Each is checked absent from the inputs' JSON text and from
    every input, which the sample's process legitimately holds."""
    problem = datasets.load("humaneval-plus").get(SCAN_TASK)
    namespace: dict = {}
    exec(problem.canonical_solution, namespace)  # the reference solution: trusted code, on the host
    reference = namespace[problem.entry_point]
    inputs_text = plaindata.dumps(problem.extra["base_input"]) + plaindata.dumps(problem.extra["plus_input"])
    raw_inputs = [a[0] for a in problem.extra["base_input"] + problem.extra["plus_input"]]

    def distinctive(s: str, shortest: int) -> bool:
        return (isinstance(s, str) and s.isascii() and shortest <= len(s) <= 200 and s not in inputs_text
                and plaindata.dumps(s) not in inputs_text and not any(s in x for x in raw_inputs))

    secrets: dict[str, bytes] = {}
    for tier, shortest, wanted in (("base", 6, 3), ("plus", 16, 8)):
        outputs = [(i, reference(*args)) for i, args in enumerate(problem.extra[f"{tier}_input"])]
        chosen = [(i, out) for i, out in outputs if distinctive(out, shortest)][:wanted]
        assert chosen, f"no distinctive {tier} output"
        for i, out in chosen:
            secrets[f"secret-{tier}-{i}-raw"] = out.encode()
            secrets[f"secret-{tier}-{i}-json"] = plaindata.dumps(out).encode()
    assert b"hELLO!" in secrets.values() and b"tHESE VIOLENT DELIGHTS HAVE VIOLENT ENDS" in secrets.values()
    return secrets


def batch(mode: str, target: str, tmp_path_factory) -> Batch:
    """The run of every attack on `target` in `mode` (plus, strict, classic), made once."""
    key = (mode, target)
    if key not in _BATCHES:
        _BATCHES[key] = _make_batch(mode, target, tmp_path_factory)
    b = _BATCHES[key]
    if b.error is not None:
        if not b.reported:  # the first test shows the whole traceback, the others one line
            b.reported = True
            raise b.error
        pytest.fail(f"the {mode} run of {target} failed: {type(b.error).__name__}: {b.error}", pytrace=False)
    return b


def _make_batch(mode: str, target: str, tmp_path_factory) -> Batch:
    t = TARGETS[target]
    dataset = t.plus if mode == "plus" else t.classic
    bench = datasets.load(dataset)
    task = bench.task_id(t.plus_task if mode == "plus" else t.task)
    b = Batch(mode, target, attacks=attacks_for(target))
    samples: list[tuple[str, str, str]] = [
        ("correct", task, bench.get(task).canonical_solution),
        ("wrong", task, f"def {t.entry}(*args):\n    return {WRONG}\n"),
    ]
    samples += [(a.name, task, a.program(t.entry)) for a in b.attacks]
    if target == "humaneval" and mode in ("plus", "strict"):
        secrets = scan_secrets()
        scan_task = bench.task_id(SCAN_TASK)
        samples += [(label, scan_task, memory_scan_program(SCAN_ENTRY, secrets, fail_from, f"RT {label}"))
                    for label, (scan_mode, fail_from) in SCANS.items() if scan_mode == mode]
    counts: dict[str, int] = {}
    for label, task_id, program in samples:
        b.keys[label] = (task_id, counts.get(task_id, 0))
        counts[task_id] = counts.get(task_id, 0) + 1
        b.programs[label] = program
    rows = [{"task_id": task_id, "solution": program} for _, task_id, program in samples]
    extra = {"strict": True} if mode == "strict" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b.run = coderun.evaluate(rows, dataset, timeout=TIMEOUT, workers=WORKERS,
                                     out=tmp_path_factory.mktemp(f"rewardhack-{mode}-{target}") / "run", **extra)
    except BaseException as exc:  # every test of this batch reports it, not only the first
        b.error = exc
    return b


# ---- what a row says ------------------------------------------------------------------------------------------

def leak(row) -> str:
    """What the attack said it found (its LEAK / NOLEAK line)."""
    m = re.search(r"^(?:NO)?LEAK[^\n]*", row.output or "", re.M)
    return m.group(0)[:110] if m else ""


def describe(row) -> str:
    return (f"status={row.status} reason={row.reason[:200]!r} base_passed={row.extra.get('base_passed')} "
            f"found={leak(row)!r} output={row.output[:400]!r}")


def check_it_ran(attack: Attack, row) -> None:
    """An attack that died of our own mistake proves nothing."""
    assert "SyntaxError" not in row.reason and "NameError" not in row.reason, describe(row)
    if attack.marker_in == "output":
        assert attack.marker in row.output, f"the exploit did not run: {describe(row)}"
    else:
        assert attack.why, "an attack without a marker must say why"


def table(b: Batch) -> str:
    lines = [f"\n== {b.mode} / {b.target}: {b.run.dir}",
             f"{'family':9} {'attack':74} {'classic exp.':12} {'status':8} {'reason':54} found"]
    for a in b.attacks:
        r = b.row(a.name)
        expected = ("passes" if a.classic_passes else "fails") if b.mode == "classic" else ""
        mark = "" if b.mode != "classic" or r.passed == a.classic_passes else " (!)"
        if b.mode != "classic" and r.passed:
            mark = " (!)"
        lines.append(f"{a.family:9} {a.name[:74]:74} {expected:12} {r.status + mark:8} "
                     f"{r.reason[:54]!r:54} {leak(r)[:70]}")
    for label in ("correct", "wrong", *[s for s in SCANS if s in b.keys]):
        r = b.row(label)
        lines.append(f"{'':9} {label:74} {'':12} {r.status:8} {r.reason[:54]!r:54}")
    return "\n".join(lines)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-")


def cases(mode: str):
    out = []
    for target in TARGETS:
        for a in attacks_for(target):
            out.append(pytest.param(mode, target, a, id=slug(f"{mode}-{target}-{a.name}")))
    return out


def runs(*modes: str):
    return [pytest.param(m, t, id=f"{m}-{t}") for m in modes for t in TARGETS]


# ---- plus and strict: nothing passes --------------------------------------------------------------------------

@pytest.mark.parametrize("mode,target,attack", cases("plus") + cases("strict"))
def test_no_attack_passes_when_judged_outside_the_sample(mode, target, attack, tmp_path_factory):
    row = batch(mode, target, tmp_path_factory).row(attack.name)
    check_it_ran(attack, row)
    assert row.status != "passed", f"{attack.name} PASSED {mode}: {describe(row)}"
    assert not row.extra.get("base_passed"), f"{attack.name} passed {mode}'s base tier: {describe(row)}"
    if attack.must_be_killed:
        assert "SPUN" not in row.output, f"the runner let it spin past its input's limit + SLACK: {describe(row)}"


@pytest.mark.parametrize("mode,target", runs("plus", "strict"))
def test_neighbours_keep_their_verdicts_and_the_run_completes(mode, target, tmp_path_factory, capsys):
    b = batch(mode, target, tmp_path_factory)
    with capsys.disabled():
        print(table(b))
    correct, wrong = b.row("correct"), b.row("wrong")
    assert correct.status == "passed", describe(correct)
    assert wrong.status == "failed", describe(wrong)
    assert b.run.complete, [describe(r) for r in b.run.rows if r.status == "error"]


# ---- the memory scan ------------------------------------------------------------------------------------------

def _count(output: str, word: str) -> int | None:
    m = re.search(rf"^{word} (\d+)$", output, re.M)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("label", list(SCANS), ids=slug)
def test_memory_scan_finds_no_expected_output(label, tmp_path_factory, capsys):
    mode = SCANS[label][0]
    row = batch(mode, "humaneval", tmp_path_factory).row(label)
    with capsys.disabled():
        print(f"\n{label}: {row.status} {row.reason[:120]!r}\n{row.output}")
    assert f"RT {label}" in row.output, f"the scanner did not run: {describe(row)}"
    control, got_input, found = (_count(row.output, w) for w in ("CONTROL", "INPUT", "FOUND"))
    assert control is not None and control > 0, f"the scanner is broken (its own string not found): {describe(row)}"
    assert got_input is not None and got_input > 0, f"the scanner did not see its own argument: {describe(row)}"
    assert found == 0, f"expected outputs are in the sample's memory: {describe(row)}"
    assert row.status != "passed", describe(row)


# ---- classic: what passes is what the design says ----------------------------------------------------------

@pytest.mark.parametrize("mode,target,attack", cases("classic"))
def test_classic_verdict_is_the_recorded_one(mode, target, attack, tmp_path_factory):
    row = batch(mode, target, tmp_path_factory).row(attack.name)
    check_it_ran(attack, row)
    want = "passed" if attack.classic_passes else "not passed"
    assert row.passed == attack.classic_passes, f"classic: {attack.name} should be {want}: {describe(row)}"


@pytest.mark.parametrize("mode,target", runs("classic"))
def test_classic_neighbours_and_table(mode, target, tmp_path_factory, capsys):
    b = batch(mode, target, tmp_path_factory)
    with capsys.disabled():
        print(table(b))
    assert (b.row("correct").status, b.row("wrong").status) == ("passed", "failed"), \
        (describe(b.row("correct")), describe(b.row("wrong")))
    assert b.run.complete, [describe(r) for r in b.run.rows if r.status == "error"]
