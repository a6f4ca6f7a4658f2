"""Every language, for real: MultiPL-E programs built by the dataset module, run in that language's sandbox
image by the command driver. Honest programs get MultiPL-E's verdict; hostile ones never pass (an early exit
with status 0, printed pass-like text, exit handlers, the language's own idiom, endless loops and output, a
fork bomb, the network, writes outside scratch, reading or killing the runner, another job's files)."""

from __future__ import annotations

import pytest

from coderun import datasets, languages
from coderun.execute.base import get_provider
from coderun.execute.limits import TaskLimits
from coderun.execute.pool import SandboxPool
from coderun.execute.service import ExecutionService
from tests.lang_cases import CASES, ESCAPES, TASK

pytestmark = pytest.mark.docker

COMPILED = {"cpp", "java", "ts", "cs", "go", "rs"}  # a syntax error there is a compile error
RUN_CPU = 2.0  # the run step's limit here: the spinning cases stop after this much CPU


def _programs(lang: str):
    bench = datasets.load(f"multipl-e-humaneval-{lang}")
    problem = bench.get(TASK)
    cases = CASES[lang]
    out = {}
    for name, body in cases.items():
        if name.startswith("solution_") and callable(body):
            for escape, cmd in ESCAPES.items():
                out[f"escape: {escape}"] = bench.program(problem, solution=body(cmd))
        elif name.startswith("solution_"):
            out[name[len("solution_"):]] = bench.program(problem, solution=body)
        elif callable(body):
            for escape, cmd in ESCAPES.items():
                out[f"escape: {escape}"] = bench.program(problem, completion=body(cmd))
        else:
            out[name] = bench.program(problem, completion=body)
    out["correct again"] = out["correct"]  # after everything above, in the same sandboxes
    return out


@pytest.fixture(scope="module", params=sorted(CASES))
def verdicts(request):
    lang = request.param
    programs = _programs(lang)
    memory = languages.get(lang).memory
    with SandboxPool(get_provider("docker", memory=memory, language=lang), workers=2) as pool:
        service = ExecutionService(pool, memory, timeout=RUN_CPU)
        names = list(programs)
        # "correct again" is a distinct job (the pool would reuse the first verdict): a trailing comment
        outcomes = service.run_all([(programs[n], TaskLimits.fixed(RUN_CPU)) for n in names[:-1]])
        again = service.run_all([(programs["correct"], TaskLimits.fixed(RUN_CPU - 0.5))])
    got = dict(zip(names[:-1], outcomes))
    got["correct again"] = again[0]
    return lang, got


def test_a_correct_program_passes_and_a_wrong_one_fails(verdicts):
    lang, got = verdicts
    assert got["correct"].status == "passed", f"{lang}: {got['correct'].reason} | {got['correct'].output[:400]}"
    assert got["wrong"].status == "failed", f"{lang}: {got['wrong'].status} {got['wrong'].reason}"
    assert got["correct again"].status == "passed", f"{lang} after the hostile programs: {got['correct again'].reason}"


def test_a_program_that_does_not_build_fails_with_its_reason(verdicts):
    lang, got = verdicts
    v = got["compile_error"]
    assert v.status == "failed", f"{lang}: {v.status} {v.reason}"
    if lang in COMPILED:
        assert v.reason.startswith("compile error"), f"{lang}: {v.reason}"
    if "type_error" in got:  # TypeScript: any type error fails, as in MultiPL-E
        assert got["type_error"].status == "failed" and got["type_error"].reason.startswith("compile error")


def test_no_hostile_program_passes(verdicts):
    lang, got = verdicts
    hostile = {n: v for n, v in got.items() if n not in ("correct", "correct again", "wrong", "compile_error")}
    assert len(hostile) >= 10, sorted(hostile)
    passed = {n: v.reason for n, v in hostile.items() if v.status == "passed"}
    assert not passed, f"{lang}: hostile programs passed: {passed}"
    errors = {n: v.reason for n, v in hostile.items() if v.status == "error"}
    assert not errors, f"{lang}: a hostile program made a harness error: {errors}"


def test_an_exit_with_status_0_before_the_tests_ended_fails_for_want_of_the_end_mark(verdicts):
    lang, got = verdicts
    early = got.get("early_exit")
    assert early is not None and early.status == "failed", f"{lang}: {early}"
    # bash runs the function in $(...), where `exit 0` ends a subshell; luaunit refuses an os.exit during a
    # test: both then fail by their status. Elsewhere the program ends with status 0, and only the mark tells.
    if lang not in ("sh", "lua"):
        assert "did not reach their end" in early.reason, f"{lang}: {early.reason}"


def test_endless_loops_and_output_stop_at_the_limit(verdicts):
    lang, got = verdicts
    assert got["spin"].status == "timeout", f"{lang}: {got['spin'].status} {got['spin'].reason}"
    assert got["flood"].status != "passed" and len(got["flood"].output) <= 4096
    assert got["escape: a fork bomb"].status in ("timeout", "failed")


