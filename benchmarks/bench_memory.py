"""Host memory of a long run: coderun's peak RSS (and dockerd's) against the number of distinct programs.

Every program is distinct (a unique constant in each completion), so running identical programs once does
not shrink the work. Each size runs `coderun evaluate` as a subprocess in a fresh run directory while this
script samples /proc: the coderun process's RSS (VmRSS, peak and over time), dockerd's RSS, and the host's
MemAvailable. Prints one line per size and a JSON line with everything.

    python benchmarks/bench_memory.py --sizes 10000,30000,100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = REPO / "coderun" / "data" / "HumanEval.jsonl.gz"


def write_samples(path: Path, n: int) -> None:
    """n distinct completions over the 164 problems: half return a constant (wrong), half the reference."""
    with gzip.open(PROBLEMS, "rt") as f:
        problems = [json.loads(line) for line in f]
    with open(path, "w") as out:
        for i in range(n):
            p = problems[i % len(problems)]
            body = p["canonical_solution"] if i % 2 else "    return None\n"
            out.write(json.dumps({"task_id": p["task_id"], "completion": f"{body}\n# distinct {i}\n"}) + "\n")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def dockerd_pid() -> int:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


def measure(samples: Path, out: Path) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(samples), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dpid, trace, low = dockerd_pid(), [], [mem_available_kib()]
    d_before = rss_kib(dpid)
    started = time.monotonic()

    def sample():
        while proc.poll() is None:
            trace.append((round(time.monotonic() - started, 1), rss_kib(proc.pid)))
            low[0] = min(low[0], mem_available_kib())
            time.sleep(0.25)

    t = threading.Thread(target=sample)
    t.start()
    _, err = proc.communicate()
    t.join()
    if proc.returncode != 0:
        sys.exit(f"coderun failed: {err[-2000:]}")
    rows = sum(1 for _ in open(out / "results.jsonl"))
    return {"seconds": round(time.monotonic() - started, 1), "rows": rows,
            "coderun_peak_mib": round(max(r for _, r in trace) / 1024, 1),
            "coderun_rss_trace_mib": [(t_, round(r / 1024, 1)) for t_, r in trace[:: max(1, len(trace) // 20)]],
            "dockerd_rss_mib": [round(d_before / 1024, 1), round(rss_kib(dpid) / 1024, 1)],
            "host_min_available_mib": round(low[0] / 1024)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,30000,100000", help="numbers of distinct programs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    results = {}
    for n in (int(s) for s in args.sizes.split(",")):
        samples = tmp / f"samples-{n}.jsonl"
        write_samples(samples, n)
        r = results[n] = measure(samples, tmp / f"run-{n}")
        print(f"{n:>7} programs: {r['seconds']:>7.1f} s, coderun peak RSS {r['coderun_peak_mib']:>6.1f} MiB, "
              f"dockerd RSS {r['dockerd_rss_mib'][0]} -> {r['dockerd_rss_mib'][1]} MiB, "
              f"host MemAvailable low {r['host_min_available_mib']} MiB", flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        a, b = results[sizes[0]], results[sizes[-1]]
        slope = (b["coderun_peak_mib"] - a["coderun_peak_mib"]) / (sizes[-1] - sizes[0]) * 1024 * 1024
        print(f"growth of coderun's peak RSS: {slope:.0f} bytes per program")
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
