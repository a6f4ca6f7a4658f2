"""Plain data across a process boundary: the encoding of inputs and return values (standard library only).

Used inside the sandbox (the runner and the sample's process) and on the host (coderun), so a value a sample
returns reaches the comparison as data, never as an object of the sample's: a subclass of a plain type
travels as its base value (read through the base type's own methods, so an overridden __eq__, __repr__,
__int__ or __iter__ plays no part), and any other type is refused by name.

Plain: None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset, nested.
The text is JSON: lists are arrays; every other non-JSON type is an object {"t": tag, "v": ...}; ints beyond
2**53 travel as hex, which is linear in their size (decimal `str` is quadratic, and `repr` refuses past 4,300
digits); floats keep NaN and infinities. Decoding gives back equal values of the same types, so Python's
own `1 == 1.0 == True` holds on the other side.
"""

from __future__ import annotations

import json
import operator

SAFE_INT = 1 << 53
MAX_DEPTH = 200


class NotPlain(TypeError):
    """A value that is not plain data; the message names its type."""


def to_plain(value, depth: int = 0):
    """The value as JSON-able structure (see the module's doc); raises NotPlain."""
    if depth > MAX_DEPTH:
        raise NotPlain("a value nested more than 200 deep")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if -SAFE_INT < value < SAFE_INT else _big(value)
    if t is float:
        return value
    if t is list:
        return list(value) if _all_json(value) else [to_plain(v, depth + 1) for v in value]
    if t is Digest:
        return {"t": "h", "v": [value.hexdigest, value.kind, value.size]}
    return _tagged(value, t, depth)


def _big(value: int) -> dict:
    return {"t": "i", "v": format(value, "x")}  # "-ff" for negatives: int(text, 16) reads it back


def _tagged(value, t, depth: int):
    # Exact types other than those above, then subclasses of plain types by their base value.
    if issubclass(t, bool):  # unreachable (bool cannot be subclassed), kept for clarity
        return bool(value)
    if issubclass(t, int):
        base = int.__int__(value)
        return base if -SAFE_INT < base < SAFE_INT else _big(base)
    if issubclass(t, float):
        return float.__float__(value)
    if issubclass(t, complex):
        c = complex.__complex__(value)
        return {"t": "c", "v": [c.real, c.imag]}
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, bytes):
        return {"t": "b", "v": bytes.__getitem__(value, slice(None)).hex()}
    if issubclass(t, list):
        return [to_plain(v, depth + 1) for v in list.__iter__(value)]
    if issubclass(t, tuple):
        return {"t": "t", "v": [to_plain(v, depth + 1) for v in tuple.__iter__(value)]}
    if issubclass(t, dict):
        return {"t": "d", "v": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in dict.items(value)]}
    if issubclass(t, frozenset):
        return {"t": "f", "v": [to_plain(v, depth + 1) for v in frozenset.__iter__(value)]}
    if issubclass(t, set):
        return {"t": "s", "v": [to_plain(v, depth + 1) for v in set.__iter__(value)]}
    raise NotPlain(f"returned a {_type_name(t)}, not plain data")


def _type_name(t) -> str:
    module = getattr(t, "__module__", "")
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
    return name if module in ("builtins", "__main__", "", None) else f"{module}.{name}"


def from_plain(data):
    """The value a `to_plain` structure stands for."""
    if type(data) is list:
        return data if _all_scalar(data) else [from_plain(v) for v in data]
    if type(data) is not dict:
        return data
    tag, v = data.get("t"), data.get("v")
    if tag == "i":
        return int(v, 16)
    if tag == "t":
        return tuple(from_plain(x) for x in v)
    if tag == "c":
        return complex(v[0], v[1])
    if tag == "b":
        return bytes.fromhex(v)
    if tag == "d":
        return {from_plain(k): from_plain(x) for k, x in v}
    if tag == "s":
        return {from_plain(x) for x in v}
    if tag == "f":
        return frozenset(from_plain(x) for x in v)
    if tag == "h":
        return Digest(*v)
    raise ValueError(f"unknown tag {tag!r}")


def dumps(value) -> str:
    return json.dumps(to_plain(value), allow_nan=True, separators=(",", ":"))


def loads(text):
    return from_plain(json.loads(text))


# ---- digests: large expected values kept as a fingerprint of their normal form under == ---------------------


class Digest:
    """Stands for a large value by the sha256 of its normal form (`normal`): what a cache keeps instead of
    megabytes of output. Two values with the same normal form are equal under ==, for data without inexact
    floats (a value with one has no digest)."""

    def __init__(self, hexdigest: str, kind: str = "", size: int = 0):
        self.hexdigest, self.kind, self.size = hexdigest, kind, size

    def __eq__(self, other):
        return isinstance(other, Digest) and other.hexdigest == self.hexdigest

    def __hash__(self):
        return hash(self.hexdigest)

    def __repr__(self):
        return f"<a {self.kind} of size {self.size:,}, sha256 {self.hexdigest[:12]}>"


