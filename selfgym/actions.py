"""Action sets: what an agent may do in a family, declared once next to the family's env.

An ``ActionSet`` is a list of typed, documented actions. Each action is a plain function whose
signature and Google-style docstring describe it (exactly like a tool, see ``selfgym.tools``)
and whose return value is the *action text* the env's ``step`` reads::

    def submit_solution(code: str) -> str:
        '''Submit a complete Python solution; the hidden checks run on it.

        Args:
            code: the full Python source defining the requested function.
        '''
        return f"```python\\n{code}\\n```"

    ACTIONS = ActionSet.text([submit_solution])

Families whose env reads tool calls (ToolUse, customer service) build theirs from their
``ToolSet`` with ``ActionSet.calls(toolset, final=True | reply=True)``: every tool is an action
whose text is the JSON call, plus ``final_answer(answer)`` or ``reply(message)``.

Everything an agent or a trainer needs about actions is derived from that one declaration:

- ``schemas()``: OpenAI function schemas (``info["tools"]`` of tool-calling families);
- ``instructions()``: the prompt text, each action listed once, with one call syntax and one
  final-answer syntax (used in first observations and by ``LLMAgent``);
- ``to_text(name, arguments)``: a structured call (a trainer's tool call, a dict action) as the
  env's action text, arguments checked and coerced against the signature;
- ``parse(text)``: free text or a structured call read into actions (``selfgym.toolcalls``);
- the trainer-facing methods of ``selfgym.integrations.trl_envs`` (one typed method per action).

``action_set_of(env)`` finds any env's set: its ``action_set()`` method, else a function
``action_set(env)`` in the module ``actions`` of the env's package (so a family can declare its
set in a file of its own). Adding a family touches only its folder.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from selfgym.errors import ConfigError
from selfgym.toolcalls import FINAL_NAMES, REPLY_NAMES, Action, Reply, ToolCall, parse_actions
from selfgym.tools import ArgumentError, Tool, ToolSet

__all__ = ["ActionSet", "action_set_of", "call_text", "action_text", "final_answer", "reply"]

Syntax = Literal["text", "calls"]


def call_text(name: str, arguments: dict[str, Any]) -> str:
    """The canonical JSON text of a tool call (what tool-calling envs read)."""
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


def final_answer(answer: str) -> str:
    """Give your final answer; this ends the task.

    Args:
        answer: the answer, exactly as the task asks for it.
    """
    return call_text("final_answer", {"answer": answer})


def reply(message: str) -> str:
    """Say something to the user (the customer).

    Args:
        message: what to tell the user.
    """
    return call_text("reply", {"content": message})


@dataclass
class _Entry:
    tool: Tool  # name, description, JSON parameters and typed params
    render: Callable[..., str]  # arguments -> action text
    kind: str = "text"  # "text" | "tool" (a JSON call the env checks) | "final" | "reply"


class ActionSet:
    """The typed actions of one env (see the module docstring).

    Build with ``ActionSet.text(functions, syntax_help=...)`` (the env reads free text; each
    function renders its arguments as that text) or ``ActionSet.calls(toolset, final=, reply=)``
    (the env reads tool calls).
    """

    def __init__(self, entries: Iterable[_Entry], syntax: Syntax, help_text: str = ""):
        self._entries: dict[str, _Entry] = {}
        for e in entries:
            if e.tool.name in self._entries:
                raise ConfigError(f"two actions are named {e.tool.name!r}")
            self._entries[e.tool.name] = e
        if not self._entries:
            raise ConfigError("an action set needs at least one action")
        self.syntax: Syntax = syntax
        self.help_text = help_text

    # ------------------------------------------------------------------ building
    @classmethod
    def text(cls, functions: Iterable[Callable[..., str]], help_text: str = "") -> ActionSet:
        """Actions whose text the env parses itself; each function returns that text.

        ``help_text``: how to write the actions as free text (shown by ``instructions()``).
        """
        return cls((_Entry(Tool.from_function(f), f) for f in functions), "text", help_text)

    @classmethod
    def calls(cls, tools: ToolSet | Iterable[ToolSet], *, final: bool = False, reply: bool = False) -> ActionSet:
        """Every tool of ``tools`` (several sets are merged; identical duplicates kept once), plus
        ``final_answer`` and/or ``reply``. The action text is the JSON call."""
        sets = [tools] if isinstance(tools, ToolSet) else list(tools)
        entries: dict[str, _Entry] = {}
        for ts in sets:
            for t in ts:
                if t.name in entries:
                    if entries[t.name].tool.schema() != t.schema():
                        raise ConfigError(f"two different tools are named {t.name!r}")
                    continue
                entries[t.name] = _Entry(t, _json_render(t.name), "tool")
        for wanted, fn, kind in ((final, final_answer, "final"), (reply, globals()["reply"], "reply")):
            if wanted:
                t = Tool.from_function(fn)
                entries[t.name] = _Entry(t, fn, kind)
        return cls(entries.values(), "calls")

    @classmethod
    def from_schemas(cls, schemas: Iterable[dict[str, Any]]) -> ActionSet:
        """A calls-syntax set from OpenAI function schemas (``info["tools"]``), for agents that see
        only what an env returns; ``final_answer`` / ``reply`` schemas keep their meaning."""
        entries = []
        for schema in schemas:
            fn = schema.get("function", schema)
            name = str(fn.get("name"))
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            tool = Tool(name, str(fn.get("description") or ""), params, _json_render(name))
            kind = "final" if name in FINAL_NAMES else "reply" if name in REPLY_NAMES else "tool"
            entries.append(_Entry(tool, _json_render(name), kind))
        return cls(entries, "calls")

    # ------------------------------------------------------------------ reading
    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self):
        return (e.tool for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def tool(self, name: str) -> Tool:
        """The ``Tool`` describing action ``name`` (signature, description, schema)."""
        try:
            return self._entries[name].tool
        except KeyError:
            raise ConfigError(f"no action named {name!r}; actions: {', '.join(self._entries)}") from None

    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI function schemas, one per action."""
        return [e.tool.schema() for e in self._entries.values()]

    def describe(self) -> str:
        """Each action once: ``- name(params): description`` and one line per documented parameter."""
        return ToolSet(e.tool for e in self._entries.values()).describe()

    def instructions(self) -> str:
        """The prompt text: the actions and how to write them (one call syntax, one ending)."""
        if self.syntax == "text":
            head = "Actions:\n" + self.describe()
            return head + ("\n\n" + self.help_text if self.help_text else "")
        tools = [e.tool for e in self._entries.values() if e.kind == "tool"]
        parts = ["Tools:", ToolSet(tools).describe(), "",
                 "To call a tool, answer with one JSON object (several calls: several <tool_call> blocks):",
                 '<tool_call>{"name": "tool_name", "arguments": {"param": "value"}}</tool_call>']
        for e in self._entries.values():
            if e.kind == "final":
                call = call_text(e.tool.name, {"answer": "..."})
                parts.append(f"When you know the answer: <tool_call>{call}</tool_call>")
            elif e.kind == "reply":
                call = call_text(e.tool.name, {"message": "..."})
                parts.append(f"To speak to the user: <tool_call>{call}</tool_call> or plain text.")
        return "\n".join(parts)

    # ------------------------------------------------------------------ converting
    def to_text(self, name: str, arguments: Any = None) -> str:
        """The env's action text for a structured call; raises ``ArgumentError`` (a ``ToolError``)
        naming the problem when the name or arguments do not fit.

        Calls of a calls-syntax set become their JSON call with the arguments as given (the env's
        ``ToolSet.execute`` checks them and answers with an error observation; a final answer
        may be any JSON value).
        """
        entry = self._entries.get(name)
        if entry is None:
            raise ArgumentError(f"unknown action {name!r}; actions: {', '.join(self._entries)}")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ArgumentError(f"{name}: the arguments are not valid JSON ({exc.msg})") from None
        arguments = {} if arguments is None else arguments
        if entry.kind != "text":  # a JSON call: the env reads and checks it (any JSON answer value)
            if not isinstance(arguments, dict):
                raise ArgumentError(f"{name}: arguments must be a JSON object of named values")
            if entry.kind != "tool":
                missing = [p.name for p in entry.tool.params if p.required and p.name not in arguments]
                if missing:
                    raise ArgumentError(f"{name}: missing required argument(s) {', '.join(map(repr, missing))}")
            return call_text(name, arguments)
        return entry.render(**entry.tool.coerce_arguments(arguments))

    def parse(self, text: Any) -> list[Action]:
        """Read an agent's message into actions; never raises.

        Calls syntax: ``selfgym.toolcalls.parse_actions`` with this set's names (a dict is a call
        object). Text syntax: one ``Reply`` holding the env's action text (``normalize``).
        """
        if self.syntax == "calls":
            return parse_actions(action_text(text), self.names)
        return [Reply(self.normalize(text))]

    def normalize(self, action: Any) -> str:
        """Any action value as the env's action text, never ``str()`` of a dict.

        A string stays as it is, except that in a text-syntax set a message that is exactly one
        call to one of the actions (a JSON object or a ``<tool_call>`` block, as trainers and
        tool-calling models write them) is rendered into the env's own text. A dict is a call
        object (rendered the same way) or, in a calls-syntax set, sent as its JSON. Bytes are
        decoded, None is "".
        """
        text = action_text(action)
        if self.syntax == "calls":
            return text
        stripped = text.strip()
        if not (isinstance(action, dict) or stripped.startswith("{") or stripped.lower().startswith("<tool_call>")):
            return text
        found = parse_actions(stripped, self.names)
        if len(found) == 1 and isinstance(found[0], ToolCall) and found[0].name in self._entries:
            try:
                return self.to_text(found[0].name, found[0].arguments)
            except ArgumentError:
                return text
        return text


