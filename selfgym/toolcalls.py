"""Action parsing: what an agent's text asks for, read generously and never raising.

``parse_actions(text, tool_names)`` turns one agent message into a non-empty list of actions:
``ToolCall`` (run a tool), ``FinalAnswer`` (end a task), ``Reply`` (say something to the user)
or a single ``ParseError`` whose message says what was wrong and how to write it instead.
``parse_action`` gives the first of them. ``ToolSet.parse`` (``selfgym.tools``) calls
``parse_actions`` with its own tool names; ``selfgym.tools`` re-exports everything here.

The action syntax an agent may use (parsed generously; JSON may sit in prose or a code fence):

- a tool call, in any of three forms::

      {"name": "convert", "arguments": {"value": 3, "from_unit": "km"}}
      {"tool_calls": [{"type": "function", "function": {"name": "convert", "arguments": "{\\"value\\": 3}"}}]}
      <tool_call>{"name": "convert", "arguments": {"value": 3}}</tool_call>

  (several ``<tool_call>`` blocks or ``tool_calls`` entries are several calls, run in order;
  ``"arguments"`` may also be a JSON string, or be spelled ``"parameters"``; the closing
  ``</tool_call>`` tag is optional);
- a final answer, which ends a task: ``{"name": "final_answer", "arguments": {"answer": ...}}``
  (any name in ``FINAL_NAMES``), ``<final_answer>...</final_answer>`` (or ``<final>...</final>``,
  ``<answer>...</answer>``), or a line ``Final answer: ...``;
- a reply to the user (customer-service style dialogues): ``{"name": "reply", "arguments":
  {"content": "..."}}`` (any name in ``REPLY_NAMES``), ``<reply>...</reply>``, or simply text
  with none of the forms above.

A final answer or reply given as a call takes its value from the first of the argument keys
``answer``, ``content``, ``message``, ``text``, ``value``, ``result``, ``response``, else from
the only argument, else the whole arguments object.

A real tool whose name collides with ``final_answer``/``reply`` wins: ``parse`` knows the tools.
With the tool names known, a JSON object without arguments whose "name" is no tool (say a user
record quoted in a reply) is not read as a call. When a text holds several forms, the earliest
decides (calls before a final answer tag are calls; a JSON call's string arguments may contain tags).
Text that was plainly meant as a call but is not one (broken JSON, a call key outside any valid
object, a lone JSON object that is no call) gives a ``ParseError`` rather than a ``Reply``.

Parsing is a total function with bounded work: a message longer than ``MAX_MESSAGE_CHARS`` is a
``ParseError``; JSON is read with depth and size limits (``selfgym.safejson``: no
``RecursionError`` on ``[[[[...``, no ``ValueError`` on a 5,000-digit number); tags, fences and
"Final answer:" lines are found by linear scans, never by patterns that backtrack over a reply.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Iterable, Union

from selfgym import safejson

__all__ = [
    "ToolCall", "FinalAnswer", "Reply", "ParseError", "Action", "parse_action", "parse_actions",
    "FINAL_NAMES", "REPLY_NAMES",
]

FINAL_NAMES = ("final_answer", "answer", "finish", "submit")
"""Call names that mean "this is my final answer" (unless a real tool has that name)."""
REPLY_NAMES = ("reply", "respond", "send_message", "say")
"""Call names that mean "say this to the user" (unless a real tool has that name)."""
_VALUE_KEYS = ("answer", "content", "message", "text", "value", "result", "response")
MAX_MESSAGE_CHARS = 100_000
"""Longer agent messages are not parsed (a ParseError says so)."""
MAX_JSON_DEPTH = 64
"""JSON nested deeper than this is not read as a call."""


# ------------------------------------------------------------------------------ actions
@dataclass
class ToolCall:
    """A request to run tool ``name`` with ``arguments`` (``id`` echoes an OpenAI call id)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_json(self) -> str:
        """The canonical action string for this call (what oracles emit)."""
        return json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)


@dataclass
class FinalAnswer:
    """The agent's final answer. ``value`` keeps a JSON value as given; ``text`` is its string."""

    value: Any

    @property
    def text(self) -> str:
        return self.value if isinstance(self.value, str) else json.dumps(self.value, ensure_ascii=False)


@dataclass
class Reply:
    """Text addressed to the user (or plain text that holds no call)."""

    content: str


