"""The call-test driver (standard library only): call one function of the sample on a list of inputs in the
sample's process, and judge each return value in the runner's, which the sample cannot reach.

A job's "call": {"entry": name, "inputs": blob, "expected": blob or null (record the outputs instead),
"judge": blob (source defining make_judge(spec, expected, inputs) -> check(index, got) -> None | why not),
"digest_over": in record mode, outputs whose text is longer are recorded as a digest (plaindata.Digest),
"digest_at": inputs whose expected value is a digest, for which the sample's process sends its value's digest,
"calls_cpu": the tier's limit on the CPU its calls take together (encoding the values excluded),
"spec": the judge's parameters, "limits": per-input CPU seconds, "mode": "value" | "not_none",
"all": run every input (else stop at the first that fails), "skip": inputs not to judge, "setup": the
benchmark's own code, run after the sample's in its namespace}.

The sample's process receives its code, the entry point, the inputs and their limits, and nothing else: it is
forked from the zygote (zygote.py), which never held an expected value, a judge or another job's data. Per
input it sends one frame (frames.py) on its verdict pipe, "index cpu_seconds body": V (the return value as
plain data, plaindata.py), X (it raised: the reason), T (its input's CPU limit fired), N (not plain data: the
type); before each, C: the call returned and its value is being encoded, which no input's limit is charged
for (the tier's is); S when the calls begin, D when all are done. Any frame may be the sample's own, and none
can make a wrong value pass: the expected values are not in its process, each value is compared here as
decoded data, and frames out of order fail. The runner also kills the sample when an input overruns its limit
by more than SLACK (a sample that blocks SIGPROF), and the job's own CPU limit bounds the whole tier.
"""

from __future__ import annotations

import json
import os
import reprlib
import signal
import time

import frames
import plaindata

SLACK = 0.5  # CPU seconds past an input's limit before the runner kills (the child's own timer fires first)
FLUSH_CPU = 0.002  # CPU seconds of fast inputs whose frames go out in one write (far inside SLACK)
SHORT = 80  # characters of an input, expected or got value in a reason


class Blobs:
    """Data jobs name by digest, sent once per runner and kept in the runner alone: inputs and expected values
    decoded once, judges compiled once. A sample's process gets the text of its own inputs, nothing else."""

    def __init__(self):
        self.raw: dict[str, str] = {}
        self.values: dict[str, object] = {}
        self.judges: dict[str, object] = {}

    def put(self, digest: str, data: str) -> None:
        self.raw[digest] = data

    def value(self, digest: str):
        if digest not in self.values:
            self.values[digest] = plaindata.loads(self.raw_text(digest))
        return self.values[digest]

    def judge(self, digest: str):
        if digest not in self.judges:
            namespace: dict = {"__name__": "coderun_judge"}
            exec(compile(self.raw_text(digest), "<judge>", "exec"), namespace)
            self.judges[digest] = namespace["make_judge"]
        return self.judges[digest]

    def raw_text(self, digest: str) -> str:
        if digest not in self.raw:
            raise KeyError(f"blob {digest[:12]} was never sent")
        return self.raw[digest]


class _InputTimeout(BaseException):
    """Raised in the sample's process by its input's CPU timer (a BaseException: `except Exception` in the
    sample does not swallow it)."""


# ---- in the sample's process ------------------------------------------------------------------------------

def child_main(job: dict, fd: int) -> None:  # pragma: no cover - runs in the sample's process
    """Run the sample's code, then call its entry point on every input, one frame per input. Never returns."""
    write, exit_now = frames.write_all, os._exit
    try:
        inputs = plaindata.loads(job.pop("body").decode("utf-8", "surrogatepass"))
        code = compile(job["solution"], "<solution>", "exec", dont_inherit=True)
        setup = compile(job.get("setup") or "", "<setup>", "exec", dont_inherit=True)
        namespace: dict = {}
        exec(code, namespace)
        exec(setup, namespace)  # the benchmark's own setup (imports), after the program as its tests have it
        fn = namespace.get(job["entry"])
        if not callable(fn):
            raise NameError(f"name {job['entry']!r} is not defined")
    except BaseException as exc:  # noqa: BLE001 - the sample's own failure
        try:
            text = _exception(exc)
        except BaseException:  # noqa: BLE001
            text = "exception (its message could not be formatted)"
        write(fd, frames.frame(b"F", text))
        exit_now(1)
    _calls(fn, inputs, job, fd)  # its last write is the D frame
    exit_now(0)


