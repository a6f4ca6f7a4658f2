"""Prompt builders and code extraction, on realistic chat-model answers (no model needed)."""

from __future__ import annotations

import pytest

from coderun import datasets, prompts
from coderun.errors import InputError
from coderun.datasets.humaneval import STOP_SEQUENCES as HUMANEVAL_STOP
from coderun.prompts import PromptOptions, extract_code, get_format, strip_thinking, truncate_at_stops


@pytest.fixture(scope="module")
def shots():
    prompt_split = datasets.load("mbpp", split="prompt")
    return [prompt_split.get(t) for t in prompts.MBPP_SHOTS]


def run(problem, bench, extracted: prompts.Extracted) -> bool:
    """Execute like the pipeline does, in-process (these programs are ours): True when the tests pass."""
    program = bench.program(problem, completion=extracted.completion, solution=extracted.solution)
    namespace: dict = {}
    try:
        exec(compile(program.solution, "solution", "exec"), namespace)
        exec(compile(program.test, "test", "exec"), namespace)
    except Exception:
        return False
    return True


# ---- builders ---------------------------------------------------------------------------------------------

def test_humaneval_raw_prompt_is_the_dataset_prompt(humaneval):
    fmt = get_format("humaneval", PromptOptions())
    p = fmt.build(humaneval.get("HumanEval/0"))
    assert p.text == humaneval.get("HumanEval/0").prompt and p.messages is None
    assert p.stop == HUMANEVAL_STOP  # the paper's stop sequences, as the dataset module defines them


def test_mbpp_three_shot_is_the_original_format(mbpp, shots):
    fmt = get_format("mbpp", PromptOptions(), shots)
    text = fmt.build(mbpp.get("11")).text
    assert text.startswith("You are an expert Python programmer, and here is your task: Write a function to "
                           "find the similar elements from the given two tuple lists. Your code should pass "
                           "these tests:\n\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n")
    assert text.count("[BEGIN]") == 4 and text.count("[DONE]") == 3 and text.endswith("[BEGIN]\n")
    assert "Write a python function to remove first and last occurrence of a given character" in text
    assert fmt.stop == ("[DONE]",)
    ex = fmt.extract(mbpp.get("11"), mbpp.get("11").canonical_solution + "\n[DONE]\n\nYou are an expert")
    assert run(mbpp.get("11"), mbpp, ex)


def test_mbpp_zero_shot_and_chat(mbpp):
    zero = get_format("mbpp", PromptOptions(style="0shot")).build(mbpp.get("11"))
    assert zero.text.startswith('"""\n') and mbpp.get("11").extra["test_list"][0] in zero.text
    chat = get_format("mbpp", PromptOptions(chat=True, system_prompt="Be brief.",
                                            response_prefix="```python\n")).build(mbpp.get("11"))
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant"]
    assert chat.continue_final_message and chat.stop == ()


def test_bad_prompt_options():
    with pytest.raises(InputError, match="need --chat"):
        get_format("humaneval", PromptOptions(response_prefix="x"))
    with pytest.raises(InputError, match="no prompt format '3shot' for humaneval"):
        get_format("humaneval", PromptOptions(style="3shot"))


def test_format_record_is_versioned():
    record = get_format("humaneval", PromptOptions(chat=True, chat_template_kwargs={"enable_thinking": False})).record()
    assert record["version"] == prompts.PROMPT_VERSION and record["chat_template_kwargs"] == {"enable_thinking": False}


# ---- post-processing --------------------------------------------------------------------------------------

def test_truncate_at_the_first_stop():
    assert truncate_at_stops("    return 1\n\ndef g():\n#x", ("\n#", "\ndef ")) == "    return 1\n"
    assert truncate_at_stops("    return 1\n", ("\ndef ",)) == "    return 1\n"


QWEN_THINKING = """<think>
The user wants below_zero. I'll track a running balance.
```python
# draft, not the answer
def below_zero(operations): pass
```
</think>

Here is the implementation:

```python
from typing import List


def below_zero(operations: List[int]) -> bool:
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
```

This iterates over the operations and returns as soon as the balance dips below zero.

```python
print(below_zero([1, 2, -4, 5]))  # True
```
"""

BODY_ONLY = """Sure! You can complete it like this:

```
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
```"""

PROSE_NO_FENCE = """The function keeps a running total.

def below_zero(operations):
    total = 0
    for op in operations:
        total += op
        if total < 0:
            return True
    return False

It returns True as soon as the total is negative."""

UNINDENTED_BODY = """```python
balance = 0
for op in operations:
    balance += op
    if balance < 0:
        return True
return False
```"""

TRUNCATED_FENCE = """```python
def below_zero(operations):
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
"""


@pytest.mark.parametrize("answer", [QWEN_THINKING, BODY_ONLY, PROSE_NO_FENCE, UNINDENTED_BODY, TRUNCATED_FENCE])
def test_humaneval_chat_answers_become_passing_programs(humaneval, answer):
    problem = humaneval.get("HumanEval/3")  # below_zero
    fmt = get_format("humaneval", PromptOptions(chat=True))
    ex = fmt.extract(problem, answer)
    assert "<think>" not in ex.completion and "draft" not in ex.completion and "print(" not in ex.completion
    assert run(problem, humaneval, ex)


def test_whole_function_keeps_the_prompt_helpers(humaneval):
    problem = humaneval.get("HumanEval/10")  # make_palindrome uses the prompt's is_palindrome
    answer = ("```python\ndef make_palindrome(string: str) -> str:\n    if not string:\n        return ''\n"
              "    beginning_of_suffix = 0\n    while not is_palindrome(string[beginning_of_suffix:]):\n"
              "        beginning_of_suffix += 1\n    return string + string[:beginning_of_suffix][::-1]\n```")
    ex = get_format("humaneval", PromptOptions(chat=True)).extract(problem, answer)
    assert ex.solution is not None and "def is_palindrome" in ex.solution
    assert run(problem, humaneval, ex)


def test_response_prefix_is_part_of_the_answer(humaneval):
    problem = humaneval.get("HumanEval/2")
    fmt = get_format("humaneval", PromptOptions(chat=True, response_prefix="```python\n"))
    ex = fmt.extract(problem, "    return number % 1.0\n```\nDone.")
    assert ex.completion == "    return number % 1.0\n" and run(problem, humaneval, ex)


def test_mbpp_chat_answer(mbpp):
    problem = mbpp.get("11")
    answer = ("<think>remove first and last</think>\nHere you go:\n```py\ndef remove_Occ(s, ch):\n"
              "    s = s.replace(ch, '', 1)\n    i = s.rfind(ch)\n    return s if i < 0 else s[:i] + s[i + 1:]\n```")
    ex = get_format("mbpp", PromptOptions(chat=True)).extract(problem, answer)
    assert ex.completion.startswith("def remove_Occ") and run(problem, mbpp, ex)


@pytest.mark.parametrize("text,expected", [
    ("<think>a</think>b", "b"),
    ("reasoning, the template opened the tag</think>\ncode", "\ncode"),
    ("answer <think>cut off by max_tokens", "answer "),
    ("<THINKING>x</THINKING>y", "y"),
    ("no thinking", "no thinking"),
])
def test_strip_thinking(text, expected):
    assert strip_thinking(text) == expected


def test_extract_prefers_the_block_defining_the_entry_point():
    text = "```python\nprint(f(1))\n```\ntext\n```python\ndef f(x):\n    return x\n```"
    assert extract_code(text, "f") == "def f(x):\n    return x\n"
    assert extract_code("```bash\npip install x\n```\nno code", None) == "```bash\npip install x\n```\nno code\n"
