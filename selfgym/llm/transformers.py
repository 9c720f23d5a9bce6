"""transformers backend: a local model folder, real batching, the model's own chat template.

``TransformersBackend(path)`` renders each chat with the tokenizer's chat template, left-pads the
batch and calls ``model.generate`` once for all of it. Log-probabilities are those of the
sampling distribution (after temperature and top-p), from ``compute_transition_scores``; with
greedy decoding (temperature 0) they are the model's raw log-softmax. ``score`` gives exact
log-probabilities of given continuations (what confidence rewards and trainers need).
Nothing is fetched from a hub: the path must be a local folder (``selfgym.models.default_model_dir()``
for the default model).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

from selfgym.errors import BackendError, DependencyError
from selfgym.llm.base import Chat, Completion, SamplingParams


class TransformersBackend:
    """A causal LM from a local folder (see the module docstring).

    Args:
        path: a local transformers model folder.
        device: "cpu", "cuda", ... (default: cuda when available).
        dtype: torch dtype name ("float32", "bfloat16"); default float32 on CPU, bfloat16 on GPU.
        max_batch: chats per ``generate`` call; larger batches are split.
        model / tokenizer: already-loaded objects to use instead of loading ``path``
            (a trainer passes its policy so rollouts sample from the weights being trained).
        threads: if given, ``torch.set_num_threads(threads)`` (process-wide). On a busy CPU one
            thread is far faster than several that spin-wait (measured on a shared 2-core VM:
            8 chats x 24 tokens in 5.4 s with 1 thread, 54 s with 2).
    """

    def __init__(self, path: str | os.PathLike, device: str | None = None, dtype: str | None = None,
                 max_batch: int = 32, model: Any = None, tokenizer: Any = None, threads: int | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise DependencyError("transformers", "transformers", "the transformers backend") from exc
        if threads:
            torch.set_num_threads(int(threads))
        path = str(path)
        if model is None and not os.path.isdir(path):
            raise BackendError(f"no model folder at {path!r} (the transformers backend loads local folders only)")
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = "float32" if self.device == "cpu" else "bfloat16"
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = model or AutoModelForCausalLM.from_pretrained(
            path, dtype=getattr(torch, dtype), local_files_only=True).to(self.device)
        self.model.eval()
        self.max_batch = max_batch
        self.name = f"transformers:{path}"
        self.calls = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    def prompt_ids(self, chat: Chat) -> list[int]:
        """Token ids of ``chat`` under the chat template, with the generation prompt.

        A chat ending in an assistant message is continued (that message is a prefill).
        """
        prefill = bool(chat) and chat[-1].get("role") == "assistant"  # continue a started reply
        ids = self.tokenizer.apply_chat_template(list(chat), add_generation_prompt=not prefill,
                                                 continue_final_message=prefill, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)

    def _stop_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        for tok in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                ids.add(tid)
        return [i for i in ids if i is not None]

    # ------------------------------------------------------------------ generation
    def generate(self, chats: Sequence[Chat], sampling: SamplingParams | None = None) -> list[Completion]:
        """Complete every chat; ``len(chats) * n`` completions, chat-major."""
        sampling = sampling or SamplingParams()
        self.calls += 1
        out: list[Completion] = []
        with self._lock:
            for start in range(0, len(chats), self.max_batch):
                out.extend(self._generate(list(chats[start:start + self.max_batch]), sampling))
        return out

    def _generate(self, chats: list[Chat], sampling: SamplingParams) -> list[Completion]:
        torch = self.torch
        prompts = [self.prompt_ids(c) for c in chats]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        greedy = sampling.temperature <= 0
        kwargs: dict[str, Any] = dict(
            input_ids=input_ids, attention_mask=mask, max_new_tokens=sampling.max_tokens,
            do_sample=not greedy, num_return_sequences=sampling.n, pad_token_id=pad,
            eos_token_id=self._stop_ids(), return_dict_in_generate=True, output_scores=True,
        )
        if not greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.no_grad():
            res = self.model.generate(**kwargs)
            scores = self.model.compute_transition_scores(res.sequences, res.scores, normalize_logits=True)
            tops = None
            if sampling.top_logprobs:
                logp = torch.stack(res.scores, dim=1).float().log_softmax(-1)
                tops = logp.topk(sampling.top_logprobs, dim=-1)
        stops = set(self._stop_ids())
        completions: list[Completion] = []
        for row in range(res.sequences.shape[0]):
            gen = res.sequences[row, width:].tolist()
            lps = scores[row].tolist()
            ids: list[int] = []
            finish = "length"
            for tid in gen:
                if tid in stops:
                    finish = "stop"
                    break
                ids.append(tid)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            if sampling.stop:
                for s in sampling.stop:
                    if s in text:
                        text = text[: text.index(s)]
                        finish = "stop"
            top = None
            if tops is not None:
                top = [{self.tokenizer.decode([int(t)]): float(v) for t, v in zip(tops.indices[row, k], tops.values[row, k])}
                       for k in range(len(ids))]
            prompt = prompts[row // sampling.n]
            completions.append(Completion(
                text=text, token_ids=ids, logprobs=[float(x) for x in lps[: len(ids)]] if sampling.logprobs else None,
                finish_reason=finish, prompt_token_ids=prompt, top_logprobs=top,
                usage={"prompt_tokens": len(prompt), "completion_tokens": len(ids), "total_tokens": len(prompt) + len(ids)},
            ))
        return completions

    def score(self, chats: Sequence[Chat], continuations: Sequence[str]) -> list[list[float]]:
        """Log-probability of each continuation's tokens as the assistant's reply to its chat."""
        torch = self.torch
        results: list[list[float]] = []
        with self._lock, torch.no_grad():
            for chat, text in zip(chats, continuations):
                prompt = self.prompt_ids(chat)
                cont = self.tokenizer(text, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([prompt + cont], device=self.device)
                logits = self.model(ids).logits[0, len(prompt) - 1: -1].float().log_softmax(-1)
                results.append(logits.gather(-1, torch.tensor(cont, device=self.device)[:, None])[:, 0].tolist())
        return results
