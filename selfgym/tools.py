"""The tool layer: typed Python functions as agent tools, one description for prompt and schema.

A *tool* is a plain typed function, or a method of a domain object, with a docstring::

    @tool
    def convert(value: float, from_unit: str, to_unit: str = "m") -> float:
        '''Convert a length between units.

        Args:
            value: the amount to convert.
            from_unit: unit of ``value`` (m, km, mi, ft).
            to_unit: unit wanted.
        '''

``Tool.from_function(fn)`` reads the signature and the docstring (first paragraph: the
description; a Google-style ``Args:`` section: one line per parameter) into an OpenAI function
schema ``{"type": "function", "function": {"name", "description", "parameters"}}``.
``@tool`` marks a function or method and returns it unchanged (methods still bind), so
``ToolSet.from_object(domain)`` collects a domain object's marked methods as bound tools.

A ``ToolSet`` is what an env holds:

- ``schemas()`` -> the list for ``info["tools"]``; ``describe()`` -> the prompt text, rendered
  from the same schemas (one description, used for both); ``instructions()`` adds the call
  syntax below.
- ``parse(text)`` -> a list of actions (see ``parse_actions``), knowing the tool names.
- ``execute(call)`` -> a ``ToolResult`` that never raises for an agent's mistake: an unknown
  tool ("Did you mean ...?"), bad JSON, missing, unknown or mistyped arguments, and any
  exception raised inside the tool become ``ToolResult(ok=False, error=...)`` with a clear
  message, and the episode goes on. Only infrastructure failures (``VerifierError``,
  ``BackendError``) propagate, because they are not the agent's fault.

The action syntax an agent may use (parsed generously; JSON may sit in prose or a code fence):

- a tool call, in any of three forms::

      {"name": "convert", "arguments": {"value": 3, "from_unit": "km"}}
      {"tool_calls": [{"type": "function", "function": {"name": "convert", "arguments": "{\\"value\\": 3}"}}]}
      <tool_call>{"name": "convert", "arguments": {"value": 3}}</tool_call>

  (several ``<tool_call>`` blocks or ``tool_calls`` entries are several calls, run in order;
  ``"arguments"`` may also be a JSON string, or be spelled ``"parameters"``);
- a final answer, which ends a task: ``{"name": "final_answer", "arguments": {"answer": ...}}``,
  ``<final_answer>...</final_answer>`` (or ``<final>...</final>``), or a line
  ``Final answer: ...``;
- a reply to the user (customer-service style dialogues): ``{"name": "reply", "arguments":
  {"content": "..."}}``, ``<reply>...</reply>``, or simply text with none of the forms above.

A real tool whose name collides with ``final_answer``/``reply`` wins: ``parse`` knows the tools.
With the tool names known, a JSON object without arguments whose "name" is no tool (say a user
record quoted in a reply) is not read as a call. When a text holds several forms, the earliest
decides (calls before a final answer tag are calls; a JSON call's string arguments may contain tags).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import inspect
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

from selfgym.errors import BackendError, SelfgymError, VerifierError

__all__ = [
    "Tool", "ToolSet", "ToolCall", "FinalAnswer", "Reply", "ParseError", "ToolResult", "ToolError",
    "ArgumentError", "tool", "parse_action", "parse_actions", "FINAL_NAMES", "REPLY_NAMES",
]

FINAL_NAMES = ("final_answer", "answer", "finish", "submit")
"""Call names that mean "this is my final answer" (unless a real tool has that name)."""
REPLY_NAMES = ("reply", "respond", "send_message", "say")
"""Call names that mean "say this to the user" (unless a real tool has that name)."""
_VALUE_KEYS = ("answer", "content", "message", "text", "value", "result", "response")


class ToolError(SelfgymError):
    """Raised *inside* a tool to refuse a request with a message meant for the agent.

    ``execute`` shows the message as is (other exceptions are shown with their type name).
    Example: ``raise ToolError("order #12 is already shipped; it cannot be cancelled")``.
    """


class ArgumentError(ToolError):
    """The arguments of a call do not match the tool's signature (names the argument and fix)."""


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


@dataclass
class ToolResult:
    """What executing one call gave: ``content`` is the text the agent sees either way."""

    name: str
    ok: bool
    content: str
    value: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "content": self.content, "error": self.error}


