"""Single-page tasks modelled on MiniWoB++'s basic ones: buttons, links, check boxes, radio
buttons, drop-downs, text fields, focus, dialogs, delayed buttons and reading text."""

from __future__ import annotations

from selfgym.envs.web.page import Page
from selfgym.envs.web.tasks.base import (
    BUTTONS, FIRST, WORDS, SimTask, click_id, fill_id, ordinal, pick, pick_k, register_task, submit,
)


def _filler(page: Page, rng_words: list[str]) -> None:
    page.add(None, "text", " ".join(rng_words))


@register_task
class ClickButton(SimTask):
    name = "click-button"
    description = "Click the button with the given label among several."

    @classmethod
    def generate(cls, rng):
        labels = pick_k(rng, BUTTONS, int(rng.integers(6, 10)))
        target = pick(rng, labels)
        filler = [pick_k(rng, WORDS, 3) for _ in labels]
        return {"instruction": f'Click on the "{target}" button.', "labels": labels, "target": target, "filler": filler}

    @classmethod
    def build(cls, payload):
        page = Page("Click Button")
        for label, words in zip(payload["labels"], payload["filler"]):
            _filler(page, words)
            ok = label == payload["target"]
            page.add(None, "button", label, on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "clicked"))
        return page

    @classmethod
    def cheat(cls, page, payload):
        return click_id(page.find("button", payload["target"]))


@register_task
class ClickButtonSequence(SimTask):
    name = "click-button-sequence"
    description = "Click two buttons in the order the instruction gives."

    @classmethod
    def generate(cls, rng):
        labels = pick_k(rng, BUTTONS, 6)
        first, second = labels[:2]
        order = [int(i) for i in rng.permutation(6)]
        return {"instruction": f'Click the "{first}" button, then the "{second}" button.',
                "labels": [labels[i] for i in order], "first": first, "second": second}

    @classmethod
    def build(cls, payload):
        page = Page("Click Button Sequence")
        page.state["clicked"] = []

        def on_click(p, e):
            p.state["clicked"].append(e.name)
            want = [payload["first"], payload["second"]][: len(p.state["clicked"])]
            if p.state["clicked"] != want:
                p.finish(-1.0, "wrong button")
            elif len(want) == 2:
                p.finish(1.0, "sequence done")

        for label in payload["labels"]:
            page.add(None, "button", label, on_click=on_click)
        return page

    @classmethod
    def cheat(cls, page, payload):
        nxt = payload["first"] if not page.state["clicked"] else payload["second"]
        return click_id(page.find("button", nxt))

    @classmethod
    def partial(cls, page, payload):
        return 1.0 if page.raw_reward > 0 else 0.5 * (page.state["clicked"][:1] == [payload["first"]])


@register_task
class ClickLink(SimTask):
    name = "click-link"
    description = "Click the link with the given text inside paragraphs of text."

    @classmethod
    def generate(cls, rng):
        words = pick_k(rng, WORDS, 24)
        links = sorted(int(i) for i in rng.permutation(24)[:7])
        target = words[pick(rng, links)]
        return {"instruction": f'Click on the link "{target}".', "words": words, "links": links, "target": target}

    @classmethod
    def build(cls, payload):
        page = Page("Click Link")
        para = None
        for i, w in enumerate(payload["words"]):
            if i % 8 == 0:
                para = page.add(None, "paragraph", "")
            if i in payload["links"]:
                ok = w == payload["target"]
                page.add(para, "link", w, on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "link"))
            else:
                page.add(para, "text", w)
        return page

    @classmethod
    def cheat(cls, page, payload):
        return click_id(page.find("link", payload["target"]))


@register_task
class ClickCheckboxes(SimTask):
    name = "click-checkboxes"
    max_steps = 15
    description = "Tick exactly the named check boxes, then press Submit."

    @classmethod
    def generate(cls, rng):
        words = pick_k(rng, WORDS, int(rng.integers(5, 9)))
        k = int(rng.integers(1, 4))
        targets = pick_k(rng, words, k)
        said = ", ".join(targets) if targets else "nothing"
        return {"instruction": f"Select {said} and click Submit.", "words": words, "targets": targets}

    @classmethod
    def build(cls, payload):
        page = Page("Click Checkboxes")
        for w in payload["words"]:
            page.add(None, "checkbox", w)
        want = set(payload["targets"])
        submit(page, None, lambda p: {e.name for e in p.find_all("checkbox") if e.checked} == want)
        return page

    @classmethod
    def cheat(cls, page, payload):
        for box in page.find_all("checkbox"):
            if box.checked != (box.name in payload["targets"]):
                return click_id(box)
        return click_id(page.find("button", "Submit"))

    @classmethod
    def partial(cls, page, payload):
        boxes = page.find_all("checkbox")
        return sum(b.checked == (b.name in payload["targets"]) for b in boxes) / len(boxes)


