"""The local provider: the same runner as a plain subprocess, with rlimits but NO isolation.

For machines without Docker only. It is never the default, and it says so loudly: a sample runs with
your uid, sees your files and your network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import select
import warnings
from importlib import resources
from typing import Any

from coderun.execute.base import ChannelSandbox, Provider, Sandbox, SandboxDied, register_provider

WARNING = ("the local provider does NOT isolate: samples run as your user, with your files and network. "
           "Use it only for code you trust; use the docker provider for model output.")


@register_provider("local")
class LocalProvider(Provider):
    isolates = False

    def __init__(self, **_ignored: Any):
        self.runner = str(resources.files("coderun.sandbox") / "runner.py")

    def prepare(self) -> dict[str, Any]:
        warnings.warn(WARNING, stacklevel=2)
        python = sys.version.split()[0]
        return {"provider": "local", "image": None, "image_id": None, "python": python,
                "fingerprint": f"local:python-{python}", "warning": WARNING}

    def sandbox(self, index: int) -> Sandbox:
        return LocalSandbox(self.runner, index)


class LocalSandbox(ChannelSandbox):
    def __init__(self, runner: str, index: int):
        super().__init__()
        self.runner, self.index = runner, index
        self.proc: subprocess.Popen | None = None
        self.name = f"local-{index}"

    def start(self) -> dict[str, Any]:
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        # As root the runner runs samples under this uid and, after each, kills whatever still runs under it:
        # one uid per sandbox and per coderun process, so no sandbox sweeps another's sample.
        uid = 100_000 + (os.getpid() % 1000) * 256 + self.index % 256
        self.proc = subprocess.Popen([sys.executable, "-s", "-B", self.runner, str(uid), "--local"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.name = f"local-{self.proc.pid}"
        return self._await_hello(timeout=30)

    def _read_some(self, timeout: float) -> bytes:
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        return os.read(fd, 1 << 16)

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise SandboxDied(f"channel closed: {exc}") from None

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
