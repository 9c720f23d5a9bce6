"""selfgym envs in verl (pinned: ``verl==0.9.1``): an agent loop, a reward function, an estimator.

verl's multi-turn rollout runs one ``AgentLoopBase`` per sample; this module registers
``SelfgymAgentLoop`` under the name ``"selfgym"``. For each dataset row it builds the row's env
(any selfgym id), renders ``info["messages"]`` (with ``info["tools"]`` as the chat template's
tools) into prompt ids with verl's Continuous Token builder, and then alternates:

- generate through verl's server manager (``LLMServerClient.generate``): the policy's tokens and
  their log-probabilities go into the response with mask 1;
- step the env with the decoded text; the env's new messages (its observation) are appended to
  the token stream with mask 0.

The loop ends when the env's episode ends, the response budget (``rollout.response_length``) is
spent, or ``multi_turn.max_assistant_turns`` is reached. The episode's summed reward becomes
``reward_score``. Nothing here knows a family: everything comes from the env contract.

Infrastructure errors (a verdict with status ``infra_error``; envs run with
``on_infra_error="mask"``) are never a 0. The sample keeps its tokens, its response mask is all
zeros (none of its tokens carries a gradient), its score is NaN and ``extra_fields["reward_valid"]``
is False. The ``selfgym_grpo`` advantage estimator registered here is GRPO that leaves such
samples out of the group mean and standard deviation and gives them zero advantage. With any
other estimator a NaN would poison its group, so the agent loop refuses (``VerifierError``) rather
than let a masked sample be scored.

Also here:

- ``compute_score(data_source, solution_str, ground_truth, extra_info)``: verl's custom reward
  function for single-turn families (the completion is the env's one action on the row's task);
  infrastructure errors give ``score=nan`` and ``reward_valid=False``.
- ``verl_rows`` / ``write_parquet``: dataset rows in verl's RLHFDataset layout.
- ``OpenAIServerClient``: an ``LLMServerClient`` whose server is any OpenAI-compatible
  ``/v1/completions`` endpoint taking token-id prompts (llama.cpp's server, vLLM's server with
  ``--return-tokens-as-token-ids``). It is how the agent loop runs on a CPU without verl's
  GPU-managed rollout replicas.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from selfgym.errors import BackendError, DependencyError, VerifierError

try:
    import numpy as np
    import torch
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register
    from verl.trainer.ppo.core_algos import register_adv_est
    from verl.workers.rollout.llm_server import LLMServerClient
    from verl.workers.rollout.replica import TokenOutput
except ImportError as exc:  # pragma: no cover - depends on the install
    raise DependencyError("verl", "trainers", "the verl agent loop (scripts/setup.sh installs verl --no-deps)") from exc

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)
from selfgym.integrations.trl import env_tasks, task_prompt
from selfgym.integrations.trl_envs import make_env
from selfgym.types import Task

AGENT_NAME = "selfgym"
ESTIMATOR = "selfgym_grpo"
MASK_AWARE_ESTIMATORS = (ESTIMATOR,)


def _obs_text(obs: Any) -> str:
    return obs["text"] if isinstance(obs, dict) else str(obs)


def _plain(value: Any) -> Any:
    """verl hands non-tensor columns over as numpy objects; make them builtins."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _loads(value: Any) -> Any:
    value = _plain(value)
    return json.loads(value) if isinstance(value, str) else value