# ------------------------------------------------------------------------------ schemas
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "array": "a list", "object": "an object", "null": "null"}


def _schema_for(annotation: Any) -> dict[str, Any]:
    """The JSON schema of a Python annotation (str/int/float/bool, list, dict, Optional, Literal, Enum)."""
    if annotation in (inspect.Parameter.empty, Any, object):
        return {}
    if annotation is type(None) or annotation is None:
        return {"type": "null"}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "string", "enum": [str(m.value) for m in annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        kinds = {_JSON_TYPES.get(type(a)) for a in args}
        schema: dict[str, Any] = {"enum": list(args)}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and len(args) == 2:  # Optional[X]
            base = _schema_for(inner[0])
            if "type" in base and isinstance(base["type"], str):
                return {**base, "type": [base["type"], "null"]}
        return {"anyOf": [_schema_for(a) for a in args]}
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        item = args[0] if args else None
        return {"type": "array", **({"items": _schema_for(item)} if item is not None else {})}
    if origin is dict or annotation is dict:
        return {"type": "object", **({"additionalProperties": _schema_for(args[1])} if len(args) == 2 else {})}
    raise TypeError(f"cannot describe annotation {annotation!r} as a JSON schema; use str, int, "
                    "float, bool, list[...], dict[str, ...], Optional, Literal or an Enum")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    doc = inspect.cleandoc(doc or "")
    params: dict[str, str] = {}
    head, section, current = [], None, None
    for line in doc.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"(Args|Arguments|Parameters|Params):", stripped):
            section = "args"
            continue
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", stripped) and not line.startswith(" "):
            section = "other"
            continue
        if section is None:
            head.append(line)
        elif section == "args":
            m = re.match(r"( {0,4})\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", line)
            if m:
                current = m.group(2)
                params[current] = m.group(3).strip()
            elif current and stripped:
                params[current] = (params[current] + " " + stripped).strip()
    description = "\n".join(head).strip().split("\n\n")[0]
    return " ".join(description.split()), params


@dataclass
class _Param:
    name: str
    annotation: Any
    required: bool
    default: Any = None


