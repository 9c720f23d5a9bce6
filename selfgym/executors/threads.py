"""Envs on threads of their own: one dedicated thread per env, for the env's whole life.

``EnvThread`` is a thread that runs the calls it is given one at a time, in order. ``Threads``
is the ``Transport`` the rollout runner drives: every env has its own ``EnvThread``, so envs
step concurrently, including envs bound to the thread that first used them (``metadata``
``"concurrent_steps": False``: MiniWoB++, whose browser page belongs to the Playwright
instance of the thread that opened it). Such an env is made, reset, stepped and closed on one
thread:

- an env *factory* (a callable returning an env, e.g. ``functools.partial(gym.make, id)``) is
  called on the slot's thread, and the env is closed there when the run ends;
- a thread-bound env *object* is adopted by a thread kept for that env (``bound_thread``): the
  same thread serves it in every later run, and its ``close`` runs there too (the env asks
  ``owner_thread`` and hands itself over), after which the thread ends. Adoption works for
  envs that bind lazily (MiniWoB++ opens its page on the first ``reset``), so the caller may
  ``gymnasium.make`` them in any thread but must not reset them before the first run.

Work a thread leaves behind when it ends (a thread's own browser) is cleaned up by hooks the
env code registers with ``at_thread_exit``.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from typing import Any

from selfgym.executors.driver import Transport

_local = threading.local()
_STOP = object()
_numbers = itertools.count(1)


def at_thread_exit(fn: Callable[[], Any]) -> bool:
    """Run ``fn`` on this thread just before it ends, if it is an ``EnvThread``; else False.

    Env code that starts per-thread resources (a browser) registers their shutdown here, so
    they go when the env's thread goes instead of at process exit.
    """
    hooks = getattr(_local, "exit_hooks", None)
    if hooks is None:
        return False
    if fn not in hooks:
        hooks.append(fn)
    return True


class EnvThread:
    """A daemon thread that runs submitted calls one at a time, in submission order."""

    def __init__(self, name: str = "selfgym-env"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = False
        self.thread = threading.Thread(target=self._loop, name=f"{name}-{next(_numbers)}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        _local.exit_hooks = []
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                fut, fn = job
                if fut.set_running_or_notify_cancel():
                    _settle(fut, fn)
                del job, fut, fn  # hold no env between calls (a kept thread ends when its env is collected)
        finally:
            for hook in reversed(_local.exit_hooks):
                try:
                    hook()
                except Exception:  # noqa: BLE001 - best effort at thread teardown (a browser already gone)
                    pass

    def is_current(self) -> bool:
        return threading.current_thread() is self.thread

    @property
    def alive(self) -> bool:
        return not self._stopped and self.thread.is_alive()

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Queue ``fn``; its Future holds the result or the exception."""
        if self._stopped:
            raise RuntimeError(f"{self.thread.name} has been stopped")
        fut: Future = Future()
        self._jobs.put((fut, fn))
        return fut

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on this thread and return its result (at once when already on it)."""
        if self.is_current():
            return fn()
        return self.submit(fn).result()

    def stop(self, wait: bool = True) -> None:
        """End the thread after the calls already queued (its exit hooks run on it)."""
        if not self._stopped:
            self._stopped = True
            self._jobs.put(_STOP)
        if wait and not self.is_current():
            self.thread.join()


# ------------------------------------------------------------------ threads kept per env object
_owners: weakref.WeakKeyDictionary[Any, EnvThread] = weakref.WeakKeyDictionary()
_owners_lock = threading.Lock()


def _base(env: Any) -> Any:
    return getattr(env, "unwrapped", env)


def steps_concurrently(env: Any) -> bool:
    """Whether ``env`` may be called from any thread (its ``metadata`` lacks ``concurrent_steps: False``)."""
    return (getattr(_base(env), "metadata", None) or {}).get("concurrent_steps", True) is not False


def owner_thread(env: Any) -> EnvThread | None:
    """The live thread kept for ``env`` by ``bound_thread``, if any."""
    t = _owners.get(_base(env))
    return t if t is not None and t.alive else None


def bound_thread(env: Any) -> EnvThread:
    """The thread that runs every call of ``env`` (made on first use, kept while the env lives)."""
    base = _base(env)
    with _owners_lock:
        t = _owners.get(base)
        if t is None or not t.alive:
            t = EnvThread(name=f"selfgym-env-{type(base).__name__}")
            _owners[base] = t
            weakref.finalize(base, t.stop, False)
        return t


def on_own_thread(env: Any, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on ``env``'s kept thread when it has one and this is another thread, else here."""
    t = owner_thread(env)
    return t.call(fn) if t is not None else fn()


