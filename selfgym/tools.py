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
  syntax (see ``selfgym.toolcalls``).
- ``parse(text)`` -> a list of actions (see ``parse_actions``), knowing the tool names.
- ``execute(call)`` -> a ``ToolResult`` that never raises for an agent's mistake: an unknown
  tool ("Did you mean ...?"), bad JSON, missing, unknown or mistyped arguments, and any
  exception raised inside the tool become ``ToolResult(ok=False, error=...)`` with a clear
  message, and the episode goes on. Only infrastructure failures (``VerifierError``,
  ``BackendError``) propagate, because they are not the agent's fault.

Reading an agent's text into actions (``ToolCall``, ``FinalAnswer``, ``Reply``, ``ParseError``)
lives in ``selfgym.toolcalls``, whose docstring gives the full action syntax; every public name
of it is re-exported here, so ``from selfgym.tools import parse_actions, ToolCall`` works.
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

from selfgym.errors import BackendError, ConfigError, SelfgymError, VerifierError
from selfgym.toolcalls import (  # re-exported: the action types and parser are part of this API
    FINAL_NAMES, REPLY_NAMES, Action, FinalAnswer, ParseError, Reply, ToolCall, parse_action, parse_actions,
)
from selfgym.toolcalls import (  # noqa: F401  (private helpers, kept importable from here)
    _BLOCK_LEAD, _CALL_KEY, _END_TAGS, _FENCE, _FINAL_LINE, _OPEN_TOOL_CALL, _TAG, _VALUE_KEYS, _answer_value,
    _describe, _from_call, _from_object, _json_objects, _looks_like_call, _tool_call_blocks,
)

__all__ = [
    "Tool", "ToolSet", "ToolCall", "FinalAnswer", "Reply", "ParseError", "ToolResult", "ToolError",
    "ArgumentError", "tool", "parse_action", "parse_actions", "FINAL_NAMES", "REPLY_NAMES",
]


class ToolError(SelfgymError):
    """Raised *inside* a tool to refuse a request with a message meant for the agent.

    ``execute`` shows the message as is (other exceptions are shown with their type name).
    Example: ``raise ToolError("order #12 is already shipped; it cannot be cancelled")``.
    """


class ArgumentError(ToolError):
    """The arguments of a call do not match the tool's signature (names the argument and fix)."""


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
            raise ConfigError(f"a tool named {t.name!r} is already in this ToolSet")
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
        except Exception as exc:  # noqa: BLE001 - the agent's request made the tool fail: report, go on
            msg = f"{call.name} failed: {type(exc).__name__}: {exc}"
        else:
            return ToolResult(call.name, True, _render(value), value=value)
        return ToolResult(call.name, False, f"Error: {msg}", error=msg)
