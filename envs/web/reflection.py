"""Structured reflection across trials of the same seeded web task, as a Gymnasium wrapper.

After a failed trial, a reflecting agent (or a person, or a script) names the step that went
wrong, the action taken there and the action that should have been taken, and optionally
element ids that should not be offered again. The wrapper keeps that memory per task id and,
on the next ``reset`` of the same task (same seed or same ``options["task"]``):

1. replays the earlier trial's actions up to the first recorded mistake, so the agent resumes
   where things went wrong instead of starting over;
2. at a step with a recorded mistake, replaces the wrong action with the corrected one if the
   agent proposes it again (``info["reflection"]["substituted"]``);
3. hides the disabled element ids from the observation and refuses actions on them;
4. shows the corrections as notes at the top of every observation.

Feed it with ``reflect(step, wrong_action, corrected_action, disable=())`` or, from an LLM's
reply to ``reflection_prompt()``, with ``reflect_from_text(text)`` (a JSON object with
``mistake_step``, ``wrong_action``, ``corrected_action`` and ``disable_ids``). Works over any
selfgym web env (simulated or MiniWoB++), since both number a seeded page's elements the same
way on every trial.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from selfgym.envs.web.actions import ActionError, parse_action
from selfgym.envs.web.base import WebEnvBase
from selfgym.errors import ConfigError


@dataclass
class Correction:
    """One reflected mistake: at ``step`` (0-based), ``wrong`` should have been ``corrected``."""

    step: int
    wrong: str
    corrected: str


@dataclass
class TaskMemory:
    """What the wrapper remembers about one task across trials."""

    corrections: dict[int, Correction] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    trajectory: list[str] = field(default_factory=list)  # the last trial's actions, as executed
    trials: int = 0
    last_reward: float | None = None


def _canon(action: str) -> str:
    try:
        return str(parse_action(action))
    except ActionError:
        return action.strip()


class StructuredReflection(gym.Wrapper):
    """Structured-reflection memory over a web env (see the module docstring).

    Args:
        env: a selfgym web env (``selfgym/Web-*`` or ``selfgym/MiniWoB-*``), wrapped or not.
        replay: replay the earlier trial up to its first recorded mistake on reset.
    """

    def __init__(self, env: gym.Env, replay: bool = True):
        super().__init__(env)
        if not isinstance(env.unwrapped, WebEnvBase):
            raise ConfigError(f"StructuredReflection needs a selfgym web env, got {type(env.unwrapped).__name__}")
        self.replay = replay
        self.memory: dict[str, TaskMemory] = {}
        self._key: str | None = None
        self._actions: list[str] = []

    # ------------------------------------------------------------------ reflections in
    def reflect(self, step: int, wrong_action: str, corrected_action: str, disable: tuple[str, ...] | list[str] = (),
                task_id: str | None = None) -> None:
        """Record that at ``step`` of the current (or named) task, ``wrong_action`` was a mistake."""
        mem = self._memory(task_id)
        if step < 0:
            raise ConfigError(f"step must be >= 0, got {step}")
        mem.corrections[int(step)] = Correction(int(step), _canon(wrong_action), _canon(corrected_action))
        mem.disabled |= {str(d) for d in disable}

    def reflect_from_text(self, text: str, task_id: str | None = None) -> Correction | None:
        """Parse a JSON reflection (the first ``{...}`` in ``text``) and record it; None if none."""
        m = re.search(r"\{.*\}", text, re.S)
        if not m:
            return None
        try:
            data = json.loads(m.group(0))
            step = int(data["mistake_step"])
            wrong, corrected = str(data["wrong_action"]), str(data["corrected_action"])
        except (ValueError, KeyError, TypeError):
            return None
        self.reflect(step, wrong, corrected, [str(d) for d in data.get("disable_ids", [])], task_id)
        return self._memory(task_id).corrections[step]

    def reflection_prompt(self) -> str:
        """A prompt asking for a structured reflection on the last trial of the current task."""
        mem = self._memory(None)
        steps = "\n".join(f"  step {i}: {a}" for i, a in enumerate(mem.trajectory)) or "  (no actions)"
        instruction = self.env.unwrapped.task.prompt if self.env.unwrapped.task else ""
        return (
            f"The last attempt at this task failed.\nTask: {instruction}\nActions taken:\n{steps}\n"
            "Find the first step that went wrong. Answer with one JSON object: "
            '{"mistake_step": <int>, "wrong_action": "<action at that step>", '
            '"corrected_action": "<what should have been done>", "disable_ids": ["<element ids to avoid>"]}'
        )

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self._key is not None and self._actions:
            self._finish_trial(None)
        obs, info = self.env.reset(seed=seed, options=options)
        self._key = info["task_id"]
        self._actions = []
        mem = self.memory.setdefault(self._key, TaskMemory())
        mem.trials += 1
        base: WebEnvBase = self.env.unwrapped
        replayed = 0
        if self.replay and mem.corrections and mem.trajectory:
            mistakes = [s for s, c in mem.corrections.items()
                        if s < len(mem.trajectory) and _canon(mem.trajectory[s]) == c.wrong]
            upto = min(mistakes) if mistakes else 0
            for action in mem.trajectory[:upto]:
                obs, _, terminated, truncated, info = self.env.step(action)
                self._actions.append(action)
                replayed += 1
                if terminated or truncated:  # the page changed under us: stop replaying
                    obs, info = self.env.reset(seed=seed, options=options)
                    self._actions, replayed = [], 0
                    break
        base.hidden_ids = set(mem.disabled)
        base.notes = self._notes(mem)
        if mem.disabled or base.notes:
            obs = base.rerender()
            info = dict(info, elements=[e for e in info.get("elements", []) if str(e["id"]) not in mem.disabled])
        info["reflection"] = self._summary(mem, replayed=replayed, substituted=False)
        return obs, info

    def step(self, action):
        mem = self.memory[self._key]
        step = len(self._actions)
        substituted = False
        fix = mem.corrections.get(step)
        if fix is not None and _canon(str(action)) == fix.wrong:
            action, substituted = fix.corrected, True
        self._actions.append(str(action))
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["reflection"] = self._summary(mem, replayed=0, substituted=substituted)
        if terminated or truncated:
            self._finish_trial(reward)
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ helpers
    def _memory(self, task_id: str | None) -> TaskMemory:
        key = task_id or self._key
        if key is None:
            raise ConfigError("reset() the env (or pass task_id) before reflecting")
        return self.memory.setdefault(key, TaskMemory())

    def _finish_trial(self, reward: float | None) -> None:
        mem = self.memory[self._key]
        mem.trajectory = list(self._actions)
        mem.last_reward = reward
        self._actions = []

    @staticmethod
    def _notes(mem: TaskMemory) -> list[str]:
        notes = [f"Reflection: at step {c.step}, {c.wrong} was a mistake; do {c.corrected} instead."
                 for c in sorted(mem.corrections.values(), key=lambda c: c.step)]
        if mem.disabled:
            notes.append(f"Reflection: elements {sorted(mem.disabled)} are disabled for this trial.")
        return notes

    @staticmethod
    def _summary(mem: TaskMemory, replayed: int, substituted: bool) -> dict[str, Any]:
        return {"trial": mem.trials, "replayed": replayed, "substituted": substituted,
                "corrections": [vars(c) for c in sorted(mem.corrections.values(), key=lambda c: c.step)],
                "disabled": sorted(mem.disabled)}
