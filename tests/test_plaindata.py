"""Plain data across the sandbox boundary (sandbox/plaindata.py) and EvalPlus's comparison rules
(coderun/datasets/evalplus_judge.py), as pure functions."""

from __future__ import annotations

import collections
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coderun.datasets import evalplus_judge
from coderun.sandbox import plaindata

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(), st.binary(),
                    st.complex_numbers(allow_nan=False))
hashables = st.one_of(st.none(), st.booleans(), st.integers(), st.text())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner), st.frozensets(hashables, max_size=4),
    st.sets(hashables, max_size=4), st.dictionaries(hashables, inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip_keeps_value_and_type(value):
    back = plaindata.loads(plaindata.dumps(value))
    assert back == value and type(back) is type(value)


def test_huge_int_travels_as_hex_and_back():
    n = 7 ** 300_000  # 253,529 digits: str() past 4,300 digits is refused, repr too
    text = plaindata.dumps(n)
    assert plaindata.loads(text) == n
    assert len(text) < n.bit_length() // 4 + 64  # as hex, 4 bits a character: linear, not decimal


def test_subclasses_travel_as_their_base_value_whatever_they_override():
    class Liar(int):
        def __eq__(self, other):
            return True

        def __int__(self):
            return 99

        def __repr__(self):
            return "42"

    class Weird(list):
        def __iter__(self):
            return iter([1, 2, 3])

    assert plaindata.loads(plaindata.dumps(Liar(5))) == 5 and type(plaindata.loads(plaindata.dumps(Liar(5)))) is int
    assert plaindata.loads(plaindata.dumps(Weird([7]))) == [7]
    assert plaindata.loads(plaindata.dumps(collections.Counter("aab"))) == {"a": 2, "b": 1}
    assert plaindata.loads(plaindata.dumps(collections.OrderedDict(x=1))) == {"x": 1}


def test_other_types_are_refused_by_name():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(plaindata.NotPlain, match="AlwaysEqual"):
        plaindata.dumps(AlwaysEqual())
    with pytest.raises(plaindata.NotPlain, match="generator"):
        plaindata.dumps(x for x in [1])
    with pytest.raises(plaindata.NotPlain, match=r"re\.Match"):
        import re

        plaindata.dumps([re.match("a", "a")])


def test_equality_of_numbers_survives_the_trip():
    assert plaindata.loads(plaindata.dumps(1)) == plaindata.loads(plaindata.dumps(1.0)) == True  # noqa: E712
    nan = plaindata.loads(plaindata.dumps(float("nan")))
    assert math.isnan(nan) and plaindata.loads(plaindata.dumps(float("-inf"))) == float("-inf")


def test_digest_is_equality_for_exact_values():
    d = plaindata.digest
    assert d([1, 2, 3]) == d([True, 2.0, 3]) and d({1, 2}) == d(frozenset({2, 1}))
    assert d({"a": 1, "b": [1]}) == d({"b": [1], "a": 1}) and d([1, 2]) != d((1, 2)) and d("ab") != d("ba")
    assert d([1.5]) is None and d(3 + 1j) is None  # inexact: compared with a tolerance, never by digest
    assert plaindata.loads(plaindata.dumps(d("x" * 10_000))) == d("x" * 10_000)


def _general_digest(value):
    """The digest from the normal form built item by item (the definition the fast paths must keep)."""
    import hashlib
    import json

    try:
        text = json.dumps(plaindata.normal(value), separators=(",", ":"))
    except plaindata._Inexact:
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


numbers = st.one_of(st.booleans(), st.integers(), st.integers(-2**60, 2**60).map(float),
                    st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(numbers, max_size=8), st.lists(st.text(max_size=3), max_size=5), st.lists(values, max_size=3)),
       st.booleans())
def test_digest_fast_paths_equal_the_normal_form(items, as_tuple):
    value = tuple(items) if as_tuple else items
    d = plaindata.digest(value)
    assert (d.hexdigest if d is not None else None) == _general_digest(value)


# ---- EvalPlus's judge --------------------------------------------------------------------------------------


def judge(expected, inputs=None, **spec):
    return evalplus_judge.make_judge(spec, expected, inputs or [()] * len(expected))


def test_equality_then_tolerance_only_where_atol_is_set():
    assert judge([1])(0, 1.0) is None and judge([[1, 2]])(0, [1, 2]) is None
    assert judge([10 ** 20])(0, 10 ** 20 + 1) == "wrong output"  # atol 0: exact
    assert judge([10 ** 20], atol=1e-4)(0, 10 ** 20 + 1) is None  # large ints compare approximately with atol
    assert judge([[1.0, 2.0]], atol=1e-4)(0, (1.0, 2.0)) == "wrong output"  # same type needed for the tolerance
    assert judge([[1.0, 2.0]], atol=1e-4)(0, [1.0]) == "wrong output"  # and the same length
    assert judge(["a"], atol=1e-4)(0, "b") == "wrong output"


def test_atol_is_forced_by_a_float_and_stays_forced_for_the_tier():
    check = judge([0.1, 10 ** 12])
    assert check(0, 0.1 + 1e-9) is None  # forced to 1e-6 by the float expected value
    assert check(1, 10 ** 12 + 100) is None  # ...and still forced: 100 <= 1e-6 + 1e-7 * 1e12
    assert judge([10 ** 12])(0, 10 ** 12 + 100) == "wrong output"  # never forced: exact


def test_special_oracles():
    xs = [-6.0, 11.0, -6.0, 1.0]  # (x-1)(x-2)(x-3)
    root = judge([1.0], [[xs]], oracle="poly_root", atol=1e-4)
    assert root(0, 3.0) is None and root(0, 2.0000001) is None and root(0, 2.5).startswith("not a root")
    assert judge([False], oracle="always")(0, "anything") is None
    assert judge([7], oracle="or_zero")(0, 0) is None and judge([7], oracle="or_zero")(0, 1) == "wrong output"
    sets = judge([[1, 2, 3]], oracle="set_eq")
    assert sets(0, [3, 2, 1, 1]) is None and sets(0, [[1]]).startswith("comparison failed: TypeError")
    assert judge([True], oracle="not_none")(0, True) is None and judge([True], oracle="not_none")(0, False)
    assert judge([5], [(3, 4)], oracle="surface_area", atol=0)(0, 35) is None  # the pyramid: round(9 + 6 * 4.27)
    assert judge([12], [(123, 256)], oracle="digit_distance")(0, 7) is None  # |1-2|+|2-5|+|3-6| = 7


def test_a_digest_expected_value_is_compared_by_digest():
    check = judge([plaindata.digest("x" * 5000)])
    assert check(0, "x" * 5000) is None and check(0, "x" * 4999) == "wrong output"
