"""ReflexionAgent: after a failed trial, write a reflection into memory and retry the same task.

The loop (Reflexion, Shinn et al. 2023): act; when an episode ends without success, the model
reads its own transcript and writes a short reflection; the reflection is kept in a per-task
memory (at most ``max_memory``, oldest dropped) and shown in the system prompt of every later
trial of that task. The rollout runner retries a failed task with ``trials=K``
(``selfgym run ... --agent reflexion --trials 3``).

Reflection types follow Renze & Guven (2024), who compared eight on multiple-choice exams and
found accuracy rose from 0.620 without reflection to between 0.696 (retry) and 0.877
(unredacted), with every type helping:

- ``retry``: no text from the model, only "your last answer was wrong; try again";
- ``keywords``: keywords naming the kind of mistake;
- ``advice``: general advice for this kind of problem;
- ``instructions``: numbered instructions for solving it;
- ``explanation``: why the attempt went wrong;
- ``solution``: a worked solution, without the final answer;
- ``composite``: all of the above in one reflection;
- ``unredacted``: composite, and the model also sees the env's final feedback (which may reveal
  the answer: an upper bound more than a fair method).

Except for ``unredacted``, the env's last message (the verdict, which may name the right
answer) is replaced by "That answer was judged wrong." before the model reflects, so the
reflection cannot simply copy the answer.

Known failure mode: small models write generic or wrong reflections; memory then adds noise
and can lower success (measure it against ``retry``).

Reflections are generated in one batched call for all envs that failed since the last step.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

from selfgym.agents.llm import LLMAgent
from selfgym.llm.base import Chat, SamplingParams

REFLECTION_TYPES = ("retry", "keywords", "advice", "instructions", "explanation", "solution", "composite", "unredacted")

_ASK = {
    "keywords": "List 3 to 6 keywords that name the kind of mistake made, comma-separated.",
    "advice": "Give short, general advice for solving this kind of problem correctly.",
    "instructions": "Write numbered step-by-step instructions for solving this problem correctly.",
    "explanation": "Explain in a few sentences why the attempt went wrong.",
    "solution": "Write a short worked solution, but do not state the final answer.",
}
_ASK["composite"] = ("Write: Keywords: (the kind of mistake). Advice: (general advice). "
                     "Instructions: (numbered steps). Explanation: (why it went wrong). "
                     "Solution: (worked steps, without the final answer).")
_ASK["unredacted"] = _ASK["composite"].replace(", without the final answer", ", with the final answer")

RETRY_NOTE = "Your previous attempt at this task was wrong. Try again."


def _succeeded(info: dict[str, Any], reward: float) -> bool:
    verdict = info.get("verdict")
    if isinstance(verdict, dict) and "passed" in verdict:
        return bool(verdict["passed"])
    return reward > 0


class ReflexionAgent(LLMAgent):
    """An LLMAgent with per-task reflective memory (see the module docstring).

    Args:
        backend, sampling, templates, template: as for LLMAgent.
        reflection_type: one of ``REFLECTION_TYPES``.
        max_memory: reflections kept per task (default 3).
        reflection_sampling: sampling for reflections (default: the agent's temperature, 128 tokens).
        max_chars: a reflection is cut to this many characters before it is stored.
    Attributes:
        memory: ``task_id -> deque of reflections`` (oldest first).
        reflections_written: how many reflections were written so far.
    """

    name = "reflexion"

    def __init__(self, backend, sampling: SamplingParams | None = None, reflection_type: str = "composite",
                 max_memory: int = 3, reflection_sampling: SamplingParams | None = None, max_chars: int = 600, **kw: Any):
        super().__init__(backend, sampling, **kw)
        if reflection_type not in REFLECTION_TYPES:
            from selfgym.errors import ConfigError

            raise ConfigError(f"reflection_type must be one of {REFLECTION_TYPES}, got {reflection_type!r}")
        self.reflection_type = reflection_type
        self.max_chars = max_chars
        self.max_memory = max_memory
        self.reflection_sampling = reflection_sampling or SamplingParams(
            temperature=self.sampling.temperature, max_tokens=128, seed=self.sampling.seed, stop=["\nUSER:"])
        self.memory: dict[str, deque[str]] = {}
        self.reflections_written = 0
        self._pending: list[tuple[str, list[dict[str, Any]]]] = []

    # ------------------------------------------------------------------ memory in the prompt
    def memory_for(self, info: dict[str, Any]) -> str:
        notes = self.memory.get(str(info.get("task_id")))
        if not notes:
            return ""
        lines = ["Reflections on your earlier failed attempts at this task (use them):"]
        lines += [f"{k}. {note.strip()}" for k, note in enumerate(notes, 1)]
        return "\n".join(lines)

    # ------------------------------------------------------------------ learning from results
    def observe_result(self, info: dict[str, Any], reward: float, done: bool) -> None:
        """Queue a reflection when an episode ends without success."""
        if done and not _succeeded(info, reward):
            self._pending.append((str(info.get("task_id")), list(info.get("messages") or [])))

    def reflection_chat(self, messages: list[dict[str, Any]]) -> Chat:
        """The chat that asks for one reflection on a failed transcript."""
        dialogue = [m for m in messages if m.get("role") != "system"]
        if self.reflection_type != "unredacted" and dialogue and dialogue[-1].get("role") == "user":
            dialogue = dialogue[:-1] + [{"role": "user", "content": "That answer was judged wrong."}]
        transcript = "\n".join(f"{m['role'].upper()}: {m['content']}" for m in dialogue)
        return [
            {"role": "system", "content": "You review a failed attempt at a task so that the next attempt succeeds."},
            {"role": "user", "content": f"Transcript of the failed attempt:\n{transcript}\n\n{_ASK[self.reflection_type]}"},
        ]

    def reflect_pending(self) -> int:
        """Write reflections for every queued failure (one batched call); returns how many."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        if self.reflection_type == "retry":
            texts = [RETRY_NOTE] * len(pending)
        else:
            chats = [self.reflection_chat(msgs) for _, msgs in pending]
            texts = [c.text.strip()[: self.max_chars] or RETRY_NOTE for c in self.backend.generate(chats, self.reflection_sampling)]
        for (task_id, _), text in zip(pending, texts):
            self.memory.setdefault(task_id, deque(maxlen=self.max_memory)).append(text)
        self.reflections_written += len(texts)
        return len(texts)

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        self.reflect_pending()
        return super().act_batch(observations, infos)

    def reset(self) -> None:
        """Memory is kept across episodes on purpose (that is the method); pending work is flushed."""
        self._pending.clear()
