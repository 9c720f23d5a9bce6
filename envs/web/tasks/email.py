"""An email client (inbox, message view, reply and forward forms) and a social-media feed."""

from __future__ import annotations

from selfgym.envs.web.page import Page
from selfgym.envs.web.tasks.base import FIRST, LAST, WORDS, SimTask, click_id, fill_id, pick, pick_k, register_task, submit


def _inbox_payload(rng, n: int = 5) -> dict:
    senders = pick_k(rng, FIRST, n)
    emails = [{"sender": s, "subject": " ".join(pick_k(rng, WORDS, 2)).capitalize(),
               "body": " ".join(pick_k(rng, WORDS, 6))} for s in senders]
    return {"emails": emails, "target": pick(rng, senders)}


class _Inbox(SimTask):
    """Shared email client; subclasses say what counts as done (``mode``)."""

    max_steps = 15
    mode = ""

    @classmethod
    def build(cls, payload):
        page = Page("Email")
        inbox = page.add(None, "list", "Inbox")
        view = page.add(None, "article", "", hidden=True)
        page.state.update(open=None, compose=None, deleted=[], starred=[])
        target = payload["target"]

        def show_inbox(p, e=None):
            inbox.hidden, view.hidden = False, True
            p.state["open"] = p.state["compose"] = None

        def open_email(p, e):
            mail = e.data["mail"]
            p.state["open"] = mail
            inbox.hidden, view.hidden = True, False
            view.clear()
            view.name = mail["subject"]
            p.add(view, "text", f"From: {mail['sender']}")
            p.add(view, "text", mail["body"])
            for label, fn in (("Reply", compose), ("Forward", compose), ("Delete", delete), ("Star", star), ("Back", show_inbox)):
                p.add(view, "button", label, on_click=fn)

        def delete(p, e):
            mail = p.state["open"]
            p.state["deleted"].append(mail["sender"])
            for item in inbox.children:
                if item.data["mail"] is mail:
                    item.hidden = True
            show_inbox(p)
            if cls.mode == "delete":
                p.finish(1.0 if mail["sender"] == target else -1.0, "deleted")

        def star(p, e):
            mail = p.state["open"]
            p.state["starred"].append(mail["sender"])
            e.name = "Unstar"
            if cls.mode == "star":
                p.finish(1.0 if mail["sender"] == target else -1.0, "starred")

        def compose(p, e):
            mail = p.state["open"]
            p.state["compose"] = e.name
            view.clear()
            to = p.add(view, "textbox", "To", value=mail["sender"] if e.name == "Reply" else "")
            msg = p.add(view, "textbox", "Message", value="" if e.name == "Reply" else mail["body"])

            def send(q, b):
                ok = mail["sender"] == target and q.state["compose"] == cls.want_compose()
                if cls.mode == "reply":
                    ok = ok and msg.value.strip() == payload["text"]
                if cls.mode == "forward":
                    ok = ok and to.value.strip() == payload["to"]
                q.finish(1.0 if ok else -1.0, "sent")

            p.add(view, "button", "Send", on_click=send)

        for mail in payload["emails"]:
            page.add(inbox, "link", f"{mail['sender']}: {mail['subject']}", data={"mail": mail}, on_click=open_email)
        return page

    @classmethod
    def want_compose(cls):
        return {"reply": "Reply", "forward": "Forward"}.get(cls.mode)

    @classmethod
    def cheat(cls, page, payload):
        target = payload["target"]
        mail = page.state["open"]
        if mail is None:
            return click_id(next(e for e in page.find_all("link") if e.data["mail"]["sender"] == target))
        if mail["sender"] != target:
            return click_id(page.find("button", "Back"))
        if cls.mode == "delete":
            return click_id(page.find("button", "Delete"))
        if cls.mode == "star":
            return click_id(page.find("button", "Star"))
        if page.state["compose"] is None:
            return click_id(page.find("button", cls.want_compose()))
        to, msg = page.find("textbox", "To"), page.find("textbox", "Message")
        if cls.mode == "forward" and to.value != payload["to"]:
            return fill_id(to, payload["to"])
        if cls.mode == "reply" and msg.value != payload["text"]:
            return fill_id(msg, payload["text"])
        return click_id(page.find("button", "Send"))


@register_task
class EmailDelete(_Inbox):
    name = "email-inbox-delete"
    mode = "delete"
    description = "Open the email from a sender and delete it."

    @classmethod
    def generate(cls, rng):
        p = _inbox_payload(rng)
        return p | {"instruction": f"Find the email by {p['target']} and delete it."}


