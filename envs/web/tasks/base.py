"""The shape of a simulated web task, its registry, and the word lists generators draw from.

A task is a class with four class methods, in the spirit of BrowserGym's setup/validate/cheat:

- ``generate(rng) -> payload``: seeded task data (JSON only) including ``"instruction"``;
- ``build(payload) -> Page``: the page, with handlers that call ``page.finish(raw, reason)``
  (raw > 0 is success, as on a MiniWoB++ page);
- ``cheat(page, payload) -> str``: the oracle's next action for the page as it is now;
- ``partial(page, payload) -> float``: partial credit in [0, 1] (default: 1 on success).

``@register_task`` adds a class to ``TASKS`` under its ``name``; ``make_task`` turns a payload
into a ``selfgym.types.Task`` whose difficulty is measured by running the oracle once.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from selfgym.envs.web.page import Page
from selfgym.types import Task

TASKS: dict[str, type["SimTask"]] = {}


class SimTask:
    """Base class of simulated web tasks (see the module docstring)."""

    name: str = ""
    max_steps: int = 10
    description: str = ""

    @classmethod
    def generate(cls, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def build(cls, payload: dict[str, Any]) -> Page:
        raise NotImplementedError

    @classmethod
    def cheat(cls, page: Page, payload: dict[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def partial(cls, page: Page, payload: dict[str, Any]) -> float:
        return 1.0 if page.done and page.raw_reward > 0 else 0.0


def register_task(cls: type[SimTask]) -> type[SimTask]:
    if not cls.name or cls.name in TASKS:
        raise ValueError(f"task class {cls.__name__} needs a unique name, got {cls.name!r}")
    if not 10 <= cls.max_steps <= 30:
        raise ValueError(f"{cls.name}: step caps are 10..30, got {cls.max_steps}")
    TASKS[cls.name] = cls
    return cls


def run_oracle(cls: type[SimTask], payload: dict[str, Any], page: Page | None = None) -> tuple[Page, list[str]]:
    """Play the oracle on ``page`` (a fresh one by default); returns the final page and its actions."""
    from selfgym.envs.web.actions import parse_action

    page = cls.build(payload) if page is None else page
    actions: list[str] = []
    while not page.done and len(actions) < cls.max_steps:
        action = cls.cheat(page, payload)
        actions.append(action)
        page.apply(parse_action(action))
    return page, actions


def make_task(name: str, rng: np.random.Generator, index: int | None = None) -> Task:
    """A Task for simulated task ``name`` drawn from ``rng`` (difficulty measured by the oracle)."""
    cls = TASKS[name]
    payload = cls.generate(rng)
    payload["task"] = name
    page = cls.build(payload)
    n_elements = sum(1 for _ in page.elements()) - 1
    page, actions = run_oracle(cls, payload, page)
    digest = abs(hash_payload(payload)) % 10**8
    return Task(
        id=f"web/{name}/{digest:08d}" if index is None else f"web/{name}/{index}",
        family="web",
        prompt=payload["instruction"],
        payload=payload,
        difficulty={"oracle_steps": len(actions), "elements": n_elements, "step_cap": cls.max_steps},
        source="generated",
        metadata={"backend": "simulated"},
    )


def hash_payload(payload: dict[str, Any]) -> int:
    """A stable (process-independent) hash of a JSON payload."""
    import hashlib
    import json

    blob = json.dumps(payload, sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


# ------------------------------------------------------------------ generator helpers
def pick(rng: np.random.Generator, seq: list[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def pick_k(rng: np.random.Generator, seq: list[Any], k: int) -> list[Any]:
    return [seq[int(i)] for i in rng.permutation(len(seq))[:k]]


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def submit(page: Page, parent, check: Callable[[Page], bool], label: str = "Submit", reason: str = "submitted"):
    """A button that ends the episode: raw reward 1 when ``check(page)`` holds, else -1."""
    def on_click(p: Page, el) -> None:
        ok = bool(check(p))
        p.finish(1.0 if ok else -1.0, reason if ok else f"{reason}: wrong")
    return page.add(parent, "button", label, on_click=on_click)


def click_id(el) -> str:
    return f"click('{el.id}')"


def fill_id(el, text: str) -> str:
    return f"fill('{el.id}', {text!r})"


WORDS = [
    "amber", "basil", "cedar", "delta", "ember", "fjord", "gamma", "harbor", "indigo", "juniper",
    "kettle", "lumen", "maple", "nectar", "orbit", "pepper", "quartz", "raven", "saffron", "tundra",
    "umber", "velvet", "willow", "xenon", "yarrow", "zephyr", "acorn", "bramble", "cobalt", "dune",
    "echo", "flint", "grove", "hazel", "iris", "jade", "kelp", "lotus", "meadow", "nimbus",
]
BUTTONS = ["Submit", "Okay", "Yes", "No", "Cancel", "Next", "Previous", "Save", "Apply", "Close", "Retry", "Done"]
FIRST = ["Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farah", "Goran", "Hana", "Ivo", "Jonas",
         "Keiko", "Lior", "Mina", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Soren", "Tala"]
LAST = ["Abbott", "Birch", "Castro", "Dunn", "Eriksen", "Fischer", "Garza", "Holm", "Ito", "Jensen"]
CITIES = ["Aberdeen", "Bergen", "Cork", "Dakar", "Essen", "Florence", "Geneva", "Hanoi", "Izmir",
          "Jakarta", "Kyoto", "Lima", "Malmo", "Nantes", "Oslo", "Porto", "Quito", "Riga", "Seville", "Tallinn"]
COUNTRIES = ["Albania", "Algeria", "Andorra", "Angola", "Argentina", "Armenia", "Australia", "Austria",
             "Bahamas", "Bahrain", "Belarus", "Belgium", "Bolivia", "Botswana", "Brazil", "Bulgaria",
             "Cambodia", "Cameroon", "Canada", "Chile", "Colombia", "Croatia", "Cuba", "Cyprus",
             "Samoa", "Sardinia", "Saudi Arabia", "Serbia", "Slovakia", "Slovenia", "Somalia", "Spain",
             "Malaysia", "Mali", "Malta", "Mauritania", "Mexico", "Moldova", "Mongolia", "Morocco"]
