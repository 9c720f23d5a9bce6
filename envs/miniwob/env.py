"""``selfgym/MiniWoB-<task>-v0``: the real MiniWoB++ task pages in headless Chromium.

The page comes from the ``miniwob`` wheel (``file://``), is seeded with ``Math.seedrandom`` on
every reset and started with its timer pushed out of reach, so the step cap, not the
wall clock, ends an episode. Observation, actions and reward are those of every selfgym web env
(``selfgym.envs.web.base``); the page's own reward decides success (raw reward > 0), and its
raw value is kept in ``info["raw_reward"]`` (partial credit: ``max(0, raw)``).
"""

from __future__ import annotations

import os
import pathlib
import threading
from typing import Any

import numpy as np

from selfgym.envs.miniwob import browser as shared
from selfgym.envs.miniwob.catalog import page_path, step_cap, task_names, text_solvable
from selfgym.envs.web.actions import WebAction
from selfgym.envs.web.base import ActionFailed, WebEnvBase
from selfgym.errors import ConfigError, TaskError, VerifierError
from selfgym.types import Task

SNAPSHOT_JS = (pathlib.Path(__file__).with_name("snapshot.js")).read_text()
TIMER_MS = 2_000_000_000  # below setTimeout's 2**31 - 1 limit, about 23 days
ACTION_TIMEOUT_MS = 1500
MAX_NODES = 400
# Images change the layout (and so the outline) once loaded: wait for <img> elements and for the
# images that style sheets draw (icons given by `content: url(...)` or backgrounds), at most 2 s.
_IMAGES_LOADED = """() => {
    const urls = new Set();
    for (const el of document.querySelectorAll("body *")) {
        const cs = window.getComputedStyle(el);
        for (const v of [cs.content, cs.backgroundImage]) {
            const m = /url\\("?([^")]+)"?\\)/.exec(v || "");
            if (m) urls.add(m[1]);
        }
    }
    const waits = Array.from(document.images).filter((i) => !i.complete).map((i) => new Promise((done) => {
        i.addEventListener("load", done); i.addEventListener("error", done); }));
    urls.forEach((u) => waits.push(new Promise((done) => {
        const im = new Image(); im.onload = done; im.onerror = done; im.src = u; })));
    const settled = Promise.all(waits).then(() => new Promise((done) => requestAnimationFrame(() => done())));
    return Promise.race([settled, new Promise((done) => setTimeout(done, 2000))]);
}"""
_INFRA_MARKERS = ("has been closed", "Target closed", "Browser closed", "Connection closed", "crashed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_infra(exc: BaseException) -> bool:
    return any(m in str(exc) for m in _INFRA_MARKERS) or type(exc).__name__ == "TargetClosedError"


class MiniWoBEnv(WebEnvBase):
    """A real MiniWoB++ task in Chromium.

    Args:
        task: the MiniWoB++ task name (``"click-button"``); any of ``catalog.task_names()``.
        max_steps: override the task's step cap (10 to 30 by task).
        reward: ``"binary"`` or ``"partial"`` (see ``selfgym.envs.web.base``).
        settle_ms: milliseconds to wait after each action for the page's handlers and animations.
        reload: ``"task"`` (default) loads the page when the task changes and otherwise resets in
            place, the way MiniWoB++ does (old episode's timer stopped, element ids cleared, the
            page's generator reseeded and rerun); ``"always"`` reloads the page on every reset.
    ``reset(options={"task": Task | dict})`` plays any MiniWoB++ task and seed.
    """

    family = "miniwob"
    # Playwright's sync API binds the browser to the thread that started it: runners and servers
    # keep every call to this env on one thread (the page is opened on the first reset, so an env
    # made in one thread may be handed to another before that)
    metadata = {**WebEnvBase.metadata, "concurrent_steps": False}

    def __init__(self, task: str = "click-button", settle_ms: int = 20, reload: str = "task", **kwargs: Any):
        super().__init__(**kwargs)
        if reload not in ("task", "always"):
            raise ConfigError(f"reload must be 'task' or 'always', got {reload!r}")
        self.reload = reload
        self._loaded: str | None = None
        if task not in task_names():
            raise ConfigError(f"unknown MiniWoB++ task {task!r}; known: {list(task_names())}")
        self.task_name = task
        self.settle_ms = int(settle_ms)
        self.text_solvable = text_solvable(task)
        self._context = None
        self._page = None
        self._page_thread: threading.Thread | None = None
        self._snap: dict[str, Any] = {"utterance": "", "nodes": []}
        self._reply: str | None = None
        self._last_outcome = (False, 0.0)

    # ------------------------------------------------------------------ tasks
    def _make_task(self, name: str, seed: int) -> Task:
        return Task(
            id=f"miniwob/{name}/{seed}", family="miniwob", prompt=f"MiniWoB++ task {name} (seed {seed})",
            payload={"task": name, "seed": int(seed)},
            difficulty={"step_cap": step_cap(name), "text_solvable": int(text_solvable(name))},
            source="miniwob", license="MIT", metadata={"backend": "chromium"},
        )

    # browser handles: pickling replays the episode
    replay_state = ("_context", "_page", "_page_thread", "_loaded", "_snap")

    def cheat(self) -> str:
        """The scripted solver's next action for this page (``scripted.POLICIES``), where one exists."""
        from selfgym.envs.miniwob.scripted import POLICIES

        name = self.task.payload["task"] if self.task is not None else self.task_name
        if name not in POLICIES:
            raise NotImplementedError(f"MiniWoB task {name!r} has no scripted oracle; those with one: "
                                      f"{sorted(POLICIES)}")
        return POLICIES[name](self._last_obs)

    def find_task(self, task_id: str) -> Task:
        """A task from its id (``miniwob/<task>/<seed>``)."""
        parts = task_id.split("/")
        if len(parts) == 3 and parts[0] == "miniwob" and parts[1] in task_names() and parts[2].isdigit():
            return self._make_task(parts[1], int(parts[2]))
        raise TaskError(f"{task_id!r} is not a MiniWoB task id (miniwob/<task>/<seed>)")

    def sample_task(self, rng: np.random.Generator) -> Task:
        return self._make_task(self.task_name, int(rng.integers(0, 2**31 - 1)))

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """``n`` (default 20) seeded instances of this env's task: seeds ``seed .. seed+n-1``."""
        return [self._make_task(self.task_name, seed + i) for i in range(20 if n is None else int(n))]

    def coerce_task(self, value: Any) -> Task:
        task = Task.coerce(value)
        if task.family != "miniwob" or task.payload.get("task") not in task_names():
            raise TaskError(f"MiniWoBEnv needs a miniwob task naming one of the 125 pages; got family "
                            f"{task.family!r}, task {task.payload.get('task')!r}")
        return task

    # ------------------------------------------------------------------ backend hooks
    def _start(self, task: Task) -> int:
        name, seed = task.payload["task"], int(task.payload.get("seed", 0))
        try:
            owner = self._page_thread
            if self._page is not None and owner is not None and owner is not threading.current_thread():
                raise VerifierError(
                    f"this MiniWoB++ env's page belongs to thread {owner.name!r} (Playwright's sync "
                    f"API binds it there) and was called from {threading.current_thread().name!r}; call every "
                    "method of the env from one thread (the rollout runner does)")
            if self._page is None or self._page.is_closed():
                self._context, self._page = shared.new_page()
                self._page_thread = threading.current_thread()
                self._loaded = None
            if self.reload == "always" or self._loaded != name:
                self._page.goto(pathlib.Path(page_path(name)).as_uri(), wait_until="load")
                self._loaded = name
            ready = self._page.evaluate(
                """([seed, ms]) => {
                    if (core.EP_TIMER !== null) { clearTimeout(core.EP_TIMER); core.EP_TIMER = null; }
                    document.querySelectorAll("[data-sgid]").forEach((e) => { delete e.dataset.sgid; });
                    window.__sgNext = 1;
                    Math.seedrandom(String(seed));
                    core.EPISODE_MAX_TIME = ms;
                    core.startEpisodeReal();
                    return WOB_TASK_READY !== false;
                }""", [seed, TIMER_MS])
            if not ready:
                self._page.wait_for_function("() => WOB_TASK_READY !== false", timeout=5000, polling=50)
            self._page.evaluate(_IMAGES_LOADED)
        except VerifierError:
            raise
        except Exception as exc:
            self._loaded = None
            raise VerifierError(f"could not load MiniWoB++ task {name}: {_first_line(exc)}") from exc
        return step_cap(name)

    def _snapshot(self) -> None:
        self._snap = self._page.evaluate(SNAPSHOT_JS, MAX_NODES)

    def _instruction(self) -> str:
        return self._snap.get("utterance") or (self.task.prompt if self.task else "")

    def _nodes(self) -> list[dict[str, Any]]:
        try:
            self._snapshot()
        except Exception as exc:
            raise VerifierError(f"could not read the page: {_first_line(exc)}") from exc
        return self._snap["nodes"]

    def _perform(self, action: WebAction) -> None:
        page = self._page
        try:
            if action.name == "noop":
                page.wait_for_timeout(200)
                return
            if action.name == "send_msg_to_user":
                self._reply = "(nobody reads messages on this page)"
                return
            if action.name == "scroll":
                page.mouse.wheel(0, 300 if action.args["direction"] == "down" else -300)
            elif action.name == "press" and "id" not in action.args:
                page.keyboard.press(action.args["key"])
            else:
                loc = page.locator(f'[data-sgid="{action.target}"]')
                if loc.count() == 0:
                    raise ActionFailed(f"there is no element with id {action.target!r} on the page")
                loc = loc.first
                if action.name == "click":
                    loc.click(timeout=ACTION_TIMEOUT_MS)
                elif action.name == "hover":
                    loc.hover(timeout=ACTION_TIMEOUT_MS)
                elif action.name == "fill":
                    loc.fill(action.args["text"], timeout=ACTION_TIMEOUT_MS)
                elif action.name == "select_option":
                    loc.select_option(label=action.args["option"], timeout=ACTION_TIMEOUT_MS)
                elif action.name == "press":
                    loc.press(action.args["key"], timeout=ACTION_TIMEOUT_MS)
            if self.settle_ms:
                page.wait_for_timeout(self.settle_ms)
        except ActionFailed:
            raise
        except Exception as exc:
            if _is_infra(exc):
                raise VerifierError(f"the browser failed: {_first_line(exc)}") from exc
            raise ActionFailed(f"{action.name} failed: {_first_line(exc)}") from None

    def _outcome(self) -> tuple[bool, float, str]:
        try:
            done, raw, reason = self._page.evaluate("() => [WOB_DONE_GLOBAL, WOB_RAW_REWARD_GLOBAL, WOB_REWARD_REASON]")
        except Exception as exc:
            raise VerifierError(f"could not read the page's reward: {_first_line(exc)}") from exc
        self._last_outcome = (bool(done), float(raw or 0.0))
        return bool(done), float(raw or 0.0), str(reason) if reason else ""

    def _partial(self) -> float:
        done, raw = self._last_outcome
        return max(0.0, raw) if done else 0.0

    def _take_user_reply(self) -> str | None:
        reply, self._reply = self._reply, None
        return reply

    def close(self):
        from selfgym.executors.threads import owner_thread, release_thread

        owner = owner_thread(self)
        if owner is not None and not owner.is_current():  # the runner's thread for this env closes it
            owner.call(self.close)
            release_thread(self)  # the thread ends, and its browser with it
            return
        if self._page is not None:
            shared.release_page(self._context, self._page)
        self._page = self._context = None
        self._page_thread = None
        self._loaded = None
        super().close()


def pids_of_owner(tag: str) -> list[int]:
    """Process ids whose command line carries this owner tag (Linux ``/proc``)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if (shared.OWNER_FLAG + tag).encode() in f.read():
                    out.append(int(entry))
        except OSError:
            continue
    return out
