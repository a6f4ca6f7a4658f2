"""The judge's own engine process: `python -m coderun.rerank.judge_worker ENGINE_JSON`.

Started by judge_client.ProcessJudge. Reads {"prompts": [...]} lines on stdin, answers {"answers": [...]}
lines on stdout; exits, shutting its engine down, when stdin closes. vLLM's own output goes to stderr.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # anything the engine prints must not corrupt the answer channel
    try:
        from coderun.generate.base import EngineOptions, create
        from coderun.rerank.judge_client import answers_of

        engine = json.loads(sys.argv[1])
        backend = create(engine.pop("backend", "vllm"), EngineOptions(**engine))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        out.write(json.dumps({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            try:
                answers = answers_of(backend, json.loads(line)["prompts"])
                out.write(json.dumps({"answers": answers}) + "\n")
            except Exception as exc:  # noqa: BLE001
                out.write(json.dumps({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}) + "\n")
            out.flush()
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