@register_task
class ClickOption(SimTask):
    name = "click-option"
    description = "Choose one radio button, then press Submit."

    @classmethod
    def generate(cls, rng):
        words = pick_k(rng, WORDS, int(rng.integers(4, 8)))
        target = pick(rng, words)
        return {"instruction": f"Select {target} and click Submit.", "words": words, "target": target}

    @classmethod
    def build(cls, payload):
        page = Page("Click Option")
        for w in payload["words"]:
            page.add(None, "radio", w, group="g")
        submit(page, None, lambda p: any(e.checked and e.name == payload["target"] for e in p.find_all("radio")))
        return page

    @classmethod
    def cheat(cls, page, payload):
        radio = page.find("radio", payload["target"])
        return click_id(page.find("button", "Submit")) if radio.checked else click_id(radio)


@register_task
class ChooseList(SimTask):
    name = "choose-list"
    description = "Pick an item from a drop-down list, then press Submit."

    @classmethod
    def generate(cls, rng):
        options = pick_k(rng, WORDS, int(rng.integers(6, 12)))
        target = pick(rng, options)
        return {"instruction": f'Select "{target}" from the list and click Submit.', "options": options, "target": target}

    @classmethod
    def build(cls, payload):
        page = Page("Choose List")
        box = page.add(None, "combobox", "Item", options=list(payload["options"]), value=payload["options"][0])
        submit(page, None, lambda p: box.value == payload["target"])
        return page

    @classmethod
    def cheat(cls, page, payload):
        box = page.find("combobox")
        if box.value != payload["target"]:
            return f"select_option('{box.id}', {payload['target']!r})"
        return click_id(page.find("button", "Submit"))


@register_task
class EnterText(SimTask):
    name = "enter-text"
    description = "Type a given word into a text field, then press Submit."

    @classmethod
    def generate(cls, rng):
        word = pick(rng, WORDS) + str(int(rng.integers(10, 99)))
        return {"instruction": f'Enter "{word}" into the text field and press Submit.', "word": word,
                "extra": pick_k(rng, BUTTONS[1:], 4)}

    @classmethod
    def build(cls, payload):
        page = Page("Enter Text")
        box = page.add(None, "textbox", "Answer")
        for b in payload["extra"]:
            page.add(None, "button", b, on_click=lambda p, e: p.finish(-1.0, "wrong button"))
        submit(page, None, lambda p: box.value == payload["word"])
        return page

    @classmethod
    def cheat(cls, page, payload):
        box = page.find("textbox")
        return fill_id(box, payload["word"]) if box.value != payload["word"] else click_id(page.find("button", "Submit"))


@register_task
class EnterPassword(SimTask):
    name = "enter-password"
    description = "Type a password into two fields, then press Submit."

    @classmethod
    def generate(cls, rng):
        pw = pick(rng, WORDS)[:3] + str(int(rng.integers(100, 999))) + pick(rng, WORDS)[:2].upper()
        return {"instruction": f'Enter the password "{pw}" into both text fields and press Submit.', "password": pw}

    @classmethod
    def build(cls, payload):
        page = Page("Enter Password")
        a = page.add(None, "textbox", "Password", data={"password": True})
        b = page.add(None, "textbox", "Verify password", data={"password": True})
        submit(page, None, lambda p: a.value == b.value == payload["password"])
        return page

    @classmethod
    def cheat(cls, page, payload):
        for box in page.find_all("textbox"):
            if box.value != payload["password"]:
                return fill_id(box, payload["password"])
        return click_id(page.find("button", "Submit"))

    @classmethod
    def partial(cls, page, payload):
        return sum(b.value == payload["password"] for b in page.find_all("textbox")) / 2


@register_task
class LoginUser(SimTask):
    name = "login-user"
    description = "Fill user name and password, then press Login."

    @classmethod
    def generate(cls, rng):
        user = pick(rng, FIRST).lower() + str(int(rng.integers(1, 99)))
        pw = pick(rng, WORDS) + str(int(rng.integers(10, 99)))
        return {"instruction": f'Enter the username "{user}" and the password "{pw}" into the text fields and press login.',
                "username": user, "password": pw}

    @classmethod
    def build(cls, payload):
        page = Page("Login")
        u = page.add(None, "textbox", "Username")
        w = page.add(None, "textbox", "Password", data={"password": True})
        page.add(None, "link", "Forgot password?", on_click=lambda p, e: p.finish(-1.0, "wrong link"))
        submit(page, None, lambda p: u.value == payload["username"] and w.value == payload["password"], label="Login")
        return page

    @classmethod
    def cheat(cls, page, payload):
        u, w = page.find("textbox", "Username"), page.find("textbox", "Password")
        if u.value != payload["username"]:
            return fill_id(u, payload["username"])
        if w.value != payload["password"]:
            return fill_id(w, payload["password"])
        return click_id(page.find("button", "Login"))