# ------------------------------------------------------------------------------ agent loop
@register(AGENT_NAME)
class SelfgymAgentLoop(AgentLoopBase):
    """verl agent loop that plays one episode of the row's selfgym env (see the module docstring).

    The row's ``extra_info`` names the episode: ``env_id`` (required), ``task`` (a Task as JSON;
    else the env samples one from ``seed``), ``seed`` and ``env_kwargs`` (JSON).
    """

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        extra = dict(_plain(kwargs.get("extra_info")) or {})
        if "env_id" not in extra:
            raise VerifierError("a selfgym row needs extra_info['env_id']; "
                                "build rows with selfgym.integrations.verl.verl_rows")
        env = make_env(extra["env_id"], **(_loads(extra.get("env_kwargs")) or {}))
        try:
            return await self._episode(env, extra, sampling_params)
        finally:
            env.close()

    async def _episode(self, env: gym.Env, extra: dict[str, Any], sampling_params: dict[str, Any]) -> AgentLoopOutput:
        task = _loads(extra.get("task"))
        seed = extra.get("seed")
        _, info = await self.loop.run_in_executor(
            None, lambda: env.reset(seed=None if seed is None else int(seed), options={"task": task} if task else None))
        messages = [dict(m) for m in info["messages"]]
        tools: list[dict] = list(info.get("tools") or [])
        metrics: dict[str, Any] = {}
        prompt_ids = await self.ct_build_initial_tokens(messages, tools=tools)
        n_prompt = len(prompt_ids)
        runtime_ids = list(prompt_ids)
        mask: list[int] = []
        logprobs: list[float] = []
        rewards: list[float] = []
        valid, done, turns, user_turns = True, False, 0, 0
        verdict = None
        budget = self.rollout_config.response_length
        max_turns = self.rollout_config.multi_turn.max_assistant_turns
        request_id = uuid4().hex
        while not done and len(mask) < budget and not (max_turns and turns >= max_turns):
            out: TokenOutput = await self.server_manager.generate(
                request_id=request_id, prompt_ids=runtime_ids, sampling_params=sampling_params)
            turns += 1
            if out.log_probs is None or len(out.log_probs) != len(out.token_ids):
                raise BackendError("the generation server returned no log-probability for some tokens")
            merged, mask, lps = await self.ct_merge_assistant_token(
                runtime_ids, out.token_ids, mask, logprobs, assistant_logprobs=out.log_probs)
            runtime_ids, logprobs = merged.token_ids, lps or []
            tokenizer: Any = self.tokenizer
            text = tokenizer.decode(out.token_ids, skip_special_tokens=True)
            obs, reward, terminated, truncated, info = await self.loop.run_in_executor(None, env.step, text)
            done = bool(terminated or truncated)
            if info.get("reward_valid") is False or math.isnan(float(reward)):
                valid = False
            else:
                rewards.append(float(reward))
            verdict = info.get("verdict", verdict)
            if done or not valid or len(mask) >= budget:  # a masked sample needs no more turns
                break
            previous = messages + [{"role": "assistant", "content": text}]
            env_messages = info.get("messages")
            new = env_messages[len(previous):] if env_messages else [{"role": "user", "content": _obs_text(obs)}]
            updated = previous + [dict(m) for m in new]
            merged, mask2, lps2 = await self.ct_merge_context_msg(
                previous, updated, runtime_ids, mask, logprobs, tools=tools)
            if len(mask2) >= budget:
                break
            runtime_ids, mask, logprobs, messages = merged.token_ids, mask2, lps2 or [], updated
            user_turns += 1
        response_ids = runtime_ids[n_prompt:][:budget]
        mask, logprobs = mask[:budget], logprobs[:budget]
        if not valid:
            self._check_estimator()
            mask = [0] * len(mask)
        score = float(sum(rewards)) if valid else math.nan
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=mask,
            response_logprobs=logprobs,
            reward_score=score,
            num_turns=turns + user_turns + 1,
            metrics=AgentLoopMetrics(**metrics),
            extra_fields={
                "reward_valid": valid,
                "episode_done": done,
                "turn_scores": rewards,
                "env_id": extra["env_id"],
                "passed": bool(verdict.get("passed")) if isinstance(verdict, dict) else None,
            },
        )

    def _check_estimator(self) -> None:
        estimator = str(self.config.get("algorithm", {}).get("adv_estimator", ""))
        if estimator not in MASK_AWARE_ESTIMATORS:
            raise VerifierError(
                f"an infrastructure error masked this sample, but algorithm.adv_estimator={estimator!r} would "
                f"score it; set algorithm.adv_estimator={ESTIMATOR} (GRPO that leaves masked samples out)")


