"""One headless Chromium per process, shared by every MiniWoB++ env in it.

Playwright drives the system's Chromium through ``executable_path`` (``/usr/bin/chromium`` on
Debian, or ``$SELFGYM_CHROMIUM``); nothing is downloaded. The browser starts on first use with the
flags below and a fresh ``--user-data-dir`` (Playwright makes a new temporary profile for every
launch and deletes it on close; it refuses the flag in ``args``); each env gets its own browser context and page
(``new_page``), closes them on ``env.close()``, and the browser itself is closed when the
process exits (``atexit``). If the process dies without running ``atexit``, Playwright's driver
loses its pipe and the browser goes with it; ``OWNER_FLAG`` marks this process's browser so
tests can check that nothing is left behind.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from typing import Any

from selfgym.errors import DependencyError, VerifierError, require

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
)
OWNER_FLAG = "--selfgym-owner="

POOL_SIZE = 4

_lock = threading.RLock()
_state: dict[str, Any] = {}
_pool: list[tuple[Any, Any]] = []


def chromium_path() -> str:
    path = os.environ.get("SELFGYM_CHROMIUM", DEFAULT_CHROMIUM)
    if not os.path.exists(path):
        raise DependencyError("chromium", "web", f"the real MiniWoB++ backend (no browser at {path}; "
                              "on Debian run `apt-get install chromium`, or set SELFGYM_CHROMIUM)")
    return path


def owner_tag() -> str:
    """The marker this process puts on its browser's command line (see ``OWNER_FLAG``)."""
    if "owner" not in _state:
        _state["owner"] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    return _state["owner"]


def browser():
    """The process's shared Playwright browser, started on first call."""
    with _lock:
        b = _state.get("browser")
        if b is not None and b.is_connected():
            return b
        _shutdown_locked()
        sync_api = require("playwright.sync_api", "web", "the real MiniWoB++ backend")
        pw = sync_api.sync_playwright().start()
        try:
            b = pw.chromium.launch(
                executable_path=chromium_path(), headless=True,
                args=[*CHROMIUM_ARGS, OWNER_FLAG + owner_tag()],
            )
        except Exception as exc:
            pw.stop()
            if isinstance(exc, DependencyError):
                raise
            raise VerifierError(f"could not start Chromium: {str(exc).splitlines()[0]}") from exc
        _state.update(playwright=pw, browser=b)
        return b


def new_page(viewport: tuple[int, int] = (500, 420)):
    """A (context, page) pair for one env: a released one when the pool has one, else a new one.

    Opening a context and a page costs far more than loading a task page, so envs hand theirs
    back with ``release_page`` on close and the next env reuses them (blank, cookies cleared).
    """
    b = browser()
    with _lock:
        while _pool:
            context, page = _pool.pop()
            if not page.is_closed():
                return context, page
    try:
        context = b.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        return context, context.new_page()
    except Exception as exc:
        raise VerifierError(f"Chromium could not open a page: {str(exc).splitlines()[0]}") from exc


def release_page(context, page) -> None:
    """Give an env's page back: blanked and pooled for the next env, or closed when the pool is full."""
    try:
        if page.is_closed() or not is_running():
            raise RuntimeError("gone")
        page.goto("about:blank")
        context.clear_cookies()
        with _lock:
            if len(_pool) < POOL_SIZE:
                _pool.append((context, page))
                return
    except Exception:  # noqa: BLE001 - a page we cannot reset is simply closed
        pass
    try:
        context.close()
    except Exception:  # noqa: BLE001 - the browser may already be gone
        pass


def is_running() -> bool:
    b = _state.get("browser")
    return b is not None and b.is_connected()


def shutdown() -> None:
    """Close the shared browser and Playwright (safe to call twice; runs at exit)."""
    with _lock:
        _shutdown_locked()


def _shutdown_locked() -> None:
    _pool.clear()
    b, pw = _state.pop("browser", None), _state.pop("playwright", None)
    for closer in (getattr(b, "close", None), getattr(pw, "stop", None)):
        if closer is None:
            continue
        try:
            closer()
        except Exception:  # noqa: BLE001 - best effort at teardown; the browser may be gone already
            pass


atexit.register(shutdown)
