"""The Docker provider: warm, locked-down containers, one long-lived runner each.

The channel is the container's stdin/stdout through a Docker attach socket opened before start, with
StdinOnce set: when coderun closes it, or dies and the kernel closes it, the runner sees EOF and exits,
and the container (auto-remove) is gone. Containers carry labels so a later coderun can remove the
leftovers of one that was killed before it could clean up.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections import Counter
from contextlib import contextmanager
import socket
import struct
import select
import threading
import time
from typing import Any

from coderun.errors import SandboxError
from coderun.execute.base import ChannelSandbox, Provider, Sandbox, SandboxDied, register_provider
from coderun.execute import image as images

LABEL = "io.coderun.sandbox"
CPU_LABEL = "io.coderun.cpu"  # the core a sandbox is pinned to: pools sharing a host spread over its cores
CPU_LOCK = os.path.join(tempfile.gettempdir(), "coderun-cpuset.lock")
OWNER_LABEL = "io.coderun.owner"  # "<hostname>:<pid>" of the coderun that owns the container
HEADROOM = 512 << 20  # container memory above the per-sample limit: the runner, tmpfs, page cache
CAPS = ["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"]  # what the runner needs, no more


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def client():
    """A docker client, or SandboxError saying plainly that there is no daemon."""
    import docker

    try:
        c = docker.from_env(timeout=60)
        c.ping()
        return c
    except Exception as exc:  # docker raises several types here; all mean "no usable daemon"
        raise SandboxError(f"cannot reach the Docker daemon ({_short(exc)}); is dockerd running?") from None


def remove_leftovers(api) -> int:
    """Remove sandboxes left behind by a coderun that died. Returns how many.

    A live coderun's sandboxes must survive, wherever that coderun runs (another container, another
    host on the same daemon), so a container goes only when its owner is provably dead: a process of
    this host that no longer exists, or a container that is not running and was created over a minute
    ago. (A running sandbox whose owner died on another host exits by itself: its channel closed.)"""
    host, removed = socket.gethostname(), 0
    for c in api.containers(all=True, filters={"label": LABEL}):
        owner_host, _, pid = c.get("Labels", {}).get(OWNER_LABEL, "").rpartition(":")
        dead_here = owner_host == host and pid.isdigit() and not _alive(int(pid))
        stale = c.get("State") != "running" and time.time() - c.get("Created", time.time()) > 60
        if dead_here or stale:
            try:
                api.remove_container(c["Id"], force=True)
                removed += 1
            except Exception:
                pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@register_provider("docker")
class DockerProvider(Provider):
    """Sandboxes as Docker containers. Options are the container limits (see README, "Sandbox")."""

    def __init__(self, image: str | None = None, memory: int = 1 << 30, pids: int = 256, tmpfs: str | None = None,
                 cpus: float = 1.0, base_image: str | None = None, build: bool = True, language: str = "python"):
        from coderun import languages

        self.language = languages.get(language)
        tmpfs = tmpfs or ("64m" if not self.language.steps else "512m")  # build outputs, Go's build cache
        self.image_name = image
        self.memory, self.pids, self.tmpfs, self.cpus = memory, pids, tmpfs, cpus
        self.base_image, self.build = base_image, build
        self.docker = None
        self.image_id = ""

    def prepare(self) -> dict[str, Any]:
        self.docker = client()
        remove_leftovers(self.docker.api)
        if self.image_name:
            name = self.image_name
            self.image_id = images.ensure(self.docker, name, base_image=self.base_image, build=self.build)
        else:
            name = images.language_tag(self.language)
            self.image_id = images.ensure_language(self.docker, self.language, self.base_image, self.build)
        self.image_name = name
        info = {"provider": "docker", "image": name, "image_id": self.image_id, "fingerprint": self.image_id,
                "limits": {"memory": self.memory, "pids": self.pids, "tmpfs": self.tmpfs, "cpus": self.cpus}}
        if self.language.steps:  # the toolchain's own account of its versions, for the run config and compare
            info["language"] = self.language.key
            info["toolchain"] = images.toolchain_versions(self.docker, name)
        return info

    def healthy(self) -> bool:
        try:
            return bool(self.docker.ping())
        except Exception:
            return False

    def sandbox(self, index: int) -> Sandbox:
        return DockerSandbox(self, index)

    @contextmanager
    def core_for(self, index: int):
        """The core for sandbox `index`: the one fewest live sandboxes on this daemon are pinned to (every
        coderun on the host, e.g. two Ray nodes, or two runs), chosen and claimed under a host-wide lock.
        None when sandboxes get a CPU quota instead of a core."""
        if self.cpus > 1:
            yield None
            return
        ncpu = os.cpu_count() or 1
        with open(CPU_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                used = Counter(c.get("Labels", {}).get(CPU_LABEL) for c in self.docker.api.containers(
                    all=True, filters={"label": CPU_LABEL}) if c.get("State") in ("created", "running"))
                yield min(range(ncpu), key=lambda core: (used[str(core)], (core - index) % ncpu))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def container_memory(self) -> int:
        return self.memory + HEADROOM  # memory: the per-sample limit, bytes

    def host_config(self, core: int | None) -> dict[str, Any]:
        return dict(
            network_mode="none",
            read_only=True,
            # Docker mounts a tmpfs noexec unless told: a compiled language runs its build from the scratch dir
            tmpfs={"/tmp": f"rw,{'exec,' if self.language.steps else ''}nosuid,nodev,size={self.tmpfs},mode=1777",
                   "/dev/shm": "rw,nosuid,nodev,noexec,size=1m"},
            # The sample's own limit is RLIMIT_AS = `memory`; the container gets headroom above it, so a
            # greedy sample meets MemoryError instead of thrashing the runner's pages at the cgroup limit.
            mem_limit=self.container_memory(),
            memswap_limit=self.container_memory(),  # == memory: no swap to hide a memory bomb in
            pids_limit=self.pids,
            # Pin one worker per core where there are enough cores: no CFS-quota throttling stalls.
            cpuset_cpus=str(core) if core is not None else None,
            nano_cpus=None if self.cpus <= 1 else int(self.cpus * 1e9),
            cap_drop=["ALL"],
            cap_add=CAPS,
            security_opt=["no-new-privileges"],
            log_config={"type": "none"},  # sample output never grows a log on the host
            init=True,  # docker-init is PID 1 and reaps whatever a sample orphans
            auto_remove=True,
            ipc_mode="private",
        )


class DockerSandbox(ChannelSandbox):
    def __init__(self, provider: DockerProvider, index: int):
        super().__init__()
        self.provider, self.index = provider, index
        self.api = provider.docker.api
        self.id = ""
        self.name = ""
        self._sock = None
        self._frames = bytearray()
        self._closed = threading.Event()

    def start(self) -> dict[str, Any]:
        import requests

        try:
            return self._start()
        except requests.exceptions.ConnectionError as exc:  # no daemon at the other end of the socket
            raise ConnectionError(f"cannot reach the Docker daemon: {exc}") from None

    def _start(self) -> dict[str, Any]:
        p = self.provider
        uid = 10001 + self.index  # a distinct sample uid per container: RLIMIT_NPROC counts per uid
        with p.core_for(self.index) as core:  # created under the lock: the next pick sees its label
            labels = {LABEL: "1", OWNER_LABEL: owner(), **({CPU_LABEL: str(core)} if core is not None else {})}
            container = self.api.create_container(
                p.image_name, command=["python3", "-s", "-B", "/opt/coderun/runner.py", str(uid)],
                stdin_open=True, detach=False,  # docker-py sets StdinOnce with these: EOF on our close
                environment={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"},
                labels=labels, user="0", working_dir="/",
                host_config=self.api.create_host_config(**p.host_config(core)),
            )
        self.id = container["Id"]
        self.name = self.id[:12]
        sock = self.api.attach_socket(self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        self._sock = getattr(sock, "_sock", sock)
        self.api.start(self.id)
        return self._await_hello(timeout=60)

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except (OSError, AttributeError) as exc:
            raise SandboxDied(f"channel closed: {exc}") from None

    def _read_some(self, timeout: float) -> bytes:
        if not select.select([self._sock], [], [], timeout)[0]:
            raise TimeoutError
        return self._sock.recv(1 << 16)

    def _feed(self, data: bytes) -> None:
        """Docker multiplexes stdout and stderr in frames (8-byte header: stream, 0, 0, 0, size). The buffer
        is a bytearray consumed once per call: slicing off each frame would copy the rest every time."""
        frames = self._frames
        frames += data
        at = 0
        while len(frames) - at >= 8:
            stream, size = frames[at], struct.unpack_from(">I", frames, at + 4)[0]
            if len(frames) - at < 8 + size:
                break
            if stream == 1:  # the runner's stderr is diagnostics only, never a verdict
                super()._feed(bytes(frames[at + 8:at + 8 + size]))
            at += 8 + size
        del frames[:at]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            if self._sock is not None:
                self._sock.shutdown(socket.SHUT_RDWR)
                self._sock.close()
        except OSError:
            pass
        if not self.id:
            return
        try:
            self.api.remove_container(self.id, force=True)  # kills it; gone when this returns
        except Exception:
            pass  # auto-remove got there first, or the daemon is down: leftovers go at the next start
        self._wait_gone(timeout=10)

    def _wait_gone(self, timeout: float) -> None:
        """Nothing outlives the pool: wait (bounded) until the daemon no longer knows the container."""
        import docker.errors

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.api.inspect_container(self.id)
            except docker.errors.NotFound:
                return
            except Exception:
                return  # the daemon is down: nothing more to do from here
            time.sleep(0.05)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
