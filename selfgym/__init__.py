"""selfgym: Gymnasium environments where LLM agents practise and improve themselves.

``import selfgym`` registers every env id, after which ``gymnasium.make("selfgym/<Name>-v0")``
works. Importing stays cheap: no torch, Docker client or browser is loaded here.
"""

from selfgym.errors import (
    BackendError,
    ConfigError,
    DependencyError,
    SandboxError,
    SelfgymError,
    TaskError,
    VerifierError,
)
from selfgym.registration import catalog, make_pettingzoo, register_all
from selfgym.types import CheckResult, Episode, Status, Step, Task, Verdict, resolve_reward

__version__ = "0.1.0"

__all__ = [
    "BackendError", "CheckResult", "ConfigError", "DependencyError", "Episode", "SandboxError",
    "SelfgymError", "Status", "Step", "Task", "TaskError", "Verdict", "VerifierError",
    "catalog", "make_pettingzoo", "register_all", "resolve_reward", "__version__",
]

register_all()
