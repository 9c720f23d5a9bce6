"""Form tasks: a multi-field form, autocomplete, reading a table, a light flight booking and a
form that needs a follow-up question to the user (as in Navi-plus)."""

from __future__ import annotations

import numpy as np

from selfgym.envs.web.page import Page
from selfgym.envs.web.tasks.base import (
    CITIES, COUNTRIES, FIRST, LAST, WORDS, SimTask, click_id, fill_id, pick, pick_k, register_task, submit,
)


@register_task
class FillForm(SimTask):
    name = "fill-form"
    max_steps = 15
    description = "Fill a multi-field form (text, drop-down, check box), then Submit."

    @classmethod
    def generate(cls, rng):
        name = f"{pick(rng, FIRST)} {pick(rng, LAST)}"
        email = f"{name.split()[0].lower()}@{pick(rng, WORDS)}.org"
        country = pick(rng, COUNTRIES)
        sub = bool(rng.integers(2))
        return {"instruction": f'Fill the form with name "{name}", email "{email}", country {country}, '
                               f'{"tick" if sub else "do not tick"} "Subscribe", then click Submit.',
                "name": name, "email": email, "country": country, "subscribe": sub,
                "countries": sorted(set(pick_k(rng, COUNTRIES, 7) + [country]))}

    @classmethod
    def build(cls, payload):
        page = Page("Form")
        form = page.add(None, "form", "Sign up")
        n = page.add(form, "textbox", "Full name")
        e = page.add(form, "textbox", "Email")
        c = page.add(form, "combobox", "Country", options=["(choose)"] + payload["countries"], value="(choose)")
        s = page.add(form, "checkbox", "Subscribe")
        page.add(form, "button", "Reset", on_click=lambda p, b: [setattr(x, "value", "") for x in (n, e)])
        submit(page, form, lambda p: cls._fields(p, payload) == 4)
        return page

    @classmethod
    def _fields(cls, page, payload) -> int:
        return sum([page.find("textbox", "Full name").value.strip() == payload["name"],
                    page.find("textbox", "Email").value.strip() == payload["email"],
                    page.find("combobox", "Country").value == payload["country"],
                    bool(page.find("checkbox", "Subscribe").checked) == payload["subscribe"]])

    @classmethod
    def cheat(cls, page, payload):
        n, e = page.find("textbox", "Full name"), page.find("textbox", "Email")
        c, s = page.find("combobox", "Country"), page.find("checkbox", "Subscribe")
        if n.value != payload["name"]:
            return fill_id(n, payload["name"])
        if e.value != payload["email"]:
            return fill_id(e, payload["email"])
        if c.value != payload["country"]:
            return f"select_option('{c.id}', {payload['country']!r})"
        if bool(s.checked) != payload["subscribe"]:
            return click_id(s)
        return click_id(page.find("button", "Submit"))

    @classmethod
    def partial(cls, page, payload):
        return cls._fields(page, payload) / 4


@register_task
class UseAutocomplete(SimTask):
    name = "use-autocomplete"
    max_steps = 12
    description = "Type a prefix, pick the matching suggestion, then Submit."

    @classmethod
    def generate(cls, rng):
        target = pick(rng, COUNTRIES)
        return {"instruction": f'Enter an item that starts with "{target[:2]}" and ends with "{target[-2:]}", then click Submit.',
                "target": target}

    @classmethod
    def build(cls, payload):
        page = Page("Autocomplete")
        box = page.add(None, "textbox", "Tags")
        menu = page.add(None, "listbox", "Suggestions", hidden=True)

        def choose(p, e):
            box.value = e.name
            menu.hidden = True

        def suggest(p, el, text):
            menu.clear()
            hits = [c for c in COUNTRIES if text and c.lower().startswith(text.lower())]
            for c in hits[:8]:
                p.add(menu, "option", c, on_click=choose)
            menu.hidden = not hits

        box.on_fill = suggest
        start, end = payload["instruction"].split('"')[1], payload["instruction"].split('"')[3]
        submit(page, None, lambda p: box.value in COUNTRIES and box.value.startswith(start) and box.value.endswith(end))
        return page

    @classmethod
    def cheat(cls, page, payload):
        box = page.find("textbox")
        target = payload["target"]
        if box.value == target:
            return click_id(page.find("button", "Submit"))
        opt = page.find("option", target)
        if opt is not None:
            return click_id(opt)
        return fill_id(box, target[:2])


@register_task
class ReadTable(SimTask):
    name = "read-table"
    description = "Read a value from a table, type it in, then Submit."

    @classmethod
    def generate(cls, rng):
        keys = ["Color", "Country", "First name", "Last name", "Year of birth", "Language", "City"]
        rows = {k: v for k, v in zip(pick_k(rng, keys, 5), [pick(rng, WORDS), pick(rng, COUNTRIES), pick(rng, FIRST),
                                                             pick(rng, LAST), str(int(rng.integers(1950, 2005))), pick(rng, WORDS), pick(rng, CITIES)])}
        key = pick(rng, list(rows))
        return {"instruction": f'Enter the value of "{key}" from the table into the text field and press Submit.',
                "rows": rows, "key": key}

    @classmethod
    def build(cls, payload):
        page = Page("Table")
        table = page.add(None, "table", "")
        for k, v in payload["rows"].items():
            row = page.add(table, "row", "")
            page.add(row, "cell", k)
            page.add(row, "cell", v)
        box = page.add(None, "textbox", "Answer")
        submit(page, None, lambda p: box.value.strip() == payload["rows"][payload["key"]])
        return page

    @classmethod
    def cheat(cls, page, payload):
        want = payload["rows"][payload["key"]]
        box = page.find("textbox")
        return fill_id(box, want) if box.value != want else click_id(page.find("button", "Submit"))


