"""Deal or No Deal's action set: talk, or propose the split you keep.

The env reads free text (``rules.parse_output``): ``[message] <text>`` or ``[propose] (x books,
y hats, z balls)``. These typed actions render exactly that text, so prompts, tool schemas and
trainer methods (``selfgym.actions``) are all derived from this one declaration.
"""

from __future__ import annotations

from typing import Any

from selfgym.actions import ActionSet


def send_message(message: str) -> str:
    """Send a message to the other player.

    Args:
        message: what to say (one short message).
    """
    return f"[message] {' '.join(message.split())}"


def propose(books: int, hats: int, balls: int) -> str:
    """Propose a final split, naming the items YOU keep; your partner gets the rest.

    Once one player has proposed, the other must answer with a proposal too; the deal is made
    when the two proposals agree.

    Args:
        books: how many books you keep.
        hats: how many hats you keep.
        balls: how many balls you keep.
    """
    return f"[propose] ({int(books)} books, {int(hats)} hats, {int(balls)} balls)"


ACTIONS = ActionSet.text(
    [send_message, propose],
    help_text="Write each output as free text: [message] <your message>, or [propose] (x books, y hats, z balls).",
)


def action_set(env: Any = None) -> ActionSet:
    """The action set of every negotiation env (the AEC, Parallel and single-seat views)."""
    return ACTIONS