@register_task
class FocusText(SimTask):
    name = "focus-text"
    description = "Put the focus into the n-th of several text fields."

    @classmethod
    def generate(cls, rng):
        n = int(rng.integers(5, 9))
        k = int(rng.integers(1, n + 1))
        return {"instruction": f"Focus into the {ordinal(k)} input textbox.", "n": n, "k": k}

    @classmethod
    def build(cls, payload):
        page = Page("Focus Text")
        for i in range(1, payload["n"] + 1):
            ok = i == payload["k"]
            page.add(None, "textbox", "", on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "focus"))
        return page

    @classmethod
    def cheat(cls, page, payload):
        return click_id(page.find_all("textbox")[payload["k"] - 1])


@register_task
class ClickDialog(SimTask):
    name = "click-dialog"
    description = "Close a dialog with the named button."

    @classmethod
    def generate(cls, rng):
        labels = pick_k(rng, ["OK", "Cancel", "Close", "x", "Help", "Apply", "Later", "Dismiss", "Ignore", "Undo"], int(rng.integers(7, 11)))
        return {"instruction": f'Close the dialog box by clicking the "{pick(rng, labels)}" button.',
                "labels": labels, "body": pick_k(rng, WORDS, 8)}

    @classmethod
    def build(cls, payload):
        target = payload["instruction"].split('"')[1]
        page = Page("Dialog")
        dialog = page.add(None, "dialog", "Notice")
        page.add(dialog, "text", " ".join(payload["body"]))
        for label in payload["labels"]:
            ok = label == target
            page.add(dialog, "button", label, on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "dialog"))
        return page

    @classmethod
    def cheat(cls, page, payload):
        return click_id(page.find("button", payload["instruction"].split('"')[1]))


@register_task
class WaitButton(SimTask):
    name = "wait-button"
    description = "A button is disabled for a few steps, then becomes clickable (a dynamic page)."

    @classmethod
    def generate(cls, rng):
        label = pick(rng, BUTTONS)
        return {"instruction": f'Wait for the "{label}" button to become enabled, then click it.', "label": label,
                "delay": int(rng.integers(2, 5)), "others": pick_k(rng, [b for b in BUTTONS if b != label], 5)}

    @classmethod
    def build(cls, payload):
        page = Page("Wait")
        status = page.add(None, "status", "Loading...")

        def on_click(p, e):
            p.finish(1.0, "clicked")

        for other in payload["others"]:
            page.add(None, "button", other, on_click=lambda p, e: p.finish(-1.0, "wrong button"))
        btn = page.add(None, "button", payload["label"], disabled=True, on_click=on_click)

        def tick(p):
            if p.steps >= payload["delay"]:
                btn.disabled = False
                status.name = "Ready."

        page.on_tick = tick
        return page

    @classmethod
    def cheat(cls, page, payload):
        btn = page.find("button", payload["label"])
        return "noop()" if btn.disabled else click_id(btn)


@register_task
class FindWord(SimTask):
    name = "find-word"
    description = "Type the n-th word of a paragraph into a field, then press Submit."

    @classmethod
    def generate(cls, rng):
        words = pick_k(rng, WORDS, int(rng.integers(6, 12)))
        k = int(rng.integers(1, len(words) + 1))
        return {"instruction": f"Find the {ordinal(k)} word in the paragraph, type it into the text field and press Submit.",
                "words": words, "k": k}

    @classmethod
    def build(cls, payload):
        page = Page("Find Word")
        page.add(None, "paragraph", " ".join(payload["words"]))
        box = page.add(None, "textbox", "Answer")
        submit(page, None, lambda p: box.value.strip() == payload["words"][payload["k"] - 1])
        return page

    @classmethod
    def cheat(cls, page, payload):
        word = payload["words"][payload["k"] - 1]
        box = page.find("textbox")
        return fill_id(box, word) if box.value != word else click_id(page.find("button", "Submit"))


@register_task
class EnterDate(SimTask):
    name = "enter-date"
    description = "Type a date in MM/DD/YYYY form, then press Submit."

    @classmethod
    def generate(cls, rng):
        m, d, y = int(rng.integers(1, 13)), int(rng.integers(1, 29)), int(rng.integers(2000, 2030))
        months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"]
        return {"instruction": f"Enter the date {months[m - 1]} {d}, {y} as MM/DD/YYYY and press Submit.",
                "date": f"{m:02d}/{d:02d}/{y}", "name": pick(rng, FIRST)}

    @classmethod
    def build(cls, payload):
        page = Page("Enter Date")
        page.add(None, "textbox", "Name", value=payload["name"])
        box = page.add(None, "textbox", "Date (MM/DD/YYYY)")
        submit(page, None, lambda p: box.value.strip() == payload["date"])
        return page

    @classmethod
    def cheat(cls, page, payload):
        box = page.find("textbox", "Date (MM/DD/YYYY)")
        return fill_id(box, payload["date"]) if box.value != payload["date"] else click_id(page.find("button", "Submit"))
