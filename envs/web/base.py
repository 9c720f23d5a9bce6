"""WebEnvBase: the one interface both web backends share (simulated pages and real Chromium).

Observation: the task's instruction plus an outline of the page (``outline.render_observation``)
in which every element carries a stable id, its role, name, value and state. ``info`` carries
the same as data: ``info["elements"]`` (the outline nodes), ``info["instruction"]``,
``info["partial_credit"]`` (the task's own partial score in [0, 1]), ``info["raw_reward"]``
(the page's raw score in [-1, 1] once it finished), ``info["steps"]`` and ``info["step_cap"]``.

Action: a BrowserGym-style call string (``actions.parse_action``). A parse error, an unknown or
hidden id, or an action the element does not support is an error observation and
``info["action_error"]``; the step still counts.

Reward: 1 when the page reports success, else 0, on the terminal step (``reward="partial"``
pays the partial credit instead). There is no wall clock: each task has a step cap (10 to 30)
after which the episode is truncated with reward 0. A backend failure (a browser that died) is
an infrastructure error, never a reward of 0: it raises ``VerifierError``, or with
``on_infra_error="mask"`` gives a NaN reward and ``info["reward_valid"] = False``.

A backend implements ``_start``, ``_instruction``, ``_nodes``, ``_perform``, ``_outcome``,
``_partial`` and ``_take_user_reply``. ``hidden_ids`` (used by the structured-reflection
wrapper) removes elements from the view and makes them unusable.
"""

from __future__ import annotations

import time
from typing import Any

from typing import Literal

from selfgym.actions import ActionSet
from selfgym.envs.web.actions import ActionError, WebAction, action_help, parse_action, tool_schemas
from selfgym.envs.web.outline import DEFAULT_MAX_CHARS, render_observation, visible_nodes
from selfgym.errors import ConfigError, VerifierError
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import CheckResult, Status, Task, Verdict

REWARD_MODES = ("binary", "partial")


class ActionFailed(Exception):
    """An action that parsed but does not apply to the page (an agent mistake)."""


SYSTEM_PROMPT = (
    "You operate a web page to complete the instruction. Each observation lists the page's elements "
    "as [id] role 'name' value=... states. Reply with one action.\n" + action_help()
)


# The web actions as typed functions (one per ``actions.ACTIONS`` entry); each returns the
# BrowserGym-style call string that ``actions.parse_action`` reads.
def click(id: str) -> str:
    """Click the element with this id.

    Args:
        id: the element's id in the outline.
    """
    return f"click({id!r})"


def fill(id: str, text: str) -> str:
    """Clear the text field with this id and type the text into it.

    Args:
        id: the text field's id in the outline.
        text: what to type.
    """
    return f"fill({id!r}, {text!r})"


def select_option(id: str, option: str) -> str:
    """Choose the option with this label in the drop-down list with this id.

    Args:
        id: the drop-down list's id in the outline.
        option: the label of the option to choose.
    """
    return f"select_option({id!r}, {option!r})"


def press(key: str, id: str = "") -> str:
    """Press a key (Enter, Tab, Backspace, ArrowDown, ...) on the element with this id, or on the focused one.

    Args:
        key: the key's name.
        id: the element's id; empty for the focused element.
    """
    return f"press({id!r}, {key!r})" if id else f"press({key!r})"


def scroll(direction: Literal["up", "down"]) -> str:
    """Scroll the page up or down.

    Args:
        direction: "up" or "down".
    """
    return f"scroll({direction!r})"


def hover(id: str) -> str:
    """Move the mouse over the element with this id.

    Args:
        id: the element's id in the outline.
    """
    return f"hover({id!r})"


def noop() -> str:
    """Do nothing for one step (let the page update)."""
    return "noop()"


def send_msg_to_user(text: str) -> str:
    """Send a message to the user, for example to ask for information the instruction does not give.

    Args:
        text: the message.
    """
    return f"send_msg_to_user({text!r})"


ACTIONS = ActionSet.text([click, fill, select_option, press, scroll, hover, noop, send_msg_to_user],
                         help_text="Reply with exactly one action call, e.g. click('12') or fill('16', 'hello').")