UNPASSABLE_SOLUTIONS = {  # correct solutions of our own for the rows multipl_e.py lists as unpassable
    ("php", "HumanEval_23_strlen"): "    $n = 0; while (isset($string[$n])) { $n++; } return $n;\n}\n",
    ("cs", "HumanEval_29_filter_by_prefix"): "        return strings.Where(s => s.StartsWith(prefix)).ToList();\n",
}


@pytest.mark.parametrize("lang,task", sorted(UNPASSABLE_SOLUTIONS))
def test_the_rows_listed_as_unpassable_fail_even_with_a_correct_solution(lang, task):
    """A correct solution fails a row listed as unpassable (the dataset's fault), and the same solution passes
    where the dataset is fixed (C#'s SequenceEqual copy); the run's summary names the row."""
    completion = UNPASSABLE_SOLUTIONS[(lang, task)]
    names = [f"multipl-e-humaneval-{lang}"] + (["multipl-e-humaneval-cs-sequenceequal"] if lang == "cs" else [])
    memory = languages.get(lang).memory
    with SandboxPool(get_provider("docker", memory=memory, language=lang), workers=1) as pool:
        service = ExecutionService(pool, memory)
        outcomes = []
        for name in names:
            bench = datasets.load(name)
            assert (task in bench.unpassable()) == (name == names[0]), name
            program = bench.program(bench.get(task), completion=completion)
            outcomes += service.run_all([(program, TaskLimits.fixed(languages.get(lang).run_cpu))])
    assert outcomes[0].status == "failed", outcomes[0].reason
    if lang == "cs":
        assert outcomes[1].status == "passed", outcomes[1].reason


def test_a_reward_in_another_language_runs_in_that_languages_sandbox():
    """coderun.Reward on a MultiPL-E dataset scores in the language's image; strict judging, which exists for
    Python only, is refused by name rather than silently dropped."""
    import coderun
    from coderun.errors import InputError

    with pytest.raises(InputError, match="strict judging exists for Python only"):
        coderun.Reward("multipl-e-humaneval-js")
    with coderun.Reward("multipl-e-humaneval-js", strict=False, workers=1) as reward:
        got = reward([CASES["js"]["correct"], CASES["js"]["wrong"], CASES["js"]["early_exit"]], task_id=TASK)
    assert got == [1.0, 0.0, 0.0]


# What a run step tries against its sandbox's warm compiler (sandbox/servers.py): it may see the process in
# /proc (so the attempts below are not vacuous), but not signal, trace or read it.
_SERVER = ('for d in /proc/[0-9]*; do case "$(tr "\\0" " " < $d/cmdline 2>/dev/null)" in '
           '"java "*JavacServer*|"node "*tsc-server*|"mono "*McsServer*) {};; esac; done; exit 1')
SERVER_REACH = {
    "see it": _SERVER.format("exit 0"),
    "kill it": _SERVER.format("kill -9 ${d#/proc/} 2>/dev/null && exit 0"),
    "read its memory": _SERVER.format("head -c 1 $d/mem >/dev/null 2>&1 && exit 0"),
    "read its environment": _SERVER.format("head -c 1 $d/environ >/dev/null 2>&1 && exit 0"),
}


@pytest.mark.parametrize("lang", ["java", "ts", "cs"])
def test_a_program_can_see_its_sandboxs_compile_server_but_not_touch_it(lang):
    """The warm compiler runs under its own uid and is reached only through the runner's pipes: a program's
    run step finds it in /proc but can neither kill it nor read its memory or environment, and the programs
    compiled after those attempts still get their verdicts, all in the one sandbox (a server that left
    anything behind, as mono's /dev/shm area would, costs a fresh sandbox and a cold server every job)."""
    bench = datasets.load(f"multipl-e-humaneval-{lang}")
    problem = bench.get(TASK)
    gated = CASES[lang]["gated"]
    names = ["correct", *SERVER_REACH, "correct again", "wrong"]
    body = {"correct": CASES[lang]["correct"], "correct again": CASES[lang]["correct"] + "\n",
            "wrong": CASES[lang]["wrong"], **{k: gated(cmd) for k, cmd in SERVER_REACH.items()}}
    memory = languages.get(lang).memory
    with SandboxPool(get_provider("docker", memory=memory, language=lang), workers=1) as pool:
        service = ExecutionService(pool, memory, timeout=RUN_CPU)
        outcomes = service.run_all([(bench.program(problem, completion=body[n]), TaskLimits.fixed(RUN_CPU))
                                    for n in names])
    got = {n: o.status for n, o in zip(names, outcomes)}
    assert got == {"correct": "passed", "see it": "passed", "kill it": "failed", "read its memory": "failed",
                   "read its environment": "failed", "correct again": "passed", "wrong": "failed"}, \
        {n: (o.status, o.reason[:200]) for n, o in zip(names, outcomes)}
    assert len({o.sandbox for o in outcomes}) == 1, [o.sandbox for o in outcomes]