@dataclass
class Tool:
    """One callable tool: its name, description, JSON-schema parameters and the function.

    Build with ``Tool.from_function(fn)`` (or pass a function/method to ``ToolSet``); call with
    ``tool.call(arguments)``, which validates and coerces before calling.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    params: list[_Param] = field(default_factory=list, repr=False)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], name: str | None = None,
                      description: str | None = None) -> "Tool":
        """Describe a typed function or bound method; ``@tool(name=..., description=...)`` overrides apply."""
        if isinstance(fn, Tool):
            return fn
        meta = getattr(fn, "__selfgym_tool__", {}) or {}
        name = name or meta.get("name") or fn.__name__
        target = getattr(fn, "__func__", fn)
        hints = typing.get_type_hints(target)
        desc, param_docs = _parse_docstring(inspect.getdoc(target))
        description = description or meta.get("description") or desc
        if not description:
            raise TypeError(f"tool {name!r} needs a docstring: its first paragraph is what the agent reads")
        props: dict[str, Any] = {}
        required: list[str] = []
        params: list[_Param] = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"tool {name!r}: *args/**kwargs cannot be described; name every parameter")
            ann = hints.get(p.name, inspect.Parameter.empty)
            schema = dict(_schema_for(ann))
            if p.name in param_docs:
                schema["description"] = param_docs[p.name]
            if p.default is p.empty:
                required.append(p.name)
            else:
                default = p.default.value if isinstance(p.default, enum.Enum) else p.default
                if default is None or isinstance(default, (str, int, float, bool, list, dict)):
                    schema["default"] = default
            props[p.name] = schema
            params.append(_Param(p.name, ann, p.default is p.empty, None if p.default is p.empty else p.default))
        parameters = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return cls(name, description, parameters, fn, params)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-format schema (what goes into ``info["tools"]``)."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}

    def coerce_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check ``arguments`` against the signature; return them coerced or raise ArgumentError.

        Coercions are the lossless ones a model needs: ``"3"`` or ``3.0`` for an int, ``"2.5"``
        or ``2`` for a float, ``"true"``/``"false"`` for a bool, an Enum's value for the Enum.
        """
        if not isinstance(arguments, dict):
            raise ArgumentError(f"{self.name}: arguments must be a JSON object of named values, "
                                f"got {_describe(arguments)}")
        known = {p.name: p for p in self.params}
        unknown = [k for k in arguments if k not in known]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], list(known), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ArgumentError(f"{self.name}: unknown argument {unknown[0]!r}{extra}; "
                                f"its parameters are {', '.join(known) or 'none'}")
        missing = [p.name for p in self.params if p.required and p.name not in arguments]
        if missing:
            raise ArgumentError(f"{self.name}: missing required argument(s) {', '.join(map(repr, missing))}")
        return {k: _coerce(v, known[k].annotation, f"{self.name}: argument {k!r}") for k, v in arguments.items()}

    def call(self, arguments: dict[str, Any]) -> Any:
        """Validate, coerce and call. Raises ArgumentError, or whatever the tool raises."""
        return self.fn(**self.coerce_arguments(arguments))

    def signature_line(self) -> str:
        """``name(a: integer, b: string = "x")``, rendered from the schema."""
        parts = []
        for pname, schema in self.parameters["properties"].items():
            t = schema.get("type", "any")
            t = "|".join(t) if isinstance(t, list) else t
            if "enum" in schema:
                t = " | ".join(json.dumps(e) for e in schema["enum"])
            if t == "array" and schema.get("items", {}).get("type"):
                t = f"array of {schema['items']['type']}"
            default = f" = {json.dumps(schema['default'])}" if "default" in schema else ""
            parts.append(f"{pname}: {t}{default}")
        return f"{self.name}({', '.join(parts)})"


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None):
    """Mark a function or method as a tool; returns it unchanged (so methods still bind).

    Use bare (``@tool``) or with overrides (``@tool(name="lookup")``). ``ToolSet.from_object``
    collects marked methods; ``Tool.from_function`` honours the overrides.
    """
    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__selfgym_tool__ = {"name": name, "description": description}
        return f
    return mark(fn) if fn is not None else mark


def _describe(value: Any) -> str:
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "object"}
    text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind.get(type(value), 'null' if value is None else type(value).__name__)})"


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _coerce(value: Any, ann: Any, where: str) -> Any:
    """Coerce one JSON value to ``ann`` or raise ArgumentError naming ``where``."""
    def fail(expected: str) -> ArgumentError:
        return ArgumentError(f"{where} must be {expected}, got {_describe(value)}")

    if ann in (inspect.Parameter.empty, Any, object):
        return value
    if ann is type(None) or ann is None:
        if value is None:
            return None
        raise fail("null")
    if ann is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise fail("true or false")
    if ann is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.fullmatch(value.strip()) and len(value) <= 4000:
            return int(value.strip())
        raise fail("an integer")
    if ann is float:
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            value.strip() if isinstance(value, str) and _FLOAT.fullmatch(value.strip()) else None
        try:
            result = float(number) if number is not None else math.nan
        except OverflowError:
            result = math.inf
        if not math.isfinite(result):
            raise fail("a finite number" if number is not None else "a number")
        return result
    if ann is str:
        if isinstance(value, str):
            return value
        raise fail("a string")
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        for member in ann:
            if value == member.value or value == str(member.value) or value == member.name:
                return member
        raise fail("one of " + ", ".join(json.dumps(str(m.value)) for m in ann))
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        for option in args:
            if value == option and type(value) is type(option):
                return option
        for option in args:  # lossless coercion, e.g. "2" for Literal[1, 2]
            try:
                if _coerce(value, type(option), where) == option:
                    return option
            except ArgumentError:
                pass
        raise fail("one of " + ", ".join(json.dumps(a) for a in args))
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:  # Optional[X]: X's own message is the precise one
            return _coerce(value, inner[0], where)
        for option in inner:
            try:
                return _coerce(value, option, where)
            except ArgumentError:
                pass
        raise fail(" or ".join(_TYPE_WORDS.get(str(_schema_for(a).get("type")), str(a)) for a in args))
    if origin in (list, tuple, set, frozenset) or ann in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise fail("a list")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise fail(f"a list of {len(args)} items")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return (origin or ann)(items) if (origin or ann) is not list else items
    if origin is dict or ann is dict:
        if not isinstance(value, dict):
            raise fail("an object")
        vtype = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, vtype, f"{where}[{k!r}]") for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------ parsing
