"""The web action language shared by both backends: BrowserGym-style calls as strings.

``click('12')``, ``fill('16', 'hello')``, ``select_option('7', 'Blue')``, ``press('Enter')`` or
``press('16', 'Enter')``, ``scroll('down')``, ``hover('9')``, ``noop()`` and
``send_msg_to_user('Which date?')``. Ids may be quoted or bare integers. An agent's reply may
hold prose or a code fence around the call: the *last* well-formed call in it is the action.

``parse_action`` returns a ``WebAction`` or raises ``ActionError`` with a message that says
what was wrong and what is accepted; envs turn that into an error observation, never an
exception. ``ACTIONS`` describes every action once; the prompt text (``action_help``) and the
OpenAI tool schemas (``tool_schemas``) are both generated from it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from selfgym import pyparse
from selfgym.errors import SelfgymError


class ActionError(SelfgymError, ValueError):
    """An agent's action string could not be understood (becomes an error observation)."""


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, parameter names (with an optional tail), and what it does."""

    name: str
    params: tuple[str, ...]
    doc: str
    optional_first: bool = False  # press(key) or press(id, key)


ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in (
        ActionSpec("click", ("id",), "Click the element with this id."),
        ActionSpec("fill", ("id", "text"), "Clear the text field with this id and type the text into it."),
        ActionSpec("select_option", ("id", "option"), "Choose the option with this label in the drop-down list with this id."),
        ActionSpec("press", ("id", "key"), "Press a key (Enter, Tab, Backspace, ArrowDown, ...), on the element with this id if one is given, else on the focused element.", optional_first=True),
        ActionSpec("scroll", ("direction",), "Scroll the page 'up' or 'down'."),
        ActionSpec("hover", ("id",), "Move the mouse over the element with this id."),
        ActionSpec("noop", (), "Do nothing for one step (let the page update)."),
        ActionSpec("send_msg_to_user", ("text",), "Send a message to the user, for example to ask for information the instruction does not give."),
    )
}

_CALL_START = re.compile(r"\b(" + "|".join(ACTIONS) + r")\s*\(")
_FENCE = re.compile(r"```[a-zA-Z]*")


@dataclass(frozen=True)
class WebAction:
    """A parsed action: ``name`` and its arguments by parameter name (ids as strings)."""

    name: str
    args: dict[str, str]

    @property
    def target(self) -> str | None:
        return self.args.get("id")

    def __str__(self) -> str:
        vals = ", ".join(repr(self.args[p]) for p in ACTIONS[self.name].params if p in self.args)
        return f"{self.name}({vals})"


def _literal(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return str(node.value)
    raise ActionError("arguments must be quoted strings or integers")


def _parse_call(text: str) -> WebAction:
    try:
        tree = pyparse.parse_expression(text)
    except (RecursionError, MemoryError, ValueError, SystemError) as exc:  # too deep, NUL bytes, parser race
        raise SyntaxError(f"cannot parse the call: {type(exc).__name__}") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id not in ACTIONS:
        raise ActionError("not an action call")
    spec = ACTIONS[call.func.id]
    keywords = {}
    for kw in call.keywords:
        if kw.arg not in spec.params:
            raise ActionError(f"{spec.name}() has no parameter {kw.arg!r}; it takes {list(spec.params)}")
        keywords[kw.arg] = _literal(kw.value)
    return _from_values(spec, [_literal(a) for a in call.args], keywords)


def _from_values(spec: ActionSpec, args: list[str], keywords: dict[str, str]) -> WebAction:
    if keywords:
        values = dict(keywords)
        values.update(dict(zip(spec.params, args)))
    else:
        params = spec.params
        if spec.optional_first and len(args) == len(params) - 1:
            params = params[1:]
        if len(args) != len(params):
            raise ActionError(f"{spec.name}() takes {len(spec.params)} argument(s) ({', '.join(spec.params)}), got {len(args)}")
        values = dict(zip(params, args))
    required = spec.params[1:] if spec.optional_first else spec.params
    missing = [p for p in required if p not in values]
    if missing:
        raise ActionError(f"{spec.name}() is missing {missing}")
    if "id" in values:
        values["id"] = values["id"].strip().strip("[]")
        if not values["id"]:
            raise ActionError(f"{spec.name}() needs a non-empty element id")
    if spec.name == "scroll":
        d = values["direction"].strip().lower()
        if d not in ("up", "down"):
            raise ActionError(f"scroll() direction must be 'up' or 'down', got {values['direction']!r}")
        values["direction"] = d
    return WebAction(spec.name, values)


_ARG = r"""(?:'[^'\\\n]*'|"[^"\\\n]*"|\d+)"""
_SIMPLE = re.compile(r"^\s*(\w+)\(\s*(" + _ARG + r"(?:\s*,\s*" + _ARG + r")*)?\s*\)\s*$")
_SIMPLE_ARG = re.compile(_ARG)


