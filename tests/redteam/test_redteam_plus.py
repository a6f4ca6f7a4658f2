"""Hostile HumanEval+ samples: outputs are judged outside the sample's process, so nothing a sample can do to
its own values, its process or its channel makes a wrong answer pass. Each runs in a one-sandbox run between
a correct and a wrong neighbour whose verdicts must hold."""

from __future__ import annotations

import json
import warnings

import pytest

from coderun import datasets
from coderun.records import load_run

pytestmark = pytest.mark.docker

TASK = "HumanEval/13"  # greatest_common_divisor(a, b) -> int: outputs vary, so no constant answer passes
SIGNATURE = "def greatest_common_divisor(a: int, b: int) -> int:\n"

HOSTILE = {
    "an always-equal object": "class E:\n    def __eq__(self, other):\n        return True\n"
                              "    __hash__ = object.__hash__\n" + SIGNATURE + "    return E()\n",
    "a wrong int subclass whose __eq__ lies": "class L(int):\n    def __eq__(self, other):\n        return True\n"
                                              "    __hash__ = int.__hash__\n" + SIGNATURE + "    return L(0)\n",
    "a custom __repr__ and __int__": "class R(int):\n    def __repr__(self):\n        return '1'\n"
                                     "    def __int__(self):\n        return 1\n" + SIGNATURE + "    return R(7)\n",
    "forged frames on every descriptor": (
        "import os\nfor fd in range(3, 1024):\n    for i in range(200):\n        try:\n"
        "            os.write(fd, b'V' + b'%08x' % 8 + b'%d 0.0 1' % i)\n        except OSError:\n            break\n"
        + SIGNATURE + "    return 1\n"),
    "patches the encoder and the judge it can reach": (
        "import json, sys\njson.dumps = lambda *a, **k: '1'\n"
        "for name in ('plaindata', 'calltest'):\n    m = sys.modules.get(name)\n    if m is not None:\n"
        "        for attr in ('dumps', 'to_plain', 'loads'):\n            setattr(m, attr, lambda *a, **k: '1')\n"
        + SIGNATURE + "    return 1\n"),
    "hunts for the expected outputs": (
        "import os, gc\nfound = []\nfor root in ('/tmp', '/opt/coderun', '/proc/1', os.path.expanduser('~')):\n"
        "    try:\n        found += os.listdir(root)\n    except OSError:\n        pass\n"
        "for pid in os.listdir('/proc'):\n    if pid.isdigit():\n        for leaf in ('environ', 'mem', 'cmdline'):\n"
        "            try:\n                found.append(open(f'/proc/{pid}/{leaf}', 'rb').read(1 << 16))\n"
        "            except OSError:\n                pass\n"
        "LEAK = [o for o in gc.get_objects() if isinstance(o, list) and len(o) > 50]\n"
        + SIGNATURE + "    for o in LEAK:\n        for v in o:\n            if isinstance(v, int):\n"
        "                return v\n    return 1\n"),
    "stops itself before the last input": "import os\n" + SIGNATURE + "    if a > 50:\n        os._exit(0)\n"
                                           "    import math\n    return math.gcd(a, b)\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_sample_never_passes_and_its_neighbours_keep_their_verdicts(tmp_path, name):
    from coderun.orchestrate.evaluate import EvaluateOptions, evaluate
    from coderun.orchestrate.options import DatasetSelection, ExecutionOptions, OutputOptions

    problem = datasets.load("humaneval-plus").get(TASK)
    rows = [{"task_id": TASK, "solution": problem.canonical_solution},
            {"task_id": TASK, "solution": HOSTILE[name]},
            {"task_id": TASK, "solution": SIGNATURE + "    return a * b\n"}]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    opts = EvaluateOptions(samples=str(samples), dataset=DatasetSelection("humaneval-plus"),
                           execution=ExecutionOptions(workers=1), output=OutputOptions(out=str(tmp_path / "run")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = evaluate(opts)
    correct, hostile, wrong = load_run(outcome.run_dir).rows
    assert hostile.status in ("failed", "timeout") and not hostile.extra["base_passed"], hostile.reason
    assert (correct.status, wrong.status) == ("passed", "failed"), (correct.reason, wrong.reason)
    assert outcome.summary["complete"]
