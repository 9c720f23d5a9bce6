"""The text view of a web page that both web backends show: an accessibility-tree-like outline.

A page is described by a flat list of *nodes* in document order. Each node is a plain dict::

    {"id": "12", "role": "button", "name": "Submit", "value": None,
     "states": ["focused"], "depth": 2}

``id`` (None for a text run that cannot be targeted) is stable for the element's lifetime within an episode (and, for a seeded task, across
trials); ``role`` is an ARIA-like role (button, link, textbox, checkbox, radio, combobox,
option, tab, treeitem, listitem, heading, text, ...); ``name`` is the visible text or label;
``value`` is the current value of an input (or None); ``states`` holds flags such as
``checked``, ``selected``, ``expanded``, ``collapsed``, ``focused``, ``disabled``; ``depth`` is
the nesting level used for indentation.

``render_outline`` turns nodes into lines such as::

    [12] button 'Submit' focused
      [13] textbox 'Username' value='alice'

and ``render_observation`` adds the instruction, the last action's error and any message from
the user, capping the whole text at a character budget so observations stay in their space.
The simulated page model and the real-browser snapshot both produce these nodes, so an agent
never knows which backend it is talking to.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from selfgym.quoting import inline, labelled

DEFAULT_MAX_CHARS = 6000
_UNCLEAN = re.compile(r"^\s|\s$|\s\s|[\t\n\r\f\v]")
NAME_LIMIT = 120


def _quote(text: str, limit: int = NAME_LIMIT) -> str:
    text = str(text)
    if len(text) <= limit and "'" not in text and not _UNCLEAN.search(text):
        return "'" + text + "'"  # already clean: the common case
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + text.replace("'", "\\'") + "'"


def render_node(node: dict[str, Any]) -> str:
    """One outline line (without indentation) for ``node``."""
    parts = [f"[{node['id']}]"] if node.get("id") is not None else []
    parts.append(node.get("role") or "generic")
    name = node.get("name")
    if name:
        parts.append(_quote(name))
    value = node.get("value")
    if value is not None and value != "":
        parts.append("value=" + _quote(value, 80))
    parts.extend(node.get("states") or ())
    return " ".join(parts)


def render_outline(
    nodes: Iterable[dict[str, Any]],
    hidden: Iterable[str] = (),
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """The outline of ``nodes``, skipping ``hidden`` ids (and their descendants), capped at
    ``max_chars`` with a line that says how many elements were left out."""
    shown = visible_nodes(nodes, hidden)
    lines: list[str] = []
    used = 0
    for i, node in enumerate(shown):
        line = "  " * int(node.get("depth", 0)) + render_node(node)
        if used + len(line) + 1 > max_chars:
            lines.append(f"... ({len(shown) - i} more elements not shown)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def render_observation(
    instruction: str,
    nodes: Iterable[dict[str, Any]],
    *,
    hidden: Iterable[str] = (),
    error: str | None = None,
    user_message: str | None = None,
    status: str | None = None,
    notes: Iterable[str] = (),
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """The whole observation text: instruction, notes, status, error, user reply, page outline."""
    head = [f"Instruction: {instruction}"]
    head.extend(notes)
    if status:
        head.append(f"Status: {status}")
    if error:  # may echo the agent's own text: one line, controls escaped
        head.append(f"Last action error: {inline(error, 400)}")
    if user_message:
        head.append(labelled("User says:", user_message, 2000))
    head.append("Page:")
    top = "\n".join(head)
    budget = max(200, max_chars - len(top) - 1)
    return top + "\n" + render_outline(nodes, hidden, budget)


def visible_nodes(nodes: Iterable[dict[str, Any]], hidden: Iterable[str] = ()) -> list[dict[str, Any]]:
    """``nodes`` without the hidden ids and their descendants (what the outline shows)."""
    hidden = {str(h) for h in hidden}
    out: list[dict[str, Any]] = []
    skip_depth: int | None = None
    for node in nodes:
        depth = int(node.get("depth", 0))
        if skip_depth is not None:
            if depth > skip_depth:
                continue
            skip_depth = None
        if str(node["id"]) in hidden:
            skip_depth = depth
            continue
        out.append(node)
    return out
