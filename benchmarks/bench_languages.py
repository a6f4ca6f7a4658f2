"""coderun against a MultiPL-E-style evaluator, per language, on the same programs, in one run on this machine.

    python benchmarks/bench_languages.py [--languages cpp,java,...] [--problems N] [--workers 2] [--samples F]
    python benchmarks/bench_languages.py --suite mbxp [--languages cpp,java,...] [--problems N]

--suite mbxp: the datasets mbxp-LANG and, as programs, MBXP's own model samples of the odd-numbered problems
(examples-PREFIX-odd.jsonl in $CODERUN_DEV_DATA/multilingual/mbxp, all of them unless --problems), the baseline
running them as mxeval does (mxeval's commands, its pass rules; a cold javac, tsc and g++ per sample).

Programs: for each row of multipl-e-humaneval-LANG (all of them, as an evaluation of the dataset runs; the first
--problems N only, for a quick look, where coderun's one-off start-up weighs more), the completions of --samples (a
JSONL of {task_id, completion}) if given, else two made here: an empty body (in a typed language, a compile
error) and a body that raises at once (it builds, runs and fails): the peers' cost is the per-program
compile and runtime start, which any program pays.

- Baseline: what MultiPL-E's evaluator does: a thread pool of --workers, each program written to a fresh
  temporary directory and built and run in a subprocess by MultiPL-E's commands (the language row's steps as
  the reference runs them: a cold javac, tsc and g++; no end mark), in one container of the language's own
  image, so both use one toolchain.
- coderun: `coderun evaluate FILE --dataset multipl-e-humaneval-LANG --workers W --timeout 15`, the whole
  process timed (start-up, containers, the runs), twice: first with an empty reference cache (the run also
  builds and runs every problem's reference solution, as every run checks them), then again on the same
  image, where the references' passes are kept (what each later run, e.g. of the next checkpoint, costs).

Printed per language: both times, the ratio, programs per second, the verdicts compared (passed or not), and
where coderun's time goes (its rows' summed step CPU by step, divided by the workers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BASELINE = r'''
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
jobs = json.load(open(sys.argv[1]))
def run(job):
    d = tempfile.mkdtemp()
    with open(os.path.join(d, job["file"]), "w") as f:
        f.write(job["program"])
    # one Go build cache for all programs, as a peer's user account keeps it (a fresh HOME would be cold)
    env = {**os.environ, "HOME": d, "GOCACHE": "/tmp/baseline-gocache"}
    for step in job["steps"]:
        try:
            p = subprocess.run(step["argv"], cwd=d, env={**env, **step["env"]}, capture_output=True,
                               timeout=step["wall"], stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        if p.returncode not in step.get("ok", [0]) or any(text and text in out for _, text, _ in step["checks"]):
            return False
    return True
began = time.monotonic()
with ThreadPoolExecutor(int(sys.argv[2])) as pool:
    verdicts = list(pool.map(run, jobs))
print(json.dumps({"seconds": time.monotonic() - began, "passed": verdicts}))
'''


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=["multipl-e", "mbxp"], default="multipl-e")
    ap.add_argument("--languages", help="default: every language of the suite")
    ap.add_argument("--problems", type=int, help="the first N problems only (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", help="JSONL of {task_id, completion} to use instead of the made-up ones")
    return ap.parse_args()


MBXP_PREFIX = {"cpp": "mbcpp", "java": "mbjp", "js": "mbjsp", "ts": "mbtsp", "php": "mbphp", "go": "mbgp",
               "rb": "mbrbp", "pl": "mbplp"}


def mbxp_samples(lang: str) -> str:
    data = Path(os.environ.get("CODERUN_DEV_DATA", REPO.parent / "shared" / "data"))
    return str(data / "multilingual" / "mbxp" / f"examples-{MBXP_PREFIX[lang]}-odd.jsonl")


def completions(lang: str, bench, problems, samples: str | None) -> list[dict]:
    if samples:
        wanted = {p.task_id for p in problems}
        rows = [json.loads(line) for line in Path(samples).read_text().splitlines() if line.strip()]
        return [r for r in rows if bench.task_id(r["task_id"]) in wanted]
    from tests.lang_cases import CASES

    closes = CASES[lang]["correct"].rstrip().endswith(("}", "end"))  # the completion closes the function
    tail = {"lua": "end\n"}.get(lang, "}\n") if closes else ""
    bodies = ("", RAISE[lang])  # a typed language's empty body does not build; a raising one builds and runs
    return [{"task_id": p.task_id, "completion": body + tail} for p in problems for body in bodies]


RAISE = {"java": '        throw new RuntimeException("todo");\n', "cs": '        throw new System.Exception("todo");\n',
         "ts": '  throw new Error("todo");\n', "js": '  throw new Error("todo");\n', "cpp": "    throw 0;\n",
         "rs": '    panic!("todo");\n', "go": '\tpanic("todo")\n', "php": '    throw new Exception("todo");\n',
         "sh": "    exit 1\n", "lua": '    error("todo")\n'}


def main() -> int:
    args = parse_args()
    from coderun import datasets, languages
    from coderun.execute import image
    from coderun.execute.docker_provider import client

    docker = client()
    work = Path(tempfile.mkdtemp(prefix="bench-languages-"))
    mbxp = args.suite == "mbxp"
    default = ",".join(MBXP_PREFIX) if mbxp else "js,php,sh,lua,cpp,rs,go,cs,java,ts"
    count = args.problems or None
    print(f"{args.suite}: {args.workers} workers, {os.cpu_count()} cores, problems: {count or 'all'}; files in {work}")
    totals = Counter()
    for lang in (args.languages or default).split(","):
        name = f"mbxp-{lang}" if mbxp else f"multipl-e-humaneval-{lang}"
        bench = datasets.load(name)
        row = bench.row  # the suite's own steps (mxeval's, for MBXP)
        problems = bench.problems[:count]
        rows = completions(lang, bench, problems, args.samples or (mbxp_samples(lang) if mbxp else None))
        samples = work / f"{lang}.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        jobs = []
        for r in rows:  # the baseline's programs: the suite's own (for MultiPL-E without the end mark)
            problem = bench.get(bench.task_id(r["task_id"]))
            if mbxp:
                program = bench.program(problem, completion=r["completion"]).solution
            else:
                program = problem.prompt + r["completion"] + "\n" + problem.test
            steps = row.step_messages(10.0 if mbxp else 15.0)
            for message, step in zip(steps, row.steps):  # the peer's own commands, a fresh process each
                message["argv"] = step.reference_argv(row.file)
                if mbxp:  # mxeval's limits: 100 s to compile, 10 s to run (wall clock)
                    message["wall"] = 100.0 if step.compile else 10.0
            jobs.append({"file": row.file, "program": program, "steps": steps})
        (work / f"{lang}-jobs.json").write_text(json.dumps(jobs))
        (work / "baseline.py").write_text(BASELINE)
        tag = image.language_tag(row)
        image.ensure_language(docker, row)
        began = time.monotonic()
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{work}:/w:ro", "--entrypoint",
                              "python3", tag, "/w/baseline.py", f"/w/{lang}-jobs.json", str(args.workers)],
                             capture_output=True, text=True)
        peer_total = time.monotonic() - began
        if out.returncode != 0:
            print(f"{lang}: baseline failed: {out.stderr[-500:]}")
            continue
        peer = json.loads(out.stdout.strip().splitlines()[-1])
        # coderun twice: with an empty reference cache (the run checks every reference solution), then on
        # the same image again (the references' passes are kept: what every later run of a model costs)
        env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{lang}")}
        times = {}
        for when in ("first", "again"):
            run_dir = work / f"run-{lang}-{when}"
            began = time.monotonic()
            res = subprocess.run([sys.executable, "-m", "coderun", "evaluate", str(samples), "--dataset",
                                  name, "--workers", str(args.workers), "--timeout", "10" if mbxp else "15",
                                  "--out", str(run_dir), "--json"], capture_output=True, text=True, cwd=REPO,
                                 env=env)
            times[when] = time.monotonic() - began
            if res.returncode not in (0, 1):
                break
        if res.returncode not in (0, 1):
            print(f"{lang}: coderun failed: {res.stderr[-500:]}")
            continue
        ours = times["first"]
        results = [json.loads(line) for line in (work / f"run-{lang}-first" / "results.jsonl").read_text().splitlines()]
        agree = sum((r["status"] == "passed") == p for r, p in zip(results, peer["passed"]))
        steps = Counter()
        for r in results:
            for s in r.get("steps") or ():
                steps[s["step"]] += s["cpu"]
        where = ", ".join(f"{k} {v / args.workers:.1f} s" for k, v in steps.items())
        n = len(rows)
        again = times["again"]
        print(f"{lang:5} {n:4} programs  baseline {peer['seconds']:7.1f} s (container {peer_total:6.1f} s)  coderun "
              f"{ours:7.1f} s  ratio {peer['seconds'] / ours:5.2f}x  {n / ours:6.1f} programs/s  again (references "
              f"kept) {again:6.1f} s  ratio {peer['seconds'] / again:5.2f}x  verdicts agree {agree}/{n}  "
              f"coderun's step CPU / workers: {where}")
        totals["peer"] += peer["seconds"]
        totals["ours"] += ours
        totals["again"] += again
    if totals["ours"]:
        print(f"overall: baseline {totals['peer']:.1f} s, coderun {totals['ours']:.1f} s, "
              f"ratio {totals['peer'] / totals['ours']:.2f}x; again {totals['again']:.1f} s, "
              f"ratio {totals['peer'] / totals['again']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
