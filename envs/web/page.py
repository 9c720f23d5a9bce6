"""A small page model for simulated web tasks: elements, forms, lists, focus, scrolling and
dynamic updates, in pure Python.

A ``Page`` is a tree of ``Element``s. Each element has an integer id given at creation (so a
seeded task always numbers its elements the same way), an ARIA-like role, a name (its text or
label), an optional value, state flags, and optional handlers that task code attaches:
``on_click(page, el)``, ``on_fill(page, el, text)``, ``on_select(page, el, option)``,
``on_key(page, el, key)`` and ``on_hover(page, el)``. Built-in behaviour comes first (a checkbox
toggles, a radio button unchecks its group, a text field takes focus and text, ``Tab`` moves
focus), then the handler runs. ``page.finish(raw_reward, reason)`` ends the episode the way a
MiniWoB++ page does; ``page.on_tick`` runs after every action (timers, delayed content).

The page shows ``viewport`` outline lines starting at its scroll offset; elements outside the
view cannot be acted on until the agent scrolls, as on a real screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from selfgym.envs.web.actions import WebAction

Handler = Callable[..., Any]

TEXT_ROLES = ("textbox", "searchbox")
FOCUSABLE = ("textbox", "searchbox", "button", "link", "checkbox", "radio", "combobox", "tab", "treeitem", "menuitem")


class PageActionError(Exception):
    """An action that does not apply to the page as it is (becomes an error observation)."""


@dataclass(eq=False, slots=True)
class Element:
    """One element of a simulated page (see the module docstring)."""

    id: int
    role: str
    name: str = ""
    value: str | None = None
    checked: bool | None = None
    selected: bool | None = None
    expanded: bool | None = None
    disabled: bool = False
    hidden: bool = False
    options: list[str] | None = None
    group: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    children: list["Element"] = field(default_factory=list)
    parent: "Element | None" = None
    on_click: Handler | None = None
    on_fill: Handler | None = None
    on_select: Handler | None = None
    on_key: Handler | None = None
    on_hover: Handler | None = None

    def walk(self) -> Iterator["Element"]:
        yield self
        for c in self.children:
            yield from c.walk()

    def clear(self) -> None:
        """Remove every child (their ids are never reused)."""
        self.children = []

    @property
    def text(self) -> str:
        """Own name plus the names of all descendants, space-joined."""
        return " ".join(e.name for e in self.walk() if e.name)


class Page:
    """A simulated page: the element tree, focus, scroll position and episode outcome."""

    def __init__(self, title: str = "", viewport: int = 40):
        self._next_id = 1
        self.viewport = viewport
        self.scroll = 0
        self.focused: Element | None = None
        self.hovered: Element | None = None
        self.done = False
        self.raw_reward = 0.0
        self.reason = ""
        self.steps = 0
        self.user_reply: str | None = None
        self.on_tick: Handler | None = None
        self.on_message: Handler | None = None
        self.state: dict[str, Any] = {}
        self._by_id: dict[int, Element] = {}
        self.root = self._new("RootWebArea", title)

    # ------------------------------------------------------------------ building
    def _new(self, role: str, name: str, **kw: Any) -> Element:
        el = Element(self._next_id, role, name, **kw)
        self._by_id[el.id] = el
        self._next_id += 1
        return el

    def add(self, parent: Element | None, role: str, name: str = "", **kw: Any) -> Element:
        """Create an element under ``parent`` (the root when None) and return it."""
        parent = parent or self.root
        el = self._new(role, name, **kw)
        if el.role == "checkbox" and el.checked is None:
            el.checked = False
        if el.role == "radio" and el.checked is None:
            el.checked = False
        if el.role in TEXT_ROLES and el.value is None:
            el.value = ""
        el.parent = parent
        parent.children.append(el)
        return el

    def finish(self, raw_reward: float, reason: str = "") -> None:
        """End the episode with a MiniWoB-style raw reward in [-1, 1] (success when > 0)."""
        if not self.done:
            self.done = True
            self.raw_reward = float(raw_reward)
            self.reason = reason

    # ------------------------------------------------------------------ queries
    def elements(self) -> Iterator[Element]:
        """Every element currently in the tree (hidden ones included)."""
        return self.root.walk()

    def get(self, ident: str | int) -> Element | None:
        """The element with this id if it is still in the tree."""
        try:
            el = self._by_id.get(int(ident))
        except (TypeError, ValueError):
            return None
        node = el
        while node is not None and node is not self.root:
            parent = node.parent
            if parent is None or not any(c is node for c in parent.children):
                return None  # removed from the tree (its container was cleared)
            node = parent
        return el

    def find(self, role: str | None = None, name: str | None = None, visible: bool = True, **data: Any) -> Element | None:
        """The first element matching ``role``, exact ``name`` and ``data`` items."""
        return next(iter(self.find_all(role, name, visible, **data)), None)

    def find_all(self, role: str | None = None, name: str | None = None, visible: bool = True, **data: Any) -> list[Element]:
        pool = self._visible_elements() if visible else list(self.elements())
        return [e for e in pool if (role is None or e.role == role) and (name is None or e.name == name)
                and all(e.data.get(k) == v for k, v in data.items())]

    def _visible_elements(self) -> list[Element]:
        out: list[Element] = []

        def rec(el: Element) -> None:
            if el.hidden:
                return
            out.append(el)
            for c in el.children:
                rec(c)

        rec(self.root)
        return out

    def _lines(self) -> list[tuple[Element, int]]:
        out: list[tuple[Element, int]] = []

        def rec(el: Element, depth: int) -> None:
            if el.hidden:
                return
            out.append((el, depth))
            for c in el.children:
                rec(c, depth + 1)

        rec(self.root, 0)
        return out

    def max_scroll(self) -> int:
        return max(0, len(self._lines()) - self.viewport)

    def in_view(self, el: Element) -> bool:
        if self.scroll == 0 and len(self._by_id) <= self.viewport:
            return True  # everything ever created fits in the view
        lines = self._lines()
        for i, (e, _) in enumerate(lines):
            if e is el:
                return i == 0 or self.scroll < i < self.scroll + self.viewport
        return False

    def nodes(self) -> list[dict[str, Any]]:
        """The outline nodes of the elements in view (the shared format of ``outline``)."""
        lines = self._lines()
        shown = [lines[0]] + lines[1:][self.scroll: self.scroll + self.viewport - 1] if lines else []
        nodes = []
        for el, depth in shown:
            states = []
            if el.checked:
                states.append("checked")
            if el.selected:
                states.append("selected")
            if el.expanded is True:
                states.append("expanded")
            elif el.expanded is False:
                states.append("collapsed")
            if el is self.focused:
                states.append("focused")
            if el.disabled:
                states.append("disabled")
            value = el.value
            if el.role == "combobox" and el.options is not None:
                states.append("options=" + "|".join(el.options))
            nodes.append({"id": str(el.id), "role": el.role, "name": el.name, "value": value,
                          "states": states, "depth": depth})
        below = len(lines) - (self.scroll + self.viewport)
        if self.scroll > 0 or below > 0:
            note = []
            if self.scroll > 0:
                note.append(f"{self.scroll} line(s) above")
            if below > 0:
                note.append(f"{below} line(s) below")
            nodes.append({"id": None, "role": "note", "name": "scrollable page: " + ", ".join(note), "value": None,
                          "states": [], "depth": 0})
        return nodes

    # ------------------------------------------------------------------ acting
    def _target(self, action: WebAction) -> Element:
        ident = action.target
        el = self.get(ident)
        if el is None or el is self.root:
            raise PageActionError(f"there is no element with id {ident!r} on the page")
        node = el
        while node is not None:
            if node.hidden:
                raise PageActionError(f"element {ident} is not visible")
            node = node.parent
        if not self.in_view(el):
            raise PageActionError(f"element {ident} is outside the visible part of the page; scroll first")
        if el.disabled:
            raise PageActionError(f"element {ident} is disabled")
        return el

    def apply(self, action: WebAction) -> None:
        """Apply one parsed action; raises PageActionError when it does not apply."""
        name = action.name
        if name == "noop":
            pass
        elif name == "scroll":
            step = max(1, self.viewport // 2)
            self.scroll = min(self.max_scroll(), self.scroll + step) if action.args["direction"] == "down" else max(0, self.scroll - step)
        elif name == "send_msg_to_user":
            self.user_reply = self.on_message(self, action.args["text"]) if self.on_message else "(no answer)"
        elif name == "press" and "id" not in action.args:
            self._press(self.focused, action.args["key"])
        else:
            el = self._target(action)
            if name == "click":
                self._click(el)
            elif name == "hover":
                self.hovered = el
                if el.on_hover:
                    el.on_hover(self, el)
            elif name == "fill":
                if el.role not in TEXT_ROLES:
                    raise PageActionError(f"element {el.id} is a {el.role}, not a text field; fill() needs a textbox")
                self.focused = el
                el.value = action.args["text"]
                if el.on_fill:
                    el.on_fill(self, el, el.value)
            elif name == "select_option":
                if el.role != "combobox" or el.options is None:
                    raise PageActionError(f"element {el.id} is a {el.role}, not a drop-down list")
                opt = action.args["option"]
                match = next((o for o in el.options if o == opt), None) or next(
                    (o for o in el.options if o.lower() == opt.strip().lower()), None)
                if match is None:
                    raise PageActionError(f"drop-down {el.id} has no option {opt!r}; options: {el.options}")
                el.value = match
                self.focused = el
                if el.on_select:
                    el.on_select(self, el, match)
            elif name == "press":
                self.focused = el
                self._press(el, action.args["key"])
        self.steps += 1
        if self.on_tick and not self.done:
            self.on_tick(self)

    def _click(self, el: Element) -> None:
        if el.role == "checkbox":
            el.checked = not el.checked
        elif el.role == "radio":
            for other in self.elements():
                if other.role == "radio" and other.group == el.group:
                    other.checked = False
            el.checked = True
        if el.role in FOCUSABLE:
            self.focused = el
        if el.on_click:
            el.on_click(self, el)

    def _press(self, el: Element | None, key: str) -> None:
        if key == "Tab":
            focusable = [e for e in self._visible_elements() if e.role in FOCUSABLE and not e.disabled]
            if focusable:
                i = focusable.index(el) + 1 if el in focusable else 0
                self.focused = focusable[i % len(focusable)]
            return
        if el is None:
            return
        if key == "Backspace" and el.role in TEXT_ROLES:
            el.value = (el.value or "")[:-1]
        elif len(key) == 1 and el.role in TEXT_ROLES:
            el.value = (el.value or "") + key
            if el.on_fill:
                el.on_fill(self, el, el.value)
            return
        elif key in ("Enter", " ") and el.role in ("button", "link", "checkbox", "radio", "tab", "treeitem", "menuitem"):
            self._click(el)
            return
        if el.on_key:
            el.on_key(self, el, key)
