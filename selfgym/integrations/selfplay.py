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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from selfgym.agent import Agent
from selfgym.errors import ConfigError, require
from selfgym.envs.negotiation import metrics
from selfgym.envs.negotiation.partners import make_partner
from selfgym.envs.negotiation.runner import GameRecord, filter_for_bc, play_games, policy_name

#: What each round logs about a set of games (keys of ``metrics.summarize``).
ROUND_METRICS = ("games", "agreement_rate", "score_0", "score_1", "joint_score", "pareto_rate", "invalid_outputs")

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

    def __init__(self, model: Any, tokenizer: Any, sampling: Any = None, name: str = "policy", path: str | None = None):
        from selfgym.agents.llm import LLMAgent
        from selfgym.llm.transformers import TransformersBackend

        self.model, self.tokenizer, self.path = model, tokenizer, path
        device = str(next(model.parameters()).device)
        self.backend = TransformersBackend(path or "in-memory", device=device, model=model, tokenizer=tokenizer)
        self.agent = LLMAgent(self.backend, sampling=sampling, name=name)

    @classmethod
    def load(cls, path: str | os.PathLike, sampling: Any = None, name: str = "policy", device: str | None = None,
             dtype: str | None = None) -> "Policy":
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
        return cls(model, tokenizer, sampling=sampling, name=name, path=path)

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
               objective: str = "semi_competitive", max_messages: int = 50, batch_size: int = 64) -> RoundGames:
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
                         env_kwargs={"objective": objective, "max_messages": max_messages})
    return RoundGames(records, records[:selfplay_games], records[selfplay_games:], filter_for_bc(records))


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
    mean = (lambda xs: float(np.mean(xs)) if xs else float("nan"))
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
    from trl import SFTConfig, SFTTrainer

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
    for seat in (0, 1):
        mine = [e for e in examples if e["seat"] == seat]
        out[f"seat_{seat}"] = {"examples": len(mine), "round_mean": mine[0]["round_mean"] if mine else None,
                               "min_reward": min((e["reward"] for e in mine), default=None)}
    return out
