"""Scripted policies for some text-solvable MiniWoB++ tasks that read *only* the observation text.

They are the real backend's end-to-end check (tests/web) and its benchmark workload: each parses
the instruction and the page outline, exactly what an agent sees, and answers one action string.
``POLICIES`` maps task names to ``policy(observation) -> action``.
"""

from __future__ import annotations

import re
from typing import Callable

_LINE = re.compile(r"^(?P<indent> *)\[(?P<id>\d+)\] (?P<role>\S+)(?: '(?P<name>(?:[^'\\]|\\.)*)')?"
                   r"(?: value='(?P<value>(?:[^'\\]|\\.)*)')?(?P<states>.*)$")
ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4}


def parse(observation: str) -> tuple[str, list[dict]]:
    """(instruction, elements) from an observation; elements are dicts with id, role, name, value, states."""
    instruction = ""
    nodes = []
    for line in observation.splitlines():
        if line.startswith("Instruction: "):
            instruction = line[len("Instruction: "):]
            continue
        m = _LINE.match(line)
        if m:
            nodes.append({"id": m["id"], "role": m["role"], "name": (m["name"] or "").replace("\\'", "'"),
                          "value": (m["value"] or "").replace("\\'", "'"), "states": m["states"].split()})
    return instruction, nodes


def _first(nodes, role=None, name=None):
    return next(n for n in nodes if (role is None or n["role"] == role) and (name is None or n["name"] == name))


def _quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def click_named(role: str) -> Callable[[str], str]:
    def policy(obs: str) -> str:
        ins, nodes = parse(obs)
        return f"click('{_first(nodes, role, _quoted(ins)[0])['id']}')"
    return policy


def click_buttons_in_order(obs: str) -> str:
    ins, nodes = parse(obs)
    wanted = re.findall(r"button (\w+)", ins)
    done = int(any("focused" in n["states"] and n["name"] == wanted[0] for n in nodes))
    return f"click('{_first(nodes, 'button', wanted[min(done, len(wanted) - 1)])['id']}')"


def focus_nth(obs: str) -> str:
    ins, nodes = parse(obs)
    m = re.search(r"(\d\w\w) input", ins)
    k = ORDINALS[m.group(1)] if m else 0
    return f"click('{[n for n in nodes if n['role'] == 'textbox'][k]['id']}')"


def _fill_then_submit(value: str, nodes: list[dict], label: str = "Submit") -> str:
    boxes = [n for n in nodes if n["role"] == "textbox"]
    for box in boxes:
        if box["value"] != value:
            return f"fill('{box['id']}', {value!r})"
    return f"click('{_first(nodes, 'button', label)['id']}')"


def enter_text(obs: str) -> str:
    ins, nodes = parse(obs)
    return _fill_then_submit(_quoted(ins)[0], nodes)


def enter_text_case(obs: str) -> str:
    ins, nodes = parse(obs)
    word = _quoted(ins)[0]
    word = word.lower() if "lower case" in ins else word.upper() if "upper case" in ins else word
    return _fill_then_submit(word, nodes)


def enter_date(obs: str) -> str:
    ins, nodes = parse(obs)
    m, d, y = re.search(r"(\d\d)/(\d\d)/(\d{4})", ins).groups()
    return _fill_then_submit(f"{y}-{m}-{d}", nodes)


def login_user(obs: str) -> str:
    ins, nodes = parse(obs)
    user, password = _quoted(ins)[:2]
    for label, value in (("Username", user), ("Password", password)):
        box = _first(nodes, "textbox", label)
        if box["value"] != value:
            return f"fill('{box['id']}', {value!r})"
    return f"click('{_first(nodes, 'button', 'Login')['id']}')"


def select_and_submit(obs: str) -> str:
    ins, nodes = parse(obs)
    wanted = {w.strip() for w in re.match(r"Select (.*) and click Submit", ins).group(1).split(",") if w.strip()}
    for n in nodes:
        if n["role"] in ("checkbox", "radio") and (n["name"] in wanted) != ("checked" in n["states"]):
            if n["role"] == "radio" and n["name"] not in wanted:
                continue
            return f"click('{n['id']}')"
    return f"click('{_first(nodes, 'button', 'Submit')['id']}')"


def choose_list(obs: str) -> str:
    ins, nodes = parse(obs)
    want = re.match(r"Select (.*) from the list", ins).group(1)
    box = _first(nodes, "combobox")
    if box["value"] != want:
        return f"select_option('{box['id']}', {want!r})"
    return f"click('{_first(nodes, 'button', 'Submit')['id']}')"


def click_tab(obs: str) -> str:
    ins, nodes = parse(obs)
    want = re.search(r"(Tab #\d)", ins).group(1)
    return f"click('{_first(nodes, 'tab', want)['id']}')"


def click_dialog(obs: str) -> str:
    _, nodes = parse(obs)
    return f"click('{_first(nodes, 'button', 'Close')['id']}')"


def click_test(obs: str) -> str:
    _, nodes = parse(obs)
    return f"click('{_first(nodes, 'button')['id']}')"


POLICIES: dict[str, Callable[[str], str]] = {
    "click-button": click_named("button"),
    "click-link": click_named("link"),
    "click-test": click_test,
    "click-test-2": click_buttons_in_order,
    "click-button-sequence": click_buttons_in_order,
    "click-dialog": click_dialog,
    "click-checkboxes": select_and_submit,
    "click-option": select_and_submit,
    "choose-list": choose_list,
    "click-tab": click_tab,
    "focus-text": focus_nth,
    "focus-text-2": focus_nth,
    "enter-text": enter_text,
    "enter-text-2": enter_text_case,
    "enter-password": enter_text,
    "enter-date": enter_date,
    "login-user": login_user,
}
