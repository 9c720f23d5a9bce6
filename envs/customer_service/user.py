"""The customer seat: a scripted user (the default) and an LLM user over any selfgym backend.

Both are ``Agent``s that act from the user seat's observation (the agent's latest reply) and
info: ``info["scenario"]`` holds the task's private facts (reason for the call, what the user
knows and does not know, how they behave) and ``info["messages"]`` the user's side of the chat
(system prompt with the scenario; the agent's words as ``user``, the customer's own as
``assistant``), ready for a chat model. A user ends the conversation by saying ``STOP``.

The scripted user states its request first (in the first person), reveals a private fact only
when the agent asks for it (name and zip, email, user id, order or reservation ids), agrees when
asked to confirm, and says ``STOP`` when the agent offers more help, transfers it to a human, or
has not engaged with the request for ``patience`` turns in a row.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Sequence

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.llm.base import LLMBackend, SamplingParams

STOP = "###STOP###"
GREETING = "Hi! How can I help you today?"

_NAME = re.compile(r"\b(?:You are|Your name is|name is)\s+([A-Z][a-z]+)\s+([A-Z][a-z]+)")
_USER_ID = re.compile(r"\b([a-z]+_[a-z]+_\d{3,5})\b")
_ZIP = re.compile(r"zip\s*(?:code)?\s*(?:is\s*)?(\d{5})", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+\w")
_ORDER = re.compile(r"#W\d{7}")
_RESERVATION = re.compile(r"\b(?=[A-Z0-9]{6}\b)(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])(?!HAT\d)[A-Z0-9]{6}\b")
_PRONOUNS = [(r"\byou are\b", "I am"), (r"\byou're\b", "I'm"), (r"\byou've\b", "I've"), (r"\byou'd\b", "I'd"),
             (r"\byou'll\b", "I'll"), (r"\byourself\b", "myself"), (r"\byours\b", "mine"), (r"\byour\b", "my"),
             (r"\byou were\b", "I was")]
_OBJECT_AFTER = {"help", "helps", "helping", "told", "tell", "telling", "give", "gave", "send", "sent", "ask", "asked",
                 "let", "call", "contact", "for", "to", "with", "about", "from", "charge", "charged", "offer",
                 "offered", "refund", "refunded", "email", "show", "remind", "pay", "paid", "by", "at", "of",
                 "assist", "transfer", "transferred", "bother", "upset", "convince", "get"}
_CONFIRM = ("confirm", "proceed", "would you like me to", "shall i", "should i", "go ahead", "yes/no", "(yes)",
            "do you want me to", "is that correct", "is this correct")
_CLOSING = ("anything else", "something else", "else i can help", "have a great day", "goodbye", "have a nice day")


@functools.lru_cache(maxsize=4096)
def first_person(text: str) -> str:
    """Turn the scenario's second-person wording ("You want to ...") into the user's own words."""
    out = text
    for pattern, repl in _PRONOUNS:
        out = re.sub(pattern, lambda m, r=repl: r if m.group(0)[0].islower() or r == "I" else r[0].upper() + r[1:], out,
                     flags=re.I)

    def you(m: re.Match) -> str:
        before = re.findall(r"([A-Za-z']+)\s*$", out[:m.start()])
        return "me" if before and before[-1].lower() in _OBJECT_AFTER else "I"

    out = re.sub(r"\byou\b", you, out, flags=re.I)
    out = out.strip().lstrip(".,;: ")
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)


def facts(scenario: dict[str, str]) -> dict[str, Any]:
    """The private facts a scripted user can reveal, read from the scenario text."""
    return dict(_facts(*(scenario.get(k) or "" for k in ("known_info", "reason_for_call", "task_instructions"))))


@functools.lru_cache(maxsize=4096)
def _facts(known: str, reason: str, instructions: str) -> dict[str, Any]:
    everything = " ".join((known, reason, instructions))
    name = _NAME.search(known)
    user_id = _USER_ID.search(known)
    zip_code = _ZIP.search(known)
    email = _EMAIL.search(known)
    return {
        "name": (name.group(1), name.group(2)) if name else None,
        "user_id": user_id.group(1) if user_id else None,
        "zip": zip_code.group(1) if zip_code else None,
        "email": email.group(0) if email else None,
        "orders": list(dict.fromkeys(_ORDER.findall(everything))),
        "reservations": list(dict.fromkeys(_RESERVATION.findall(everything))),
    }


class ScriptedUser(Agent):
    """A rule-based customer (see the module docstring); deterministic, no model needed.

    Args:
        patience: consecutive turns without progress before the user gives up (says STOP).
    """

    name = "scripted_user"

    def __init__(self, patience: int = 3):
        if patience < 1:
            raise ConfigError(f"patience must be >= 1, got {patience!r}")
        self.patience = patience

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        scenario = info.get("scenario") or {}
        known = facts(scenario)
        said_before = [m["content"] for m in info.get("messages", []) if m["role"] == "assistant"]
        request = first_person(scenario.get("reason_for_call", "I need help with my account."))
        if not said_before:
            return f"Hi. {request}"
        text = str(observation or "").lower()
        if "transfer" in text and ("human" in text or "agent" in text):
            return f"Okay, thank you. {STOP}"
        answers = self._answers(text, known)
        if answers:
            return " ".join(answers)
        if any(k in text for k in _CONFIRM):
            return "Yes, please go ahead."
        if any(k in text for k in _CLOSING):
            return f"No, that's all. Thank you! {STOP}"
        stalled = 0
        for msg in reversed(said_before):
            if not msg.startswith("Could you help me with my request?"):
                break
            stalled += 1
        if stalled + 1 >= self.patience:
            return f"I'll try again another time. {STOP}"
        return f"Could you help me with my request? {request}"

    @staticmethod
    def _answers(text: str, known: dict[str, Any]) -> list[str]:
        out: list[str] = []
        name_zip = None
        if known["name"] and known["zip"]:
            name_zip = f"My name is {known['name'][0]} {known['name'][1]} and my zip code is {known['zip']}."
        asks_email = "email" in text
        asks_user_id = "user id" in text or "user_id" in text
        asks_name = "name" in text or "zip" in text
        if asks_email:
            if known["email"]:
                out.append(f"My email is {known['email']}.")
            else:
                out.append("I don't remember my email address.")
                if name_zip and not asks_name:
                    out.append(name_zip)
        if asks_user_id:
            if known["user_id"]:
                out.append(f"My user id is {known['user_id']}.")
            elif name_zip and not asks_name:
                out.append(f"I don't know my user id. {name_zip}")
        if asks_name:
            if name_zip:
                out.append(name_zip)
            elif known["user_id"] and not asks_user_id:
                out.append(f"My user id is {known['user_id']}.")
        if ("order" in text and ("id" in text or "number" in text)) and known["orders"]:
            out.append(f"The order id is {', '.join(known['orders'])}.")
        if (("reservation" in text or "confirmation" in text) and ("id" in text or "number" in text or "code" in text)
                and known["reservations"]):
            out.append(f"The reservation id is {', '.join(known['reservations'])}.")
        return out


USER_SYSTEM_PROMPT = """You play a customer who contacts a customer-service agent. Stay in character.

