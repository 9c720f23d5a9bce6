"""B-STaR: choose the sampling temperature and reward threshold that balance exploration and
exploitation in self-taught reasoning.

Self-training samples several answers per query, keeps those a reward (a verifier, a reward
model) rates at or above a threshold, and trains on them. Two things decide whether an
iteration helps: *exploration*, how many distinct correct answers the sampling finds (hotter
sampling finds more, up to a point), and *exploitation*, how clean the kept set is (a stricter
threshold keeps fewer wrong answers). B-STaR monitors both with one number per query,

    balance = min(n_correct_unique / n_star, 1) * (n_correct_kept / n_kept)

where ``n_correct_unique`` counts distinct correct answers among the kept ones, ``n_kept`` all
kept answers, and ``n_star`` how many correct answers per query are enough. A query with nothing
kept scores 0. Averaged over a batch, the pair (temperature, threshold) with the highest balance
is used for the next iteration.

``choose_settings`` does the search over samples already drawn at each temperature;
``collect_samples`` draws them from any ``LLMBackend`` with a checker for correctness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from selfgym.errors import ConfigError


@dataclass(frozen=True)
class Sample:
    """One sampled answer: its text, whether the checker accepts it, and its reward score.

    ``score`` is what the threshold is applied to (a reward model's score, a verifier's partial
    credit); when None, the correctness itself (1.0 or 0.0) is used.
    """

    text: str
    correct: bool
    score: float | None = None

    @property
    def value(self) -> float:
        return float(self.score) if self.score is not None else float(self.correct)


def _normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def query_balance(samples: Sequence[Sample], threshold: float, n_star: int) -> float:
    """The balance score of one query's samples under ``threshold`` (see the module docstring)."""
    kept = [s for s in samples if s.value >= threshold]
    if not kept:
        return 0.0
    correct = [s for s in kept if s.correct]
    unique = len({_normalise(s.text) for s in correct})
    return min(unique / n_star, 1.0) * (len(correct) / len(kept))


def balance_score(queries: Sequence[Sequence[Sample]], threshold: float, n_star: int = 4) -> float:
    """Mean balance score over a batch of queries (each a list of samples)."""
    if n_star < 1:
        raise ConfigError(f"n_star must be >= 1, got {n_star}")
    if not queries:
        raise ConfigError("balance_score needs at least one query")
    return float(np.mean([query_balance(q, threshold, n_star) for q in queries]))


@dataclass
class BStarChoice:
    """The chosen setting and the whole grid: ``grid[(temperature, threshold)] = balance``."""

    temperature: float
    threshold: float
    balance: float
    grid: dict[tuple[float, float], float] = field(default_factory=dict)

    def table(self) -> str:
        """The grid as a Markdown table (rows: temperatures, columns: thresholds)."""
        temps = sorted({t for t, _ in self.grid})
        ths = sorted({h for _, h in self.grid})
        lines = ["| temperature | " + " | ".join(f"thr {h:g}" for h in ths) + " |",
                 "|---|" + "---:|" * len(ths)]
        for t in temps:
            lines.append(f"| {t:g} | " + " | ".join(f"{self.grid[(t, h)]:.3f}" for h in ths) + " |")
        return "\n".join(lines)


def choose_settings(samples_by_temperature: Mapping[float, Sequence[Sequence[Sample]]],
                    thresholds: Sequence[float] | None = None, n_star: int = 4) -> BStarChoice:
    """Pick the (temperature, threshold) with the highest mean balance score.

    Args:
        samples_by_temperature: for each temperature, one list of samples per query (the same
            queries, in the same order, at every temperature).
        thresholds: reward thresholds to try; default: every distinct score seen (so no useful
            cut is missed).
        n_star: correct answers per query that count as enough exploration.
    Ties go to the lower temperature, then the lower threshold (the cheaper, safer choice).
    """
    if not samples_by_temperature:
        raise ConfigError("choose_settings needs samples for at least one temperature")
    if thresholds is None:
        thresholds = sorted({s.value for qs in samples_by_temperature.values() for q in qs for s in q})
    if not thresholds:
        raise ConfigError("no thresholds to try (no samples?)")
    grid = {(float(t), float(h)): balance_score(qs, h, n_star)
            for t, qs in samples_by_temperature.items() for h in thresholds}
    (t, h), best = max(sorted(grid.items()), key=lambda kv: kv[1])
    return BStarChoice(t, h, best, grid)


def collect_samples(backend, chats: Sequence[list[dict]], check: Callable[[int, str], bool],
                    temperatures: Sequence[float], n: int = 8, max_tokens: int = 256,
                    score: Callable[[int, str], float] | None = None, seed: int | None = 0) -> dict[float, list[list[Sample]]]:
    """Sample ``n`` answers per chat at each temperature from an ``LLMBackend``.

    ``check(i, text)`` says whether ``text`` answers query ``i`` correctly (a verifier);
    ``score(i, text)``, when given, is the reward the threshold applies to (else correctness).
    """
    from selfgym.llm.base import SamplingParams

    out: dict[float, list[list[Sample]]] = {}
    for t in temperatures:
        completions = backend.generate(list(chats), SamplingParams(temperature=float(t), n=n, max_tokens=max_tokens, seed=seed))
        if len(completions) != len(chats) * n:
            raise ConfigError(f"backend returned {len(completions)} completions for {len(chats)} chats x n={n}")
        out[float(t)] = [[Sample(c.text, bool(check(i, c.text)), None if score is None else float(score(i, c.text)))
                          for c in completions[i * n:(i + 1) * n]] for i in range(len(chats))]
    return out
