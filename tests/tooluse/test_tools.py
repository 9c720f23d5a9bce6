"""The tool layer: schemas from typed functions, argument coercion, parsing, safe execution."""

from __future__ import annotations

import enum
import json
from typing import Literal, Optional

import pytest

from selfgym.errors import BackendError, SelfgymError, VerifierError
from selfgym.tools import (
    ArgumentError, FinalAnswer, ParseError, Reply, Tool, ToolCall, ToolError, ToolSet, parse_action,
    parse_actions, tool,
)


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


def book_room(guest: str, nights: int, rate: float = 80.0, breakfast: bool = False,
              tags: Optional[list[str]] = None, view: Literal["sea", "city"] = "city", size: Size = Size.SMALL) -> dict:
    """Book a room for a guest.

    Rooms are held for one hour.

    Args:
        guest: full name of the guest.
        nights: how many nights,
            one or more.
        rate: nightly rate in EUR.
        breakfast: include breakfast.
        tags: free labels.
        view: which side of the hotel.
        size: room size.

    Returns:
        the booking.
    """
    if nights < 1:
        raise ValueError("nights must be positive")
    return {"guest": guest, "total": nights * rate, "view": view, "size": size.value, "tags": tags}


class Ledger:
    """A domain object whose marked methods are tools sharing its state."""

    def __init__(self):
        self.balance = 0

    @tool
    def deposit(self, amount: int) -> int:
        """Add money to the ledger and return the new balance.

        Args:
            amount: whole units to add.
        """
        self.balance += amount
        return self.balance

    @tool(name="refuse", description="Always refuses.")
    def _refuse(self) -> None:
        raise ToolError("not allowed by policy")

    def helper(self) -> None:
        """Not a tool: not marked."""


