"""Rewards for RL trainers: each completion run in a warm sandbox pool and scored as `coderun evaluate`
scores it.

`Reward` is a callable TRL's GRPOTrainer takes as a reward function (it calls `f(prompts=..., completions=...,
completion_ids=..., **dataset_columns, trainer_state=..., ...)`); `compute_score` is verl's custom reward
function shape. Unlike a run, nothing is written to disk: a reward is one number per completion, now.

- 1.0 passed, 0.0 failed or timed out, None for a harness `error` (no verdict could be had: TRL leaves None
  out of the mean; a 0.0 would punish the policy for the harness). With `plus_fraction` on HumanEval+/MBPP+:
  the fraction of all inputs (base and plus) passed, every input run.
- Strict by default: HumanEval's and MBPP's asserts run as call tests, judged outside the sample's process,
  so a policy cannot earn 1.0 by patching the test, `__eq__` or the harness (docs/SECURITY.md; `strict=False`
  gives classic judging, which such hacks can pass). The plus datasets are judged that way always.
- Fixed CPU limits (`timeout` per sample; per input on the plus datasets), never calibrated: a reward must
  not depend on how long a calibration took on a busy trainer.
- One pool, entered on the first call and kept warm until `close()`; calls from several threads take
  turns on it (the pool runs one batch at a time), and identical programs run once per call.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import Counter
from typing import Any, Sequence

from coderun.errors import InputError, SandboxError
from coderun.records import Status

WORKERS_ENV = "CODERUN_REWARD_WORKERS"  # caps the sandboxes of every Reward made without `workers`


def verdict_reward(status: str, fraction: float | None = None) -> float | None:
    """The reward of one verdict: None for a harness error (never 0.0), else `fraction` when given, else 1.0
    for passed and 0.0 for anything else."""
    if status == Status.ERROR:
        return None
    if fraction is not None:
        return fraction
    return 1.0 if status == Status.PASSED else 0.0


class Reward:
    """Score completions of `dataset` in sandboxes: `reward(completions, task_id=[...])` -> [float | None].

    A completion is a string, scored as a samples file's `completion` field (HumanEval: appended to the
    prompt), or a chat reply (a list of {"role", "content"} messages), whose last assistant message goes
    through `--chat`'s code extraction. Use as a context manager, or call `close()`."""

    __name__ = "coderun_reward"  # the name TRL logs the reward under (older releases read __name__)

    def __init__(self, dataset: str = "humaneval", *, timeout: float = 2.0, workers: int | None = None,
                 memory: str = "1g", provider: str = "docker", plus_fraction: bool = False,
                 dataset_path: str | None = None, strict: bool = True):
        from coderun import datasets
        from coderun.api import execution_options

        if timeout is None:
            raise InputError("Reward needs a fixed timeout (CPU seconds per sample): rewards are never calibrated")
        if workers is None and os.environ.get(WORKERS_ENV):
            workers = _env_workers()
        self.execution = execution_options(timeout, workers, memory, provider, all_inputs=plus_fraction)
        language = datasets.info(dataset).language
        if strict and language != "python":
            raise InputError(f"strict judging exists for Python only; pass strict=False for {dataset} "
                             "(docs/SECURITY.md says what its verdicts guarantee)")
        self.bench = datasets.load(dataset, path=dataset_path, **({"strict": True} if strict else {}))
        self.execution.language = language  # its programs' sandbox image
        if plus_fraction and not self.bench.score_tiers:
            raise InputError(f"plus_fraction needs HumanEval+ or MBPP+ (inputs to count), not {dataset}")
        self.dataset, self.plus_fraction = dataset, plus_fraction
        self.family = datasets.info(dataset).prompt_family
        self.stats: Counter = Counter()  # calls, completions, pools_started
        self._lock = threading.Lock()
        self._executor = None
        self._execution = None  # the execution service on the executor
        self._limits: dict = {}  # task -> TaskLimits, fixed on first use
        self._chat = None

    # ---- the pool ----------------------------------------------------------------------------------
    def __enter__(self) -> "Reward":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop and remove the sandboxes (a later call starts a new pool)."""
        with self._lock:
            executor, self._executor, self._execution, self._limits = self._executor, None, None, {}
        if executor is not None:
            atexit.unregister(executor.close)
            executor.close()

    def _pool(self):
        """The warm executor, entered on first use (under the lock)."""
        if self._executor is None:
            from coderun.orchestrate.stage import make_executor

            executor = make_executor(self.execution)
            try:
                executor.__enter__()
            except BaseException:
                executor.close()  # the sandboxes that did start
                raise
            atexit.register(executor.close)  # a Reward never closed still removes its containers at exit
            self._executor = executor
            self.stats["pools_started"] += 1
        return self._executor

    @property
    def pool_stats(self) -> dict[str, int]:
        """The executor's counters (executed, reused, replaced, retried); empty before the first call."""
        return dict(self._executor.stats) if self._executor is not None else {}

    # ---- scoring -----------------------------------------------------------------------------------
    def __call__(self, completions: Sequence[Any], task_id: Any = None, prompts: Any = None,
                 **columns: Any) -> list[float | None]:
        """One reward per completion. `task_id`: one per completion (TRL passes the dataset column), or one for
        all. Every other keyword (prompts, completion_ids, trainer_state, log_extra, ...) is ignored."""
        completions = list(completions)
        if not completions:
            return []
        ids = _task_ids(task_id, len(completions))
        programs = [self._program(t, c, i) for i, (t, c) in enumerate(zip(ids, completions))]
        with self._lock:
            self.stats["calls"] += 1
            self.stats["completions"] += len(programs)
            return self._score(programs)

    def _program(self, raw_id: Any, completion: Any, index: int):
        """(problem, program) of one completion."""
        problem = self.bench.get(self.bench.task_id(raw_id))
        if isinstance(completion, str):
            return problem, self.bench.program(problem, completion=completion)
        text = _assistant_text(completion, index)
        extracted = self._chat_format().extract(problem, text)
        return problem, self.bench.program(problem, completion=extracted.completion, solution=extracted.solution)

    def _chat_format(self):
        if self._chat is None:
            from coderun import prompts

            if self.family is None:
                raise InputError(f"{self.dataset} has no chat format: give plain-string completions")
            self._chat = prompts.get_format(self.family, prompts.PromptOptions(chat=True))
        return self._chat

    def _score(self, programs: list) -> list[float | None]:
        """Each (problem, program) through the execution service, under fixed limits (prepared once per task)."""
        service = self._service()
        tasks = {problem.task_id: problem for problem, _ in programs if problem.task_id not in self._limits}
        if tasks:
            self._limits.update(service.prepare({t: self.bench.canonical(p) for t, p in tasks.items()}))
        work = ((i, p, self._limits[problem.task_id]) for i, (problem, p) in enumerate(programs))
        outcomes = dict(service.run(work))
        return [self._reward(outcomes[i]) for i in range(len(programs))]

    def _service(self):
        if self._execution is None:
            from coderun.execute.service import ExecutionService

            self._execution = ExecutionService(self._pool(), self.execution.memory_bytes,
                                               float(self.execution.timeout), self.plus_fraction)
        return self._execution

    def _reward(self, outcome) -> float | None:
        if not self.plus_fraction:
            return verdict_reward(outcome.status)
        if outcome.status == Status.ERROR:
            return None  # a tier without a verdict: its inputs passed are unknown
        return verdict_reward(outcome.status, outcome.inputs_passed / outcome.inputs if outcome.inputs else 0.0)