def action_text(action: Any) -> str:
    """A non-string action as text: dicts and lists as JSON (never ``str()``), else ``str``."""
    if isinstance(action, (bytes, bytearray)):
        return bytes(action).decode("utf-8", errors="replace")
    if isinstance(action, str):
        return action
    if action is None:
        return ""
    if isinstance(action, (dict, list)):
        return json.dumps(action, ensure_ascii=False, default=str)
    return str(action)


def _json_render(name: str) -> Callable[..., str]:
    def _render_call(**arguments: Any) -> str:
        return call_text(name, arguments)
    return _render_call


def action_set_of(env: Any) -> ActionSet:
    """The action set of any env (wrapped or not): its ``action_set()``, else ``action_set(env)``
    from the ``actions`` module of the env's package. Raises ``ConfigError`` when it has none."""
    base = getattr(env, "unwrapped", env)
    method = getattr(base, "action_set", None)
    if callable(method):
        result = method()
        if isinstance(result, ActionSet):
            return result
    package = type(base).__module__.rpartition(".")[0]
    try:
        module = importlib.import_module(package + ".actions") if package else None
    except ImportError:
        module = None
    factory = getattr(module, "action_set", None)
    if callable(factory) and inspect.signature(factory).parameters:
        result = factory(base)
        if isinstance(result, ActionSet):
            return result
    raise ConfigError(f"{type(base).__name__} declares no action set: give it an action_set() method, "
                      f"or a function action_set(env) in {package}.actions")