@dataclass
class ParseError:
    """The action looked like a call but could not be read; ``message`` says why and the fix."""

    message: str


Action = Union[ToolCall, FinalAnswer, Reply, ParseError]


def _describe(value: Any) -> str:
    """A value as a short JSON excerpt and its kind, for error messages (``'3' (string)``)."""
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "object"}
    try:
        text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value[:60])
    except (ValueError, TypeError, RecursionError):
        text = f"<{type(value).__name__}>"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind.get(type(value), 'null' if value is None else type(value).__name__)})"


# ------------------------------------------------------------------------------ parsing
_TAG = r"<{0}>\s*(.*?)\s*(?:</{0}>|$)"
_END_TAGS = (("final_answer", FinalAnswer), ("final", FinalAnswer), ("answer", FinalAnswer), ("reply", Reply))
_FENCE = re.compile(r"```(?:json|tool_call|JSON)?\s*(.*?)```", re.S)
_FINAL_LINE = re.compile(r"^\s*(?:\*\*)?final[ _]answer(?:\*\*)?\s*[:=]\s*(?:\*\*)?(.*)$", re.I | re.M | re.S)


_DECODER = json.JSONDecoder()
_MAX_SCANNED_STARTS = 500
_BRACKET = re.compile(r"[{}\[\]]")


def _bracket_span(text: str) -> int:
    """An upper bound on how deep any JSON value in ``text`` can nest (strings not excluded)."""
    depth = lo = hi = 0
    for m in _BRACKET.finditer(text):
        depth += 1 if m.group() in "{[" else -1
        lo, hi = min(lo, depth), max(hi, depth)
    return hi - lo


def _json_objects(text: str) -> list[tuple[int, int, Any]]:
    """Every top-level JSON object in ``text`` as ``(start, end, value)``; prose around is ignored.

    When no value in the text can nest deeper than ``MAX_JSON_DEPTH`` (the usual case) the C
    decoder is tried at each ``{``; otherwise each try is first scanned with a depth limit and
    a shared budget (``safejson.raw_decode``), and only the first ``_MAX_SCANNED_STARTS`` braces
    are tried, so the work stays bounded.
    """
    plain = _bracket_span(text) <= MAX_JSON_DEPTH
    budget = [32 * len(text) + 10_000]
    found, i, tries = [], text.find("{"), 0
    while i != -1:
        tries += 1
        if not plain and tries > _MAX_SCANNED_STARTS:
            break
        try:
            if plain:
                obj, end = _DECODER.raw_decode(text, i)
            else:
                obj, end = safejson.raw_decode(text, i, max_depth=MAX_JSON_DEPTH, budget=budget)
        except (ValueError, RecursionError, MemoryError):  # JSONDecodeError, JSONError, int-string limit
            if budget[0] <= 0:
                break
            i = text.find("{", i + 1)
            continue
        found.append((i, end, obj))
        i = text.find("{", end)
    return found


_OPEN_TOOL_CALL = re.compile(r"<tool_call>", re.I)
_KEY = re.compile(r'"(?:name|arguments|tool_calls|function)"\s*:')
# kept for importers; never run over a reply (it backtracks over runs of spaces)
_CALL_KEY = re.compile(r'[{,]\s*"(?:name|arguments|tool_calls|function)"\s*:')
_BLOCK_LEAD = re.compile(r"\s*(?:```(?:json)?\s*)?")


def _call_keys(text: str) -> list[int]:
    """Positions of ``{`` or ``,`` that start a call key (``{"name":``...), found in linear time."""
    out = []
    for m in _KEY.finditer(text):
        k = m.start() - 1
        while k >= 0 and text[k].isspace():
            k -= 1
        if k >= 0 and text[k] in "{,":
            out.append(k)
    return out


def _find_tag(text: str, name: str) -> tuple[int, str] | None:
    """``(start, content)`` of the first ``<name>...</name>`` (closing tag optional), any case."""
    opening = re.compile(f"<{name}>", re.I).search(text)
    if opening is None:
        return None
    closing = re.compile(f"</{name}>", re.I).search(text, opening.end())
    return opening.start(), text[opening.end():closing.start() if closing else len(text)].strip()


_FINAL_HEAD = re.compile(r"(?:\*\*)?final[ _]answer(?:\*\*)?[ \t]*[:=]", re.I)


