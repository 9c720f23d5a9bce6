"""One headless Chromium per thread that uses it, shared by every MiniWoB++ env on that thread.

Playwright drives the system's Chromium through ``executable_path`` (``/usr/bin/chromium`` on
Debian, or ``$SELFGYM_CHROMIUM``); nothing is downloaded. The browser starts on first use with the
flags below and a fresh ``--user-data-dir`` (Playwright makes a new temporary profile for every
launch and deletes it on close; it refuses the flag in ``args``); each env gets its own browser context and page
(``new_page``), closes them on ``env.close()``, and the browser itself is closed when the
process exits (``atexit``). If the process dies without running ``atexit``, Playwright's driver
loses its pipe and the browser goes with it; ``OWNER_FLAG`` marks this process's browsers so
tests can check that nothing is left behind.

Playwright's sync API binds a browser to the thread that started it, so each thread gets its
own (started on its first use there): envs on different threads (the rollout runner gives each
thread-bound env a thread of its own) step concurrently. A browser started on a runner thread
(``selfgym.executors.threads.EnvThread``) is closed when that thread ends.
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
_process: dict[str, Any] = {}  # the owner tag
_local = threading.local()     # this thread's state: playwright, browser, pool of released pages
_threads: list[dict[str, Any]] = []  # every thread's state, for the shutdown at exit


def _state() -> dict[str, Any]:
    state = getattr(_local, "state", None)
    if state is None:
        state = _local.state = {"pool": []}
        with _lock:
            _threads.append(state)
    return state


def chromium_path() -> str:
    path = os.environ.get("SELFGYM_CHROMIUM", DEFAULT_CHROMIUM)
    if not os.path.exists(path):
        raise DependencyError("chromium", "web", f"the real MiniWoB++ backend (no browser at {path}; "
                              "on Debian run `apt-get install chromium`, or set SELFGYM_CHROMIUM)")
    return path


def owner_tag() -> str:
    """The marker this process puts on its browser's command line (see ``OWNER_FLAG``)."""
    with _lock:
        if "owner" not in _process:
            _process["owner"] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        return _process["owner"]


def browser():
    """This thread's Playwright browser, started on its first call on this thread."""
    state = _state()
    b = state.get("browser")
    if b is not None and b.is_connected():
        return b
    _shutdown_state(state)
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
    state.update(playwright=pw, browser=b)
    if threading.current_thread() is not threading.main_thread():
        from selfgym.executors.threads import at_thread_exit

        at_thread_exit(shutdown)  # a runner thread closes its browser when it ends
    return b


def new_page(viewport: tuple[int, int] = (500, 420)):
    """A (context, page) pair for one env: a released one when the pool has one, else a new one.

    Opening a context and a page costs far more than loading a task page, so envs hand theirs
    back with ``release_page`` on close and the next env reuses them (blank, cookies cleared).
    """
    b = browser()
    pool = _state()["pool"]
    while pool:
        context, page = pool.pop()
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
        pool = _state()["pool"]
        if len(pool) < POOL_SIZE:
            pool.append((context, page))
            return
    except Exception:  # noqa: BLE001 - a page we cannot reset is simply closed
        pass
    try:
        context.close()
    except Exception:  # noqa: BLE001 - the browser may already be gone
        pass


def is_running() -> bool:
    """Whether this thread's browser is up."""
    b = _state().get("browser")
    return b is not None and b.is_connected()


def shutdown() -> None:
    """Close this thread's browser and Playwright (safe to call twice)."""
    _shutdown_state(_state())


def _shutdown_all() -> None:
    """At exit: every thread's browser (another thread's refuses to close from here; its driver
    and browser end with the process, see the module doc)."""
    with _lock:
        states = list(_threads)
    for state in states:
        _shutdown_state(state)


def _shutdown_state(state: dict[str, Any]) -> None:
    state["pool"] = []
    b, pw = state.pop("browser", None), state.pop("playwright", None)
    for closer in (getattr(b, "close", None), getattr(pw, "stop", None)):
        if closer is None:
            continue
        try:
            closer()
        except Exception:  # noqa: BLE001 - best effort at teardown; the browser may be gone already
            pass


atexit.register(_shutdown_all)
