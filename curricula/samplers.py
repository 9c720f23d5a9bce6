"""The classic samplers: uniform, success band / learnability, learning progress, head-tail.

Each is a ``TaskSampler`` (see ``selfgym.curricula.base``) that only writes ``weights()``: one
number per key, from the outcomes recorded by ``update``. Success estimates are shrunk towards
a prior, so a key seen once is not treated as certain, and an unseen key looks promising.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from selfgym.curricula.base import TaskSampler
from selfgym.errors import ConfigError


class UniformSampler(TaskSampler):
    """Every key equally likely, then a task uniformly within it. The baseline."""

    name = "uniform"


class LearnabilitySampler(TaskSampler):
    """Prefer tasks solved about half the time: weight ``4 p (1 - p)`` (the learnability reward).

    ``p`` is the key's recent success (last ``window`` scores) shrunk towards 0.5, so unseen keys
    get the top weight and are tried first. With ``band=(lo, hi)`` it becomes a success-band
    sampler: keys whose estimate lies outside the band drop to ``floor``.

    Args:
        band: optional ``(lo, hi)`` success band, ``0 <= lo < hi <= 1``.
        floor: the weight no key falls below (keeps every task reachable).
        prior_strength: how many pseudo-episodes at 0.5 the estimate starts from.
    """

    name = "learnability"

    def __init__(self, tasks, seed: int = 0, key=None, window: int = 20,
                 band: tuple[float, float] | None = None, floor: float = 0.01, prior_strength: float = 1.0):
        super().__init__(tasks, seed=seed, key=key, window=window)
        if band is not None and not (0.0 <= band[0] < band[1] <= 1.0):
            raise ConfigError(f"band must be (lo, hi) with 0 <= lo < hi <= 1, got {band!r}")
        if floor < 0:
            raise ConfigError(f"floor must be >= 0, got {floor}")
        self.band = tuple(band) if band is not None else None
        self.floor = float(floor)
        self.prior_strength = float(prior_strength)

    def recent_success(self) -> np.ndarray:
        """Per-key success over the last ``window`` episodes, shrunk towards 0.5."""
        s = self.prior_strength
        return (self.recent_sums + 0.5 * s) / (self.recent_lens + s)

    def weights(self) -> Sequence[float]:
        p = self.recent_success()
        w = 4.0 * p * (1.0 - p)
        if self.band is not None:
            lo, hi = self.band
            w = np.where((p >= lo) & (p <= hi), w, 0.0)
        return np.maximum(w, self.floor)


class LearningProgressSampler(TaskSampler):
    """Absolute learning progress: prefer keys whose success is changing.

    For each key the last ``window`` scores are split in two; progress is
    ``|mean(newer half) - mean(older half)|``. With probability ``epsilon`` a key is drawn
    uniformly (exploration); otherwise in proportion to progress. Keys with fewer than
    ``min_count`` outcomes are optimistic: they get the largest progress seen (or 1 when no key
    has any), so every key is measured before it can be ignored.

    Args:
        epsilon: exploration probability, in [0, 1].
        min_count: outcomes a key needs before its progress is measured (>= 2).
    """

    name = "learning_progress"

    def __init__(self, tasks, seed: int = 0, key=None, window: int = 20, epsilon: float = 0.1, min_count: int = 2):
        super().__init__(tasks, seed=seed, key=key, window=window)
        if not 0.0 <= epsilon <= 1.0:
            raise ConfigError(f"epsilon must be in [0, 1], got {epsilon}")
        if not 2 <= min_count <= window:
            raise ConfigError(f"min_count must be in 2..window ({window}), got {min_count}")
        self.epsilon = float(epsilon)
        self.min_count = int(min_count)
        self._lp = np.full(len(self.keys), np.nan)

    def on_update(self, key) -> None:
        if len(self._lp) < len(self.keys):
            self._lp = np.concatenate([self._lp, np.full(len(self.keys) - len(self._lp), np.nan)])
        recent = list(self.stats[key].recent)
        if len(recent) >= self.min_count:
            half = len(recent) // 2
            self._lp[self.key_index[key]] = abs(sum(recent[half:]) / (len(recent) - half) - sum(recent[:half]) / half)

    def progress(self) -> np.ndarray:
        """Absolute learning progress per key (NaN where a key has too few outcomes)."""
        return self._lp.copy()

    def weights(self) -> Sequence[float]:
        lp = self.progress()
        measured = lp[~np.isnan(lp)]
        optimism = float(measured.max()) if measured.size and measured.max() > 0 else 1.0
        w = np.where(np.isnan(lp), optimism, lp)
        if w.sum() <= 0:
            w = np.ones_like(w)
        w = w / w.sum()
        return (1.0 - self.epsilon) * w + self.epsilon / len(w)


class HeadTailSampler(TaskSampler):
    """Head-tail rebalancing: more samples for hard (tail) tasks, fewer for easy (head) ones.

    Self-improvement that samples uniformly drifts towards what it already solves (the head),
    because easy tasks yield most of the correct samples. This sampler counters that drift:
    weight ``floor + (1 - p) ** power`` with ``p`` the key's shrunk success estimate, and keys
    whose estimate is at least ``head_threshold`` are further multiplied by ``head_weight``.

    Args:
        power: how sharply weight grows with difficulty (> 0).
        head_threshold: success above which a key counts as head.
        head_weight: multiplier for head keys, in [0, 1].
        floor: the weight no key falls below.
    """

    name = "head_tail"

    def __init__(self, tasks, seed: int = 0, key=None, window: int = 20, power: float = 1.0,
                 head_threshold: float = 0.8, head_weight: float = 0.25, floor: float = 0.02):
        super().__init__(tasks, seed=seed, key=key, window=window)
        if power <= 0 or not 0 <= head_weight <= 1 or not 0 < head_threshold <= 1 or floor < 0:
            raise ConfigError("need power > 0, 0 <= head_weight <= 1, 0 < head_threshold <= 1, floor >= 0; got "
                              f"power={power}, head_weight={head_weight}, head_threshold={head_threshold}, floor={floor}")
        self.power, self.head_threshold, self.head_weight, self.floor = float(power), float(head_threshold), float(head_weight), float(floor)

    def weights(self) -> Sequence[float]:
        p = self.success_rates()
        w = (1.0 - p) ** self.power
        w = np.where(p >= self.head_threshold, w * self.head_weight, w)
        return self.floor + w
