"""One root for every error selfgym raises.

Each error names where it happened and, where it can, how to fix it. Catch ``SelfgymError`` to
catch them all; catch a subclass to handle one place.

A mistake made by an *agent* (a malformed action, wrong code) is never an exception: it becomes
an observation and ``info["action_error"]``. These errors are for users and infrastructure.
"""

from __future__ import annotations


class SelfgymError(Exception):
    """Base class of every selfgym error."""


class ConfigError(SelfgymError, ValueError):
    """A parameter or option has a bad value; the message names it and the fix."""


class TaskError(SelfgymError, ValueError):
    """A task (data, not an agent's answer) is malformed or cannot be loaded."""


class DependencyError(SelfgymError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, purpose: str = ""):
        why = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{package} is needed{why} but is not installed. "
            f"Install it with: pip install 'selfgym[{extra}]'"
        )
        self.package = package
        self.extra = extra


class VerifierError(SelfgymError, RuntimeError):
    """An infrastructure failure while verifying (engine gone, image missing, runner died).

    Never a verdict about the candidate: callers must not score it as 0. Envs raise it by
    default, or with ``on_infra_error="mask"`` report a NaN reward and ``info["reward_valid"] =
    False``.
    """


class SandboxError(VerifierError):
    """The sandbox itself failed (cannot start, pool broken, engine unreachable)."""


class BackendError(SelfgymError, RuntimeError):
    """An LLM backend failed (server unreachable, model missing, bad response)."""


def require(module: str, extra: str, purpose: str = ""):
    """Import ``module`` or raise DependencyError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised where the extra is absent
        raise DependencyError(module, extra, purpose) from exc