_TAG = r"<{0}>\s*(.*?)\s*(?:</{0}>|$)"
_END_TAGS = (("final_answer", FinalAnswer), ("final", FinalAnswer), ("answer", FinalAnswer), ("reply", Reply))
_FENCE = re.compile(r"```(?:json|tool_call|JSON)?\s*(.*?)```", re.S)
_FINAL_LINE = re.compile(r"^\s*(?:\*\*)?final[ _]answer(?:\*\*)?\s*[:=]\s*(?:\*\*)?(.*)$", re.I | re.M | re.S)


def _json_objects(text: str) -> list[tuple[int, int, Any]]:
    """Every top-level JSON object in ``text`` as ``(start, end, value)``; prose around is ignored."""
    decoder = json.JSONDecoder()
    found, i = [], text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        found.append((i, end, obj))
        i = text.find("{", end)
    return found


_OPEN_TOOL_CALL = re.compile(r"<tool_call>", re.I)
_CALL_KEY = re.compile(r'[{,]\s*"(?:name|arguments|tool_calls|function)"\s*:')
_BLOCK_LEAD = re.compile(r"\s*(?:```(?:json)?\s*)?")


def _tool_call_blocks(text: str, names: frozenset[str] | None) -> list[Action]:
    """The calls of every ``<tool_call>{...}</tool_call>`` block (closing tag optional)."""
    decoder = json.JSONDecoder()
    out: list[Action] = []
    pos = 0
    for m in _OPEN_TOOL_CALL.finditer(text):
        if m.start() < pos:  # inside the JSON of the previous block
            continue
        lead = _BLOCK_LEAD.match(text, m.end())
        start = lead.end() if lead else m.end()
        try:
            if text[start:start + 1] != "{":
                raise json.JSONDecodeError("expected '{'", text, start)
            obj, pos = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            out.append(ParseError(f"the <tool_call> block does not hold a valid JSON object ({exc.msg}); write "
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
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return ParseError(f"the arguments of {name!r} are not valid JSON ({exc.msg} at position {exc.pos}); "
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
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    names = frozenset(tool_names) if tool_names is not None else None
    # The earliest of: a <tool_call> block, a bare JSON call object, a final-answer/reply tag.
    tag = _OPEN_TOOL_CALL.search(text)
    objects = _json_objects(text)
    calls = [(start, obj) for start, _, obj in objects if _looks_like_call(obj, names)]
    ends = [(m.start(), make, m) for name, make in _END_TAGS
            if (m := re.search(_TAG.format(name), text, re.S | re.I))]
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
        return [first_end[1](first_end[2].group(1).strip())]
    # 4. "Final answer: ..." line.
    m = _FINAL_LINE.search(text)
    if m:
        return [FinalAnswer(m.group(1).strip().strip("*").strip())]
    # 5. Something that was meant as a call: a call key outside any valid JSON object, or a text
    #    that is one JSON object without being a call.
    stripped = text.strip()
    unfenced = _FENCE.sub(lambda mm: mm.group(1), stripped).strip()
    broken = any(not any(s <= m.start() < e for s, e, _ in objects) for m in _CALL_KEY.finditer(text))
    if broken or unfenced.startswith("{"):
        try:
            json.loads(unfenced)
        except json.JSONDecodeError as exc:
            return [ParseError(f"the call is not valid JSON ({exc.msg}); write one object like "
                               '{"name": "tool_name", "arguments": {"param": value}}')]
        return [ParseError('a call must be a JSON object with "name" and "arguments", e.g. '
                           '{"name": "tool_name", "arguments": {"param": value}}')]
    return [Reply(stripped)]


def parse_action(text: Any, tool_names: Iterable[str] | None = None) -> Action:
    """The first action in ``text`` (``parse_actions`` gives them all). Never raises."""
    return parse_actions(text, tool_names)[0]


# ------------------------------------------------------------------------------ ToolSet
def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        value = value.value
    return json.dumps(value, ensure_ascii=False, default=repr)


class ToolSet:
    """The tools of one env or domain, by name: schemas, prompt text, parsing and execution.

    Args:
        tools: functions, bound methods or ``Tool`` objects (names must be unique).
    """

    def __init__(self, tools: Iterable[Callable[..., Any] | Tool] = ()):
        self.tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    @classmethod
    def from_object(cls, obj: Any) -> "ToolSet":
        """Every ``@tool``-marked method of ``obj``, bound to it, in definition order."""
        marked = []
        for klass in reversed(type(obj).__mro__):
            for attr, value in vars(klass).items():
                if hasattr(value, "__selfgym_tool__") and attr not in marked:
                    marked.append(attr)
        return cls(getattr(obj, attr) for attr in marked)

    def add(self, fn: Callable[..., Any] | Tool) -> Tool:
        """Add one tool; a duplicate name is an error."""
        t = Tool.from_function(fn)
        if t.name in self.tools:
            raise ValueError(f"a tool named {t.name!r} is already in this ToolSet")
        self.tools[t.name] = t
        return t

    def __contains__(self, name: str) -> bool:
        return name in self.tools

    def __len__(self) -> int:
        return len(self.tools)

    def __iter__(self):
        return iter(self.tools.values())

    @property
    def names(self) -> list[str]:
        return list(self.tools)

    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI function schemas, for ``info["tools"]`` and chat templates."""
        return [t.schema() for t in self.tools.values()]

    def describe(self) -> str:
        """The tools as prompt text, rendered from ``schemas()`` (one description for both)."""
        lines = []
        for s in self.schemas():
            fn = s["function"]
            lines.append(f"- {self.tools[fn['name']].signature_line()}: {fn['description']}")
            for pname, p in fn["parameters"]["properties"].items():
                if p.get("description"):
                    lines.append(f"    {pname}: {p['description']}")
        return "\n".join(lines)

    def instructions(self, final: bool = True, reply: bool = False) -> str:
        """``describe()`` plus how to call a tool and how to finish."""
        parts = ["Tools:", self.describe(), "",
                 "To call a tool, answer with one JSON object (several calls: several <tool_call> blocks):",
                 '<tool_call>{"name": "tool_name", "arguments": {"param": "value"}}</tool_call>']
        if final:
            parts.append('When you know the answer: {"name": "final_answer", "arguments": {"answer": "..."}}')
        if reply:
            parts.append('To speak to the user: {"name": "reply", "arguments": {"content": "..."}} or plain text.')
        return "\n".join(parts)

    def parse(self, text: Any) -> list[Action]:
        """``parse_actions`` with this set's tool names winning over final/reply names."""
        return parse_actions(text, self.tools)

    def execute(self, call: ToolCall | dict[str, Any]) -> ToolResult:
        """Run one call; every agent mistake becomes ``ToolResult(ok=False)`` with a clear message.

        ``VerifierError`` and ``BackendError`` raised by a tool propagate (infrastructure, not
        the agent's fault); ``ToolError`` shows its message; any other exception shows as
        ``"<ExceptionType>: <message>"``.
        """
        if isinstance(call, dict):
            parsed = _from_object(call, frozenset(self.tools))[0]
            if not isinstance(parsed, ToolCall):
                msg = parsed.message if isinstance(parsed, ParseError) else "not a tool call"
                return ToolResult(str(call.get("name")), False, f"Error: {msg}", error=msg)
            call = parsed
        t = self.tools.get(call.name)
        if t is None:
            hint = difflib.get_close_matches(call.name, list(self.tools), n=1)
            msg = (f"unknown tool {call.name!r}" + (f"; did you mean {hint[0]!r}?" if hint else ".")
                   + f" Available tools: {', '.join(self.tools) or 'none'}")
            return ToolResult(call.name, False, f"Error: {msg}", error=msg)
        try:
            value = t.call(call.arguments)
        except (VerifierError, BackendError):
            raise
        except ToolError as exc:
            msg = str(exc)
        except Exception as exc:  # the agent's request made the tool fail: report, go on
            msg = f"{call.name} failed: {type(exc).__name__}: {exc}"
        else:
            return ToolResult(call.name, True, _render(value), value=value)
        return ToolResult(call.name, False, f"Error: {msg}", error=msg)
