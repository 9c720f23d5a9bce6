"""Multi-step navigation tasks: tabs, a file tree, a search engine with result pages,
collapsible sections, hover menus and a list long enough to need scrolling."""

from __future__ import annotations

from selfgym.envs.web.page import Page
from selfgym.envs.web.tasks.base import (
    CITIES, WORDS, SimTask, click_id, fill_id, ordinal, pick, pick_k, register_task, submit,
)


@register_task
class ClickTab(SimTask):
    name = "click-tab"
    max_steps = 12
    description = "Switch between tabs to find a link, then click it."

    @classmethod
    def generate(cls, rng):
        n = int(rng.integers(3, 6))
        words = pick_k(rng, WORDS, n * 4)
        panels = [words[i * 4:(i + 1) * 4] for i in range(n)]
        target = pick(rng, words[4:])  # never on the first (open) tab
        return {"instruction": f'Switch between the tabs to find and click on the link "{target}".',
                "panels": panels, "target": target}

    @classmethod
    def build(cls, payload):
        page = Page("Tabs")
        tablist = page.add(None, "tablist", "")
        panels = []

        def show(p, e):
            for t, pn in zip(tablist.children, panels):
                t.selected = t is e
                pn.hidden = t is not e

        for i, words in enumerate(payload["panels"]):
            page.add(tablist, "tab", f"Tab #{i + 1}", selected=i == 0, on_click=show)
        for i, words in enumerate(payload["panels"]):
            panel = page.add(None, "tabpanel", f"Tab #{i + 1}", hidden=i != 0)
            for w in words:
                ok = w == payload["target"]
                page.add(panel, "link", w, on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "link"))
            panels.append(panel)
        return page

    @classmethod
    def cheat(cls, page, payload):
        link = page.find("link", payload["target"])
        if link is not None:
            return click_id(link)
        i = next(i for i, ws in enumerate(payload["panels"]) if payload["target"] in ws)
        return click_id(page.find("tab", f"Tab #{i + 1}"))


@register_task
class NavigateTree(SimTask):
    name = "navigate-tree"
    max_steps = 15
    description = "Expand folders of a file tree and click the named file."

    @classmethod
    def generate(cls, rng):
        names = pick_k(rng, WORDS, 24)
        tree = {"name": "root", "children": []}
        it = iter(names)
        for _ in range(3):
            folder = {"name": next(it).capitalize(), "children": []}
            for _ in range(2):
                sub = {"name": next(it).capitalize(), "children": [{"name": next(it) + ".txt"} for _ in range(2)]}
                folder["children"].append(sub)
            folder["children"].append({"name": next(it) + ".txt"})
            tree["children"].append(folder)
        files = [f["name"] for f in _files(tree)]
        return {"instruction": f'Navigate through the file tree. Find and click on the file named "{pick(rng, files)}".',
                "tree": tree}

    @classmethod
    def build(cls, payload):
        page = Page("File Tree")
        target = payload["instruction"].split('"')[1]

        def toggle(p, e):
            e.expanded = not e.expanded
            for c in e.children:
                c.hidden = not e.expanded

        def add(parent, node, hidden):
            if "children" in node:
                el = page.add(parent, "treeitem", node["name"], expanded=False, hidden=hidden, on_click=toggle)
                for c in node["children"]:
                    add(el, c, True)
            else:
                ok = node["name"] == target
                page.add(parent, "treeitem", node["name"], hidden=hidden,
                         on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "file"))

        tree = page.add(None, "tree", "Files")
        for c in payload["tree"]["children"]:
            add(tree, c, False)
        return page

    @classmethod
    def cheat(cls, page, payload):
        target = payload["instruction"].split('"')[1]
        el = page.find("treeitem", target, visible=False)
        chain = []
        node = el.parent
        while node is not None and node.role == "treeitem":
            chain.append(node)
            node = node.parent
        for folder in reversed(chain):
            if not folder.expanded:
                return click_id(folder)
        return click_id(el)


def _files(node):
    if "children" not in node:
        return [node]
    return [f for c in node["children"] for f in _files(c)]


@register_task
class SearchEngine(SimTask):
    name = "search-engine"
    max_steps = 15
    description = "Search for a term, page through results, click the n-th result."

    @classmethod
    def generate(cls, rng):
        query = pick(rng, WORDS)
        titles = [f"{query} {w}" for w in pick_k(rng, WORDS, 9)]
        k = int(rng.integers(1, 10))
        return {"instruction": f'Use the textbox to enter "{query}" and press "Search", then find and click the {ordinal(k)} search result.',
                "query": query, "titles": titles, "k": k}

    @classmethod
    def build(cls, payload):
        page = Page("Search")
        box = page.add(None, "searchbox", "Search")
        results = page.add(None, "list", "Results", hidden=True)
        pager = page.add(None, "navigation", "Pages", hidden=True)
        page.state["page"] = 0
        page.state["searched"] = None

        def render(p):
            results.clear()
            start = p.state["page"] * 3
            for i, title in enumerate(payload["titles"][start:start + 3], start + 1):
                ok = i == payload["k"] and p.state["searched"] == payload["query"]
                p.add(results, "link", title, data={"rank": i},
                      on_click=lambda q, e, ok=ok: q.finish(1.0 if ok else -1.0, "result"))

        def go(p, e):
            p.state["page"] = e.data["page"]
            render(p)

        def search(p, e=None, key=None):
            if key not in (None, "Enter"):
                return
            p.state["searched"] = box.value.strip()
            p.state["page"] = 0
            results.hidden = pager.hidden = False
            render(p)

        box.on_key = search
        page.add(None, "button", "Search", on_click=search)
        for i in range(3):
            page.add(pager, "link", str(i + 1), data={"page": i}, on_click=go)
        return page

    @classmethod
    def cheat(cls, page, payload):
        box = page.find("searchbox")
        if page.state["searched"] != payload["query"]:
            if box.value != payload["query"]:
                return fill_id(box, payload["query"])
            return click_id(page.find("button", "Search"))
        want_page = (payload["k"] - 1) // 3
        if page.state["page"] != want_page:
            return click_id(page.find("link", str(want_page + 1), page=want_page))
        return click_id(page.find("link", payload["titles"][payload["k"] - 1]))