def _calls(fn, inputs: list, job: dict, fd: int) -> None:  # pragma: no cover - runs in the sample's process
    write, process_time, setitimer, frame = frames.write_all, time.process_time, signal.setitimer, frames.frame
    limits, not_none = [float(x) for x in job["limits"]], job.get("mode") == "not_none"
    digest_at, digest_over = set(job.get("digest_at") or ()), int(job.get("digest_over") or 0)

    def on_timer(signum, frame_):
        raise _InputTimeout()

    signal.signal(signal.SIGPROF, on_timer)
    # Frames of fast inputs wait in `pending` and go out together, at most FLUSH_CPU apart: each write wakes the
    # runner (a context switch on a one-core sandbox). The runner charges the CPU since its last frame to input
    # `told` (the first whose frame it lacks) against that input's limit plus SLACK, so pending frames go out
    # before an input whose own limit is far larger, and S goes out at once: from then on a sample that blocks
    # its timer is killed at an input's limit, never the tier's. A failure, a slow value and the end go out at once.
    write(fd, frame(b"S", "0 0 "))
    pending, flushed_at, told = bytearray(), process_time(), 0
    for i, args in enumerate(inputs):
        kind, body = b"V", ""
        if i > told and limits[i] > limits[told] + SLACK / 2:
            write(fd, bytes(pending))
            pending, flushed_at, told = bytearray(), process_time(), i
        start = process_time()
        try:
            setitimer(signal.ITIMER_PROF, limits[i])
            try:
                out = fn(*args)
            finally:
                setitimer(signal.ITIMER_PROF, 0)
        except _InputTimeout:
            kind, body = b"T", f"timed out (input limit {limits[i]:g} s)"
        except BaseException as exc:  # noqa: BLE001 - the sample's exception is its answer for this input
            kind, body = b"X", _exception(exc)
        used = process_time() - start
        returned = frame(b"C", f"{i} {used:.6f} ")  # the call is over: encoding is not its time
        if kind != b"V" or not _quick(out):  # a value that may take a while to encode: say so first
            write(fd, bytes(pending) + returned)
            returned, pending, flushed_at, told = b"", bytearray(), process_time(), i
        if kind == b"V":
            try:
                if not_none:
                    body = json.dumps(out if type(out) is bool else out is not None)
                else:
                    body = _encode(out, i in digest_at, digest_over)
            except plaindata.NotPlain as exc:
                kind, body = b"N", str(exc)
            except BaseException as exc:  # noqa: BLE001 - e.g. a value too deep or too large to encode
                kind, body = b"N", f"its return value could not be encoded ({type(exc).__name__})"
        pending += returned + frame(kind, f"{i} {used:.6f} {body}")
        if kind != b"V" or process_time() - flushed_at > FLUSH_CPU:
            write(fd, bytes(pending))
            pending, flushed_at, told = bytearray(), process_time(), i + 1
    write(fd, bytes(pending + frame(b"D")))


def _encode(out, as_digest: bool, digest_over: int) -> str:  # pragma: no cover - runs in the sample's process
    """The value as plain-data text, or as its digest where the expected value is one (and, recording, where the
    text is long). A digest computed here is no weaker than the value: matching the expected digest still takes
    the right value, which the sample does not know."""
    if as_digest:
        d = plaindata.digest(out)
        if d is not None:
            return plaindata.dumps(d)
    if not digest_over:
        return plaindata.dumps(out)
    if _longer_than(out, digest_over):  # digested without writing out its text: that can be a gigabyte
        d = plaindata.digest(out)
        return plaindata.dumps(d if d is not None else out)  # None: inexact, kept as its value
    body = plaindata.dumps(out)
    if len(body) > digest_over:
        d = plaindata.digest(out)
        return plaindata.dumps(d) if d is not None else body
    return body


# ---- in the runner ----------------------------------------------------------------------------------------

