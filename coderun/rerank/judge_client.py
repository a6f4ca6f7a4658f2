"""How judge prompts reach a model: through a generation backend in this process (an OpenAI-compatible
server, or the generating vLLM engine lent when the judge is the generating model), or through a vLLM
engine in a process of its own (a judge model other than the generator: never a second engine in the
same process, where two engines would fight over memory and the device).

A client takes prompts ({"text"} or {"messages"}) and returns answers {"text", "top": {token: logprob}}.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from coderun.errors import CoderunError

TOP_LOGPROBS = 20  # vLLM's default cap on logprobs per position


def sampling():
    from coderun.generate.base import Sampling

    return Sampling(n=1, temperature=0.0, max_tokens=1, top_logprobs=TOP_LOGPROBS)


def answers_of(backend, prompts: list[dict]) -> list[dict]:
    """Ask `backend` every prompt once, greedily, for one token and its top alternatives; in order. A
    prompt the model refuses (longer than its context, say) gets an answer with an "error" instead."""
    from coderun.generate.base import Request

    requests = [Request(str(i), 1, text=p.get("text"), messages=p.get("messages")) for i, p in enumerate(prompts)]
    found: dict[str, dict] = {}
    for group in _by_kind(requests):
        _ask_group(backend, group, found)
    return [found[str(i)] for i in range(len(prompts))]


def _ask_group(backend, requests: list, found: dict[str, dict]) -> None:
    try:
        for request, completions in backend.generate(requests, sampling()):
            c = completions[0]
            found[request.task_id] = {"text": c.text, "top": (c.top_logprobs or [None])[0]}
    except Exception as exc:  # noqa: BLE001 - one bad prompt must not sink the batch: ask one by one
        if len(requests) == 1:
            found[requests[0].task_id] = {"text": "", "top": None, "error": str(exc).splitlines()[0][:200]}
            return
        for request in requests:
            if request.task_id not in found:
                _ask_group(backend, [request], found)


def _by_kind(requests: list) -> list[list]:
    """vLLM takes chat and completion prompts in separate batches."""
    text = [r for r in requests if r.messages is None]
    chat = [r for r in requests if r.messages is not None]
    return [g for g in (text, chat) if g]


class BackendJudge:
    """A backend in this process (an HTTP client), owned: closing the judge closes it."""

    def __init__(self, backend):
        self.backend = backend

    def ask(self, prompts: list[dict]) -> list[dict]:
        return answers_of(self.backend, prompts)

    def close(self) -> None:
        self.backend.close()


class ProcessJudge:
    """A vLLM engine for the judge model in a child process (coderun.rerank.judge_worker), spoken to in
    JSON lines over its stdin and stdout. Its own session, so closing kills every engine process it made."""

    def __init__(self, engine: dict[str, Any], log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log
        with open(log, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "coderun.rerank.judge_worker", json.dumps(engine)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         start_new_session=True, text=True, encoding="utf-8")
        self._read()  # {"ready": ...} once the engine is up, or its error

    def ask(self, prompts: list[dict]) -> list[dict]:
        try:
            self.proc.stdin.write(json.dumps({"prompts": prompts}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()
        return self._read()["answers"]

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self._died()
        message = json.loads(line)
        if "error" in message:
            raise CoderunError(f"the judge engine: {message['error']}")
        return message

    def _died(self):
        code = self.proc.poll()
        raise CoderunError(f"the judge engine process exited (code {code}); its log: {self._log}")

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # the worker shuts its engine down and exits
            self.proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, OSError):
            pass
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the engine's processes
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
