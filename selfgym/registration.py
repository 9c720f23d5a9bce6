"""Registering selfgym's envs with Gymnasium and PettingZoo, and the catalogue behind `selfgym list`.

Gymnasium 1.x has no plugin entry points: ``import selfgym`` (or ``gymnasium.register_envs(selfgym)``)
runs ``register_all()``, which asks every family package under ``selfgym.envs`` for its ids.
``gymnasium.make("selfgym:selfgym/<Name>-v0")`` imports ``selfgym`` first, so it works in a
fresh interpreter too.

A family registers itself by defining, in its package ``__init__`` (which must stay cheap to
import: no torch, docker or browser), a function::

    def register_envs(register, register_pettingzoo):
        register("selfgym/Arithmetic-v0", "selfgym.envs.arithmetic.env:ArithmeticEnv",
                 family="arithmetic", description="...")

Entry points are strings, so nothing heavy is imported until ``gymnasium.make``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from selfgym.errors import ConfigError

NAMESPACE = "selfgym"


class UnknownEnvError(ConfigError, KeyError):
    """No env is registered under this name (a ConfigError; also a KeyError, as a lookup miss)."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class EnvEntry:
    """One catalogue row: an id, its family, a one-line description and how to build it."""

    id: str
    family: str
    description: str
    entry_point: str
    kind: str = "gymnasium"  # "gymnasium" | "pettingzoo"
    kwargs: dict[str, Any] = field(default_factory=dict)
    check_kwargs: dict[str, Any] = field(default_factory=dict)
    parallel_entry_point: str | None = None


_CATALOG: dict[str, EnvEntry] = {}
_REGISTERED = False


def register(
    id: str,
    entry_point: str,
    *,
    family: str,
    description: str,
    kwargs: dict[str, Any] | None = None,
    max_episode_steps: int | None = None,
    check_kwargs: dict[str, Any] | None = None,
) -> None:
    """Register a Gymnasium env id and record it in the catalogue.

    ``check_kwargs`` are extra ``make`` kwargs the conformance suite uses (for example a small
    task set), never needed by users.
    """
    if not id.startswith(NAMESPACE + "/"):
        raise ConfigError(f"selfgym ids live in the {NAMESPACE!r} namespace: got {id!r}")
    if id not in gymnasium.registry:
        gymnasium.register(
            id=id,
            entry_point=entry_point,
            kwargs=dict(kwargs or {}),
            max_episode_steps=max_episode_steps,
            disable_env_checker=True,
        )
    _CATALOG[id] = EnvEntry(id, family, description, entry_point, "gymnasium", dict(kwargs or {}), dict(check_kwargs or {}))


def register_pettingzoo(
    name: str,
    aec_entry_point: str,
    parallel_entry_point: str | None,
    *,
    family: str,
    description: str,
    kwargs: dict[str, Any] | None = None,
    check_kwargs: dict[str, Any] | None = None,
) -> None:
    """Record a PettingZoo env (AEC factory, and Parallel factory where there is one)."""
    _CATALOG[name] = EnvEntry(
        name, family, description, aec_entry_point, "pettingzoo", dict(kwargs or {}),
        dict(check_kwargs or {}), parallel_entry_point,
    )


def load_entry_point(entry_point: str) -> Callable[..., Any]:
    """Resolve ``"package.module:attr"`` to the object it names."""
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def register_all() -> None:
    """Ask every family package under selfgym.envs to register its ids (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    _REGISTERED = True
    envs = importlib.import_module("selfgym.envs")
    for mod in sorted(pkgutil.iter_modules(envs.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        family = importlib.import_module(f"selfgym.envs.{mod.name}")
        hook = getattr(family, "register_envs", None)
        if hook is not None:
            hook(register, register_pettingzoo)


def catalog(kind: str | None = None) -> list[EnvEntry]:
    """Every registered env, sorted by id; ``kind`` filters to "gymnasium" or "pettingzoo"."""
    register_all()
    return sorted((e for e in _CATALOG.values() if kind is None or e.kind == kind), key=lambda e: e.id)


def make_pettingzoo(name: str, parallel: bool = False, **kwargs: Any):
    """Build a registered PettingZoo env by name (AEC by default)."""
    register_all()
    entry = _CATALOG.get(name)
    if entry is None or entry.kind != "pettingzoo":
        known = [e.id for e in catalog("pettingzoo")]
        hint = difflib.get_close_matches(name, known, n=1)
        raise UnknownEnvError(f"no PettingZoo env named {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                              + f" Known: {known}")
    ep = entry.parallel_entry_point if parallel else entry.entry_point
    if ep is None:
        raise UnknownEnvError(f"{name!r} has no parallel version; use parallel=False")
    return load_entry_point(ep)(**{**entry.kwargs, **kwargs})
