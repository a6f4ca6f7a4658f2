"""OpenAI-compatible HTTP servers (vLLM, SGLang, TGI, llama.cpp, hosted APIs): async, bounded, retried.

Requests go out concurrently (at most `concurrency` in flight) from an asyncio loop on a thread of its
own; each finished request is handed to the caller at once, so execution overlaps generation here too.
429, 5xx, timeouts and dropped connections are retried with exponential backoff and jitter (a server's
Retry-After is honoured). `n` is sent as one request; a server that refuses n > 1 gets n requests of one
from then on. Completion prompts go to /completions, chat messages to /chat/completions; logprobs are
asked for and kept when the server returns them. The API key comes from an environment variable.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import threading
from typing import Any, Iterator

from coderun.errors import CoderunError, InputError
from coderun.generate.base import (Adapter, Backend, Completion, EngineOptions, Request, Sampling, register,
                                   replicate)
from coderun.prompts import truncate_at_stops

RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_STOPS = 4  # OpenAI's limit on stop sequences; the rest are applied here


class _Retry(Exception):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class _NoN(Exception):
    """The server refused n > 1."""


@register("openai")
class OpenAIBackend(Backend):
    name = "openai"

    @classmethod
    def check(cls, opts: EngineOptions) -> None:
        if not opts.base_url:
            raise InputError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        if not opts.base_url.startswith(("http://", "https://")):
            raise InputError(f"--base-url {opts.base_url}: not an http(s) URL")
        try:
            import httpx  # noqa: F401
        except ImportError:
            raise InputError("the openai backend needs httpx: pip install 'coderun[openai]'") from None

    def __init__(self, opts: EngineOptions):
        self.check(opts)
        self.opts = opts
        self.base_url = opts.base_url.rstrip("/")
        self.key = os.environ.get(opts.api_key_env)
        self.n_supported = True
        self.retries = 0

    def info(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key_env": self.opts.api_key_env,
                "concurrency": self.opts.concurrency, "n_supported": self.n_supported}

    def generate(self, requests: list[Request], sampling: Sampling,
                 adapter: Adapter | None = None) -> Iterator[tuple[Request, list[Completion]]]:
        if adapter is not None:
            raise InputError("--lora with --backend openai: serve the adapter as a model and pass its name")
        results: queue.Queue = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(self._run_all(requests, sampling, results, stop)),
                                  name="openai-backend", daemon=True)
        thread.start()
        try:
            for _ in range(len(requests)):
                item = results.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=30)

    async def _run_all(self, requests, sampling, results: queue.Queue, stop: threading.Event) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        limits = httpx.Limits(max_connections=self.opts.concurrency)
        gate = asyncio.Semaphore(self.opts.concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=self.opts.request_timeout, limits=limits) as client:

            async def one(request: Request) -> None:
                async with gate:
                    if stop.is_set():
                        return
                    try:
                        results.put((request, await self._request(client, request, sampling)))
                    except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
                        results.put(exc if isinstance(exc, CoderunError) else CoderunError(str(exc)))

            await asyncio.gather(*(one(r) for r in requests))

    async def _request(self, client, request: Request, sampling: Sampling) -> list[Completion]:
        n = sampling.draws(request.n)
        if self.n_supported or n == 1:
            try:
                return replicate(await self._retried(client, request, sampling, n), request.n)
            except _NoN:
                self.n_supported = False
        parts = await asyncio.gather(*(self._retried(client, request, sampling, 1) for _ in range(n)))
        return [c for part in parts for c in part]

    async def _retried(self, client, request: Request, sampling: Sampling, n: int) -> list[Completion]:
        for attempt in range(self.opts.max_retries + 1):
            try:
                return await self._post(client, request, sampling, n)
            except _Retry as exc:
                if attempt == self.opts.max_retries:
                    raise CoderunError(f"{self.base_url}: giving up after {attempt + 1} attempts: {exc}") from None
                self.retries += 1
                await asyncio.sleep(exc.wait if exc.wait is not None else backoff(attempt))
        raise AssertionError("unreachable")

    async def _post(self, client, request: Request, sampling: Sampling, n: int) -> list[Completion]:
        import httpx

        chat = request.messages is not None
        url = f"{self.base_url}/{'chat/completions' if chat else 'completions'}"
        try:
            response = await client.post(url, json=self._body(request, sampling, n))
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code == 400 and n > 1 and '"n"' in response.text.replace("'", '"'):
            raise _NoN()
        if response.status_code >= 400:
            raise CoderunError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
        choices = sorted(response.json().get("choices", []), key=lambda c: c.get("index", 0))
        return [_choice(c, chat, request.stop) for c in choices]

    def _body(self, request: Request, sampling: Sampling, n: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.opts.model, "n": n, "max_tokens": sampling.max_tokens,
                                "temperature": sampling.temperature, "seed": sampling.seed}
        if sampling.temperature > 0:
            body["top_p"] = sampling.top_p
        if request.stop:
            body["stop"] = list(request.stop[:MAX_STOPS])
        if request.messages is None:
            return {**body, "prompt": request.text, "logprobs": max(1, sampling.top_logprobs)}
        body.update(messages=request.messages, logprobs=True)
        if sampling.top_logprobs:
            body["top_logprobs"] = sampling.top_logprobs
        if request.chat_template_kwargs:
            body["chat_template_kwargs"] = request.chat_template_kwargs  # vLLM and SGLang take it
        if request.continue_final_message:
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body


def _choice(choice: dict[str, Any], chat: bool, stop: tuple[str, ...]) -> Completion:
    text = (choice.get("message") or {}).get("content") or "" if chat else choice.get("text") or ""
    logprobs = _token_logprobs(choice.get("logprobs"), chat)
    return Completion(text=truncate_at_stops(text, stop), num_tokens=len(logprobs) if logprobs else 0,
                      cumulative_logprob=float(sum(logprobs)) if logprobs else None,
                      token_logprobs=logprobs, finish_reason=choice.get("finish_reason"),
                      top_logprobs=_top_logprobs(choice.get("logprobs"), chat))


def _token_logprobs(data: dict[str, Any] | None, chat: bool) -> list[float] | None:
    if not data:
        return None
    if chat:
        values = [t.get("logprob") for t in data.get("content") or []]
    else:
        values = data.get("token_logprobs") or []
    values = [v for v in values if v is not None]
    return values or None


def _top_logprobs(data: dict[str, Any] | None, chat: bool) -> list[dict[str, float]] | None:
    """The alternatives per position: completions give [{token: logprob}], chat [{"top_logprobs": [...]}]."""
    if not data:
        return None
    if chat:
        steps = [{t.get("token", ""): t.get("logprob") for t in step.get("top_logprobs") or []}
                 for step in data.get("content") or []]
    else:
        steps = [dict(step or {}) for step in data.get("top_logprobs") or []]
    steps = [{k: float(v) for k, v in step.items() if v is not None} for step in steps]
    return steps if any(steps) else None


def backoff(attempt: int) -> float:
    """Exponential (1, 2, 4, ... up to 60 s) with +-50% jitter, so clients that failed together spread out."""
    return min(60.0, 2.0 ** attempt) * random.uniform(0.5, 1.5)


def _retry_after(response) -> float | None:
    try:
        return min(120.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None
