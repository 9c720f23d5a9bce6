"""Self-evaluation rewards: wrappers that replace an env's reward with the model's own judgement.

Each wrapper works over any selfgym env (it reads only ``info["messages"]``, ``info["family"]``
and the action) and, on the episode's last step, asks the model about the task (the first user
message) and the agent's final answer (its last action). The env's own reward stays in
``info["env_reward"]`` so the self-reward can be checked against ground truth; the wrapper's
reward is ``info["self_reward"]`` and details are in ``info["self_eval"]``. With
``mode="replace"`` (default) the step reward is the self-reward (non-terminal steps give 0);
with ``mode="add"`` it is added to the env's reward.

When the model's answer cannot be read (no score even after a follow-up prefilled with "Score:" that takes the likeliest
digit 0..5 at the first position offering one, no True/False token) the reward is NaN with
``info["reward_valid"] = False``: the *evaluator* failed, which must not look like a wrong
answer.

- ``SelfJudge`` (Self-Rewarding LMs, Yuan et al. 2024): an additive 5-point judge prompt;
  reward = score / 5 (averaged over ``samples`` judgements). Estimates response quality as the
  model sees it. Failure mode: a weak judge rewards confident, well-formatted wrong answers and
  is exploitable by style.
- ``MajorityVote`` (SRT, "Can Large Reasoning Models Self-Train?"): sample ``k`` fresh answers
  to the same task; reward 1 if the agent's answer equals the majority answer. Estimates
  correctness by self-consistency. Failure mode: training on it collapses to one constant
  answer that always agrees with itself (reward rises while accuracy falls).
- ``Confidence`` (RLSC, "Confidence Is All You Need"): reward = the model's probability of the
  agent's answer, estimated from ``k`` samples (the share giving the same answer), or, with
  ``method="logprob"`` on a backend that can ``score`` text, the geometric-mean token
  probability of the answer. Failure mode: rewards certainty, not truth; sharpens on confident
  mistakes.
- ``PTrue`` ("Language Models (Mostly) Know What They Know", Kadavath et al. 2022): show the
  task and the proposed answer, ask "True or False?"; reward = P(True) / (P(True) + P(False))
  from the next-token log-probabilities. Estimates calibrated correctness; small models are
  poorly calibrated and biased to one token.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import gymnasium as gym

from selfgym.agents.prompts import template_for
from selfgym.errors import ConfigError
from selfgym.llm.base import Chat, LLMBackend, SamplingParams


class SelfEvalWrapper(gym.Wrapper):
    """Base: compute a self-reward on the last step (see the module docstring).

    Subclasses implement ``evaluate(question_chat, question, answer, info) -> (reward, details)``,
    returning ``reward=None`` when the model's judgement could not be read.
    """

    def __init__(self, env: gym.Env, backend: LLMBackend, mode: str = "replace", sampling: SamplingParams | None = None):
        super().__init__(env)
        if mode not in ("replace", "add"):
            raise ConfigError(f"mode must be 'replace' or 'add', got {mode!r}")
        self.backend = backend
        self.mode = mode
        self.sampling = sampling or SamplingParams(temperature=0.7, max_tokens=128)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["env_reward"] = reward
        if not (terminated or truncated):
            return obs, (0.0 if self.mode == "replace" else reward), terminated, truncated, info
        messages = info.get("messages") or []
        question, qchat = self.question(messages, info)
        answer = str(action)
        value, details = self.evaluate(qchat, question, answer, info)
        valid = value is not None and not math.isnan(value)
        info["self_reward"] = value if valid else math.nan
        info["self_eval"] = {"method": type(self).__name__, **details}
        if not valid:
            info["reward_valid"] = False
            return obs, math.nan, terminated, truncated, info
        return obs, (value if self.mode == "replace" else reward + value), terminated, truncated, info

    @staticmethod
    def question(messages: list[dict[str, Any]], info: dict[str, Any]) -> tuple[str, Chat]:
        """The task text (first user message) and the chat that poses it afresh."""
        idx = next((k for k, m in enumerate(messages) if m.get("role") == "user"), None)
        if idx is None:
            return "", []
        first = messages[: idx + 1]
        chat = template_for(info).chat(messages[idx]["content"], dict(info, messages=first))
        return str(messages[idx]["content"]), chat

    def answer_key(self, text: str, info: dict[str, Any]) -> str | None:
        return template_for(info).answer_key(text)

    def evaluate(self, qchat: Chat, question: str, answer: str, info: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
        raise NotImplementedError


# ----------------------------------------------------------------------------- SelfJudge
JUDGE_PROMPT = """Rate a response to a task with the additive 5-point scale below.
Start at 0 and add one point for each statement that is true:
1. The response engages with the task and gives an answer.
2. The answer is in the form the task asks for.
3. The working shown is relevant and has no step you can see is wrong.
4. Checking it yourself, the answer is correct.
5. The response is complete and clear, with nothing missing or superfluous.

Task:
{question}

Response:
{answer}

Give one or two sentences of justification, then a final line "Score: N" with N from 0 to 5."""

_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*([0-5])(?:\s*/\s*5)?", re.I)


def parse_score(text: str) -> int | None:
    """The judge's score: the last "Score: N" (N in 0..5), else a lone "N/5"; None if absent."""
    found = _SCORE.findall(text)
    if found:
        return int(found[-1])
    found = re.findall(r"\b([0-5])\s*/\s*5\b", text)
    return int(found[-1]) if found else None


