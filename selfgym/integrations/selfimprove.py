"""Pieces the self-improvement examples share: batched sampling, supervised fine-tuning on
chosen samples, and the statistics that say whether a change is larger than its noise.

Plain PyTorch and transformers (no trainer framework), so every step is visible:

- ``load_policy(path)``: model and tokenizer (float32 on CPU, bfloat16 on CUDA), left padding.
- ``generate(model, tokenizer, chats, n, temperature)``: ``n`` completions per chat, batched.
- ``sft(model, tokenizer, examples)``: AdamW on (chat, completion) pairs; the loss covers the
  completion's tokens only (the prompt's tokens are masked with -100).
- ``wilson(k, n)``: the 95% Wilson score interval of a success rate.
- ``paired_bootstrap(before, after)``: the mean paired difference of two 0/1 vectors over the
  same items with its 95% bootstrap interval.
- ``split_of(task_id)``: "train" or "heldout" from a stable hash of the id.
- ``majority(answers)``: the most common parsed answer and its share (label-free pseudo-label).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

Chat = list[dict[str, str]]


def load_policy(path: str = "default"):
    """(model, tokenizer) from a local transformers folder, or the default model for "default"."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from selfgym.models import default_model_dir

    folder = str(default_model_dir()) if path == "default" else path
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # float32 weights on every device: fine-tuning bfloat16 weights directly loses updates of
    # lr ~1e-5 to rounding (bfloat16 keeps 8 significant bits), so the model would not change.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tokenizer


def render(tokenizer, chat: Chat, prefill: str = "") -> str:
    """The chat as the model's template renders it, ready for the assistant's reply.

    ``prefill`` is text the assistant's reply starts with (e.g. ``"<answer>"``); the model
    continues it, and callers put it back in front of the continuation to get the whole reply.
    """
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + prefill


