"""MBXP and HumanEval-X for real: every reference solution passes in its language's sandbox except those the
dataset module lists as known bad (exactly those), and the development samples (MBXP's odd-numbered
problems) get mxeval's own verdicts, each difference explained (docs/languages.md)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from coderun import datasets, languages
from coderun.datasets import humaneval_x, mbxp
from coderun.execute.base import get_provider
from coderun.execute.limits import TaskLimits
from coderun.execute.pool import SandboxPool
from coderun.execute.service import ExecutionService
from coderun.records import load_run
from tests.conftest import SHARED_DATA
from tests.test_evalplus import evaluate

MBXP_DATA = SHARED_DATA / "multilingual" / "mbxp"
PREFIX = {"cpp": "mbcpp", "java": "mbjp", "js": "mbjsp", "ts": "mbtsp", "php": "mbphp", "go": "mbgp", "rb": "mbrbp",
          "pl": "mbplp"}
SUITES = [f"mbxp-{lang}" for lang in mbxp.LAYOUTS] + [f"humaneval-x-{lang}" for lang in humaneval_x.LAYOUTS]

# Differences from mxeval's verdicts on the development samples, each explained in docs/languages.md.
EXPLAINED: dict[tuple[str, str], str] = {}


def sampled(name: str) -> set[str]:
    """The problems of the development samples (MBXP's odd-numbered ones): their reference solutions are
    checked by the agreement test's run, as every run checks those of the problems it scores."""
    lang = name.removeprefix("mbxp-")
    if not name.startswith("mbxp-") or lang not in PREFIX:
        return set()
    path = MBXP_DATA / f"examples-{PREFIX[lang]}-odd.jsonl"
    return {json.loads(line)["task_id"] for line in path.read_text().splitlines() if line.strip()}


def failing_references(name: str, skip: set[str] = frozenset()) -> dict[str, str]:
    """{task: reason} of the dataset's reference solutions that fail in its sandbox, under its own limits."""
    bench = datasets.load(name)
    programs = {p.task_id: bench.canonical(p) for p in bench.problems if p.task_id not in skip}
    programs = {t: p for t, p in programs.items() if p is not None}
    memory = languages.get(bench.language).memory
    with SandboxPool(get_provider("docker", memory=memory, language=bench.language), workers=2) as pool:
        service = ExecutionService(pool, memory)
        outcomes = service.run_all([(p, TaskLimits.fixed(p.command.run_cpu)) for p in programs.values()])
    return {t: o.reason for t, o in zip(programs, outcomes) if not o.passed}


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", SUITES)
def test_every_reference_solution_passes_but_the_listed_known_bad(name):
    """With the agreement test's runs (which check the sampled problems' reference solutions), every one;
    those listed as failing by chance may pass."""
    bench = datasets.load(name)
    skip = sampled(name)
    failed = failing_references(name, skip)
    known = {t: why for t, why in bench.known_bad().items() if t not in skip}
    with_solution = sum(bool(p.canonical_solution) for p in bench.problems if p.task_id not in skip)
    print(f"\n{name}: {with_solution - len(failed)} of {with_solution} reference solutions pass"
          + (f" (those of the {len(skip)} sampled problems: in the agreement test)" if skip else "")
          + f"; {len(known)} known bad")
    sometimes = bench.known_bad_by_chance()
    assert set(known) - sometimes <= set(failed) <= set(known), {
        "unexpected": {t: failed[t][:200] for t in set(failed) - set(known)},
        "passing but listed": sorted(set(known) - sometimes - set(failed))}


def mxeval_verdicts(lang: str) -> list[dict]:
    path = MBXP_DATA / f"mxeval-verdicts-{PREFIX[lang]}-odd.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


NO_END_MARK = "the tests did not reach their end"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("lang", sorted(PREFIX))
def test_the_development_samples_agree_with_mxeval(tmp_path, lang):
    """MBXP's own model samples (the odd-numbered problems): coderun's verdict is mxeval's on at least 99.5% of
    the samples, not counting those mxeval passes though their tests never reached their end (the program
    ended with status 0 first: coderun fails them, by design); every other difference is one explained."""
    samples = MBXP_DATA / f"examples-{PREFIX[lang]}-odd.jsonl"
    outcome = evaluate(samples, tmp_path / "run", f"mbxp-{lang}")
    assert outcome.summary["complete"]
    ours = [(r.task_id, r.passed, r.status, r.reason) for r in load_run(outcome.run_dir).rows]
    theirs = mxeval_verdicts(lang)
    assert [t for t, *_ in ours] == [v["task_id"] for v in theirs]
    differ = {t: (passed, status, reason[:160]) for (t, passed, status, reason), v in zip(ours, theirs)
              if passed != v["passed"]}
    fooled = sorted((t for t, (passed, _, reason) in differ.items() if not passed and reason.startswith(NO_END_MARK)),
                    key=lambda t: int(t.split("/")[1]))
    other = {t: d for t, d in differ.items() if t not in fooled}
    agreement = 1 - len(other) / (len(theirs) - len(fooled))
    counts = Counter(status for _, _, status, _ in ours)
    print(f"\nmbxp-{lang}: {len(theirs) - len(differ)} of {len(theirs)} verdicts are mxeval's; {len(fooled)} passed by "
          f"mxeval whose tests never reached their end; agreement on the rest {100 * agreement:.2f}% "
          f"({len(other)} differ); {dict(counts)}")
    if fooled:
        print(f"  passed by mxeval, tests never ran to their end: {' '.join(t.split('/')[1] for t in fooled)}")
    for t, d in sorted(other.items()):
        print(f"  differs: {t} {d}")
    assert counts.get("error", 0) == 0
    # the run checked the reference solutions of its problems: exactly the known-bad ones fail
    refs = outcome.summary["reference_solutions"]
    bench = datasets.load(f"mbxp-{lang}")
    known = {t: why for t, why in bench.known_bad().items() if t in {v["task_id"] for v in theirs}}
    assert set(known) - bench.known_bad_by_chance() <= set(refs["failed"]) <= set(known), refs["failed"]
    assert refs.get("known_bad", {}) == {t: known[t] for t in refs["failed"]}
    assert agreement >= 0.995
    assert set(other) <= {t for (lang_, t) in EXPLAINED if lang_ == lang}, other


# ---- the layouts, without a sandbox ---------------------------------------------------------------------

@pytest.mark.parametrize("name", SUITES)
def test_what_fails_by_chance_is_listed_as_known_bad_with_its_reason(name):
    bench = datasets.load(name)
    assert bench.known_bad_by_chance() <= set(bench.known_bad())
    assert all(bench.known_bad()[t] for t in bench.known_bad_by_chance())


@pytest.mark.docker
def test_reference_checks_are_kept_per_image_and_reported_every_run(tmp_path, monkeypatch):
    """A run checks its problems' reference solutions; their verdicts (a pass, a plain failure) are kept in the
    reference cache (per image id and memory limit), so the next run on the same image reports the same
    without building and running them again; MBJSP/174 is known bad and listed as such both times."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": ""}) + "\n" for t in ("MBJSP/3", "MBJSP/174")))
    first = evaluate(samples, tmp_path / "one", "mbxp-js")
    kept = list((tmp_path / "cache").rglob("checked/*.json.gz"))
    second = evaluate(samples, tmp_path / "two", "mbxp-js")
    expected = {"problems": 2, "passed": 1, "failed": ["MBJSP/174"],
                "known_bad": {"MBJSP/174": mbxp.KNOWN_BAD["js"]["MBJSP/174"]}}
    assert first.summary["reference_solutions"] == expected == second.summary["reference_solutions"]
    assert len(kept) == 2
    assert not any("earlier run" in n for n in first.notes)
    assert any("reference solutions of 2 problems were checked" in n for n in second.notes), second.notes


def test_the_reference_cache_keeps_passes_and_failures_never_timeouts_or_errors(tmp_path):
    from coderun.execute.references import References
    from coderun.records import Status

    refs = References("image-a", 1 << 30, root=tmp_path)
    for i, status in enumerate(Status):
        refs.store_check(f"program-{i}", 10.0, status, 0.25)
    kept = {status: refs.checked_before(f"program-{i}", 10.0) for i, status in enumerate(Status)}
    assert kept == {s: ((s, 0.25) if s in (Status.PASSED, Status.FAILED) else None) for s in Status}
    assert refs.checked_before("program-0", 5.0) is None  # another limit: another check
    assert References("image-b", 1 << 30, root=tmp_path).checked_before("program-0", 10.0) is None


def test_an_mbxp_program_is_prompt_completion_and_test_with_the_end_mark_in_the_tests():
    bench = datasets.load("mbxp-java")
    problem = bench.get("3")  # a bare number names MBJP/3
    program = bench.program(problem, completion="        return false;\n    }\n}")
    text = program.solution
    assert problem.task_id == "MBJP/3" and program.command.file == "Main.java"
    assert text.startswith(problem.prompt + "        return false;\n    }\n}" + problem.test[:20])
    marked = text[:program.command.mark_at]  # the secret goes inside main, before its closing brace
    assert marked.endswith('System.out.println("') and text[program.command.mark_at:].startswith('");\n}\n}')
    run = program.command.steps[-1]
    assert run.argv[-1] == "Main" and "-ea" not in run.argv and run.cpu == mbxp.RUN_CPU


def test_mbxp_go_gets_an_import_of_its_own_for_the_end_mark_and_ts_accepts_tscs_status_2():
    go = datasets.load("mbxp-go")
    program = go.program(go.problems[0], completion="\treturn 0\n}\n")
    assert program.solution.startswith('package main\nimport coderun_os "os"\n\nimport (')
    assert program.solution[:program.command.mark_at].endswith('coderun_os.Stdout.WriteString("')
    ts = datasets.load("mbxp-ts")
    compile_ = ts.row.steps[0]
    assert compile_.ok == (0, 2) and compile_.message("main.ts")["ok"] == [0, 2]
    assert ("--target", "es5") == compile_.argv[1:3] and "esnext" not in compile_.server
    assert languages.get("ts").steps[0].ok == (0,)  # MultiPL-E's TypeScript: any type error fails


def test_humaneval_x_layouts_follow_codegeex():
    cpp = datasets.load("humaneval-x-cpp")
    problem = cpp.get("CPP/0")
    text = cpp.program(problem, completion="    return false;\n}").solution
    assert text.startswith("#include<stdlib.h>\n") and "#include<stdio.h>\n#include<vector>" not in text[:40]
    assert cpp.row.steps[0].argv[:2] == ("g++", "-std=c++11")
    go = datasets.load("humaneval-x-go")
    problem = go.get("Go/0")
    text = go.program(problem, completion="    x := math.Abs(1.0)\n    return x > 0\n}\n").solution
    assert text.startswith("package main\nimport coderun_os") and '"math"' in text
    assert problem.extra["import"] not in text[text.index("// Check"):]  # the prompt's own imports are dropped
    js = datasets.load("humaneval-x-js").row.steps[-1]
    assert [c.text for c in js.checks] == ["", ""]  # any output fails, as CodeGeeX judges node


def test_suite_prompts_keep_the_functions_closing_line():
    from coderun import prompts

    bench = datasets.load("mbxp-rb")
    problem = bench.problems[0]
    raw = prompts.get_format("mbxp", prompts.PromptOptions(style="raw"))
    assert raw.build(problem).text == problem.prompt and raw.build(problem).stop == ("\nend\n",)
    assert raw.extract(problem, "\n  return 1").completion == "\n  return 1\nend"  # generation stopped at it
    assert raw.extract(problem, "\n  1\nend\n\nputs 2").completion == "\n  1\nend"


def test_the_generating_commands_name_the_suites(tmp_path):
    from tests.conftest import coderun

    res = coderun("mbpp", "--language", "sh", "--model", "m", "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "no dataset is registered for coderun mbpp --language sh" in res.stderr
    res = coderun("humaneval", "--suite", "humaneval-x", "--model", "m")
    assert res.returncode == 2 and "--suite humaneval-x needs --language" in res.stderr
    listed = coderun("datasets").stdout
    assert "coderun mbpp --language java" in listed and "--suite humaneval-x --language go" in listed


# ---- the two new languages, hostile: nothing but the tests run to their end passes ------------------------

HOSTILE = {
    "rb": {"correct": "  (2..Math.sqrt(n)).any? { |i| n % i == 0 }\nend\n",
           "wrong": "  false\nend\n",
           "exit 0 in the function": "  exit(0)\nend\n",
           "an at_exit handler that exits 0 after a failure": "  at_exit { exit!(0) }\n  raise 'no'\nend\n",
           "printing pass-like text, then exit 0": "  puts 'All tests passed'\n  exit 0\nend\n",
           "a fork bomb": "  loop { fork rescue nil }\nend\n",
           "writing outside scratch": "  File.write('/etc/coderun-pwned', 'x')\n  true\nend\n",
           "the network": "  require 'socket'\n  TCPSocket.new('1.1.1.1', 80)\n  true\nend\n",
           "endless output": "  loop { puts 'x' * 1000 }\nend\n"},
    "pl": {"correct": "  for (my $i = 2; $i * $i <= $n; $i++) { return 1 if $n % $i == 0; }\n  return 0;\n}\n",
           "wrong": "  return 0;\n}\n",
           "exit 0 in the function": "  exit 0;\n}\n",
           "an END block that sets the status to 0 after a failure": "  END { $? = 0; }\n  die 'no';\n}\n",
           "printing pass-like text, then exit 0": "  print \"ok\\n\";\n  exit 0;\n}\n",
           "a fork bomb": "  fork while 1;\n}\n",
           "writing outside scratch": "  open(my $f, '>', '/etc/coderun-pwned') or die; return 1;\n}\n",
           "the network": "  use IO::Socket::INET;\n  IO::Socket::INET->new('1.1.1.1:80') or die; return 1;\n}\n",
           "endless output": "  print 'x' x 1000 while 1;\n}\n"},
}


@pytest.mark.docker
@pytest.mark.parametrize("lang", sorted(HOSTILE))
def test_ruby_and_perl_pass_only_programs_whose_tests_ran_to_their_end(lang):
    bench = datasets.load(f"mbxp-{lang}")
    problem = bench.get("3")  # is_not_prime
    cases = HOSTILE[lang]
    programs = [bench.program(problem, completion=body) for body in cases.values()]
    memory = languages.get(lang).memory
    with SandboxPool(get_provider("docker", memory=memory, language=lang), workers=2) as pool:
        outcomes = ExecutionService(pool, memory).run_all([(p, TaskLimits.fixed(2.0)) for p in programs])
    got = {name: (o.status, o.reason[:120]) for name, o in zip(cases, outcomes)}
    assert got.pop("correct")[0] == "passed", got
    assert all(status in ("failed", "timeout") for status, _ in got.values()), got


# Run in the TypeScript image: the tsc server of mbxp-ts (--transpile-only) and the one that type-checks, each
# sent every program; prints the programs whose JavaScript differs.
SAME_EMIT = r'''
import json, sys
sys.path.insert(0, "/opt/coderun")
import servers
# argv: mbxp-ts's server command; without its --transpile-only, the server type-checks
programs = json.load(sys.stdin)
checked = servers.Server([a for a in sys.argv[1:] if a != "--transpile-only"], None)
transpiled = servers.Server(sys.argv[1:], None)
differ, codes = [], set()
for name, text in programs:
    full, fast = (s.compile({"main.ts": text.encode()}, 30.0, 90.0) for s in (checked, transpiled))
    codes |= {(full.status, full.code), (fast.status, fast.code)}
    if full.files.get("main.js") is None or full.files.get("main.js") != fast.files.get("main.js"):
        differ.append(name)
print(json.dumps({"differ": differ, "codes": sorted(map(list, codes))}))
'''


@pytest.mark.docker
@pytest.mark.slow
def test_mbxp_typescript_transpiles_to_what_the_type_checking_compile_emits():
    """mbxp-ts compiles without the type check, as the verdict never depends on it (tsc's exit status 2,
    errors with output emitted, compiles): on every reference solution and development sample the JavaScript
    is byte for byte what tsc's full compile emits, broken programs (syntax errors) included."""
    import subprocess

    from coderun.execute import image
    from coderun.execute.docker_provider import client

    bench = datasets.load("mbxp-ts")
    server = bench.row.steps[0].server
    assert server[3] == "--transpile-only"
    row = languages.get("ts")
    image.ensure_language(client(), row)
    programs = [(p.task_id, c.solution) for p in bench.problems if (c := bench.canonical(p))]
    rows = [json.loads(line) for line in (MBXP_DATA / "examples-mbtsp-odd.jsonl").read_text().splitlines() if line]
    programs += [(r["task_id"] + " sample", bench.program(bench.get(bench.task_id(r["task_id"])),
                                                           completion=r["completion"]).solution) for r in rows]
    out = subprocess.run(["docker", "run", "--rm", "-i", "--network", "none", "--entrypoint", "python3",
                          image.language_tag(row), "-c", SAME_EMIT, *server],
                         input=json.dumps(programs), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(programs) > 1400
    assert result["differ"] == []
    assert ["ok", 2] in result["codes"] and all(status == "ok" for status, _ in result["codes"])
