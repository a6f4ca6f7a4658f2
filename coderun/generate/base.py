"""The generator interface: requests in, completions out as each request finishes; a registry of backends.

A backend takes every request once (one prompt, `n` completions) and yields `(request, completions)` as
each request finishes, so the caller can hand those completions to the sandbox pool while the rest are
still being generated. Backends know nothing about benchmarks or sandboxes (the generation run joins the
stages); they are looked up by name and imported only when used, so `coderun --help` stays light.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

from coderun.errors import InputError


@dataclass(frozen=True)
class Sampling:
    """What decides the distribution sampled from (recorded in config.json; part of a run's identity)."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0
    top_logprobs: int = 0  # > 0: also return the most likely tokens at each of the first positions (judges)

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.top_logprobs:
            del d["top_logprobs"]  # not a generation setting: runs recorded before it existed stay the same
        return d

    def draws(self, n: int) -> int:
        """Completions to ask for: greedy decoding gives one answer, so n > 1 asks once (vLLM refuses
        n > 1 when greedy) and `replicate` fills the n."""
        return 1 if self.temperature == 0 else n


def replicate(completions: list["Completion"], n: int) -> list["Completion"]:
    """Greedy: the one completion, n times (each its own record)."""
    if len(completions) == 1 and n > 1:
        return [completions[0]] * n
    return completions


@dataclass
class Request:
    """One prompt, asked once for `n` completions. `text` for completion endpoints, `messages` for chat."""

    task_id: str
    n: int
    text: str | None = None
    messages: list[dict[str, str]] | None = None
    stop: tuple[str, ...] = ()
    chat_template_kwargs: dict[str, Any] | None = None
    continue_final_message: bool = False


@dataclass
class Completion:
    """One generated answer. `token_logprobs` stay in memory (tests, rerankers); records keep the sums."""

    text: str
    num_tokens: int
    cumulative_logprob: float | None = None
    token_logprobs: list[float] | None = None
    finish_reason: str | None = None
    solution: str | None = None  # the samples backend: a whole program made elsewhere
    top_logprobs: list[dict[str, float]] | None = None  # with Sampling.top_logprobs: {token text: logprob} per position

    @property
    def mean_logprob(self) -> float | None:
        if self.cumulative_logprob is None or not self.num_tokens:
            return None
        return self.cumulative_logprob / self.num_tokens


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter: a peft directory (adapter_config.json + weights)."""

    name: str
    path: str
    rank: int

    @classmethod
    def from_dir(cls, path: str, name: str | None = None) -> "Adapter":
        import json

        p = Path(path).expanduser()
        config = p / "adapter_config.json"
        if not config.is_file():
            raise InputError(f"--lora {path}: not a LoRA adapter directory (no adapter_config.json)")
        try:
            rank = int(json.loads(config.read_text()).get("r", 8))
        except (ValueError, OSError) as exc:
            raise InputError(f"--lora {path}: unreadable adapter_config.json ({exc})") from None
        return cls(name or p.resolve().name, str(p.resolve()), rank)


@dataclass
class EngineOptions:
    """Everything a backend may need to start; each backend reads the fields that apply to it."""

    model: str
    dtype: str = "auto"
    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None  # None: 0.5 on vLLM's CPU build, 0.9 on a GPU
    enforce_eager: bool = False  # vLLM without torch.compile and CUDA graphs: starts faster, decodes slower
    revision: str | None = None
    seed: int = 0
    max_lora_rank: int = 0  # 0: no LoRA
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    request_timeout: float = 600.0
    max_retries: int = 6
    samples: str | None = None
    benchmark: Any = None  # the loaded dataset (the samples backend reads task ids with it)
    extra: dict[str, Any] = field(default_factory=dict)  # more keyword arguments for the engine


class Backend(ABC):
    """A generator. Use as a context manager: `close` frees the engine, the server connection, the file."""

    name: ClassVar[str]
    verbatim: ClassVar[bool] = False  # True: its texts are finished code (made elsewhere), not raw answers

    @abstractmethod
    def generate(self, requests: list[Request], sampling: Sampling,
                 adapter: Adapter | None = None) -> Iterator[tuple[Request, list[Completion]]]:
        """Yield each request with its completions as soon as that request has finished."""

    @classmethod
    def check(cls, opts: EngineOptions) -> None:
        """Refuse bad options (InputError) before anything starts: no engine, no pool."""

    @classmethod
    def source(cls, opts: EngineOptions) -> dict[str, Any]:
        """What the completions come from, for a run's identity: the model (and its weights' fingerprint)."""
        return model_identity(opts.model, opts.revision)

    def info(self) -> dict[str, Any]:
        """What to record about the backend in config.json (versions, resolved settings)."""
        return {}

    def close(self) -> None:
        pass

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# The backends, by name: the module that registers each (imported only when used, so listing them for
# click's choices imports no backend), and whether it can serve as a judge (it scores prompts, rather than
# replaying completions made elsewhere).
BACKENDS: dict[str, tuple[str, bool]] = {"vllm": ("coderun.generate.vllm_backend", True),
                                         "openai": ("coderun.generate.openai_backend", True),
                                         "samples": ("coderun.generate.samples_backend", False)}
_REGISTRY: dict[str, type[Backend]] = {}


def register(name: str):
    """Register a Backend subclass under `name`."""

    def deco(factory):
        _REGISTRY[name] = factory
        return factory

    return deco


def _backends() -> dict[str, tuple[str, bool]]:
    """The built-in backends, then those of installed packages (entry points `coderun.backends`; a plug-in
    backend is not offered as a judge)."""
    from coderun.registry import plugin_modules

    return {**BACKENDS, **{n: (m, False) for n, m in plugin_modules("coderun.backends").items() if n not in BACKENDS}}


def backend_names() -> list[str]:
    return list(_backends())


def judge_backend_names() -> list[str]:
    return [name for name, (_, judges) in _backends().items() if judges]


def backend_class(name: str) -> type[Backend]:
    backends = _backends()
    if name not in _REGISTRY and name in backends:
        importlib.import_module(backends[name][0])  # importing registers it (the modules import nothing heavy)
    if name not in _REGISTRY:
        raise InputError(f"unknown backend {name!r}; known: {', '.join(backend_names())}")
    return _REGISTRY[name]


def create(name: str, options: EngineOptions) -> Backend:
    return backend_class(name)(options)


# ---- model identity ---------------------------------------------------------------------------------------

FULL_HASH_LIMIT = 64 << 20  # files up to this size are hashed whole; larger ones by size, head and tail
EDGE = 1 << 20


def is_local_model(model: str) -> bool:
    """A directory on disk (or a path-looking name: unknown ones are an error, never a hub lookup)."""
    return os.path.exists(os.path.expanduser(model)) or model.startswith(("/", "./", "../", "~")) \
        or model.count("/") > 1


def check_model(model: str) -> None:
    if not is_local_model(model):
        return  # a hub id: the backend resolves it (from the local cache; there is no network here)
    p = Path(model).expanduser()
    if not p.is_dir():
        raise InputError(f"--model {model}: no such model directory")
    if not (p / "config.json").is_file():
        raise InputError(f"--model {model}: not a model directory (no config.json)")


def fingerprint(path: str) -> str:
    """sha256 over a directory's files (names, sizes, contents; multi-GB weight files by head and tail),
    so a run records which weights it used without reading every byte of a large checkpoint."""
    root = Path(path).expanduser()
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = f.stat().st_size
        h.update(f"{f.relative_to(root).as_posix()}\0{size}\0".encode())
        with open(f, "rb") as fh:
            if size <= FULL_HASH_LIMIT:
                for chunk in iter(lambda: fh.read(EDGE), b""):
                    h.update(chunk)
            else:
                h.update(fh.read(EDGE))
                fh.seek(size - EDGE)
                h.update(fh.read(EDGE))
    return h.hexdigest()


def fingerprint_file(path: str) -> str:
    h = hashlib.sha256()
    with open(Path(path).expanduser(), "rb") as fh:
        for chunk in iter(lambda: fh.read(EDGE), b""):
            h.update(chunk)
    return h.hexdigest()


def model_identity(model: str, revision: str | None = None) -> dict[str, Any]:
    """How config.json names a model: a local directory by path and fingerprint, a hub id by revision."""
    if Path(model).expanduser().is_dir():
        p = Path(model).expanduser().resolve()
        return {"name": model, "path": str(p), "sha256": fingerprint(str(p))}
    return {"name": model, "revision": revision}
