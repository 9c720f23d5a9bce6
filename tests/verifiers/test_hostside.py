"""Host-side reading of what the sandbox returns: the verdict line, returned values, comparisons.

Everything here runs on the host on text the candidate may control (a harness it got into can
print anything), so each function must be total: any input gives a verdict, never an exception
out of ``run_tests`` / ``env.step``, and comparisons are exact about types.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfgym.safejson import JSONError, loads
from selfgym.types import Status
from selfgym.verifiers.checker import (
    MAX_VALUE_DEPTH,
    Unreadable,
    compare_values,
    decode_value,
    read_report,
    run_io_cases,
    run_tests,
    same,
)
from selfgym.verifiers.harness import encode

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARK = '{"selfgym_harness": 1, "checks": '
BOUND_S = 10.0  # far above linear work on these inputs, far below what quadratic work would take


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    assert time.perf_counter() - t0 < BOUND_S, f"{fn.__name__} took too long"
    return out


# ------------------------------------------------------------------ the verdict line
HOSTILE_LINES = [
    MARK + "[" * 100_000 + "]" * 100_000 + "}",                      # deeper than any decoder recursion
    MARK + '[{"passed": true, "message": "x"}], "n": ' + "9" * 6000 + "}",  # past the int-string limit
    MARK + '[{"passed": 1, "message": "ok"}]}',                       # 1 is not True
    MARK + '[{"passed": true, "message": ["not", "text"]}]}',
    MARK + '[{"passed": true, "message": ""}, {"passed": true, "message": ""}]}',  # more results than checks
    MARK + '[]}',
    MARK + '"checks"}',
    MARK + '[{"passed": true, "message": "ok"}]',                     # cut off
    MARK + '[{"passed": true, "message": "\\ud800"}]} trailing',
    '{"selfgym_harness": 1}',
    '{"selfgym_harness": [' * 50_000,
    MARK + '[{"passed": true, "message": "' + "x" * 9_000_000 + '"}]}',  # over the size limit
    MARK + "\x00" * 1000,
]


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_malformed_verdict_lines_are_a_clear_failure_never_an_exception(line):
    checks, why = _timed(read_report, "noise\n" + line + "\n", 1, "tests")
    assert checks is None and why and ("malformed" in why or "incomplete" in why)


def test_only_the_last_marker_line_counts_and_a_good_one_is_read():
    good = MARK + '[{"passed": true, "message": ""}]}'
    assert read_report(good, 1, "tests") == ([{"passed": True, "message": ""}], None)
    checks, why = read_report(good + "\n" + MARK + "[[[[}\n", 1, "tests")
    assert checks is None and "malformed" in why
    assert read_report("no verdict here", 1, "tests") == (None, None)
    assert read_report("\x00" * 1000 + MARK, 1, "tests") == (None, None)  # the marker must open the line
    assert read_report(None, 1, "tests") == (None, None)


@SETTINGS
@given(st.text(max_size=300) | st.binary(max_size=300) | st.lists(st.sampled_from(
    ['{"selfgym_harness"', "[", "]", "{", "}", '"checks"', ":", ",", '"passed"', "true", "1e999", "\n", '"', "\\"]),
    max_size=80).map("".join))
def test_read_report_is_total(stdout):
    checks, why = read_report(stdout, 2, "io")
    assert checks is None or (isinstance(checks, list) and len(checks) == 2)


def test_safejson_refuses_depth_and_size_with_its_own_error():
    for text in ["[" * 10_000, '{"a":' * 5000, "1" * 5000, "[1]" + "x", '"\\ud800', "{" * 200 + "}" * 200]:
        with pytest.raises(JSONError):
            _timed(loads, text)
    assert loads('{"a": [1, "x]"]}') == {"a": [1, "x]"]}


def test_a_forged_deep_verdict_line_from_inside_the_sandbox_fails_the_task(sandbox):
    """The test code runs inside the harness during replay: it prints a verdict line 90,000
    levels deep and kills the harness before its real line. ``run_tests`` must return a task
    failure that says the report is malformed (issue 12, item 3), on both backends."""
    tests = ("import os, sys\n\ndef test_forge(candidate):\n"
             "    candidate()\n"
             "    if type(candidate).__name__ == 'function':\n"  # the worker's run; the replay gets an object
             "        return\n"
             "    sys.stdout.write('{\"selfgym_harness\": 1, \"checks\": ' + '[' * 90000 + ']' * 90000 + '}\\n')\n"
             "    sys.stdout.flush()\n    os._exit(0)\n")
    v = run_tests("def f():\n    return 1\n", tests, entry_point="f", sandbox=sandbox)
    assert v.status == Status.TASK_FAILURE and not v.passed and v.reward == 0.0
    assert "malformed" in v.error and "nested" in v.error


# ------------------------------------------------------------------ returned values
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)
tagged = st.fixed_dictionaries({"t": st.sampled_from(["int", "float", "tuple", "dict", "set", "frozenset", "bytes",
                                                      "complex", "opaque", "nope"]), "v": json_like})


@SETTINGS
@given(json_like | tagged | st.lists(tagged, max_size=4))
def test_decode_value_raises_only_unreadable(data):
    try:
        decode_value(data)
    except Unreadable as exc:
        assert str(exc)


@pytest.mark.parametrize("data, why", [
    ({"t": "int", "v": "9" * 5000}, "digits"),
    ({"t": "int", "v": "1_000"}, "decimal"),
    ({"t": "set", "v": [[1], [2]]}, "cannot be built"),
    ({"t": "dict", "v": [[[1], 2]]}, "cannot be built"),
    ({"t": "bytes", "v": "***"}, "cannot be built"),
    ({"t": "complex", "v": ["a", 1]}, "two numbers"),
    ({"t": "opaque", "v": "Evil"}, "unknown tag"),
    ({"t": "tuple", "v": [1], "extra": 1}, "not a tagged value"),
])
def test_decode_value_refuses_what_the_harness_never_encodes(data, why):
    with pytest.raises(Unreadable, match=why):
        decode_value(data)


def test_decode_value_bounds_depth():
    deep: object = 1
    for _ in range(MAX_VALUE_DEPTH + 5):
        deep = {"t": "tuple", "v": [deep]}
    with pytest.raises(Unreadable, match="nested"):
        decode_value(deep)


@pytest.mark.parametrize("value", [
    [1, (2, 3)], {"a": {1, 2}}, frozenset({1}), b"\x00\xff", 3 + 4j, 10 ** 400, -0.0, float("nan"), {(1, 2): [None]},
])
def test_encode_then_decode_round_trips_with_types(value):
    back = decode_value(json.loads(json.dumps(encode(value))))
    assert same(back, value) and type(back) is type(value)


# ------------------------------------------------------------------ comparing values
class Int(int):
    pass


class List(list):
    pass


@pytest.mark.parametrize("got, expected, compare", [
    ({1, 2}, [1, 2], "exact"), ([1, 2], {1, 2}, "exact"), ({1, 2}, [1, 2], "unordered"),
    (True, 1, "exact"), (1, True, "exact"), (True, 1, "float"), ([True], [1], "exact"), ({True}, {1}, "exact"),
    ({True: "a"}, {1: "a"}, "exact"),
    (float("nan"), 0.0, "exact"), (float("nan"), 0.0, "float"), (0.0, float("nan"), "float"),
    (10 ** 400, 1e308, "float"), (1e308, 10 ** 400, "float"), (10 ** 400, float("inf"), "float"),
    (-0.0, 0.0, "exact"), (0.0, -0.0, "exact"),
    ((1, 2), [1, 2], "exact"), ([1, 2], (1, 2), "exact"), ((2, 1), [1, 2], "unordered"),
    (1.0, 1, "exact"), (1, 1.0, "exact"),
    (Int(1), 1, "exact"), (List([1]), [1], "exact"), ([Int(1)], [1], "unordered"),
    (frozenset({1}), {1}, "exact"), (b"a", "a", "exact"), (None, 0, "exact"), ({"a": 1}, {"a": 1, "b": 2}, "exact"),
    ([[[[1]]]], [[[[2]]]], "float"),
])
def test_values_of_another_type_fail_with_a_message_never_pass_never_raise(got, expected, compare):
    ok, message = compare_values(got, expected, compare)
    assert ok is False and message and "\n" not in message


@pytest.mark.parametrize("got, expected, compare", [
    (1, 1.0, "float"), (0.1 + 0.2, 0.3, "float"), (float("nan"), float("nan"), "exact"),
    (float("nan"), float("nan"), "float"), (-0.0, 0.0, "float"), (10 ** 400, 10 ** 400, "float"),
    ([3, 1, 2], [1, 2, 3], "unordered"), ({1, 2}, {2, 1}, "exact"), ({"a": [1.0]}, {"a": [1.0]}, "exact"),
    (float("inf"), float("inf"), "float"), (1 + 2j, 1 + 2j, "exact"),
])
def test_equal_values_of_the_same_type_pass(got, expected, compare):
    assert compare_values(got, expected, compare) == (True, "")


def test_a_mismatch_message_says_where_and_is_bounded():
    ok, msg = compare_values({"a": [1, 2, {3}]}, {"a": [1, 2, [3]]})
    assert not ok and "['a'][2]" in msg and "expected a list, got a set" in msg
    ok, msg = compare_values(10 ** 100_000, 1)  # printing this int would raise (int-string limit)
    assert not ok and "digits" in msg and len(msg) < 400


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.binary(max_size=4)
    | st.complex_numbers() | st.sampled_from([10 ** 400, Int(3), float("nan"), -0.0])
    | st.builds(lambda: -(10 ** 5000)),  # past the int-string limit: never printed
    lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
                   | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
                   | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)),
    max_leaves=16,
)


@SETTINGS
@given(values, values, st.sampled_from(["exact", "float", "unordered"]))
def test_compare_values_is_total(got, expected, compare):
    ok, message = compare_values(got, expected, compare)
    assert isinstance(ok, bool) and (ok or message)
    if _plain(expected):
        assert compare_values(expected, expected, compare) == (True, "")
    else:  # a subclass anywhere never matches, not even itself
        assert compare_values(expected, expected, compare)[0] is False


def _plain(value) -> bool:
    """Exact builtin types all the way down (what decoding a returned value gives)."""
    if type(value) in (list, tuple, frozenset, set):
        return all(_plain(v) for v in value)
    if type(value) is dict:
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return type(value) in (type(None), bool, int, float, str, bytes, complex)


def test_a_deep_value_fails_instead_of_recursing():
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    ok, msg = compare_values(deep, deep)
    assert not ok and "nested" in msg


def test_io_cases_exact_about_types_through_the_sandbox(sandbox):
    code = ("def f(kind):\n    return {'set': {1, 2}, 'bool': True, 'nan': float('nan'), 'big': 10 ** 400,\n"
            "            'negzero': -0.0, 'tuple': (1, 2), 'list': [1, 2]}[kind]\n")
    cases = [{"args": ["set"], "expected": [1, 2]}, {"args": ["bool"], "expected": 1},
             {"args": ["nan"], "expected": 0.0}, {"args": ["big"], "expected": 1e308},
             {"args": ["negzero"], "expected": 0.0}, {"args": ["tuple"], "expected": [1, 2]},
             {"args": ["list"], "expected": [1, 2]}]
    v = run_io_cases(code, entry_point="f", cases=cases, sandbox=sandbox)
    assert [c.passed for c in v.checks] == [False] * 6 + [True]
    assert all(c.message for c in v.checks[:6]) and v.status == Status.TASK_FAILURE
    big = run_io_cases(code, entry_point="f", cases=cases[3:4], sandbox=sandbox, compare="float")
    assert big.checks[0].passed is False and "too large for a float" in big.checks[0].message
    assert math.isclose(v.reward, 1 / 7)
