"""Negotiation self-play training: the reusable parts of ``examples/selfplay_negotiation.py``.

One policy (a transformers causal LM held in memory) improves at Deal or No Deal by filtered
behaviour cloning on its own games (Liao, Tomlin and Klein, 2024). A round is:

1. ``play_round``: ``selfplay_games`` games where the policy sits in both seats, plus
   ``pool_games`` games against a ``PartnerPool`` (earlier snapshots of the policy and fixed
   scripted partners), the policy alternating seats. All games run side by side, so every turn
   is one batched ``generate`` per policy.
2. ``filter_for_bc`` (``selfgym.envs.negotiation.runner``): per seat, the policy's games scoring
   strictly above that seat's mean reward over the round, each as that seat's clean dialogue.
3. ``sft_on_examples``: one short epoch of TRL's ``SFTTrainer`` on those dialogues, with the
   loss on the policy's own turns only (``assistant_only_loss``).
4. ``Policy.save_snapshot``: the trained weights go into a folder that joins the pool.

``Policy`` samples through ``TransformersBackend(model=..., tokenizer=...)`` over the very
model object the trainer updates, so every round's games come from the current weights.

Nothing here is specific to the 135M default model: ``Policy.load(path)`` takes any local
transformers folder (a bigger model on a GPU).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from selfgym.agent import Agent
from selfgym.envs.negotiation import metrics
from selfgym.envs.negotiation.partners import make_partner
from selfgym.envs.negotiation.runner import GameRecord, filter_for_bc, play_games, policy_name
from selfgym.errors import ConfigError, require

#: What each round logs about a set of games (keys of ``metrics.summarize``).
ROUND_METRICS = ("games", "agreement_rate", "score_0", "score_1", "joint_score", "pareto_rate", "invalid_outputs",
                 "abort_rate", "score_mean", "score_median", "deal_score_mean", "deal_score_median", "dialogue_length",
                 "pareto_rate_objective")

# ChatML with {% generation %} markers around each assistant turn (its end-of-turn token included),
# so TRL can mask the loss to the policy's own turns. Used only where it renders exactly as the
# model's own template (checked by ``training_chat_template``); SmolLM2's template is such a case.
CHATML_TRAINING_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_PROBE_CHATS = (
    [{"role": "system", "content": "Brief."}, {"role": "user", "content": "You speak first."},
     {"role": "assistant", "content": "[message] Hi."}, {"role": "user", "content": "Hello."},
     {"role": "assistant", "content": "[propose] (1 books, 0 hats, 2 balls)"}],
    [{"role": "user", "content": "Your partner speaks first."}, {"role": "assistant", "content": "[message] Ok."}],
)


def training_chat_template(tokenizer: Any) -> str | None:
    """A chat template with ``{% generation %}`` markers that renders exactly as ``tokenizer``'s own.

    Returns the tokenizer's template when it already has markers, TRL's patched template for the
    models TRL knows, or ``CHATML_TRAINING_TEMPLATE`` when that renders the probe dialogues
    identically; None when no such template is known (train on whole dialogues then).
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    own = tokenizer.chat_template
    if own is None:
        return None
    if has_generation_markers(own):
        return own
    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        patched = None
    for candidate in (patched, CHATML_TRAINING_TEMPLATE):
        if candidate is not None and _renders_like(tokenizer, candidate):
            return candidate
    return None


def _renders_like(tokenizer: Any, template: str) -> bool:
    for chat in _PROBE_CHATS:
        for gen in (False, True):
            want = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen)
            got = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=gen, chat_template=template)
            if want != got:
                return False
    return True