Rules:
- Speak as the customer, one short message at a time, in your own words.
- Give a piece of the information below only when the agent asks for it; never invent facts you were not given.
- Follow the behaviour described under "How you behave".
- When your request is fully handled, or the agent transfers you to a human, or you cannot go on, write {stop} alone.

Why you are calling:
{reason}

What you know:
{known}

What you do not know:
{unknown}

How you behave:
{behaviour}"""


def user_system_prompt(scenario: dict[str, str]) -> str:
    """The system prompt of the customer seat for a scenario."""
    return USER_SYSTEM_PROMPT.format(stop=STOP, reason=scenario.get("reason_for_call") or "-",
                                     known=scenario.get("known_info") or "-", unknown=scenario.get("unknown_info") or "-",
                                     behaviour=scenario.get("task_instructions") or "-")


class LLMUser(Agent):
    """A customer played by a language model: any ``LLMBackend`` or a spec for ``make_backend``.

    It answers from ``info["messages"]`` (the user seat's chat, whose system prompt holds the
    scenario), so one ``generate`` call serves a whole batch of conversations.
    """

    name = "llm_user"

    def __init__(self, backend: LLMBackend | str = "default", sampling: SamplingParams | None = None):
        if isinstance(backend, str):
            from selfgym.llm import make_backend

            backend = make_backend(backend)
        if not hasattr(backend, "generate"):
            raise ConfigError(f"backend must be an LLMBackend (with generate) or a spec string, got {backend!r}")
        self.backend = backend
        self.sampling = sampling or SamplingParams(temperature=0.7, max_tokens=200)

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        chats = [list(info["messages"]) for info in infos]
        sampling = SamplingParams(**{**self.sampling.__dict__, "n": 1})
        completions = self.backend.generate(chats, sampling)
        return [c.text.strip() for c in completions]