def release_thread(env: Any) -> None:
    """Forget ``env``'s kept thread and end it (after its queued calls)."""
    with _owners_lock:
        t = _owners.pop(_base(env), None)
    if t is not None:
        t.stop(wait=not t.is_current())


# ------------------------------------------------------------------ the transport
class Threads(Transport):
    """Each env on a dedicated thread (see the module doc); results as Futures.

    Args:
        envs: env objects or env factories (zero-argument callables), one per slot.
        concurrent: False runs every call at once in the calling thread (the sequential
            runner), except for envs that already have a kept thread, whose calls go there.
    """

    name = "threads"
    supports_timeout = True

    def __init__(self, envs: Sequence[Any], concurrent: bool = True):
        self.concurrent = concurrent
        self.envs: list[Any] = []
        self._threads: list[EnvThread | None] = []
        self._own_thread: list[bool] = []   # a thread made for this run (stopped by close)
        self._own_env: list[bool] = []      # an env made from a factory (closed by close)
        try:
            for item in envs:
                self._add(item)
        except BaseException:
            self.close()
            raise
        self.slots = len(self.envs)

    def _add(self, item: Any) -> None:
        factory = isinstance(item, type) or (callable(item) and not hasattr(item, "step"))
        if factory:
            t = EnvThread() if self.concurrent else None
            try:
                env = t.call(item) if t is not None else item()
            except BaseException:
                if t is not None:
                    t.stop()
                raise
            own_thread = t is not None
        else:
            env = item
            t = owner_thread(env)
            own_thread = False
            if t is None and self.concurrent:
                if steps_concurrently(env):
                    t, own_thread = EnvThread(), True
                else:
                    t = bound_thread(env)
        self.envs.append(env)
        self._threads.append(t)
        self._own_thread.append(own_thread)
        self._own_env.append(factory)

    def _run(self, slot: int, fn: Callable[[], Any]) -> Future:
        t = self._threads[slot]
        if t is not None and self.concurrent:
            return t.submit(fn)
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        _settle(fut, (lambda: t.call(fn)) if t is not None else fn, catch=Exception)
        return fut

    def reset(self, slot, seed, options):
        env = self.envs[slot]
        return self._run(slot, lambda: env.reset(seed=seed, options=options))

    def step(self, slot, action):
        env = self.envs[slot]
        return self._run(slot, lambda: env.step(action))

    def wait(self, tickets, timeout=None):
        done, _ = wait_futures(tickets, timeout=timeout, return_when=FIRST_COMPLETED)
        return [(f, *_outcome(f)) for f in tickets if f in done]

    def close(self):
        for i, env in enumerate(self.envs):
            t = self._threads[i]
            if self._own_env[i]:
                try:
                    (t.call if t is not None else _call)(env.close)
                except Exception:  # noqa: BLE001 - closing must not hide a run's result
                    pass
            if t is not None and self._own_thread[i]:
                t.stop()


def _settle(fut: Future, fn: Callable[[], Any], catch: type[BaseException] = BaseException) -> None:
    """Run ``fn`` into ``fut``; ``fut.seconds`` is the call's own duration (set before waiters wake).

    On an ``EnvThread`` everything is caught (a thread that died would leave its caller waiting);
    a call in the caller's thread lets ``KeyboardInterrupt`` through.
    """
    start = time.perf_counter()
    try:
        value = fn()
    except catch as exc:  # handed to the caller through the future
        fut.seconds = time.perf_counter() - start  # type: ignore[attr-defined]
        fut.set_exception(exc)
        return
    fut.seconds = time.perf_counter() - start  # type: ignore[attr-defined]
    fut.set_result(value)


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def _outcome(f: Future) -> tuple[Any, BaseException | None]:
    exc = f.exception()
    return (None, exc) if exc is not None else (f.result(), None)