def _likeliest_digit(top: list[dict[str, float]]) -> int | None:
    """At the first position whose candidates include a digit, the likeliest of 0..5."""
    for cands in top:
        digits = {tok.strip(): lp for tok, lp in cands.items() if tok.strip() in "012345" and tok.strip()}
        if any(tok.strip().isdigit() for tok in cands):
            return int(max(digits, key=digits.get)) if digits else None
    return None


class SelfJudge(SelfEvalWrapper):
    """Additive 5-point self-judge; reward = mean parsed score / 5 (see the module docstring).

    Args:
        samples: judgements averaged (unparseable ones are skipped; none parsed -> NaN).
    """

    def __init__(self, env, backend, samples: int = 1, **kw):
        super().__init__(env, backend, **kw)
        self.samples = samples

    def evaluate(self, qchat, question, answer, info):
        chat = [{"role": "user", "content": JUDGE_PROMPT.format(question=question, answer=answer)}]
        params = SamplingParams(temperature=self.sampling.temperature, max_tokens=self.sampling.max_tokens,
                                n=self.samples, seed=self.sampling.seed)
        outs = self.backend.generate([chat], params)
        texts = [c.text for c in outs]
        scores = [parse_score(t) for t in texts]
        missing = [k for k, sc in enumerate(scores) if sc is None]
        if missing:  # ask again with the judgement as the assistant's turn, prefilled up to "Score:"
            chats = [chat + [{"role": "assistant", "content": texts[k].rstrip() + "\nScore: "}] for k in missing]
            short = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=1, top_logprobs=20)
            for k, c in zip(missing, self.backend.generate(chats, short)):
                scores[k] = _likeliest_digit(c.top_logprobs or [])
        parsed = [sc for sc in scores if sc is not None]
        reward = sum(parsed) / (5 * len(parsed)) if parsed else None
        return reward, {"scores": scores, "judgements": texts, "prefilled": len(missing)}


# ----------------------------------------------------------------------------- votes
class _Sampled(SelfEvalWrapper):
    def __init__(self, env, backend, k: int = 5, **kw):
        super().__init__(env, backend, **kw)
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        self.k = k

    def votes(self, qchat: Chat, info: dict[str, Any]) -> list[str | None]:
        params = SamplingParams(temperature=max(self.sampling.temperature, 0.1), max_tokens=self.sampling.max_tokens,
                                n=self.k, seed=self.sampling.seed)
        return [self.answer_key(c.text, info) for c in self.backend.generate([qchat], params)]


class MajorityVote(_Sampled):
    """SRT: reward 1 when the answer matches the majority of ``k`` fresh samples (see module docstring)."""

    def evaluate(self, qchat, question, answer, info):
        keys = self.votes(qchat, info)
        counts = Counter(k for k in keys if k is not None)
        if not counts:
            return None, {"votes": keys, "majority": None}
        majority, n = counts.most_common(1)[0]
        mine = self.answer_key(answer, info)
        return float(mine == majority), {"votes": keys, "counts": dict(counts), "majority": majority,
                                         "agreement": n / len(keys), "answer_key": mine}


class Confidence(_Sampled):
    """RLSC: reward = the model's probability of the agent's answer (see the module docstring).

    Args:
        method: ``"sample"`` (share of ``k`` samples with the same answer) or ``"logprob"``
            (geometric-mean token probability of the answer, via ``backend.score``).
    """

    def __init__(self, env, backend, k: int = 5, method: str = "sample", **kw):
        super().__init__(env, backend, k=k, **kw)
        if method not in ("sample", "logprob"):
            raise ConfigError(f"method must be 'sample' or 'logprob', got {method!r}")
        if method == "logprob" and not hasattr(backend, "score"):
            raise ConfigError(f"method='logprob' needs a backend with score() (transformers); {backend.name} has none")
        self.method = method

    def evaluate(self, qchat, question, answer, info):
        if self.method == "logprob":
            lps = self.backend.score([qchat], [answer])[0]
            p = math.exp(sum(lps) / len(lps)) if lps else None
            return p, {"token_logprobs": lps}
        keys = self.votes(qchat, info)
        mine = self.answer_key(answer, info)
        share = sum(k == mine for k in keys) / len(keys) if mine is not None else 0.0
        return share, {"votes": keys, "answer_key": mine}


# ----------------------------------------------------------------------------- P(True)
PTRUE_PROMPT = """Task:
{question}

Proposed answer:
{answer}

Is the proposed answer correct? Reply with one word, True or False."""


class PTrue(SelfEvalWrapper):
    """P(True): reward = P("True") / (P("True") + P("False")) for the next token (see module docstring)."""

    def __init__(self, env, backend, top_logprobs: int = 20, **kw):
        super().__init__(env, backend, **kw)
        self.top_logprobs = top_logprobs

    def evaluate(self, qchat, question, answer, info):
        chat = [{"role": "user", "content": PTRUE_PROMPT.format(question=question, answer=answer)}]
        params = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=1, top_logprobs=self.top_logprobs)
        comp = self.backend.generate([chat], params)[0]
        top = (comp.top_logprobs or [{}])[0]
        p_true = sum(math.exp(lp) for tok, lp in top.items() if tok.strip().lower() == "true")
        p_false = sum(math.exp(lp) for tok, lp in top.items() if tok.strip().lower() == "false")
        if p_true + p_false <= 0:
            return None, {"top_tokens": top}
        return p_true / (p_true + p_false), {"p_true": p_true, "p_false": p_false}
