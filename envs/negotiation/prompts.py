"""Every sentence the negotiation game says to a player, in one place.

The env, the single-agent view and the runner all speak through these functions, so a prompt
change is one edit and transcripts stay consistent.

Two sets of texts, one per rule set (``rules.RULES``):

- ``"selfgym"``: selfgym's own briefing (with the "whole pool is worth 10" line), the opening
  line "You speak first." / "Your partner speaks first.", ``PROPOSAL_NOTICE`` and error texts.
- ``"lm-selfplay"``: the texts of the lm-selfplay code (Liao, Tomlin and Klein, 2024), carried
  over as facts and protocol tokens and written here in selfgym's own words: one briefing per
  objective (the cooperative and semi-competitive ones ask to end each output with ``[END]``,
  the competitive one does not, as there), no opening line (the starter's prompt is the
  briefing alone), a proposal notice that starts with ``[propose]``, and each error wrapped in a
  request to resend the output corrected without mentioning the correction.
"""

from __future__ import annotations

from collections.abc import Sequence

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

LM_SELFPLAY_PROPOSAL_NOTICE = (
    "[propose] Your partner has made its proposal. Reply now with a proposal of your own. If the two "
    "of you discussed which items you would get, propose exactly those. Remember that the proposals "
    "must be complementary: added item by item, they must equal the total counts.\n"
)

_LM_SELFPLAY_ROLE = {
    "semi_competitive": "You are a skilled negotiator",
    "cooperative": "You are a skilled collaborator",
    "competitive": "You are a skilled negotiator",
}
_LM_SELFPLAY_AIM = {
    "semi_competitive": "Your goal is to score as many points as you can. Reach a division you find fair, and "
    "argue against any suggestion that would leave you with too few points.",
    "cooperative": "Your goal is the total of both players' points: the more your partner scores, the better "
    "for you. Aim for the division that gives the two of you the most points together.",
    "competitive": "Your goal is to beat your partner by as many points as possible: every point your partner "
    "scores counts against you, so you may be tough and turn down your partner's suggestions. Still reach "
    "a valid division.",
}
_LM_SELFPLAY_REMINDER = {
    "semi_competitive": "Keep in mind: score as much as you can, but only with a deal your partner will accept.",
    "cooperative": "Keep in mind: make your joint score as large as possible, with a deal your partner will accept.",
    "competitive": "Keep in mind: make the gap between your points and your partner's as large as possible, "
    "with a deal your partner will accept.",
}


def lm_selfplay_system_prompt(counts: Sequence[int], values: Sequence[int], objective: str) -> str:
    """The private briefing of lm-selfplay's rules for one player (see the module docstring)."""
    nb, nh, nl = (int(x) for x in counts)
    vb, vh, vl = (int(x) for x in values)
    parts = [
        f"{_LM_SELFPLAY_ROLE[objective]} about to play a game with one other player. Together you will "
        "divide a shared pool of books, hats and balls. Every item type is worth some points to you; your "
        "partner's values are hidden from you. You learn how many items of each type there are and what "
        f"each is worth to you. {_LM_SELFPLAY_AIM[objective]}",
        "On your turn you either send your partner a message or submit a private proposal of how to split "
        "the items; your partner does the same, and neither sees the other's proposal. When the two "
        "proposals do not add up to the whole pool, both players score 0.",
        "A message looks like this:\n[message] Your message here.",
        "A proposal looks like this:\n[propose] (x books, y hats, z balls)",
        "x, y and z are the counts YOU keep, as whole numbers (an item cannot be split). To keep 1 book, "
        "2 hats and 0 balls, send:\n[propose] (1 books, 2 hats, 0 balls)",
    ]
    if objective != "competitive":
        parts.append("While you talk, leave no item unclaimed: your two proposals must together cover every item.")
    parts.append("Your partner must send the complementary proposal for either of you to score. With 3 books, "
                 "2 hats and 1 ball in total, your partner would send:\n[propose] (2 books, 0 hats, 1 balls)")
    if objective != "competitive":
        parts.append('Start every output with "[message]" or "[propose]". A proposal cannot be taken back, so '
                     "make sure you both agree on who takes what before you end the talk with a proposal.")
        parts.append('End every output with "[END]".')
    parts.append(
        f"Decide with your partner how to divide {nb} books, {nh} hats and {nl} balls. Talk it over first; "
        "propose only after a few messages.\n"
        f"Your values: a book is worth {vb}, a hat is worth {vh} and a ball is worth {vl}.\n"
        "You do not know your partner's values.\n"
        f"{_LM_SELFPLAY_REMINDER[objective]}"
    )
    return "\n\n".join(parts)


def proposal_notice(rules: str = "selfgym") -> str:
    """What a player reads after its partner's proposal (never the proposal itself)."""
    return LM_SELFPLAY_PROPOSAL_NOTICE if rules == "lm-selfplay" else PROPOSAL_NOTICE


ERROR_PREFIX = "Your last output was not accepted: "
ERROR_SUFFIX = " Send a corrected output; your partner has not seen the rejected one."


def _plural(n: int, name: str) -> str:
    return f"{n} {name}{'' if n == 1 else 's'}"


def describe_items(counts: Sequence[int]) -> str:
    """``"1 book, 2 hats and 3 balls"``."""
    parts = [_plural(int(n), name) for n, name in zip(counts, ITEM_NAMES, strict=False)]
    return f"{parts[0]}, {parts[1]} and {parts[2]}"


def system_prompt(counts: Sequence[int], values: Sequence[int], objective: str, rules: str = "selfgym") -> str:
    """The private briefing one player reads before the dialogue starts."""
    if rules == "lm-selfplay":
        return lm_selfplay_system_prompt(counts, values, objective)
    worth = ", ".join(f"each {name} is worth {int(v)}" for name, v in zip(ITEM_NAMES, values, strict=False))
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


def opening_line(starts: bool, rules: str = "selfgym") -> str | None:
    """What a player reads right after the briefing (nothing under lm-selfplay's rules)."""
    if rules == "lm-selfplay":
        return None
    return "You speak first." if starts else "Your partner speaks first."


LM_SELFPLAY_ERROR = ("Your last output could not be used. Send it again with this fix, and do not mention in any "
                     'way that anything was corrected:\n"{reason}"')


def error_message(reason: str, rules: str = "selfgym") -> str:
    """The feedback a player gets for an invalid output."""
    if rules == "lm-selfplay":
        return LM_SELFPLAY_ERROR.format(reason=reason)
    return f"{ERROR_PREFIX}{reason}{ERROR_SUFFIX}"


def format_proposal(keep: Sequence[int]) -> str:
    """``"[propose] (1 books, 0 hats, 2 balls)"``: the canonical proposal text."""
    return f"[propose] ({int(keep[0])} books, {int(keep[1])} hats, {int(keep[2])} balls)"
