"""Episode rewards for multi-turn code answering.

Each attempt t = 1..T gets a turn score r_t (the fraction of checks passed, or 1/0 for passed /
not passed). The reward modes turn the scores into the episode's return, paid on the terminal
step (earlier steps pay 0, so the return is exactly the mode's value):

- ``binary``: 1 if the last attempt passed every check, else 0.
- ``fraction``: the fraction of checks the last attempt passed.
- ``cocos``: accumulated improvement, R = sum_t 0.5^(T-t) * (r_t - r_{t-1}) with r_0 = 0 and
  fractional turn scores: the last turn's gain counts fully, earlier gains are discounted.
- ``score``: a SCoRe-style bonus for self-correction, R = r_T + alpha * (r_T - r_1) with binary
  turn scores: improving from a wrong first attempt is rewarded, breaking a right one is punished.
"""

from __future__ import annotations

from selfgym.errors import ConfigError
from selfgym.types import Verdict

REWARD_MODES = ("binary", "fraction", "cocos", "score")


def check_mode(mode: str) -> str:
    if mode not in REWARD_MODES:
        raise ConfigError(f"reward_mode must be one of {REWARD_MODES}, got {mode!r}")
    return mode


def turn_score(verdict: Verdict, mode: str) -> float:
    """r_t of one attempt under ``mode`` (fractional for fraction/cocos, binary otherwise)."""
    if mode in ("fraction", "cocos"):
        return float(verdict.fraction_passed)
    return 1.0 if verdict.passed else 0.0


def episode_return(scores: list[float], mode: str, alpha: float = 1.0) -> float:
    """The return of an episode whose attempts scored ``scores`` (see the module docstring)."""
    check_mode(mode)
    if not scores:
        return 0.0
    if mode in ("binary", "fraction"):
        return float(scores[-1])
    if mode == "cocos":
        t_last = len(scores)
        prev, total = 0.0, 0.0
        for t, r in enumerate(scores, 1):
            total += 0.5 ** (t_last - t) * (r - prev)
            prev = r
        return total
    return float(scores[-1] + alpha * (scores[-1] - scores[0]))
