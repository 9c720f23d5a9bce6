"""A game plus what each player has read: the state both PettingZoo envs and the runner share.

``Dialogue`` wraps ``rules.Game`` with two transcripts per seat, in OpenAI chat format:

- ``chats[seat]``: everything the seat has seen, rejected outputs and error feedback included.
  This is ``info["messages"]``, what an LLM policy is prompted with.
- ``clean[seat]``: the same dialogue without rejected outputs and their errors: the
  behaviour-cloning view of the game.

``received[seat]`` is the text the seat has received since its last accepted output (briefing,
partner messages, the proposal notice); ``pending(seat)`` adds the error for a rejected output,
if the last one was rejected. That is the observation's ``"text"``.

Under lm-selfplay's rules (``rules="lm-selfplay"``) the chats hold what that code's players are
prompted with: the briefing alone for the starter (no opening line), rejected outputs as
post-processed, and, when a player aborts, its ``[ABORT]`` message in both transcripts; the
clean transcripts then hold lm-selfplay's training logs (system, then every accepted output).
"""

from __future__ import annotations

import functools
from typing import Any

from selfgym.envs.negotiation import prompts, rules
from selfgym.envs.negotiation.rules import Context, Game, Move

from selfgym.spaces import truncate

_brief = functools.lru_cache(maxsize=4096)(prompts.system_prompt)


class Dialogue:
    """One game with per-seat transcripts. ``play(text)`` applies the current seat's output."""

    def __init__(self, context: Context, objective: str = "semi_competitive", starter: int = 0,
                 max_messages: int = rules.MAX_MESSAGES, max_invalid: int = rules.MAX_INVALID,
                 rules: str = "selfgym"):
        self.game = Game(context, objective, starter, max_messages, max_invalid, rules)
        self.rules = rules
        self.briefs = [_brief(context.counts, context.values[s], self.game.objective, rules) for s in (0, 1)]
        self.chats: list[list[dict[str, Any]]] = [[{"role": "system", "content": b}] for b in self.briefs]
        self.clean: list[list[dict[str, Any]]] = [[{"role": "system", "content": b}] for b in self.briefs]
        self.received = [""] * 2
        self.last_error: list[str | None] = [None, None]
        self.moves: list[Move] = []
        for seat in (0, 1):
            opening = prompts.opening_line(seat == starter, rules)
            self.received[seat] = f"{self.briefs[seat]}\n\n{opening}" if opening else self.briefs[seat]
            if seat == starter and opening:
                self.chats[seat].append({"role": "user", "content": opening})
                self.clean[seat].append({"role": "user", "content": opening})

    @property
    def current(self) -> int:
        return self.game.current

    @property
    def done(self) -> bool:
        return self.game.outcome is not None

    def play(self, text: str) -> Move:
        """Apply the current seat's output and update both transcripts."""
        move = self.game.play(text)
        seat, other = move.seat, 1 - move.seat
        self.moves.append(move)
        exact = self.rules == "lm-selfplay"
        self.chats[seat].append({"role": "assistant", "content": move.text if exact else text})
        if move.kind == rules.INVALID:
            feedback = prompts.error_message(move.error, self.rules)
            self.chats[seat].append({"role": "user", "content": feedback})
            self.last_error[seat] = move.error
            if exact and self.game.outcome == rules.ABORTED:
                abort = rules.ABORT_TOKEN
                self.chats[seat].append({"role": "assistant", "content": abort})
                self.clean[seat].append({"role": "assistant", "content": abort})
                for chat in (self.chats[other], self.clean[other]):
                    chat.append({"role": "user", "content": abort})
            return move
        self.last_error[seat] = None
        self.clean[seat].append({"role": "assistant", "content": move.text})
        self.received[seat] = ""
        for chat in (self.chats[other], self.clean[other]):
            chat.append({"role": "user", "content": move.delivered})
        self.received[other] = f"{self.received[other]}\n\n{move.delivered}" if self.received[other] else move.delivered
        return move

    def pending(self, seat: int) -> str:
        """What the seat has to read now: text received since its last accepted output, then
        the error for its last output if that was rejected."""
        error = self.last_error[seat]
        if error is None:
            return self.received[seat]
        feedback = prompts.error_message(error, self.rules)
        return f"{self.received[seat]}\n\n{feedback}" if self.received[seat] else feedback

    def transcript(self) -> str:
        """The whole game as text, as an onlooker sees it (proposals included)."""
        lines = [f"Items: {prompts.describe_items(self.game.context.counts)}",
                 f"Values: player_0 {list(self.game.context.values[0])}, player_1 {list(self.game.context.values[1])}",
                 f"Objective: {self.game.objective}; player_{self.game.starter} starts."
                 + (f" Rules: {self.rules}." if self.rules != "selfgym" else "")]
        for m in self.moves:
            shown = m.text if m.kind != rules.INVALID else f"(rejected: {m.error}) {truncate(m.text, 120)!r}"
            lines.append(f"player_{m.seat}: {shown}")
        if self.game.outcome == rules.ABORTED and self.rules == "lm-selfplay":
            lines.append(f"player_{self.moves[-1].seat}: {rules.ABORT_TOKEN}")
        if self.done:
            lines.append(f"Outcome: {self.game.outcome}; rewards {list(self.game.rewards())}")
        return "\n".join(lines)