def _task_ids(task_id: Any, count: int) -> list[Any]:
    if task_id is None:
        raise InputError("a reward needs each completion's task_id (a `task_id` column in the dataset)")
    if isinstance(task_id, (str, int)):
        return [task_id] * count
    ids = list(task_id)
    if len(ids) != count:
        raise InputError(f"{count} completions but {len(ids)} task ids")
    return ids


def _assistant_text(messages: Any, index: int) -> str:
    """The content of the last assistant message of a chat completion (text parts joined)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InputError(f"completion {index}: a string or a list of chat messages, got {type(messages).__name__}")
    replies = [m for m in messages if m.get("role") == "assistant"]
    if not replies:
        raise InputError(f"completion {index}: no assistant message")
    content = replies[-1].get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise InputError(f"completion {index}: the assistant message has no text content")
    return content


def _env_workers() -> int:
    text = os.environ[WORKERS_ENV]
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise InputError(f"{WORKERS_ENV} must be a positive integer, got {text!r}")
    return workers


# ---- verl --------------------------------------------------------------------------------------------

_rewards: dict[str, Reward] = {}
_rewards_lock = threading.Lock()


def compute_score(data_source: str | None = None, solution_str: str | None = None, ground_truth: Any = None,
                  extra_info: Any = None, *, data_sources: Sequence[str] | None = None,
                  solution_strs: Sequence[str] | None = None, ground_truths: Sequence[Any] | None = None,
                  **kwargs: Any) -> float | list[float]:
    """verl's custom reward function: `data_source` names the dataset (humaneval, mbpp, ...), `ground_truth`
    is the task id, `solution_str` the completion; extra keywords are ignored. verl's batch reward manager
    passes the plural keywords instead (data_sources=, solution_strs=, ground_truths=, extra_infos=): then a
    list comes back, and the batch runs in one go on the pool. One Reward per dataset and process, made on
    first use and closed at exit; CODERUN_REWARD_WORKERS caps its sandboxes. A harness error raises
    SandboxError: verl has no way to leave a sample out, and 0.0 would be a wrong answer the policy never gave."""
    if solution_strs is not None:
        return _scores(list(data_sources or ()), list(solution_strs), list(ground_truths or ()))
    if solution_str is None or data_source is None:
        raise InputError("compute_score needs data_source, solution_str and ground_truth (the task id)")
    return _scores([data_source], [solution_str], [ground_truth])[0]


def _scores(sources: list[str], solutions: list[str], task_ids: list[Any]) -> list[float]:
    if not len(sources) == len(solutions) == len(task_ids):
        raise InputError(f"{len(solutions)} solutions, {len(sources)} data sources, {len(task_ids)} ground truths")
    out: list[float | None] = [None] * len(solutions)
    for source in dict.fromkeys(sources):  # one call per dataset: its samples run together
        where = [i for i, s in enumerate(sources) if s == source]
        values = _process_reward(str(source))([solutions[i] for i in where], task_id=[task_ids[i] for i in where])
        for i, value in zip(where, values):
            if value is None:
                raise SandboxError(f"no verdict for {source} {task_ids[i]}: the sandbox failed twice (a harness "
                                   "error)")
            out[i] = value
    return out  # type: ignore[return-value]


def _process_reward(dataset: str) -> Reward:
    with _rewards_lock:
        if dataset not in _rewards:
            if not _rewards:
                atexit.register(_close_all)
            _rewards[dataset] = Reward(dataset)
        return _rewards[dataset]


def _close_all() -> None:
    for reward in list(_rewards.values()):
        reward.close()
    _rewards.clear()