def digest(value) -> Digest | None:
    """The value's Digest, or None when its equality is not exact (it holds a float that is not an integer,
    or a complex with an imaginary part): such values are compared with a tolerance, not by digest. The normal
    form is hashed as it is produced, so a value of millions of elements never exists twice in memory."""
    import hashlib

    if isinstance(value, Digest):
        return value
    h = hashlib.sha256()
    try:
        _feed(h, value)
    except _Inexact:
        return None
    size = len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0
    return Digest(h.hexdigest(), type(value).__name__, size)


def _feed(h, value, depth: int = 0) -> None:
    """The JSON text of `normal(value)` into the hash, lists and tuples streamed item by item."""
    if depth > MAX_DEPTH:
        raise _Inexact()
    if isinstance(value, (list, tuple)):
        items = list(list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value))
        tag = b'{"l":[' if isinstance(value, list) else b'{"t":['
        flat = items if _all_str(items) else _flat_numbers(items)
        if flat is not None:  # the normal form at C speed: a tier's output can be a list of a million numbers
            h.update(tag + json.dumps(flat, separators=(",", ":"))[1:].encode("utf-8", "surrogatepass") + b"}")
            return
        h.update(tag)
        for i, item in enumerate(items):
            if i:
                h.update(b",")
            _feed(h, item, depth + 1)
        h.update(b"]}")
        return
    h.update(json.dumps(normal(value, depth), separators=(",", ":")).encode("utf-8", "surrogatepass"))


class _Inexact(Exception):
    pass


def _flat_numbers(items):
    """`normal` of each item, for a list of exact ints, bools and floats (as a list, computed at C speed), or
    None when some item is of another type. Raises _Inexact for a float that is not an integer (or NaN, inf)."""
    if not items or not set(map(type, items)) <= _NUMBERS:
        return None
    try:
        ints = list(map(int, items))
    except (OverflowError, ValueError):  # inf, nan
        raise _Inexact() from None
    if not all(map(operator.eq, items, ints)):  # a float with a fraction: exact int == float comparison
        raise _Inexact()
    if min(ints) > -SAFE_INT and max(ints) < SAFE_INT:
        return ints
    return [n if -SAFE_INT < n < SAFE_INT else {"i": format(n, "x")} for n in ints]


def _all_str(items) -> bool:
    """Every item an exact str (the common large output: lists of words, or of tuples of them)."""
    return all(type(v) is str for v in items)


def _all_json(items) -> bool:
    """Every item a scalar JSON writes as itself (the common large output: lists of numbers or words)."""
    return all(type(v) in _JSON_SCALARS and (type(v) is not int or -SAFE_INT < v < SAFE_INT) for v in items)


def _all_scalar(items) -> bool:
    """Every item a decoded JSON scalar: nothing to untag."""
    return all(type(v) not in (list, dict) for v in items)


_JSON_SCALARS = frozenset({str, float, int, bool, type(None)})
_NUMBERS = frozenset({int, bool, float})


def normal(value, depth: int = 0):
    """A JSON structure that two values share exactly when they are equal under == (1 == 1.0 == True,
    {1} == frozenset({1}), dicts in any order), for values without inexact numbers."""
    if depth > MAX_DEPTH:
        raise _Inexact()
    if value is None or isinstance(value, str):
        return value if type(value) is str or value is None else str.__str__(value)
    if isinstance(value, (bool, int)):
        n = int.__int__(value)
        return n if -SAFE_INT < n < SAFE_INT else {"i": format(n, "x")}
    if isinstance(value, float):
        if value.is_integer():
            return normal(int(value), depth)
        raise _Inexact()
    if isinstance(value, complex):
        if value.imag == 0:
            return normal(value.real, depth)
        raise _Inexact()
    if isinstance(value, bytes):
        return {"b": bytes.__getitem__(value, slice(None)).hex()}
    if isinstance(value, list):
        items = list(list.__iter__(value))
        return {"l": items if _all_str(items) else [normal(v, depth + 1) for v in items]}
    if isinstance(value, tuple):
        items = list(tuple.__iter__(value))
        return {"t": items if _all_str(items) else [normal(v, depth + 1) for v in items]}
    if isinstance(value, (set, frozenset)):
        items = [json.dumps(normal(v, depth + 1), separators=(",", ":")) for v in value]
        return {"s": sorted(items)}
    if isinstance(value, dict):
        items = [[json.dumps(normal(k, depth + 1), separators=(",", ":")), normal(v, depth + 1)]
                 for k, v in dict.items(value)]
        return {"d": sorted(items, key=lambda kv: kv[0])}
    raise _Inexact()  # not plain data: never equal by digest