def test_schema_is_openai_function_format_from_signature_and_docstring():
    s = Tool.from_function(book_room).schema()
    assert s["type"] == "function"
    fn = s["function"]
    assert fn["name"] == "book_room"
    assert fn["description"] == "Book a room for a guest."
    params = fn["parameters"]
    assert params["required"] == ["guest", "nights"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["guest"] == {"type": "string", "description": "full name of the guest."}
    assert props["nights"] == {"type": "integer", "description": "how many nights, one or more."}
    assert props["rate"]["type"] == "number" and props["rate"]["default"] == 80.0
    assert props["breakfast"]["type"] == "boolean"
    assert props["tags"]["type"] == ["array", "null"] and props["tags"]["items"] == {"type": "string"}
    assert props["view"]["enum"] == ["sea", "city"]
    assert props["size"]["enum"] == ["small", "large"] and props["size"]["default"] == "small"
    json.dumps(s)  # plain JSON


def test_prompt_text_is_rendered_from_the_same_schema():
    ts = ToolSet([book_room])
    text = ts.describe()
    assert text.startswith('- book_room(guest: string, nights: integer, rate: number = 80.0')
    assert "Book a room for a guest." in text and "guest: full name of the guest." in text
    inst = ts.instructions(final=True, reply=True)
    assert "<tool_call>" in inst and "final_answer" in inst and '"reply"' in inst


def test_methods_of_a_domain_object_share_its_state():
    ledger = Ledger()
    ts = ToolSet.from_object(ledger)
    assert ts.names == ["deposit", "refuse"]
    assert ts.execute(ToolCall("deposit", {"amount": 5})).value == 5
    assert ts.execute(ToolCall("deposit", {"amount": "7"})).value == 12
    assert ledger.balance == 12
    r = ts.execute(ToolCall("refuse"))
    assert not r.ok and r.content == "Error: not allowed by policy"


def test_function_without_docstring_or_with_kwargs_is_refused():
    def nodoc(x: int) -> int:
        return x

    def star(**kw: int) -> int:
        """Takes anything."""

    with pytest.raises(TypeError, match="needs a docstring"):
        Tool.from_function(nodoc)
    with pytest.raises(TypeError, match="name every parameter"):
        Tool.from_function(star)
    with pytest.raises(ValueError, match="already in this ToolSet"):
        ToolSet([book_room, book_room])


@pytest.mark.parametrize("args, expected", [
    ({"guest": "Ada", "nights": "3"}, {"guest": "Ada", "nights": 3}),
    ({"guest": "Ada", "nights": 2.0, "rate": "99.5"}, {"nights": 2, "rate": 99.5}),
    ({"guest": "Ada", "nights": 1, "rate": 70, "breakfast": "true"}, {"rate": 70.0, "breakfast": True}),
    ({"guest": "Ada", "nights": 1, "size": "large", "tags": None}, {"size": Size.LARGE, "tags": None}),
])
def test_lossless_coercions(args, expected):
    out = Tool.from_function(book_room).coerce_arguments(args)
    for k, v in expected.items():
        assert out[k] == v and type(out[k]) is type(v)


@pytest.mark.parametrize("args, message", [
    ({"guest": "Ada", "nights": "three"}, "book_room: argument 'nights' must be an integer, got 'three' (string)"),
    ({"guest": "Ada", "nights": 2.5}, "argument 'nights' must be an integer, got 2.5 (number)"),
    ({"guest": "Ada", "nights": True}, "argument 'nights' must be an integer, got true (boolean)"),
    ({"guest": 7, "nights": 1}, "argument 'guest' must be a string, got 7 (integer)"),
    ({"guest": "Ada", "nights": 1, "breakfast": "yes"}, "argument 'breakfast' must be true or false"),
    ({"guest": "Ada", "nights": 1, "view": "garden"}, "argument 'view' must be one of \"sea\", \"city\""),
    ({"guest": "Ada", "nights": 1, "tags": ["a", 3]}, "argument 'tags'[1] must be a string, got 3"),
    ({"guest": "Ada"}, "book_room: missing required argument(s) 'nights'"),
    ({"guest": "Ada", "nigths": 1}, "unknown argument 'nigths' (did you mean 'nights'?)"),
])
def test_wrong_arguments_give_clear_errors(args, message):
    with pytest.raises(ArgumentError) as exc:
        Tool.from_function(book_room).coerce_arguments(args)
    assert message in str(exc.value)


def test_execution_turns_every_agent_mistake_into_an_error_result():
    ts = ToolSet([book_room])
    cases = {
        "book_rom": "unknown tool 'book_rom'; did you mean 'book_room'?",
        "zzz": "unknown tool 'zzz'. Available tools: book_room",
    }
    for name, msg in cases.items():
        r = ts.execute(ToolCall(name, {}))
        assert not r.ok and msg in r.content and r.content.startswith("Error: ")
    r = ts.execute(ToolCall("book_room", {"guest": "Ada", "nights": 0}))
    assert not r.ok and r.error == "book_room failed: ValueError: nights must be positive"
    r = ts.execute(ToolCall("book_room", {"guest": "Ada", "nights": "x"}))
    assert not r.ok and "must be an integer" in r.error
    r = ts.execute({"name": "book_room", "arguments": '{"guest": "Ada", "nights": 2}'})
    assert r.ok and r.value["total"] == 160.0 and json.loads(r.content)["guest"] == "Ada"


def test_infrastructure_failures_inside_a_tool_propagate():
    def flaky(x: int) -> int:
        """Needs a service."""
        raise BackendError("model server unreachable")

    def sandboxed(x: int) -> int:
        """Needs a sandbox."""
        raise VerifierError("engine gone")

    ts = ToolSet([flaky, sandboxed])
    with pytest.raises(BackendError):
        ts.execute(ToolCall("flaky", {"x": 1}))
    with pytest.raises(VerifierError):
        ts.execute(ToolCall("sandboxed", {"x": 1}))
    assert issubclass(ToolError, SelfgymError)


@pytest.mark.parametrize("text", [
    '{"name": "book_room", "arguments": {"guest": "Ada", "nights": 2}}',
    'Let me book it.\n```json\n{"name": "book_room", "arguments": {"guest": "Ada", "nights": 2}}\n```',
    '<tool_call>\n{"name": "book_room", "arguments": {"guest": "Ada", "nights": 2}}\n</tool_call>',
    '<tool_call>{"name": "book_room", "arguments": {"guest": "Ada", "nights": 2}}',
    '{"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "book_room", '
    '"arguments": "{\\"guest\\": \\"Ada\\", \\"nights\\": 2}"}}]}',
    '{"name": "book_room", "parameters": {"guest": "Ada", "nights": 2}}',
    '{"type": "function", "function": {"name": "book_room", "arguments": {"guest": "Ada", "nights": 2}}}',
])
def test_every_call_format_parses_to_the_same_call(text):
    a = parse_action(text)
    assert isinstance(a, ToolCall)
    assert (a.name, a.arguments) == ("book_room", {"guest": "Ada", "nights": 2})


def test_several_calls_in_one_action_keep_their_order():
    text = ('<tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
            '<tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>')
    assert [c.name for c in parse_actions(text)] == ["a", "b"]
    oa = json.dumps({"tool_calls": [{"function": {"name": "a", "arguments": "{}"}},
                                    {"function": {"name": "b", "arguments": "{\"x\": 1}"}}]})
    assert [(c.name, c.arguments) for c in parse_actions(oa)] == [("a", {}), ("b", {"x": 1})]


@pytest.mark.parametrize("text, value", [
    ('{"name": "final_answer", "arguments": {"answer": 42.5}}', 42.5),
    ('<final_answer> Lisbon </final_answer>', "Lisbon"),
    ("<final>12</final>", "12"),
    ("I computed everything.\nFinal answer: 3 apples", "3 apples"),
    ("**Final Answer:** Tuesday", "Tuesday"),
    ('<tool_call>{"name": "final_answer", "arguments": {"answer": "x"}}</tool_call>', "x"),
])
def test_final_answer_forms(text, value):
    a = parse_action(text)
    assert isinstance(a, FinalAnswer) and a.value == value


def test_replies_and_the_tool_name_priority():
    assert parse_action("Sure, which order do you mean?") == Reply("Sure, which order do you mean?")
    assert parse_action('{"name": "reply", "arguments": {"content": "Done."}}') == Reply("Done.")
    assert parse_action("<reply>Hello</reply>") == Reply("Hello")
    # a real tool called "submit" wins over the built-in final-answer name
    assert isinstance(parse_action('{"name": "submit", "arguments": {"x": 1}}', tool_names=["submit"]), ToolCall)
    assert isinstance(parse_action('{"name": "submit", "arguments": {"x": 1}}'), FinalAnswer)


@pytest.mark.parametrize("text, message", [
    ('{"name": "book_room", "arguments": {"guest": "Ada",', "not valid JSON"),
    ('{"name": "book_room", "arguments": "{guest: Ada}"}', "the arguments of 'book_room' are not valid JSON"),
    ('{"name": "book_room", "arguments": [1, 2]}', "must be a JSON object of named values"),
    ('{"name": 5, "arguments": {}}', 'a call needs a "name" string'),
    ('{"tool_calls": []}', '"tool_calls" must be a non-empty list'),
    ("<tool_call>book_room(guest='Ada')</tool_call>", "does not hold a valid JSON object"),
])
def test_malformed_calls_are_parse_errors_with_the_fix(text, message):
    a = parse_action(text)
    assert isinstance(a, ParseError) and message in a.message


def test_json_in_a_reply_is_not_mistaken_for_a_call_when_the_tools_are_known():
    text = 'Your profile is {"name": "Alice"} and your plan is {"function": "basic"}.'
    assert parse_action(text, tool_names=["get_user"]) == Reply(text)
    assert parse_action('{"name": "get_user"}', tool_names=["get_user"]) == ToolCall("get_user", {})
