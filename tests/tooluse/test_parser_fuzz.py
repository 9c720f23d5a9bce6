"""Property-based fuzzing of the action parser and of tool execution (hypothesis)."""

from __future__ import annotations

import enum
import json
import math
from typing import Any, Literal, Optional, Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfgym.tools import (
    FINAL_NAMES, REPLY_NAMES, ArgumentError, FinalAnswer, ParseError, Reply, ToolCall, ToolSet, _coerce, parse_actions,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTION_TYPES = (ToolCall, FinalAnswer, Reply, ParseError)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: n.lower() not in FINAL_NAMES + REPLY_NAMES)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=12), json_values, max_size=4)
prose = st.text(alphabet=st.characters(blacklist_characters="{}<>", blacklist_categories=("Cs",)), max_size=60)

# fragments that look like the syntax, so random texts hit the parser's branches
fragments = st.sampled_from([
    "{", "}", "[", "]", '"name"', '"arguments"', '"tool_calls"', '"function"', ":", ",", '"x"', "1", "null",
    "<tool_call>", "</tool_call>", "<final>", "</final>", "<final_answer>", "<reply>", "Final answer:", "```json",
    "```", "\\", '"', " ", "\n", "final_answer", "{}", '{"name": "f"}', "</reply>", "<answer>",
])
syntaxish = st.lists(fragments | st.text(max_size=5), max_size=40).map("".join)


@SETTINGS
@given(st.text(max_size=400) | syntaxish)
def test_parser_never_raises_and_returns_actions(text):
    actions = parse_actions(text)
    assert actions and all(isinstance(a, ACTION_TYPES) for a in actions)
    for a in actions:
        if isinstance(a, ToolCall):
            assert isinstance(a.name, str) and a.name and isinstance(a.arguments, dict)
        if isinstance(a, ParseError):
            assert a.message


def _forms(name, args):
    plain = json.dumps({"name": name, "arguments": args})
    openai = json.dumps({"tool_calls": [{"id": "call_0", "type": "function",
                                         "function": {"name": name, "arguments": json.dumps(args)}}]})
    return [plain, openai, f"<tool_call>{plain}</tool_call>", f"```json\n{plain}\n```", f"<tool_call>\n{plain}"]


def _same(a, b):
    """JSON equality where floats compare by value (json round-trips them exactly)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@SETTINGS
@given(names, arguments, prose, prose)
def test_every_call_format_round_trips(name, args, before, after):
    for form in _forms(name, args):
        actions = parse_actions(f"{before}\n{form}\n{after}")
        assert len(actions) == 1, (form, actions)
        call = actions[0]
        assert isinstance(call, ToolCall), (form, call)
        assert call.name == name and _same(call.arguments, args)


@settings(SETTINGS, max_examples=60)
@given(st.lists(st.tuples(names, arguments), min_size=1, max_size=3), prose)
def test_several_calls_keep_count_and_order(calls, sep):
    tagged = sep.join(f"<tool_call>{json.dumps({'name': n, 'arguments': a})}</tool_call>" for n, a in calls)
    openai = json.dumps({"tool_calls": [{"function": {"name": n, "arguments": json.dumps(a)}} for n, a in calls]})
    for text in (tagged, openai):
        got = parse_actions(text)
        assert [(c.name, c.arguments) for c in got] == calls


@SETTINGS
@given(json_values, prose)
def test_final_answer_round_trips(value, before):
    got = parse_actions(before + json.dumps({"name": "final_answer", "arguments": {"answer": value}}))
    assert got == [FinalAnswer(value)]


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_characters="<>{}", blacklist_categories=("Cs",)), min_size=1, max_size=80))
def test_tagged_final_answer_and_reply_keep_their_text(text):
    assert parse_actions(f"<final_answer>{text}</final_answer>") == [FinalAnswer(text.strip())]
    assert parse_actions(f"<reply>{text}</reply>") == [Reply(text.strip())]


@SETTINGS
@given(names, st.text(max_size=40))
def test_tool_names_win_over_builtin_end_names(value, text):
    for builtin in FINAL_NAMES + REPLY_NAMES:
        call = json.dumps({"name": builtin, "arguments": {"text": text}})
        got = parse_actions(call, tool_names=[builtin])
        assert got == [ToolCall(builtin, {"text": text})]


# ------------------------------------------------------------------------- execution
def scale(x: float, factor: int = 2, label: str = "", flags: list[bool] | None = None) -> float:
    """Multiply x by factor.

    Args:
        x: the number.
        factor: integer factor.
        label: ignored text.
        flags: ignored booleans.
    """
    if factor == 13:
        raise RuntimeError("unlucky")
    return x * factor


TOOLS = ToolSet([scale])


@SETTINGS
@given(st.sampled_from(["scale", "scal", "other"]), arguments)
def test_execution_never_raises_on_arbitrary_arguments(name, args):
    result = TOOLS.execute(ToolCall(name, args))
    assert result.name == name and isinstance(result.content, str)
    if result.ok:
        assert name == "scale" and set(args) <= {"x", "factor", "label", "flags"} and "x" in args
    else:
        assert result.content.startswith("Error: ") and result.error


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
       st.integers(-1000, 1000).filter(lambda n: n != 13), st.booleans(), st.booleans())
def test_valid_arguments_in_any_lossless_spelling_run(x, factor, x_as_text, factor_as_text):
    args = {"x": repr(x) if x_as_text else x, "factor": str(factor) if factor_as_text else factor}
    result = TOOLS.execute(ToolCall("scale", args))
    assert result.ok, result.error
    assert result.value == x * factor


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = 2


ANNOTATIONS = [int, float, bool, str, list[int], tuple[int, str], dict[str, float], Optional[int],
               Union[int, str], Literal["a", 1, True], Mode, list[Optional[Mode]], Any]
wild_values = json_values | st.integers() | st.floats() | st.from_regex(r"[+-]?\d{1,500}(\.\d*)?", fullmatch=True)


@SETTINGS
@given(st.sampled_from(ANNOTATIONS), wild_values)
def test_coercion_either_succeeds_or_explains(annotation, value):
    try:
        out = _coerce(value, annotation, "t: argument 'v'")
    except ArgumentError as exc:
        assert str(exc).startswith("t: argument 'v'") and " must be " in str(exc)
        return
    if annotation in (int, float, bool, str):
        assert type(out) is annotation
    if annotation is float:
        assert math.isfinite(out)
