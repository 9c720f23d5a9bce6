"""Which MiniWoB++ tasks exist, where their pages are, which are solvable from text alone, and
each task's step cap. Cheap to import: it lists files, it never starts a browser.

The 125 tasks are the HTML pages under ``miniwob/html/miniwob/`` in the ``miniwob`` wheel, less
the five that the MiniWoB++ benchmark itself leaves out because they depend on real time
(``EXCLUDED``).
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

EXCLUDED = frozenset({"button-delay", "chase-circle", "hover-shape", "moving-items", "simon-says"})

# Tasks that need pixels, colours, geometry, drawing or dragging: an outline of the page does
# not carry what they ask about (or the action set cannot do it).
NOT_TEXT = frozenset({
    "bisect-angle", "circle-center", "click-color", "click-pie", "click-pie-nodelay", "click-shades",
    "click-shape", "count-shape", "count-sides", "daily-calendar", "drag-box", "drag-circle", "drag-cube",
    "drag-items", "drag-items-grid", "drag-shapes", "drag-shapes-2", "drag-single-shape",
    "drag-sort-numbers", "draw-circle", "draw-line", "find-midpoint", "grid-coordinate",
    "highlight-text", "highlight-text-2", "hot-cold", "identify-shape", "resize-textarea", "right-angle",
    "text-editor", "tic-tac-toe", "use-colorwheel", "use-colorwheel-2", "use-slider", "use-slider-2",
    "visual-addition",
})

# Step caps: 10 by default; longer for multi-step tasks.
_CAP_30 = ("book-flight", "email-inbox", "search-engine", "social-media", "terminal", "order-food",
           "buy-ticket", "form-sequence", "phone-book", "stock-market", "click-checkboxes-large")
_CAP_20 = ("click-checkboxes", "click-scroll-list", "navigate-tree", "click-tab-2", "click-collapsible-2",
           "copy-paste", "enter-date", "enter-time", "choose-date", "use-autocomplete", "login-user-popup",
           "multi-", "number-checkboxes", "read-table", "text-transform", "guess-number", "click-menu")


def package_dir() -> str | None:
    """The installed ``miniwob`` package's folder, or None when it is not installed."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def html_dir() -> str | None:
    root = package_dir()
    return os.path.join(root, "html", "miniwob") if root else None


@lru_cache(maxsize=1)
def task_names() -> tuple[str, ...]:
    """The 125 MiniWoB++ task names, sorted (empty when the wheel is not installed)."""
    folder = html_dir()
    if folder is None or not os.path.isdir(folder):
        return ()
    names = (f[:-5] for f in os.listdir(folder) if f.endswith(".html"))
    return tuple(sorted(n for n in names if n not in EXCLUDED))


def text_solvable(name: str) -> bool:
    """True when the task can be solved from the text outline and the action set alone."""
    return name not in NOT_TEXT


def step_cap(name: str) -> int:
    """The task's step cap (10, 20 or 30)."""
    if any(name.startswith(p) for p in _CAP_30):
        return 30
    if any(name.startswith(p) for p in _CAP_20):
        return 20
    return 10


def page_path(name: str) -> str:
    folder = html_dir()
    if folder is None:
        from selfgym.errors import DependencyError

        raise DependencyError("miniwob", "web", "the MiniWoB++ task pages")
    return os.path.join(folder, f"{name}.html")