@register_task
class BookFlight(SimTask):
    name = "book-flight"
    max_steps = 20
    description = "Search flights between two cities on a date and book the cheapest or shortest."

    @classmethod
    def generate(cls, rng):
        a, b = pick_k(rng, CITIES, 2)
        day = int(rng.integers(1, 29))
        date = f"11/{day:02d}/2026"
        hours = rng.permutation(np.arange(1, 14))[:6]
        prices = rng.permutation(np.arange(80, 900, 7))[:6]
        flights = [{"depart": f"{int(h):02d}:{int(m):02d}", "hours": int(d), "price": int(c)}
                   for h, m, d, c in zip(rng.integers(5, 23, 6), rng.choice([0, 15, 30, 45], 6), hours, prices)]
        crit = pick(rng, ["cheapest", "shortest"])
        key = "price" if crit == "cheapest" else "hours"
        best = min(range(len(flights)), key=lambda i: (flights[i][key], i))
        return {"instruction": f"Book the {crit} one-way flight from: {a} to: {b} on {date}.",
                "from": a, "to": b, "date": date, "flights": flights, "best": best}

    @classmethod
    def build(cls, payload):
        page = Page("Book Flight")
        form = page.add(None, "form", "Search flights")
        src = page.add(form, "textbox", "From")
        dst = page.add(form, "textbox", "To")
        date = page.add(form, "textbox", "Departure date (MM/DD/YYYY)")
        results = page.add(None, "list", "Flights", hidden=True)
        page.state["search"] = None

        def search(p, e):
            p.state["search"] = (src.value.strip(), dst.value.strip(), date.value.strip())
            results.clear()
            results.hidden = False
            right = p.state["search"] == (payload["from"], payload["to"], payload["date"])
            if not right:
                p.add(results, "text", "No flights found.")
                return
            for i, f in enumerate(payload["flights"]):
                item = p.add(results, "listitem", f"Departs {f['depart']}, duration {f['hours']}h, ${f['price']}")
                p.add(item, "button", f"Book flight for ${f['price']}", data={"flight": i},
                      on_click=lambda q, b: q.finish(1.0 if b.data["flight"] == payload["best"] else -1.0, "booked"))

        page.add(form, "button", "Search", on_click=search)
        return page

    @classmethod
    def cheat(cls, page, payload):
        for label, key in (("From", "from"), ("To", "to"), ("Departure date (MM/DD/YYYY)", "date")):
            box = page.find("textbox", label)
            if box.value != payload[key]:
                return fill_id(box, payload[key])
        if page.state["search"] != (payload["from"], payload["to"], payload["date"]):
            return click_id(page.find("button", "Search"))
        return click_id(next(b for b in page.find_all("button") if b.data.get("flight") == payload["best"]))

    @classmethod
    def partial(cls, page, payload):
        if page.raw_reward > 0:
            return 1.0
        return 0.5 if page.state["search"] == (payload["from"], payload["to"], payload["date"]) else 0.0


@register_task
class AskFollowup(SimTask):
    name = "ask-followup"
    max_steps = 12
    description = "An under-specified request: ask the user for the missing detail, then complete the form."

    SLOTS = {"recipient": ("Recipient name", ("name", "recipient", "who")),
             "city": ("Delivery city", ("city", "where", "address", "deliver")),
             "amount": ("Amount", ("amount", "how much", "value", "price", "money"))}

    @classmethod
    def generate(cls, rng):
        values = {"recipient": f"{pick(rng, FIRST)} {pick(rng, LAST)}", "city": pick(rng, CITIES),
                  "amount": str(int(rng.integers(2, 20)) * 5)}
        missing = pick(rng, sorted(values))
        given = {k: v for k, v in values.items() if k != missing}
        parts = {"recipient": f"for {given.get('recipient')}", "city": f"delivered to {given.get('city')}",
                 "amount": f"worth {given.get('amount')} dollars"}
        said = " ".join(parts[k] for k in sorted(given))
        return {"instruction": f"Send a gift card {said}. Ask me for anything you need to know.",
                "values": values, "missing": missing}

    @classmethod
    def build(cls, payload):
        page = Page("Gift Card")
        form = page.add(None, "form", "Gift card")
        for slot in ("recipient", "city", "amount"):
            page.add(form, "textbox", cls.SLOTS[slot][0], data={"slot": slot})
        page.state["asked"] = False

        def answer(p, text):
            t = text.lower()
            slot = payload["missing"]
            if any(word in t for word in cls.SLOTS[slot][1]):
                p.state["asked"] = True
                return f"The {cls.SLOTS[slot][0].lower()} is {payload['values'][slot]}."
            return "I gave you everything else in the instruction; what exactly do you need?"

        page.on_message = answer
        submit(page, form, lambda p: cls._filled(p, payload) == 3, label="Send gift card")
        return page

    @classmethod
    def _filled(cls, page, payload) -> int:
        return sum(b.value.strip() == payload["values"][b.data["slot"]] for b in page.find_all("textbox"))

    @classmethod
    def cheat(cls, page, payload):
        for box in page.find_all("textbox"):
            slot = box.data["slot"]
            if box.value != payload["values"][slot]:
                if slot == payload["missing"] and not page.state["asked"]:
                    return f"send_msg_to_user('What is the {cls.SLOTS[slot][0].lower()}?')"
                return fill_id(box, payload["values"][slot])
        return click_id(page.find("button", "Send gift card"))

    @classmethod
    def partial(cls, page, payload):
        return cls._filled(page, payload) / 3
