"""The verdict pipe's frames (standard library only): what the sample's process tells the runner.

A frame is NUL, a kind byte, the payload's length (8 hex digits) and the payload (UTF-8). The sample's
process owns its end of the pipe, so every frame after the first `A` may be the sample's own: the runner
treats them as claims, never as a verdict. Only two frames carry weight, and the sample can write neither:
- `E` (setup failed), which counts only as the very first frame, written before any sample code exists;
- classic's pass mark, a `P` frame with a per-job secret that the runner writes into a pipe of its own and
  the child moves to the verdict pipe with splice(2), so it never passes through the sample's memory.

Kinds: A (set up; the sample's code runs next), E (setup failed: a harness error), F (the program failed:
its reason), P (classic's pass mark), D (call tests: every input was called), and the call driver's
S, C, V, X, T, N (calltest.py).
"""

from __future__ import annotations

import os

HEADER = 10  # NUL, kind, 8 hex digits


def frame(kind: bytes, payload: str | bytes = b"") -> bytes:
    data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    return b"\0" + kind + b"%08x" % len(data) + data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def setup_failed(data: bytes) -> str | None:
    """The reason of an `E` frame that opens the stream (the harness failed before the sample ran), else None."""
    if data[:2] != b"\0E" or len(data) < HEADER:
        return None
    try:
        size = int(data[2:HEADER], 16)
    except ValueError:
        return None
    return data[HEADER:HEADER + size].decode("utf-8", "replace")


def last_failure(data: bytes) -> str | None:
    """The payload of the last well-formed `F` frame (the program's reason for failing), else None."""
    at = len(data)
    while (at := data.rfind(b"\0F", 0, at)) >= 0:
        try:
            size = int(data[at + 2:at + HEADER], 16)
        except ValueError:
            continue
        if at + HEADER + size <= len(data):
            return data[at + HEADER:at + HEADER + size].decode("utf-8", "replace")
    return None


class Reader:
    """Frames as they arrive, in order. Anything that is not a frame marks the stream `garbled`: only the
    sample could have written it."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0
        self.garbled = False

    def feed(self, data: bytes):
        """Yield (kind, payload bytes) for each complete frame in what has arrived."""
        self.buf += data
        buf = self.buf
        while not self.garbled and len(buf) - self.pos >= HEADER:
            head = self.pos
            if buf[head] != 0:
                self.garbled = True
                break
            try:
                size = int(buf[head + 2:head + HEADER], 16)
            except ValueError:
                self.garbled = True
                break
            end = head + HEADER + size
            if len(buf) < end:
                break
            self.pos = end
            yield bytes(buf[head + 1:head + 2]), bytes(buf[head + HEADER:end])
        if self.pos > (1 << 20) and self.pos * 2 > len(buf):  # consumed by offset; compacted now and then
            del buf[:self.pos]
            self.pos = 0