class CallTest:
    """The runner's side of one call-test job: builds the child's job (code and inputs only) and judges the
    frames as they arrive."""

    name = "call"

    def __init__(self, job: dict, blobs: Blobs):
        spec = job["call"]
        self.job = job
        self.entry = spec["entry"]
        self.inputs_digest = spec["inputs"]
        self.inputs = blobs.value(spec["inputs"])
        self.limits = [float(x) for x in spec["limits"]]
        self.mode = spec.get("mode", "value")
        self.run_all = bool(spec.get("all"))
        self.digest_over = int(spec.get("digest_over") or 0)
        self.digest_at = list(spec.get("digest_at") or ())
        self.skip = set(spec.get("skip") or ())
        self.record = spec.get("expected") is None
        self.expected = None if self.record else blobs.value(spec["expected"])
        self.check = None if self.record else blobs.judge(spec["judge"])(spec.get("spec") or {}, self.expected,
                                                                          self.inputs)
        self.blobs = blobs
        self.reader = frames.Reader()
        self.next = 0  # the input whose frame comes next
        self.started_cpu = None  # the child's CPU time when it began calling (its S frame)
        self.passed = 0
        self.calls_cpu_limit = float(spec.get("calls_cpu") or 0)  # the tier's limit on its calls' CPU (0: none)
        self.calls_cpu = 0.0  # CPU the calls took, as the sample's process reports it (encoding excluded)
        self.over_tier = False
        self.calling = False  # the S frame came: the program's top-level code is done
        self.failure = None  # (index, reason) of the first failing input
        self.input_timeout = False  # that input overran its own CPU limit (a dataset may count it a timeout)
        self.outputs: list = []  # record mode: [kind, body, cpu] per input
        self.stop = False

    def child_job(self) -> tuple[dict, bytes]:
        """What the sample's process gets: its code, the entry point and the inputs' limits (a JSON header),
        and the inputs' plain-data text (the body)."""
        header = {"driver": "call", "solution": self.job["solution"], "setup": self.job["call"].get("setup") or "",
                  "entry": self.entry, "limits": self.limits, "mode": self.mode, "digest_at": self.digest_at,
                  "digest_over": self.digest_over if self.record else 0}
        return header, self.blobs.raw_text(self.inputs_digest).encode("utf-8", "surrogatepass")

    def child_fds(self) -> list[int]:
        return []

    def feed(self, data: bytes, cpu_now=None) -> None:
        """Frames from the child's verdict pipe, judged as they arrive."""
        cpu_now = _once(cpu_now)  # one reading per read: the frames of one read arrived together
        for kind, payload in self.reader.feed(data):
            if self.stop:
                return
            if kind in (b"A", b"F", b"E", b"D"):
                continue  # how the process ended is the runner's reading (`ended`)
            self._frame(kind, payload.decode("utf-8", "replace"), cpu_now)
        if self.reader.garbled and not self.stop:
            self._fail(self.next, "the sample wrote into its result channel")

    def _frame(self, kind: bytes, payload: str, cpu_now) -> None:
        index_text, _, rest = payload.partition(" ")
        cpu_text, _, body = rest.partition(" ")
        if kind == b"S":
            self.calling = True
            self.started_cpu = cpu_now() if cpu_now else 0.0
            return
        if kind == b"C":  # input `next` returned; its value is being encoded: no input's clock runs until it comes
            self.started_cpu = None
            return
        if index_text != str(self.next) or self.next >= len(self.inputs):
            return self._fail(self.next, "the sample wrote into its result channel")
        i = self.next
        self.next += 1
        self.started_cpu = cpu_now() if cpu_now else self.started_cpu
        self.calls_cpu += _float(cpu_text)
        if self.calls_cpu_limit and self.calls_cpu > self.calls_cpu_limit and not self.record:
            self.over_tier, self.stop = True, True  # the tier's calls together took too long: a timeout
            return
        if self.record:
            self.outputs.append([kind.decode(), body, _float(cpu_text)])
            return
        if kind == b"V":
            try:
                got = plaindata.loads(body)
            except Exception:  # noqa: BLE001 - a forged frame
                return self._fail(i, "its output frame could not be read")
            why = None if i in self.skip else self.check(i, got)
            if why is None:
                self.passed += 1
                return
            return self._fail(i, f"{why}: expected {short(self.expected[i])}, got {short(got)}")
        if i in self.skip:
            self.passed += 1
            return
        self._fail(i, {b"X": "raised ", b"T": "", b"N": ""}.get(kind, "?") + body, timed_out=kind == b"T")

    def _fail(self, index: int, why: str, timed_out: bool = False) -> None:
        if self.failure is None:
            args = self.inputs[index] if index < len(self.inputs) else ()
            self.failure = (index, f"input {index} {short_args(args)}: {why}")
            self.input_timeout = timed_out
        if not self.run_all:
            self.stop = True

    def budget(self, used: float | None) -> float:
        """CPU seconds the current input may still take before the runner kills it (`used`: the child's CPU
        time now; None: as of the frame that started the input). Before the calls begin, the program's own
        top-level code is held to the tier's limit: it is the sample's time as much as a call's."""
        if not self.calling:
            if self.record or not self.calls_cpu_limit:
                return float("inf")
            return self.calls_cpu_limit + SLACK - (used or 0.0)
        if self.started_cpu is None or self.next >= len(self.limits):
            return float("inf")
        return self.limits[self.next] + SLACK - (0.0 if used is None else used - self.started_cpu)

    def overran(self, used: float) -> bool:
        """True (and the input failed) when the current input is over its limit: the child is killed."""
        if self.budget(used) > 0:
            return False
        if not self.calling:
            self.over_tier = self.stop = True
            return True
        self._fail(self.next, f"timed out (input limit {self.limits[self.next]:g} s)", timed_out=True)
        self.stop = True
        return True

    def verdict(self, base: dict, timed_out, captured=None) -> dict:
        """The job's verdict from the frames; `base` is how the process ended (the runner's reading)."""
        n = len(self.inputs)
        done = {"inputs": n, "inputs_passed": self.passed}
        if self.record:
            ok = len(self.outputs) == n and base["status"] != "timeout"
            status = "passed" if ok else base["status"] if base["status"] != "passed" else "failed"
            reason = "" if ok else base["reason"] or f"stopped after {len(self.outputs)} of {n} inputs"
            return {"status": status, "reason": reason, "outputs": self.outputs}
        if self.over_tier:
            where = f"at input {self.next - 1} of {n}" if self.calling else "before the calls began"
            return {**base, "status": "timeout", "reason": f"CPU limit exceeded ({self.calls_cpu_limit:g} s) by the "
                                                         f"tier's program and calls together, {where}", **done}
        if timed_out and not (self.failure and self.stop):
            return {**base, "status": "timeout", "reason": f"{base['reason']} for the whole tier, at input "
                                                         f"{self.next} of {n}", **done}
        if self.failure is not None:
            index, reason = self.failure
            return {"status": "failed", "reason": reason, "failed_input": index, "input_timeout": self.input_timeout,
                    **done}
        if self.passed == n:
            return {"status": "passed", "reason": "", **done}
        if base["status"] in ("failed", "error"):
            return {**base, **done}  # it never got to (or through) the calls: a crash, an exit, a bad program
        return {"status": "failed", "reason": f"stopped after {self.next} of {n} inputs", **done}