#: Bounds on the work one reply can cause: the last ``MAX_STARTS`` call names are tried, each over
#: at most ``MAX_CALL_CHARS`` characters, with the matching ``)`` first and at most
#: ``MAX_CLOSES`` others after it (so a reply can never make parsing cubic in its length).
MAX_STARTS = 16
MAX_CALL_CHARS = 4000
MAX_CLOSES = 8
_PY_TOKEN = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|[()\[\]{}]|[^'"()\[\]{}]+|.""", re.S)


def _closing_candidates(call: str) -> list[int]:
    """Where the call that starts ``call`` may end: its matching ``)`` (found with Python string
    literals skipped), then the next few ``)`` in case the scan misread a literal."""
    first, depth = None, 0
    for m in _PY_TOKEN.finditer(call):
        tok = m.group()
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
            if depth == 0:
                if tok == ")":
                    first = m.start()
                break
    closes = [i for i, ch in enumerate(call) if ch == ")" and i != first][:MAX_CLOSES] if first is None else \
        [i for i in _next_closes(call, first)]
    return ([first] if first is not None else []) + [c for c in closes if c != first]


def _next_closes(call: str, after: int) -> list[int]:
    out, pos = [], after + 1
    while len(out) < MAX_CLOSES:
        pos = call.find(")", pos)
        if pos == -1:
            break
        out.append(pos)
        pos += 1
    return out


def parse_action(text: str) -> WebAction:
    """The last well-formed action call in ``text``; ActionError when there is none.

    A total function with bounded work (see ``MAX_STARTS``): any text gives a WebAction or an
    ActionError, never another exception.
    """
    if not isinstance(text, str):
        raise ActionError(f"an action must be a string, got {type(text).__name__}")
    simple = _SIMPLE.match(text)
    if simple and simple.group(1) in ACTIONS:  # the common case, without the Python parser
        args = [a[1:-1] if a[0] in "'\"" else a for a in _SIMPLE_ARG.findall(simple.group(2) or "")]
        return _from_values(ACTIONS[simple.group(1)], args, {})
    clean = _FENCE.sub("", text)
    starts = [m.start() for m in _CALL_START.finditer(clean)]
    if not starts:
        raise ActionError("no action found; expected one of: " + ", ".join(f"{a}(...)" for a in ACTIONS))
    last_error: ActionError | None = None
    for start in reversed(starts[-MAX_STARTS:]):
        tail = clean[start:start + MAX_CALL_CHARS]
        for close in _closing_candidates(tail):
            try:
                return _parse_call(tail[: close + 1])
            except SyntaxError:
                continue
            except ActionError as exc:
                last_error = last_error or exc
                break
    if last_error is not None:
        raise last_error
    raise ActionError("the action call is malformed (check quotes and parentheses), e.g. click('12') or fill('16', 'text')")


def action_help() -> str:
    """The action list as prompt text, generated from ``ACTIONS``."""
    lines = ["Actions (reply with exactly one):"]
    for spec in ACTIONS.values():
        params = list(spec.params)
        sig = ", ".join(params)
        if spec.optional_first:
            sig = f"{params[1]}) or {spec.name}({sig}"
        lines.append(f"  {spec.name}({sig}): {spec.doc}")
    return "\n".join(lines)


def tool_schemas() -> list[dict]:
    """OpenAI function-calling schemas for the actions, generated from ``ACTIONS`` once.

    The list is new on every call; the schema dicts inside are shared, so treat them as read-only.
    """
    return list(_SCHEMAS)


def _build_schemas() -> list[dict]:
    out = []
    for spec in ACTIONS.values():
        props = {p: {"type": "string", "description": p} for p in spec.params}
        required = list(spec.params[1:] if spec.optional_first else spec.params)
        out.append({"type": "function", "function": {
            "name": spec.name, "description": spec.doc,
            "parameters": {"type": "object", "properties": props, "required": required},
        }})
    return out


_SCHEMAS = _build_schemas()