@register_task
class ClickCollapsible(SimTask):
    name = "click-collapsible"
    max_steps = 12
    description = "Expand the named section and press the button inside it."

    @classmethod
    def generate(cls, rng):
        titles = [f"Section #{i}" for i in range(1, int(rng.integers(3, 6)) + 1)]
        return {"instruction": f'Expand the section "{pick(rng, titles)}" and click its Submit button.',
                "titles": titles, "bodies": [pick_k(rng, WORDS, 5) for _ in titles]}

    @classmethod
    def build(cls, payload):
        page = Page("Collapsible")
        target = payload["instruction"].split('"')[1]

        def toggle(p, e):
            e.expanded = not e.expanded
            e.data["body"].hidden = not e.expanded

        for title, words in zip(payload["titles"], payload["bodies"]):
            head = page.add(None, "button", title, expanded=False, on_click=toggle)
            body = page.add(None, "region", "", hidden=True)
            page.add(body, "text", " ".join(words))
            ok = title == target
            page.add(body, "button", "Submit", on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "submit"))
            head.data["body"] = body
        return page

    @classmethod
    def cheat(cls, page, payload):
        head = page.find("button", payload["instruction"].split('"')[1])
        if not head.expanded:
            return click_id(head)
        return click_id(head.data["body"].children[1])


@register_task
class ClickMenu(SimTask):
    name = "click-menu"
    max_steps = 12
    description = "Open a menu by hovering (or clicking) and choose the named item."

    @classmethod
    def generate(cls, rng):
        tops = ["File", "Edit", "View", "Tools", "Help"][: int(rng.integers(3, 6))]
        items = {t: pick_k(rng, WORDS, 4) for t in tops}
        top = pick(rng, tops)
        return {"instruction": f'Select {top} > {pick(rng, items[top]).capitalize()} from the menu.', "items": items}

    @classmethod
    def build(cls, payload):
        page = Page("Menu")
        bar = page.add(None, "menubar", "")
        target = payload["instruction"].split("Select ", 1)[1].rsplit(" from the menu", 1)[0]

        def open_(p, e):
            for m in bar.children:
                m.expanded = m is e
                m.data["sub"].hidden = m is not e

        for top, words in payload["items"].items():
            m = page.add(bar, "menuitem", top, expanded=False, on_hover=open_, on_click=open_)
            sub = page.add(m, "menu", top, hidden=True)
            for w in words:
                ok = f"{top} > {w.capitalize()}" == target
                page.add(sub, "menuitem", w.capitalize(), on_click=lambda p, e, ok=ok: p.finish(1.0 if ok else -1.0, "menu"))
            m.data["sub"] = sub
        return page

    @classmethod
    def cheat(cls, page, payload):
        target = payload["instruction"].split("Select ", 1)[1].rsplit(" from the menu", 1)[0]
        top, leaf = target.split(" > ")
        m = page.find("menuitem", top)
        if not m.expanded:
            return f"hover('{m.id}')"
        return click_id(next(e for e in m.data["sub"].children if e.name == leaf))


@register_task
class ClickScrollList(SimTask):
    name = "click-scroll-list"
    max_steps = 20
    description = "Select items in a long list (scrolling to reach them), then press Submit."

    @classmethod
    def generate(cls, rng):
        items = pick_k(rng, CITIES + WORDS, 24)
        targets = pick_k(rng, items[8:], int(rng.integers(1, 3)))
        return {"instruction": f"Select {' and '.join(targets)} from the scroll list and click Submit.",
                "items": items, "targets": targets}

    @classmethod
    def build(cls, payload):
        page = Page("Scroll List", viewport=10)
        lst = page.add(None, "listbox", "Cities and words")

        def toggle(p, e):
            e.selected = not e.selected

        for it in payload["items"]:
            page.add(lst, "option", it, selected=False, on_click=toggle)
        want = set(payload["targets"])
        submit(page, None, lambda p: {e.name for e in p.find_all("option") if e.selected} == want)
        return page

    @classmethod
    def cheat(cls, page, payload):
        for opt in page.find_all("option"):
            if bool(opt.selected) != (opt.name in payload["targets"]):
                return click_id(opt) if page.in_view(opt) else _scroll_towards(page, opt)
        btn = page.find("button", "Submit")
        return click_id(btn) if page.in_view(btn) else _scroll_towards(page, btn)


def _scroll_towards(page, el) -> str:
    order = page._visible_elements()
    return "scroll('down')" if order.index(el) >= page.scroll + page.viewport else "scroll('up')"