# ------------------------------------------------------------------------ advantage estimator
@register_adv_est(ESTIMATOR)
def compute_selfgym_grpo_advantage(token_level_rewards, response_mask, index=None, epsilon: float = 1e-6,
                                   norm_adv_by_std_in_grpo: bool = True, config=None, **_: Any):
    """GRPO's outcome advantage, leaving masked samples out of every group's statistics.

    A sample is masked when its score is NaN or its response mask is all zeros (an
    infrastructure error); it gets zero advantage. Every other sample is normalised by the mean
    and standard deviation of the valid samples of its group (``index``: verl's ``uid``).
    """
    if config is not None and hasattr(config, "get"):
        norm_adv_by_std_in_grpo = bool(config.get("norm_adv_by_std_in_grpo", norm_adv_by_std_in_grpo))
    raw = token_level_rewards.sum(dim=-1)
    valid = torch.isfinite(raw) & (response_mask.sum(dim=-1) > 0)
    scores = torch.where(valid, raw, torch.zeros_like(raw))
    index = np.arange(len(scores)) if index is None else index
    groups: dict[Any, list[int]] = defaultdict(list)
    for i in range(len(scores)):
        if valid[i]:
            groups[index[i]].append(i)
    adv = torch.zeros_like(scores)
    with torch.no_grad():
        for rows in groups.values():
            group = scores[rows]
            mean = group.mean() if len(rows) > 1 else torch.tensor(0.0)
            std = group.std() if len(rows) > 1 else torch.tensor(1.0)
            adv[rows] = (group - mean) / (std + epsilon) if norm_adv_by_std_in_grpo else group - mean
    adv = adv.unsqueeze(-1) * response_mask
    return adv, adv


# ------------------------------------------------------------------------------ reward function
_ENVS: dict[tuple[str, str], gym.Env] = {}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **_: Any) -> dict[str, Any]:
    """verl custom reward function for single-turn families: the completion is the env's one action.

    ``data_source`` is the env id (or ``extra_info["env_id"]``), ``ground_truth`` the task as JSON
    (``verl_rows`` writes both). Returns ``{"score", "reward_valid", "passed"}``; an
    infrastructure error gives ``score=nan`` and ``reward_valid=False``, never 0.
    """
    extra = dict(_plain(extra_info) or {})
    env_id = extra.get("env_id") or data_source
    env_kwargs = _loads(extra.get("env_kwargs")) or {}
    key = (env_id, json.dumps(env_kwargs, sort_keys=True, default=repr))
    env = _ENVS.get(key)
    if env is None:
        env = _ENVS[key] = make_env(env_id, **dict(env_kwargs or {}))
    env.reset(seed=0, options={"task": _loads(ground_truth)})
    _, reward, terminated, truncated, info = env.step(solution_str)
    if not (terminated or truncated):
        raise VerifierError(f"{env_id} did not end after one action; compute_score is for single-turn envs "
                            f"(use the '{AGENT_NAME}' agent loop for multi-turn ones)")
    valid = info.get("reward_valid") is not False and not math.isnan(float(reward))
    verdict = info.get("verdict") or {}
    return {"score": float(reward) if valid else math.nan, "reward_valid": valid, "passed": bool(verdict.get("passed"))}


# ------------------------------------------------------------------------------ datasets
def verl_rows(env_id: str, n: int, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
              tasks: Sequence[Task] | None = None, agent_name: str = AGENT_NAME) -> list[dict[str, Any]]:
    """``n`` rows in verl's RLHFDataset layout for ``env_id``.

    Columns: ``data_source`` (the env id), ``prompt`` (the env's first chat), ``agent_name``,
    ``reward_model`` (``{"style": "rule", "ground_truth": task JSON}``) and ``extra_info``
    (``env_id``, ``task``, ``env_kwargs`` as JSON, ``index``).
    """
    tasks = list(tasks) if tasks is not None else env_tasks(env_id, n, seed, env_kwargs)
    env = make_env(env_id, **dict(env_kwargs or {}))
    rows = []
    try:
        for i, task in enumerate(tasks):
            task_json = json.dumps(task.to_dict())
            rows.append({
                "data_source": env_id,
                "prompt": task_prompt(env_id, task, env=env),
                "agent_name": agent_name,
                "reward_model": {"style": "rule", "ground_truth": task_json},
                "extra_info": {"env_id": env_id, "task": task_json, "env_kwargs": json.dumps(env_kwargs or {}),
                               "index": i},
            })
    finally:
        env.close()
    return rows