def _final_line(text: str) -> str | None:
    """The text after the first line that starts "Final answer:" (to the end of the text)."""
    line_start, scanned, bad = 0, 0, -1
    for m in _FINAL_HEAD.finditer(text):
        nl = text.rfind("\n", scanned, m.start())
        if nl != -1:
            line_start = nl + 1
        scanned = m.start()
        if line_start == bad:
            continue  # this line already has text before an earlier match
        if not text[line_start:m.start()].strip():
            return text[m.end():].strip().strip("*").strip()
        bad = line_start
    return None


_LANG = ("json", "tool_call", "JSON")


def _unfence(text: str) -> str:
    """``text`` with each ```...``` pair replaced by its content (a leading json tag dropped)."""
    out, pos = [], 0
    while True:
        p = text.find("```", pos)
        if p == -1:
            break
        k = p + 3
        for lang in _LANG:
            if text.startswith(lang, k):
                k += len(lang)
                break
        while k < len(text) and text[k].isspace():
            k += 1
        q = text.find("```", k)
        if q == -1:
            break
        out.append(text[pos:p])
        out.append(text[k:q])
        pos = q + 3
    out.append(text[pos:])
    return "".join(out)


def _tool_call_blocks(text: str, names: frozenset[str] | None) -> list[Action]:
    """The calls of every ``<tool_call>{...}</tool_call>`` block (closing tag optional)."""
    out: list[Action] = []
    pos = 0
    for m in _OPEN_TOOL_CALL.finditer(text):
        if m.start() < pos:  # inside the JSON of the previous block
            continue
        lead = _BLOCK_LEAD.match(text, m.end())
        start = lead.end() if lead else m.end()
        try:
            if text[start:start + 1] != "{":
                raise safejson.JSONError("it does not start with '{'")
            obj, pos = safejson.raw_decode(text, start, max_depth=MAX_JSON_DEPTH, what="the block")
        except safejson.JSONError as exc:
            out.append(ParseError(f"the <tool_call> block does not hold a valid JSON object ({str(exc)[:160]}); write "
                                  '<tool_call>{"name": "...", "arguments": {...}}</tool_call>'))
            pos = m.end()
            continue
        out.extend(_from_object(obj, names))
    return out


def _looks_like_call(obj: Any, names: frozenset[str] | None) -> bool:
    """A call object: has arguments, OpenAI keys, or is ``{"name": X}`` with X a tool or end name."""
    if not isinstance(obj, dict):
        return False
    if "tool_calls" in obj or isinstance(obj.get("function"), dict):
        return True
    if "name" in obj and ("arguments" in obj or "parameters" in obj):
        return True
    name = obj.get("name")
    return len(obj) == 1 and isinstance(name, str) and (
        names is None or name in names or name.lower() in FINAL_NAMES + REPLY_NAMES)


def _answer_value(arguments: Any) -> Any:
    if not isinstance(arguments, dict):
        return arguments
    for key in _VALUE_KEYS:
        if key in arguments:
            return arguments[key]
    if len(arguments) == 1:
        return next(iter(arguments.values()))
    return arguments