class Policy:
    """The policy being trained: a causal LM and its tokenizer in memory, and an agent that plays it.

    ``agent`` is an ``LLMAgent`` over ``TransformersBackend(model=self.model, tokenizer=...)``:
    it samples from whatever weights the model holds now. Call ``eval_mode()`` before playing
    after a training step.
    """

    def __init__(self, model: Any, tokenizer: Any, sampling: Any = None, name: str = "policy", path: str | None = None,
                 rules: str = "selfgym"):
        from selfgym.agents.llm import LLMAgent
        from selfgym.envs.negotiation.llm import templates
        from selfgym.llm.transformers import TransformersBackend

        self.model, self.tokenizer, self.path = model, tokenizer, path
        device = str(next(model.parameters()).device)
        self.backend = TransformersBackend(path or "in-memory", device=device, model=model, tokenizer=tokenizer)
        self.agent = LLMAgent(self.backend, sampling=sampling, name=name, templates=templates(rules))

    @classmethod
    def load(cls, path: str | os.PathLike, sampling: Any = None, name: str = "policy", device: str | None = None,
             dtype: str | None = None, rules: str = "selfgym") -> Policy:
        """Load a local transformers folder (``"default"``: the converted default model)."""
        torch = require("torch", "transformers", "training a policy")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if str(path) == "default":
            from selfgym.models import default_model_dir

            path = default_model_dir()
        path = str(path)
        if not os.path.isdir(path):
            raise ConfigError(f"--model must be 'default' or a local transformers folder; {path!r} is not a folder")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or ("float32" if device == "cpu" else "bfloat16")
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), local_files_only=True).to(device)
        return cls(model, tokenizer, sampling=sampling, name=name, path=path, rules=rules)

    def eval_mode(self) -> None:
        """Switch the model to inference (after training) and the tokenizer to left padding."""
        self.model.eval()
        self.tokenizer.padding_side = "left"

    def parameters_copy(self) -> dict[str, Any]:
        """A detached copy of every parameter (to measure what training changed)."""
        return {k: v.detach().clone() for k, v in self.model.named_parameters()}

    def weight_change(self, before: dict[str, Any]) -> dict[str, float]:
        """How many parameter tensors differ from ``before``, and the L2 norm of the change."""
        torch = require("torch", "transformers", "training a policy")
        changed, sq = 0, 0.0
        for k, v in self.model.named_parameters():
            d = (v.detach().float() - before[k].float())
            if bool(torch.any(d != 0)):
                changed += 1
                sq += float((d * d).sum())
        return {"tensors_changed": changed, "tensors": len(before), "delta_l2": sq ** 0.5}

    def save_snapshot(self, folder: str | os.PathLike) -> str:
        """Save weights and tokenizer into ``folder`` (replaced if present); returns its path."""
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        self.model.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))
        return str(folder)


class PartnerPool:
    """Opponents for the pool games: fixed scripted partners and the latest saved snapshots.

    Args:
        scripted: names from ``selfgym.envs.negotiation.partners.PARTNERS``.
        max_snapshots: how many of the most recent snapshots play (older ones stay on disk).
        sampling: sampling parameters of the snapshot agents.
        device: where snapshot models are loaded (default: the policy's device choice).
    Snapshots load lazily and stay loaded while they are among the latest ``max_snapshots``.
    """

    def __init__(self, scripted: Sequence[str] = ("fair", "greedy"), max_snapshots: int = 2, sampling: Any = None,
                 device: str | None = None, seed: int = 0):
        if max_snapshots < 0:
            raise ConfigError(f"max_snapshots must be >= 0, got {max_snapshots}")
        self.scripted = [make_partner(s, seed=seed + k) for k, s in enumerate(scripted)]
        self.max_snapshots = int(max_snapshots)
        self.sampling, self.device = sampling, device
        self.snapshots: list[str] = []
        self._loaded: dict[str, Agent] = {}

    def add_snapshot(self, folder: str) -> None:
        """A snapshot folder joins the pool (the oldest beyond ``max_snapshots`` stop playing)."""
        self.snapshots.append(str(folder))
        active = set(self.active_snapshots())
        for old in [p for p in self._loaded if p not in active]:
            del self._loaded[old]

    def active_snapshots(self) -> list[str]:
        return self.snapshots[-self.max_snapshots:] if self.max_snapshots else []

    def agents(self) -> list[Agent]:
        """The opponents of this round: scripted partners, then the active snapshots."""
        from selfgym.agents.llm import LLMAgent
        from selfgym.llm.transformers import TransformersBackend

        out = list(self.scripted)
        for path in self.active_snapshots():
            if path not in self._loaded:
                backend = TransformersBackend(path, device=self.device)
                self._loaded[path] = LLMAgent(backend, sampling=self.sampling, name=f"snapshot:{Path(path).name}")
            out.append(self._loaded[path])
        return out

    def names(self) -> list[str]:
        return [policy_name(a) for a in self.scripted] + [f"snapshot:{Path(p).name}" for p in self.active_snapshots()]