def generate(model, tokenizer, chats: Sequence[Chat], n: int = 1, temperature: float = 0.0,
             max_new_tokens: int = 48, batch_size: int = 32, top_p: float = 1.0, prefill: str = "",
             share_prefix: bool = False) -> list[list[str]]:
    """``n`` completions per chat (greedy when ``temperature`` is 0), in batches of ``batch_size`` rows.

    With ``prefill`` the reply starts with that text and only the continuation is returned.
    With ``share_prefix`` the tokens every prompt starts with (system message, worked examples)
    are run through the model once and their key/value cache is reused by every row; rows are
    batched by prompt length so that no row needs padding. The inputs are the same token for
    token; on CPU, where the prompt dominates the cost, a long shared prefix makes this several
    times faster.
    """
    import torch

    was_training = model.training
    model.eval()
    rows = [render(tokenizer, c, prefill) for c in chats for _ in range(n)]
    kwargs: dict[str, Any] = {"do_sample": False}
    if temperature > 0:
        kwargs = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    texts: list[str] = []
    if share_prefix and rows:
        texts = _generate_shared_prefix(model, tokenizer, rows, max_new_tokens, batch_size, kwargs)
    for i in range(len(texts), len(rows), batch_size):  # the plain path (or none left)
        enc = tokenizer(rows[i:i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **kwargs)
        texts.extend(tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    if was_training:
        model.train()
    return [texts[i * n:(i + 1) * n] for i in range(len(chats))]


def _generate_shared_prefix(model, tokenizer, rows: Sequence[str], max_new_tokens: int, batch_size: int,
                            kwargs: dict[str, Any]) -> list[str]:
    """Completions of ``rows`` reusing the cache of their common token prefix ([] when there is none)."""
    import copy

    import torch

    ids = [tokenizer(r, add_special_tokens=False)["input_ids"] for r in rows]
    first = ids[0]
    shared = min(len(x) for x in ids) - 1  # every row keeps at least one token of its own
    for x in ids[1:]:
        k = 0
        while k < shared and x[k] == first[k]:
            k += 1
        shared = k
    if shared < 1:
        return []
    with torch.no_grad():
        prefix_cache = model(torch.tensor([first[:shared]], device=model.device), use_cache=True).past_key_values
    # Copies of one prompt (several samples of a chat) run their own tokens once, then share that
    # cache too; distinct prompts of equal length are batched together, so no row needs padding.
    copies: dict[tuple[int, ...], list[int]] = {}
    for i, x in enumerate(ids):
        copies.setdefault(tuple(x), []).append(i)
    chunks: list[tuple[list[int], bool]] = []
    by_length: dict[int, list[int]] = {}
    for x, idxs in copies.items():
        if len(idxs) > 1:
            chunks += [(idxs[s:s + batch_size], True) for s in range(0, len(idxs), batch_size)]
        else:
            by_length.setdefault(len(x), []).append(idxs[0])
    for idxs in by_length.values():
        chunks += [(idxs[s:s + batch_size], False) for s in range(0, len(idxs), batch_size)]
    texts: list[str] = [""] * len(rows)
    for chunk, same in chunks:
        cache = copy.deepcopy(prefix_cache)
        if same and len(ids[chunk[0]]) - 1 > shared:  # the prompt's own tokens but the last, once
            own = torch.tensor([ids[chunk[0]][shared:-1]], device=model.device)
            with torch.no_grad():
                cache = model(own, past_key_values=cache, use_cache=True).past_key_values
        cache.batch_repeat_interleave(len(chunk))
        input_ids = torch.tensor([ids[i] for i in chunk], device=model.device)
        with torch.no_grad():
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 past_key_values=cache, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id, **kwargs)
        for i, text in zip(chunk, tokenizer.batch_decode(out[:, input_ids.shape[1]:], skip_special_tokens=True),
                           strict=True):
            texts[i] = text
    return texts


def sft(model, tokenizer, examples: Sequence[tuple[Chat, str]], epochs: int = 1, learning_rate: float = 2e-5,
        batch_size: int = 8, seed: int = 0, max_length: int = 4096, prefill: str = "") -> dict[str, Any]:
    """Fine-tune on (chat, completion) pairs; loss on the completion (and its end-of-turn token) only.

    With ``prefill`` the completion continues that text, which is part of the (masked) prompt.

    Returns the number of examples and optimiser steps, the mean loss of the first and last
    step, and the summed L2 change of the weights (so a caller can tell that training happened).
    """
    import torch

    if not examples:
        return {"examples": 0, "steps": 0, "loss_first": None, "loss_last": None, "delta_l2": 0.0}
    eos = tokenizer.eos_token or ""
    rows = []
    for chat, completion in examples:
        prompt_ids = tokenizer(render(tokenizer, chat, prefill), add_special_tokens=False)["input_ids"]
        answer = completion.strip() if not prefill else completion.rstrip()  # a prefill's continuation keeps its lead
        answer_ids = tokenizer(answer + eos, add_special_tokens=False)["input_ids"]
        if len(prompt_ids) + len(answer_ids) > max_length:  # cutting would drop the answer, silently
            raise ValueError(f"a training example has {len(prompt_ids) + len(answer_ids)} tokens, more than "
                             f"max_length={max_length}; raise max_length or shorten the prompt")
        ids = prompt_ids + answer_ids
        labels = [-100] * len(prompt_ids) + answer_ids
        rows.append((ids, labels))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    rng = random.Random(seed)
    pad = tokenizer.pad_token_id
    losses: list[float] = []
    for _ in range(epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            batch = [rows[j] for j in order[i:i + batch_size]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in batch], device=model.device)
            labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch], device=model.device)
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch], device=model.device)
            loss = _completion_loss(model, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
    model.eval()
    delta = math.sqrt(sum(float((p.detach().float() - before[k].float()).pow(2).sum())
                          for k, p in model.named_parameters()))
    return {"examples": len(rows), "steps": len(losses), "loss_first": losses[0], "loss_last": losses[-1],
            "delta_l2": delta}


def _completion_loss(model, ids, mask, labels):
    """Mean next-token loss over the labelled (completion) positions, as ``model(labels=...).loss``.

    The output layer runs only where a label is set: a prompt of hundreds of tokens before a short
    answer would otherwise cost a vocabulary-wide logit row (and its gradient) for every prompt token.
    """
    import torch

    decoder, head = model.get_decoder(), model.get_output_embeddings()
    if decoder is None or head is None:  # a model without the usual split: the library's own loss
        return model(input_ids=ids, attention_mask=mask, labels=labels).loss
    hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != -100
    logits = head(hidden[keep]).float()
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of k successes in n trials."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(before: Sequence[float], after: Sequence[float], iters: int = 10000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``after - before`` over paired items, with its 95% percentile bootstrap interval."""
    if len(before) != len(after) or not before:
        raise ValueError("paired_bootstrap needs two non-empty vectors of the same length")
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(iters))
    return (sum(diffs) / n, means[int(0.025 * iters)], means[int(0.975 * iters) - 1])


def split_of(task_id: str, heldout_share: float = 0.5) -> str:
    """"heldout" or "train" for a task id, from a stable hash (the same on every machine and run)."""
    h = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "heldout" if h < heldout_share else "train"


def majority(answers: Sequence[Hashable | None]) -> tuple[Hashable | None, float]:
    """The most common non-None answer and its share of all answers (None, 0.0 when none parse)."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None, 0.0
    top = max(counts.items(), key=lambda kv: (kv[1], str(kv[0])))
    return top[0], top[1] / len(answers)


def rate_row(name: str, wins: Sequence[float]) -> dict[str, Any]:
    """A table row: the success rate of 0/1 ``wins`` with its Wilson interval."""
    k, n = int(sum(wins)), len(wins)
    lo, hi = wilson(k, n)
    return {"name": name, "k": k, "n": n, "rate": k / max(1, n), "lo": lo, "hi": hi}


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows from ``rate_row`` as an aligned text table."""
    width = max([len(r["name"]) for r in rows] + [5])
    lines = [f"{'':<{width}}  success        95% interval"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {r['rate']:6.1%} ({r['k']:>3}/{r['n']})  [{r['lo']:.1%}, {r['hi']:.1%}]")
    return "\n".join(lines)
