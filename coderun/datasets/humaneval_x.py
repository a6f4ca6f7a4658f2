"""HumanEval-X (Zheng et al., "CodeGeeX", KDD 2023): HumanEval in C++, Go, Java and JavaScript, with
reference solutions; rows as THUDM/CodeGeeX `codegeex/benchmark/humaneval-x/` releases them.

One dataset per language, `humaneval-x-LANG` (cpp, go, java, js); task ids are the suite's own (`CPP/0`; the
number alone is accepted too). Programs are laid out and judged as CodeGeeX's evaluator
(`evaluate_humaneval_x.py`, `execution.py`) does, with coderun's end mark in the tests:

- C++: its helper includes (those the prompt lacks), the prompt, the completion, a newline and the tests;
  `g++ -std=c++11`, linked with libcrypto (problem 162's MD5 needs it); pass = exit 0.
- Java: prompt + completion + newline + tests in `Main.java`; `javac`, then `java Main` (no `-ea`).
- JavaScript: prompt + completion + newline + tests; `node`; pass = nothing printed on stdout or stderr
  (a failed `console.assert` only prints).
- Go: the test setup (package and imports), the imports of the helper packages the completion names, the
  prompt without its own imports, the completion, a newline and the tests, as `main_test.go`; `go test`
  (with testify, Debian's); pass = exit 0.

Rust (a cargo project with the rand, regex and md5 crates in CodeGeeX's evaluator) is not supported yet.
"""

from __future__ import annotations

import dataclasses

from coderun import languages
from coderun.datasets import suites
from coderun.datasets.base import Problem
from coderun.datasets.mbxp import GO_MARK, GO_PRELUDE
from coderun.datasets.suites import Layout
from coderun.languages import builtin as rows
from coderun.languages.base import Check, Step

# CodeGeeX's IMPORT_HELPER: what it adds before a program (C++: each include the prompt lacks; Go: each
# package the completion names, as `pkg.`)
CPP_INCLUDES = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
                "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>", "#include<iostream>")
GO_PACKAGES = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5")
RUN_CPU = 5.0  # CodeGeeX's limit: 5 s of wall time a step


def _cpp_head(problem: Problem, completion: str) -> str:
    setup = "".join(s + "\n" for s in CPP_INCLUDES if s not in problem.prompt)
    return setup + "\n" + problem.prompt + completion + "\n"


def _go_head(problem: Problem, completion: str) -> str:
    setup = problem.extra.get("test_setup", "")
    prompt = problem.prompt.replace(problem.extra.get("import", ""), "")
    other = [f'"{p}"' for p in GO_PACKAGES if p not in setup and p.split("/")[-1] + "." in completion]
    imports = ("import (\n" + "    ".join(p + "\n" for p in other) + ")\n") if other else ""
    return setup + "\n" + imports + prompt + completion + "\n"


def _plain_head(problem: Problem, completion: str) -> str:
    return problem.prompt + completion + "\n"


def _cpp_steps() -> tuple[Step, ...]:
    compile_, run = rows.CPP.steps
    argv = ("g++", "-std=c++11", "-fuse-ld=gold", "{file}", "-o", "{stem}", "-lcrypto")
    return (dataclasses.replace(compile_, argv=argv, reference=()), dataclasses.replace(run, cpu=RUN_CPU))


def _java_steps() -> tuple[Step, ...]:
    compile_, run = rows.JAVA.steps
    return (compile_, dataclasses.replace(run, argv=("java", *rows.JVM, "-cp", ".", "Main"), cpu=RUN_CPU))


def _js_steps() -> tuple[Step, ...]:
    (run,) = rows.JS.steps
    quiet = (Check("stdout", "", "the program printed (CodeGeeX fails any output)"),
             Check("stderr", "", "the program printed on stderr (a failed console.assert)"))
    return (dataclasses.replace(run, cpu=RUN_CPU, checks=quiet),)


KNOWN_BAD: dict[str, dict[str, str]] = {
    "cpp": {},
    # The solution checks two keys at most, and the order Go's maps give them is random: 4 of 40 runs failed.
    "go": {"Go/95": "the solution decides after the first two keys in Go's (random) map order: it fails the tests "
                    "in about one run in ten"},
    "java": {},
    "js": {"JavaScript/112": "the solution returns a comma expression, (z, true), instead of a list: it fails its tests",
           "JavaScript/155": "the solution fails its own tests",
           "JavaScript/162": "the solution requires the npm package js-md5, which CodeGeeX's environment had and the "
                             "sandbox has not"},
}

BY_CHANCE: dict[str, frozenset[str]] = {"go": frozenset({"Go/95"})}  # of the above, those that pass in other runs

LAYOUTS = {
    "cpp": Layout("cpp", "humaneval-x_cpp.jsonl.gz", "CPP", {"steps": _cpp_steps(), "mark": '    puts("{mark}");'},
                  head=_cpp_head),
    "java": Layout("java", "humaneval-x_java.jsonl.gz", "Java", {"steps": _java_steps(), "file": "Main.java"},
                   head=_plain_head),
    "js": Layout("js", "humaneval-x_js.jsonl.gz", "JavaScript", {"steps": _js_steps()}, head=_plain_head),
    "go": Layout("go", "humaneval-x_go.jsonl.gz", "Go", {"steps": suites.run_limit("go", RUN_CPU), **GO_MARK},
                 head=_go_head, prelude=GO_PRELUDE),
}

for _lang, _layout in LAYOUTS.items():
    _layout = dataclasses.replace(_layout, known_bad=KNOWN_BAD[_lang], by_chance=BY_CHANCE.get(_lang, frozenset()))
    LAYOUTS[_lang] = _layout
    suites.register_suite(f"humaneval-x-{_lang}", _layout, command="humaneval", variant=f"humaneval-x-{_lang}",
                          family="humaneval-x", description=f"HumanEval-X in {languages.get(_lang).title} "
                                                            "(CodeGeeX's rules)")


suites._formats("humaneval-x", "HumanEvalX")