def _quick(value, depth: int = 0) -> bool:  # pragma: no cover - runs in the sample's process
    """Whether the value surely encodes in microseconds: then the call's end and its value share one write (half
    the syscalls of a typical input), since no input's limit can run out while it encodes."""
    t = type(value)
    if value is None or t is bool or t is float:
        return True
    if t is int:
        return value.bit_length() < 4096
    if t is str:
        return len(value) <= 256
    if (t is list or t is tuple) and depth == 0:
        return len(value) <= 16 and all(_quick(v, 1) for v in value)
    return False


def _longer_than(value, chars: int) -> bool:
    """Whether the value's text is surely longer than `chars` (each item takes at least a character)."""
    return isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) and len(value) > chars


def _once(read):
    """`read`, called at most once (None stays None)."""
    if read is None:
        return None
    box: list = []

    def once():
        if not box:
            box.append(read())
        return box[0]

    return once


def _exception(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except BaseException:  # noqa: BLE001 - a message that cannot be formatted
        text = type(exc).__name__
    return text[:200]


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


class _Short(reprlib.Repr):
    def __init__(self):
        super().__init__()
        self.maxstring = self.maxother = SHORT
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdict = 6
        self.maxlevel = 3

    def repr_int(self, x, level):
        if x.bit_length() > 200:  # repr refuses past 4,300 digits, and is slow long before
            return f"<int of {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_SHORT = _Short()


def short(value) -> str:
    try:
        return _SHORT.repr(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__}>"


def short_args(args) -> str:
    text = short(tuple(args) if isinstance(args, list) else args)
    return text if len(text) <= 2 * SHORT else text[: 2 * SHORT - 3] + "..."
