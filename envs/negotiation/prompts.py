"""Every sentence the negotiation game says to a player, in one place.

The env, the single-agent view and the runner all speak through these functions, so a prompt
change is one edit and transcripts stay consistent.
"""

from __future__ import annotations

from typing import Sequence

ITEM_NAMES = ("book", "hat", "ball")

OBJECTIVE_GOALS = {
    "semi_competitive": "Your score is the total value, by YOUR values, of the items you end up with. "
    "Your partner's score does not affect yours.",
    "cooperative": "Your score is the SUM of both players' values: the value you get by your values plus "
    "the value your partner gets by theirs. Work together to make that sum as large as possible.",
    "competitive": "Your score is the value you get by your values MINUS the value your partner gets by "
    "theirs. Beat your partner by as much as you can.",
}

PROPOSAL_NOTICE = (
    "[propose] Your partner has submitted a private proposal. You must now reply with a proposal of "
    "your own, in the form [propose] (x books, y hats, z balls). If the two of you agreed on a split, "
    "propose your side of it: the two proposals only make a deal if together they account for every "
    "item exactly."
)

ERROR_PREFIX = "Your last output was not accepted: "
ERROR_SUFFIX = " Send a corrected output; your partner has not seen the rejected one."


def _plural(n: int, name: str) -> str:
    return f"{n} {name}{'' if n == 1 else 's'}"


def describe_items(counts: Sequence[int]) -> str:
    """``"1 book, 2 hats and 3 balls"``."""
    parts = [_plural(int(n), name) for n, name in zip(counts, ITEM_NAMES)]
    return f"{parts[0]}, {parts[1]} and {parts[2]}"


def system_prompt(counts: Sequence[int], values: Sequence[int], objective: str) -> str:
    """The private briefing one player reads before the dialogue starts."""
    worth = ", ".join(f"each {name} is worth {int(v)}" for name, v in zip(ITEM_NAMES, values))
    return (
        "You are negotiating with a partner over how to divide a shared pool of items.\n"
        f"The pool holds {describe_items(counts)}.\n"
        f"Your private values: {worth}. Your partner has different values that you cannot see; "
        "the whole pool is worth 10 points to each of you.\n"
        f"{OBJECTIVE_GOALS[objective]}\n\n"
        "Each turn, send exactly one output, in one of two forms:\n"
        "  [message] <your message to the partner>\n"
        "  [propose] (x books, y hats, z balls)   -- the items YOU keep; your partner gets the rest\n"
        "Talk before proposing: a proposal cannot open the game. Once either player proposes, the "
        "other must answer with a proposal, and the game ends. If the two proposals add up to the "
        "whole pool, that split is the deal; otherwise nobody scores. Nobody scores either after "
        "five rejected outputs in a row or when the dialogue runs out of turns."
    )


def opening_line(starts: bool) -> str:
    """What a player reads right after the briefing."""
    return "You speak first." if starts else "Your partner speaks first."


def error_message(reason: str) -> str:
    """The feedback a player gets for an invalid output."""
    return f"{ERROR_PREFIX}{reason}{ERROR_SUFFIX}"


def format_proposal(keep: Sequence[int]) -> str:
    """``"[propose] (1 books, 0 hats, 2 balls)"``: the canonical proposal text."""
    return f"[propose] ({int(keep[0])} books, {int(keep[1])} hats, {int(keep[2])} balls)"