@dataclass
class RoundGames:
    """The games of one round, split into self-play and pool games, and the BC examples."""

    records: list[GameRecord]
    selfplay: list[GameRecord]
    vs_pool: list[GameRecord]
    bc_examples: list[dict[str, Any]]


def play_round(policy: Agent, pool: Sequence[Agent], *, selfplay_games: int, pool_games: int, seed: int,
               objective: str = "semi_competitive", max_messages: int = 50, batch_size: int = 64,
               rules: str = "selfgym", contexts: Any = None, bc_filter: str | None = None) -> RoundGames:
    """Self-play games (the policy in both seats, both trainable), then games against ``pool``
    (one opponent drawn per game, the policy alternating seats, only its seat trainable), all
    played side by side. Game ``i`` uses seed ``seed + i``. Returns the games and the BC filter."""
    if selfplay_games < 0 or pool_games < 0 or selfplay_games + pool_games < 1:
        raise ConfigError(f"need at least one game (selfplay_games={selfplay_games}, pool_games={pool_games})")
    if pool_games and not pool:
        raise ConfigError("pool_games > 0 needs at least one opponent in the pool")
    rng = np.random.default_rng(seed)
    seatings, trainable = [], []
    for _ in range(selfplay_games):
        seatings.append((policy, policy))
        trainable.append((True, True))
    for i in range(pool_games):
        other = pool[int(rng.integers(len(pool)))]
        seatings.append((policy, other) if i % 2 == 0 else (other, policy))
        trainable.append((True, False) if i % 2 == 0 else (False, True))
    n = len(seatings)
    records = play_games(seatings, seeds=[seed + i for i in range(n)], trainable=trainable, batch_size=batch_size,
                         env_kwargs={"objective": objective, "max_messages": max_messages, "rules": rules,
                                     "contexts": contexts})
    return RoundGames(records, records[:selfplay_games], records[selfplay_games:], filter_for_bc(records, bc_filter))


def round_metrics(records: Sequence[GameRecord]) -> dict[str, Any]:
    """Agreement rate, mean score per seat, joint score, Pareto-optimal share and invalid outputs."""
    if not records:
        return {"games": 0}
    summary = metrics.summarize(r.metrics for r in records)
    return {k: summary[k] for k in ROUND_METRICS}


def learner_metrics(records: Sequence[GameRecord]) -> dict[str, Any]:
    """The policy's own side of its games: mean score and reward over the seats it played."""
    scores = [r.metrics["scores"][s] for r in records for s in (0, 1) if r.trainable[s]]
    rewards = [r.metrics["rewards"][s] for r in records for s in (0, 1) if r.trainable[s]]
    invalid = [r.metrics["invalid_outputs"][s] for r in records for s in (0, 1) if r.trainable[s]]
    def mean(xs):
        return float(np.mean(xs)) if xs else float("nan")
    return {"seats": len(scores), "score": mean(scores), "reward": mean(rewards), "invalid_outputs": mean(invalid)}


