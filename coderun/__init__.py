"""coderun: execute and score code-LLM benchmarks (HumanEval, MBPP) in warm Docker sandboxes."""

__version__ = "0.1.0"