@register_task
class EmailStar(_Inbox):
    name = "email-inbox-star"
    mode = "star"
    description = "Open the email from a sender and star it."

    @classmethod
    def generate(cls, rng):
        p = _inbox_payload(rng)
        return p | {"instruction": f"Find the email by {p['target']} and mark it with a star."}


@register_task
class EmailReply(_Inbox):
    name = "email-inbox-reply"
    mode = "reply"
    description = "Reply to the email from a sender with a given text."

    @classmethod
    def generate(cls, rng):
        p = _inbox_payload(rng)
        text = " ".join(pick_k(rng, WORDS, 3))
        return p | {"text": text, "instruction": f'Find the email by {p["target"]} and reply to them with the text "{text}".'}


@register_task
class EmailForward(_Inbox):
    name = "email-inbox-forward"
    mode = "forward"
    description = "Forward the email from a sender to another person."

    @classmethod
    def generate(cls, rng):
        p = _inbox_payload(rng)
        to = pick(rng, [f for f in FIRST if f not in {m["sender"] for m in p["emails"]}])
        return p | {"to": to, "instruction": f"Find the email by {p['target']} and forward it to {to}."}


def _feed_payload(rng) -> dict:
    users = [f"@{pick(rng, FIRST).lower()}{pick(rng, LAST).lower()[:3]}" for _ in range(4)]
    posts = [{"user": pick(rng, users), "text": " ".join(pick_k(rng, WORDS, 5))} for _ in range(6)]
    return {"posts": posts, "target": pick(rng, [p["user"] for p in posts]),
            "button": pick(rng, ["Reply", "Retweet", "Like", "Share"])}


def _build_feed(payload, on_press) -> Page:
    page = Page("Social Media")
    page.state["pressed"] = []
    feed = page.add(None, "feed", "Posts")
    for i, post in enumerate(payload["posts"]):
        art = page.add(feed, "article", post["user"])
        page.add(art, "text", post["text"])
        for label in ("Reply", "Retweet", "Like", "Share"):
            page.add(art, "button", label, data={"post": i}, on_click=on_press)
    return page


@register_task
class SocialMedia(SimTask):
    name = "social-media"
    description = "Press one button on a post by the named user."

    @classmethod
    def generate(cls, rng):
        p = _feed_payload(rng)
        return p | {"instruction": f'For the user {p["target"]}, click on the "{p["button"]}" button.'}

    @classmethod
    def build(cls, payload):
        def on_press(p, e):
            post = payload["posts"][e.data["post"]]
            ok = post["user"] == payload["target"] and e.name == payload["button"]
            p.finish(1.0 if ok else -1.0, "pressed")
        return _build_feed(payload, on_press)

    @classmethod
    def cheat(cls, page, payload):
        i = next(i for i, p in enumerate(payload["posts"]) if p["user"] == payload["target"])
        return click_id(page.find("button", payload["button"], post=i))


@register_task
class SocialMediaAll(SimTask):
    name = "social-media-all"
    max_steps = 15
    description = "Press a button on every post by the named user, then Submit."

    @classmethod
    def generate(cls, rng):
        p = _feed_payload(rng)
        return p | {"instruction": f'Click the "{p["button"]}" button on all posts by {p["target"]} and then click Submit.'}

    @classmethod
    def _wanted(cls, payload):
        return {i for i, p in enumerate(payload["posts"]) if p["user"] == payload["target"]}

    @classmethod
    def build(cls, payload):
        def on_press(p, e):
            if e.name in (payload["button"], "Un" + payload["button"].lower()):
                e.name = payload["button"] if e.name.startswith("Un") else "Un" + payload["button"].lower()
                p.state["pressed"] = sorted(set(p.state["pressed"]) ^ {e.data["post"]})
        page = _build_feed(payload, on_press)
        submit(page, None, lambda p: set(p.state["pressed"]) == cls._wanted(payload))
        return page

    @classmethod
    def cheat(cls, page, payload):
        for i in sorted(cls._wanted(payload) - set(page.state["pressed"])):
            return click_id(page.find("button", payload["button"], post=i))
        return click_id(page.find("button", "Submit"))

    @classmethod
    def partial(cls, page, payload):
        want, got = cls._wanted(payload), set(page.state["pressed"])
        return len(want & got) / max(1, len(want | got))