def sft_on_examples(policy: Policy, examples: Sequence[dict[str, Any]], *, output_dir: str, epochs: float = 1.0,
                    learning_rate: float = 1e-5, batch_size: int = 4, max_length: int = 1024, seed: int = 0,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One short SFTTrainer run on the BC examples' dialogues; returns what it did.

    The loss covers the policy's own turns only where a training chat template is known
    (``training_chat_template``), else whole dialogues (reported as ``assistant_only_loss``).
    ``extra`` holds further ``SFTConfig`` fields. The model is left in eval mode.
    """
    torch = require("torch", "trl", "behaviour cloning")
    datasets = require("datasets", "trl", "behaviour cloning")
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    if not examples:
        raise ConfigError("no behaviour-cloning examples to train on")
    template = training_chat_template(policy.tokenizer)
    assistant_only = template is not None
    if assistant_only and template != policy.tokenizer.chat_template:
        policy.tokenizer.chat_template = template  # renders the same text; only adds the loss markers
    dataset = datasets.Dataset.from_dict({"messages": [e["messages"] for e in examples]})
    on_cpu = next(policy.model.parameters()).device.type == "cpu"
    config = SFTConfig(
        output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, max_length=max_length, assistant_only_loss=assistant_only,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=on_cpu,
        bf16=(not on_cpu) and torch.cuda.is_bf16_supported(), seed=seed, **(extra or {}),
    )
    policy.tokenizer.padding_side = "right"
    trainer = SFTTrainer(model=policy.model, args=config, train_dataset=dataset, processing_class=policy.tokenizer)
    result = trainer.train()
    policy.eval_mode()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"examples": len(examples), "steps": int(result.global_step), "train_loss": float(result.training_loss),
            "losses": losses, "assistant_only_loss": assistant_only}


def bc_summary(examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many BC examples per seat, and their rewards against the round means."""
    out: dict[str, Any] = {"examples": len(examples)}
    out["cutoff"] = examples[0]["cutoff"] if examples else None
    for seat in (0, 1):
        mine = [e for e in examples if e["seat"] == seat]
        out[f"seat_{seat}"] = {"examples": len(mine), "round_mean": mine[0]["round_mean"] if mine else None,
                               "min_reward": min((e["reward"] for e in mine), default=None)}
    return out


# ---------------------------------------------------------------------- GRPO on both seats
#
# One shared policy plays both seats. Each trainable seat of each game is one training sample:
# its whole clean dialogue tokenized with the chat template, the seat's own outputs as the
# completion (mask 1) and everything it read between them as environment tokens (mask 0), with
# the seat's own reward. Games come in groups on the same context; a seat's advantage is its
# reward minus the mean reward of the same seat over its group (the per-seat baseline),
# optionally divided by that group's standard deviation.


@dataclass
class SeatSample:
    """One seat of one game as a GRPO sample (see above)."""

    game: int
    seat: int
    task_id: str
    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    reward: float
    advantage: float = 0.0


def _seat_chat(chat: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    chat = [dict(m) for m in chat]
    while chat and chat[-1]["role"] != "assistant":
        chat.pop()
    return chat


def seat_sequence(tokenizer: Any, chat: Sequence[dict[str, Any]],
                  template: str | None = None) -> tuple[list[int], list[int], list[int]]:
    """``(prompt_ids, completion_ids, env_mask)`` of one seat's dialogue: the prompt ends where the
    seat's first output starts; the mask is 1 on the seat's own output tokens, 0 elsewhere."""
    template = template or training_chat_template(tokenizer)
    if template is None:
        raise ConfigError("GRPO on both seats needs a chat template with {% generation %} markers for this tokenizer")
    enc = tokenizer.apply_chat_template(list(_seat_chat(chat)), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True, chat_template=template)
    ids, mask = list(enc["input_ids"]), list(enc["assistant_masks"])
    if 1 not in mask:
        raise ConfigError("the seat has no output of its own to train on")
    first = mask.index(1)
    return ids[:first], ids[first:], mask[first:]


def seat_samples(records: Sequence[GameRecord], tokenizer: Any, *, scale: bool = False,
                 template: str | None = None) -> list[SeatSample]:
    """GRPO samples for every trainable seat that spoke, with per-seat group baselines.

    Groups are the games on the same task; the advantage of a sample is its reward minus the
    mean reward of the same seat in its group (divided by that group's standard deviation, plus
    1e-4, with ``scale``). A group of one game has advantage 0.
    """
    template = template or training_chat_template(tokenizer)
    samples = []
    for r in records:
        for seat in (0, 1):
            if not r.trainable[seat] or not any(m["role"] == "assistant" for m in r.clean[seat]):
                continue
            p, c, m = seat_sequence(tokenizer, r.clean[seat], template)
            samples.append(SeatSample(r.index, seat, r.task_id, p, c, m, float(r.metrics["rewards"][seat])))
    groups: dict[tuple[str, int], list[SeatSample]] = {}
    for s in samples:
        groups.setdefault((s.task_id, s.seat), []).append(s)
    for group in groups.values():
        rewards = np.array([s.reward for s in group])
        mean, std = float(rewards.mean()), float(rewards.std())
        for s in group:
            s.advantage = (s.reward - mean) / (std + 1e-4 if scale else 1.0)
    return samples


def play_groups(policy: Agent, tasks: Sequence[Any], *, group_size: int, seed: int = 0,
                objective: str = "semi_competitive", rules: str = "selfgym", max_messages: int = 50,
                batch_size: int = 64) -> list[GameRecord]:
    """``group_size`` self-play games of ``policy`` on each task (both seats trainable), side by side.
    Game ``k`` of a group uses seed ``seed + k`` (so the starter varies within a group)."""
    if group_size < 2:
        raise ConfigError(f"group_size must be >= 2 (a baseline needs a group), got {group_size}")
    seatings = [(policy, policy)] * (len(tasks) * group_size)
    game_tasks = [t for t in tasks for _ in range(group_size)]
    seeds = [seed + k for _ in tasks for k in range(group_size)]
    return play_games(seatings, seeds=seeds, tasks=game_tasks, batch_size=batch_size,
                      env_kwargs={"objective": objective, "max_messages": max_messages, "rules": rules})


def grpo_step(policy: Policy, samples: Sequence[SeatSample], optimizer: Any, *,
              max_length: int = 2048) -> dict[str, Any]:
    """One on-policy GRPO step of the project's own runner over both seats' samples.

    Loss: ``-mean_i(advantage_i * mean over the sample's own tokens of log p(token))``, i.e. the
    policy gradient with ratio 1 (the samples were just drawn from these weights), no KL term.
    """
    torch = require("torch", "transformers", "GRPO")
    if not samples:
        raise ConfigError("no samples to train on")
    device = next(policy.model.parameters()).device
    policy.model.train()
    optimizer.zero_grad()
    total, n_tokens = 0.0, 0
    for s in samples:
        ids = (s.prompt_ids + s.completion_ids)[:max_length]
        mask = ([0] * len(s.prompt_ids) + s.env_mask)[:max_length]
        x = torch.tensor([ids], device=device)
        logits = policy.model(input_ids=x).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, x[:, 1:, None])[..., 0]
        m = torch.tensor([mask[1:]], device=device, dtype=logp.dtype)
        per_sample = (logp * m).sum() / m.sum().clamp(min=1)
        loss = -s.advantage * per_sample / len(samples)
        loss.backward()
        total += float(loss.detach())
        n_tokens += int(m.sum())
    optimizer.step()
    policy.eval_mode()
    return {"samples": len(samples), "loss": total, "trained_tokens": n_tokens,
            "seats": {seat: sum(1 for s in samples if s.seat == seat) for seat in (0, 1)}}


class SelfPlayRollout:
    """A TRL ``GRPOTrainer`` ``rollout_func``: prompts are ``"<task_id>#seat=<k>"``; the policy plays
    ``group_size`` self-play games per task (once, shared by both seats' prompts), and the k-th
    occurrence of a prompt gets that seat's sample from the k-th game: its token ids, its env mask
    (``env_mask``: own tokens 1) and its reward (``seat_reward``, read by ``seat_reward``)."""

    def __init__(self, policy: Policy, tasks: Sequence[Any], *, group_size: int, seed: int = 0, **play_kwargs: Any):
        self.policy, self.group_size, self.seed, self.play_kwargs = policy, group_size, seed, play_kwargs
        self.tasks = {t.id: t for t in tasks}
        self.samples: dict[str, dict[int, list[SeatSample]]] = {}
        self.records: list[GameRecord] = []

    @staticmethod
    def prompt(task_id: str, seat: int) -> str:
        return f"{task_id}#seat={seat}"

    def _ensure(self, task_id: str) -> None:
        if task_id in self.samples:
            return
        was_training = self.policy.model.training
        self.policy.eval_mode()
        records = play_groups(self.policy.agent, [self.tasks[task_id]], group_size=self.group_size,
                              seed=self.seed + len(self.records), **self.play_kwargs)
        if was_training:
            self.policy.model.train()
        self.records.extend(records)
        by_seat: dict[int, list[SeatSample]] = {0: [], 1: []}
        for s in seat_samples(records, self.policy.tokenizer):
            by_seat[s.seat].append(s)
        self.samples[task_id] = by_seat

    def __call__(self, prompts: Sequence[Any], trainer: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {"prompt_ids": [], "completion_ids": [], "logprobs": None, "env_mask": [],
                               "seat_reward": []}
        seen: dict[str, int] = {}
        for p in prompts:
            task_id, _, seat = str(p).rpartition("#seat=")
            self._ensure(task_id)
            k = seen.get(p, 0)
            seen[p] = k + 1
            group = self.samples[task_id][int(seat)]
            if not group:
                raise ConfigError(f"seat {seat} never spoke in any game on {task_id}: no sample to train on")
            s = group[k % len(group)]
            out["prompt_ids"].append(s.prompt_ids)
            out["completion_ids"].append(s.completion_ids)
            out["env_mask"].append(s.env_mask)
            out["seat_reward"].append(s.reward)
        return out


def seat_reward(prompts: Any = None, completions: Any = None, seat_reward: Sequence[float] = (),
                **_: Any) -> list[float | None]:
    """The GRPO reward function of ``SelfPlayRollout``: each sample's own seat reward."""
    return [float(r) for r in seat_reward]


def trl_grpo_step(policy: Policy, tasks: Sequence[Any], *, group_size: int, output_dir: str, seed: int = 0,
                  learning_rate: float = 1e-5, config: dict[str, Any] | None = None,
                  **play_kwargs: Any) -> dict[str, Any]:
    """One TRL ``GRPOTrainer`` step on both seats' samples of ``group_size`` self-play games on each task.

    The dataset has one prompt per (task, seat); a trainer batch holds both seats of every task,
    and TRL's group normalisation runs over ``group_size`` samples of the same seat and task: the
    per-seat baseline. No reference model (``beta=0``); gradient checkpointing only off the CPU;
    ``config`` holds further ``GRPOConfig`` fields. The model is left in eval mode.
    """
    torch = require("torch", "trl", "GRPO")
    datasets = require("datasets", "trl", "GRPO")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.grpo_trainer import GRPOTrainer

    template = training_chat_template(policy.tokenizer)
    if template is not None and template != policy.tokenizer.chat_template:
        policy.tokenizer.chat_template = template  # renders the same text; only adds the loss markers
    rollout = SelfPlayRollout(policy, tasks, group_size=group_size, seed=seed, **play_kwargs)
    prompts = [SelfPlayRollout.prompt(t.id, s) for t in tasks for s in (0, 1)]
    on_cpu = next(policy.model.parameters()).device.type == "cpu"
    config = GRPOConfig(
        output_dir=output_dir, num_generations=group_size, per_device_train_batch_size=2 * group_size * len(tasks),
        steps_per_generation=1, max_steps=1, learning_rate=learning_rate, beta=0.0, logging_steps=1, report_to=[],
        save_strategy="no", use_cpu=on_cpu, bf16=(not on_cpu) and torch.cuda.is_bf16_supported(), seed=seed,
        shuffle_dataset=False, gradient_checkpointing=not on_cpu, **(config or {}),
    )
    policy.tokenizer.padding_side = "left"
    trainer = GRPOTrainer(model=policy.model, reward_funcs=[seat_reward], args=config,
                          train_dataset=datasets.Dataset.from_dict({"prompt": prompts}),
                          processing_class=policy.tokenizer, rollout_func=rollout)
    result = trainer.train()
    policy.eval_mode()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    return {"steps": int(result.global_step), "loss": logs[-1]["loss"] if logs else None, "games": len(rollout.records),
            "samples": {seat: sum(len(v[seat]) for v in rollout.samples.values()) for seat in (0, 1)}}
