"""EvalPlus's output comparison, as a judge the sandbox runner runs outside the sample's process.

Standard library only: coderun sends this file's source to the runner, which compiles it once and calls
`make_judge(spec, expected, inputs)` per test tier; the judge's `check(index, got)` sees each return value
as plain data (sandbox/plaindata.py) and returns None when it matches, else why not. The sample's process
never sees `expected` and cannot reach this code.

The rules of evalplus 0.3.1 (evalplus/eval/__init__.py `unsafe_execute`):
- equality first; when `atol` is non-zero, a mismatch gets a second chance: same type, same length for
  lists and tuples, and every element within atol + 1e-7 * |expected| (numpy.allclose with rtol 1e-7;
  ints take part, so large ints compare approximately there);
- atol is forced to 1e-6 from the first expected value that is a float or a flat list/tuple of floats,
  and it stays forced for the rest of the tier;
- a large expected value may stand as its digest (plaindata.Digest, only where equality is exact): the
  output matches when its digest is the same;
- special oracles replace or extend equality (spec["oracle"]): HumanEval/32 accepts any root of the
  polynomial within atol; Mbpp/164 always passes; Mbpp/295 also accepts 0; Mbpp/581 and Mbpp/558 have
  alternative reference functions; the set-compared MBPP tasks compare set(got) with set(expected) (an
  unhashable output fails); the "not None" tasks compare whether the output was None (the sample's process
  reports that, since those outputs are not data).
"""

from __future__ import annotations

import math

try:
    import plaindata  # in the sandbox runner
except ImportError:  # on the host (tests)
    from coderun.sandbox import plaindata

RTOL = 1e-7


def make_judge(spec: dict, expected: list, inputs: list):
    return Judge(spec, expected, inputs).check


class Judge:
    def __init__(self, spec: dict, expected: list, inputs: list):
        self.oracle = spec.get("oracle")
        self.atol = float(spec.get("atol") or 0.0)
        self.expected, self.inputs = expected, inputs

    def check(self, index: int, got):
        exp, inp = self.expected[index], self.inputs[index]
        oracle = self.oracle
        if isinstance(exp, plaindata.Digest):  # a large expected value, kept by digest: exact equality (the
            return None if plaindata.digest(got) == exp else "wrong output"  # sample may send a digest itself)
        if oracle == "poly_root":  # HumanEval/32: find_zero(xs) must give a root of xs; atol as given
            try:
                value = abs(_poly(*inp, got))
            except Exception as exc:  # noqa: BLE001 - a wrong type of answer
                return f"not a root: evaluating the polynomial at it raised {type(exc).__name__}"
            return None if value <= self.atol else f"not a root: |poly(x)| = {value:.3g} > {self.atol}"
        try:
            exact = got == exp
            if oracle == "always":
                exact = True
            elif oracle == "or_zero":
                exact = exact or got == 0
            elif oracle == "surface_area":
                exact = exact or abs(got - _surface_area(*inp)) <= self.atol
            elif oracle == "digit_distance":
                exact = exact or got == _digit_distance_nums(*inp)
            elif oracle == "set_eq":
                exact = set(got) == set(exp)
            elif oracle == "not_none":  # both sides are whether the output was None (or the bool returned)
                exact = got == exp
        except Exception as exc:  # noqa: BLE001 - e.g. set() of an unhashable output: a failure, as in EvalPlus
            return f"comparison failed: {type(exc).__name__}: {exc}"[:200]
        if self.atol == 0 and _is_floats(exp):
            self.atol = 1e-6  # forced for float outputs, and it stays for the rest of the tier
        if exact:
            return None
        if self.atol != 0 and _close(got, exp, self.atol):
            return None
        return "wrong output"


def _is_floats(x) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _close(got, exp, atol: float) -> bool:
    """numpy.allclose(got, exp, rtol=1e-7, atol=atol) after EvalPlus's type and length checks."""
    if type(got) is not type(exp):
        return False
    if isinstance(exp, (list, tuple)) and len(got) != len(exp):
        return False
    a, b = _flat(got), _flat(exp)
    if a is None or b is None or len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, complex) or isinstance(y, complex):
            if abs(x - y) > atol + RTOL * abs(y):
                return False
            continue
        if math.isnan(x) or math.isnan(y):
            return False
        if math.isinf(x) or math.isinf(y):
            if x != y:
                return False
            continue
        if abs(x - y) > atol + RTOL * abs(y):
            return False
    return True


def _flat(value):
    """The numbers of a scalar or a regular nested list/tuple, in order; None when numpy would not make a
    numeric array of it (strings, None, ragged nesting)."""
    if isinstance(value, bool) or isinstance(value, (int, float, complex)):
        return [value]
    if not isinstance(value, (list, tuple)):
        return None
    out, shape = [], None
    for item in value:
        inner = _flat(item)
        if inner is None:
            return None
        item_shape = _shape(item)
        if shape is None:
            shape = item_shape
        elif item_shape != shape:
            return None  # ragged: numpy makes an object array, and allclose fails on it
        out.extend(inner)
    return out


def _shape(value):
    if isinstance(value, (list, tuple)):
        return (len(value),) + (_shape(value[0]) if value else ())
    return ()


def _poly(xs: list, x: float):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge, height):  # Mbpp/581: height is the pyramid's perpendicular height
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1, num2):  # Mbpp/558: the shorter number padded with zeros
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))