def _from_call(name: Any, arguments: Any, call_id: Any, tool_names: frozenset[str] | None) -> Action:
    """One call object -> ToolCall / FinalAnswer / Reply / ParseError."""
    if not isinstance(name, str) or not name.strip():
        return ParseError(f'a call needs a "name" string, got {_describe(name)}')
    name = name.strip()
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = (safejson.loads(arguments, max_depth=MAX_JSON_DEPTH, what="the value")
                         if arguments.strip() else {})
        except safejson.JSONError as exc:
            return ParseError(f"the arguments of {name!r} are not valid JSON ({str(exc)[:160]}); "
                              'write them as an object, e.g. {"name": "%s", "arguments": {...}}' % name)
    is_tool = tool_names is not None and name in tool_names
    if not is_tool and name.lower() in FINAL_NAMES:
        return FinalAnswer(_answer_value(arguments))
    if not is_tool and name.lower() in REPLY_NAMES:
        value = _answer_value(arguments)
        return Reply(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    if not isinstance(arguments, dict):
        return ParseError(f"the arguments of {name!r} must be a JSON object of named values, got {_describe(arguments)}")
    return ToolCall(name, arguments, call_id if isinstance(call_id, str) else None)


def _from_object(obj: dict[str, Any], tool_names: frozenset[str] | None) -> list[Action]:
    if "tool_calls" in obj:
        calls = obj["tool_calls"]
        if not isinstance(calls, list) or not calls:
            return [ParseError('"tool_calls" must be a non-empty list of {"function": {"name", "arguments"}}')]
        out: list[Action] = []
        for c in calls:
            if not isinstance(c, dict):
                out.append(ParseError(f"each tool_calls entry must be an object, got {_describe(c)}"))
                continue
            fn = c.get("function", c)
            fn = fn if isinstance(fn, dict) else {}
            out.append(_from_call(fn.get("name"), fn.get("arguments", fn.get("parameters")), c.get("id"), tool_names))
        return out
    if isinstance(obj.get("function"), dict):
        fn = obj["function"]
        return [_from_call(fn.get("name"), fn.get("arguments", fn.get("parameters")), obj.get("id"), tool_names)]
    return [_from_call(obj.get("name"), obj.get("arguments", obj.get("parameters")), obj.get("id"), tool_names)]


def parse_actions(text: Any, tool_names: Iterable[str] | None = None) -> list[Action]:
    """Read every action in ``text``, in order (see the module docstring for the syntax).

    Returns a non-empty list: tool calls (several when the text holds several), a FinalAnswer,
    a Reply, or a single ParseError explaining what was wrong. Never raises.
    ``tool_names``: the real tools, which win over the built-in final/reply names.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) > MAX_MESSAGE_CHARS:
        return [ParseError(f"the message is {len(text)} characters long; at most {MAX_MESSAGE_CHARS} are read. "
                           "Write one short action.")]
    names = frozenset(tool_names) if tool_names is not None else None
    # The earliest of: a <tool_call> block, a bare JSON call object, a final-answer/reply tag.
    tag = _OPEN_TOOL_CALL.search(text)
    objects = _json_objects(text)
    calls = [(start, obj) for start, _, obj in objects if _looks_like_call(obj, names)]
    ends = [(found[0], make, found[1]) for name, make in _END_TAGS if (found := _find_tag(text, name))]
    first_end = min(ends, key=lambda e: e[0]) if ends else None
    first = min([p for p in (tag.start() if tag else None, calls[0][0] if calls else None,
                             first_end[0] if first_end else None) if p is not None], default=None)
    if tag is not None and tag.start() == first:
        return _tool_call_blocks(text, names)  # 1. Hermes / Qwen style blocks
    if calls and calls[0][0] == first:  # 2. bare JSON, in a code fence, or OpenAI "tool_calls"
        out: list[Action] = []
        for _, obj in calls:
            out.extend(_from_object(obj, names))
        return out
    if first_end is not None:  # 3. <final_answer>, <final>, <answer>, <reply>
        return [first_end[1](first_end[2])]
    # 4. "Final answer: ..." line.
    final = _final_line(text)
    if final is not None:
        return [FinalAnswer(final)]
    # 5. Something that was meant as a call: a call key outside any valid JSON object, or a text
    #    that is one JSON object without being a call.
    stripped = text.strip()
    unfenced = _unfence(stripped).strip()
    starts = [s for s, _, _ in objects]
    ends_at = [e for _, e, _ in objects]

    def inside(k: int) -> bool:  # objects are disjoint and in order
        j = bisect_right(starts, k) - 1
        return j >= 0 and k < ends_at[j]

    broken = any(not inside(k) for k in _call_keys(text))
    if broken or unfenced.startswith("{"):
        try:
            safejson.loads(unfenced, max_depth=MAX_JSON_DEPTH, what="the call")
        except safejson.JSONError as exc:
            return [ParseError(f"the call is not valid JSON ({str(exc)[:160]}); write one object like "
                               '{"name": "tool_name", "arguments": {"param": value}}')]
        return [ParseError('a call must be a JSON object with "name" and "arguments", e.g. '
                           '{"name": "tool_name", "arguments": {"param": value}}')]
    return [Reply(stripped)]


def parse_action(text: Any, tool_names: Iterable[str] | None = None) -> Action:
    """The first action in ``text`` (``parse_actions`` gives them all). Never raises."""
    return parse_actions(text, tool_names)[0]