def write_parquet(rows: list[dict[str, Any]], path: str | os.PathLike) -> str:
    """Save rows as the parquet file verl's ``data.train_files`` reads."""
    import datasets

    datasets.Dataset.from_list(rows).to_parquet(str(path))
    return str(path)


def agent_loop_config(path: str | os.PathLike) -> str:
    """Write the YAML for ``actor_rollout_ref.rollout.agent.agent_loop_config_path``.

    verl's workers import the agent loop from it, registering ``"selfgym"`` in their processes.
    """
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"- name: {AGENT_NAME}\n  _target_: {SelfgymAgentLoop.__module__}.SelfgymAgentLoop\n")
    return str(path)


# ------------------------------------------------------------------------------ server client
class OpenAIServerClient(LLMServerClient):
    """verl's server manager over one OpenAI-compatible ``/v1/completions`` server.

    The prompt goes as token ids and the answer's token ids and log-probabilities come back
    (llama.cpp's ``logprobs.content[].id``; vLLM's ``token_id:<n>`` tokens with
    ``--return-tokens-as-token-ids``). verl's sampling parameters map one to one
    (``top_k=-1`` means none); llama.cpp's own samplers (min-p) are switched off so the
    log-probabilities are those of verl's distribution. ``max_tokens`` defaults to
    ``rollout.response_length``.

    Args:
        config: verl's whole trainer config.
        base_url: the server root (``http://127.0.0.1:8080``).
        model: the model name to send.
    """

    def __init__(self, config: Any, base_url: str, model: str = "default", timeout: float = 600.0, **kwargs: Any):
        super().__init__(config, load_balancer_handle=None, **kwargs)
        url = base_url.rstrip("/")
        self.root = url[: -len("/v1")] if url.endswith("/v1") else url
        self.model = model
        self.timeout = timeout
        self.requests = 0

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.root + "/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise BackendError(f"{self.root}/v1/completions answered HTTP {exc.code}: "
                               f"{exc.read().decode('utf-8', 'replace')[:300]}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise BackendError(f"cannot reach the generation server at {self.root}: {exc}") from exc

    async def generate(self, request_id, *, prompt_ids: list[int], sampling_params: dict[str, Any],
                       **_: Any) -> TokenOutput:
        rollout = self.config.actor_rollout_ref.rollout
        top_k = int(sampling_params.get("top_k", -1) or -1)
        body = {
            "model": self.model,
            "prompt": [int(t) for t in prompt_ids],
            "max_tokens": int(sampling_params.get("max_tokens") or rollout.response_length),
            "temperature": float(sampling_params.get("temperature", 1.0)),
            "top_p": float(sampling_params.get("top_p", 1.0)),
            "top_k": top_k if top_k > 0 else 0,
            "min_p": 0.0,
            "repeat_penalty": float(sampling_params.get("repetition_penalty", 1.0)),
            "logprobs": 1,
        }
        if sampling_params.get("stop_token_ids"):
            body["stop_token_ids"] = list(sampling_params["stop_token_ids"])
        self.requests += 1
        resp = await asyncio.get_running_loop().run_in_executor(None, self._post, body)
        choice = (resp.get("choices") or [{}])[0]
        ids, lps = _completion_tokens(choice.get("logprobs") or {})
        if ids is None:
            raise BackendError(f"{self.root} returned no token ids; start vLLM with --return-tokens-as-token-ids")
        stop = "completed" if choice.get("finish_reason") in ("stop", "length") else None
        return TokenOutput(token_ids=ids, log_probs=lps, stop_reason=stop, extra_fields={})


def _completion_tokens(logprobs: dict[str, Any]) -> tuple[list[int] | None, list[float] | None]:
    """Token ids and log-probabilities from either server's ``logprobs`` object."""
    if "content" in logprobs:  # llama.cpp
        entries = logprobs["content"] or []
        return [int(e["id"]) for e in entries], [float(e["logprob"]) for e in entries]
    tokens = logprobs.get("tokens")
    if tokens is None:
        return None, None
    ids = []
    for t in tokens:  # vLLM: "token_id:<n>"
        if not (isinstance(t, str) and t.startswith("token_id:")):
            return None, None
        ids.append(int(t.split(":", 1)[1]))
    return ids, [float(x) for x in logprobs.get("token_logprobs") or []]