class WebEnvBase(TextEnv):
    """Shared observation, action and reward logic of the web envs (see the module docstring)."""

    system_prompt = SYSTEM_PROMPT

    def __init__(self, *, max_steps: int | None = None, reward: str = "binary",
                 max_chars: int = DEFAULT_MAX_CHARS, **kwargs: Any):
        kwargs.setdefault("max_observation_length", max_chars + 2048)
        kwargs.setdefault("max_action_length", 2048)
        super().__init__(**kwargs)
        if reward not in REWARD_MODES:
            raise ConfigError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        if max_steps is not None and not 1 <= int(max_steps) <= 1000:
            raise ConfigError(f"max_steps must be in 1..1000 or None, got {max_steps!r}")
        self.max_steps_override = max_steps
        self.reward_mode = reward
        self.max_chars = max_chars
        self.hidden_ids: set[str] = set()
        self.notes: list[str] = []
        self.steps = 0
        self.step_cap = 10
        self._last_nodes: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ backend hooks
    def _start(self, task: Task) -> int:
        """Load the task's page; return its step cap."""
        raise NotImplementedError

    def _instruction(self) -> str:
        raise NotImplementedError

    def _nodes(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _perform(self, action: WebAction) -> None:
        """Apply the action; raise ActionFailed for an agent mistake, VerifierError for ours."""
        raise NotImplementedError

    def _outcome(self) -> tuple[bool, float, str]:
        """(done, raw reward in [-1, 1], reason) as the page reports it."""
        raise NotImplementedError

    def _partial(self) -> float:
        raise NotImplementedError

    def _take_user_reply(self) -> str | None:
        return None

    # ------------------------------------------------------------------ TextEnv hooks
    def tools(self) -> list[dict[str, Any]]:
        return tool_schemas()

    def action_set(self) -> ActionSet:
        return ACTIONS

    def begin(self, task: Task) -> str:
        self.steps = 0
        self.hidden_ids = set()
        self.notes = []
        cap = self._start(task)
        self.step_cap = int(self.max_steps_override or cap)
        self._started = time.perf_counter()
        return self._render(None, None, None)

    def act(self, action: str) -> Outcome:
        self.steps += 1
        error = None
        try:
            parsed = parse_action(action)
            if parsed.target is not None and parsed.target in self.hidden_ids:
                raise ActionFailed(f"element {parsed.target} is disabled for this trial")
            self._perform(parsed)
        except (ActionError, ActionFailed) as exc:
            error = str(exc)
        except VerifierError as exc:
            return Outcome(f"The page failed: {exc}", terminated=True, verdict=Verdict.infra_error(str(exc)))
        try:
            done, raw, reason = self._outcome()
            partial = float(self._partial())
            reply = self._take_user_reply()
        except VerifierError as exc:
            return Outcome(f"The page failed: {exc}", terminated=True, verdict=Verdict.infra_error(str(exc)))
        info = {"partial_credit": partial, "raw_reward": raw if done else None}
        if done:
            passed = raw > 0
            verdict = Verdict(
                reward=1.0 if passed else 0.0, passed=passed,
                status=Status.OK if passed else Status.TASK_FAILURE,
                checks=[CheckResult("task_success", passed, reason or "", score=partial, got=raw)],
                timings={"episode": time.perf_counter() - self._started},
                error=None if passed else (reason or "the task was not completed"),
            )
            reward = 1.0 if passed else 0.0
            if self.reward_mode == "partial":
                reward = partial
            status = f"episode finished ({'success' if passed else 'failure'}: {reason})"
            return Outcome(self._render(error, reply, status), reward=reward, terminated=True,
                           verdict=verdict, action_error=error, info=info)
        if self.steps >= self.step_cap:
            verdict = Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                              checks=[CheckResult("task_success", False, "step cap reached", score=partial)],
                              error=f"step cap of {self.step_cap} reached")
            reward = partial if self.reward_mode == "partial" else 0.0
            return Outcome(self._render(error, reply, f"step cap of {self.step_cap} reached"), reward=reward,
                           truncated=True, verdict=verdict, action_error=error, info=info)
        return Outcome(self._render(error, reply, None), reward=0.0, action_error=error, info=info)

    # ------------------------------------------------------------------ helpers
    def _render(self, error: str | None, reply: str | None, status: str | None) -> str:
        self._last_nodes = self._nodes()
        self._last_error, self._last_reply = error, reply
        return render_observation(self._instruction(), self._last_nodes, hidden=self.hidden_ids, error=error,
                                  user_message=reply, status=status, notes=self.notes, max_chars=self.max_chars)

    def rerender(self) -> str:
        """The current observation again (after ``hidden_ids`` or ``notes`` changed)."""
        return self._observe(render_observation(
            self._instruction(), self._last_nodes, hidden=self.hidden_ids, error=None,
            user_message=None, status=None, notes=self.notes, max_chars=self.max_chars))

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        info = super()._info(extra)
        if self.task is not None:
            info["instruction"] = self._instruction_safe()
            info["elements"] = visible_nodes(self._last_nodes, self.hidden_ids)
            info["steps"] = self.steps
            info["step_cap"] = self.step_cap
            info.setdefault("partial_credit", 0.0)
        return info

    def _instruction_safe(self) -> str:
        try:
            return self._instruction()
        except VerifierError:
            return self.task.prompt if self.task else ""
