"""Executors on this machine: in-process envs, and Gymnasium's sync and async vector envs."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from selfgym.executors.driver import Transport


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gymnasium.make(env_id, **env_kwargs)`` after selfgym's ids are registered (any process)."""
    import selfgym  # noqa: F401 - registers the selfgym ids in a fresh worker process

    return gym.make(env_id, **(env_kwargs or {}))


class InProcess(Transport):
    """Envs in this process, stepped one after another (the reference executor).

    Each call runs at once; its ticket is already finished when ``wait`` sees it.
    """

    name = "inprocess"

    def __init__(self, env_id: str, num_envs: int = 1, env_kwargs: dict[str, Any] | None = None,
                 envs: Sequence[gym.Env] | None = None):
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        made = envs if envs is not None else [make_env(env_id, env_kwargs) for _ in range(num_envs)]
        self.envs: list[gym.Env | None] = list(made)
        self.slots = len(self.envs)
        self._done: dict[int, tuple[Any, BaseException | None]] = {}
        self._ids = itertools.count()

    def _call(self, fn: Callable[[], Any]) -> int:
        t = next(self._ids)
        try:
            self._done[t] = (fn(), None)
        except Exception as exc:  # noqa: BLE001 - handed to the driver as an infrastructure failure
            self._done[t] = (None, exc)
        return t

    def _env(self, slot: int) -> gym.Env:
        env = self.envs[slot]
        if env is None:
            raise RuntimeError(f"env {slot} could not be rebuilt")
        return env

    def reset(self, slot, seed, options):
        return self._call(lambda: self._env(slot).reset(seed=seed, options=options))

    def step(self, slot, action):
        return self._call(lambda: self._env(slot).step(action))

    def wait(self, tickets):
        return [(t, *self._done.pop(t)) for t in tickets if t in self._done]

    def repair(self, slot):
        try:
            self._env(slot).close()
        except Exception:  # noqa: BLE001 - the env is being replaced because it failed
            pass
        try:
            self.envs[slot] = make_env(self.env_id, self.env_kwargs)
            return True
        except Exception:  # noqa: BLE001 - the slot cannot be rebuilt; the driver moves its job
            self.envs[slot] = None
            return False

    def close(self):
        for e in self.envs:
            if e is not None:
                try:
                    e.close()
                except Exception:  # noqa: BLE001 - closing must not hide a run's result
                    pass


class CarryInfo(gym.Wrapper):
    """Hands each sub-env's observation and ``info`` through a vector env as one object.

    Vector envs batch each info key into a NumPy array whose dtype is set by the first env that
    reported it (an int key later given 0.5 by another env would be truncated), split nested
    dicts into masks, and turn structured observations (``Dict`` spaces) into batched arrays.
    Carrying the env's own values as one opaque object keeps every sub-env's result exact.
    """

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {"selfgym": _Carried(obs, info)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {"selfgym": _Carried(obs, info)}


class _Carried:
    __slots__ = ("obs", "info")

    def __init__(self, obs: Any, info: dict[str, Any]):
        self.obs, self.info = obs, info

    def __getstate__(self):
        return (self.obs, self.info)

    def __setstate__(self, state):
        self.obs, self.info = state


def _unbatch(infos: dict[str, Any], i: int) -> tuple[Any, dict[str, Any]]:
    carried = infos["selfgym"][i]
    return carried.obs, carried.info


class VectorEnv(Transport):
    """A Gymnasium vector env (``mode`` "sync" or "async"), stepped in lockstep.

    ``async`` sub-envs start through a multiprocessing fork server (``context``), which is safe
    when this process runs threads (a browser driver, a sandbox pool); as with any non-fork
    start method, a script that uses it needs an ``if __name__ == "__main__":`` guard.

    Built with ``gymnasium.make_vec`` and autoreset disabled, so each sub-env is reset with its
    own job seed (``options["reset_mask"]``). Vector envs step every sub-env at once: the driver's
    actions are buffered until each running sub-env has one; a sub-env with no work left plays a
    padding episode with empty actions whose results are dropped. A failure inside a vector step
    cannot be pinned on one sub-env, so it fails every episode of that step and the vector env
    is rebuilt.
    """

    def __init__(self, env_id: str, num_envs: int = 2, mode: str = "sync", env_kwargs: dict[str, Any] | None = None,
                 context: str = "forkserver"):
        self.context = context
        if mode not in ("sync", "async"):
            raise ValueError(f"vector mode must be 'sync' or 'async', got {mode!r}")
        self.name = f"vector-{mode}"
        self.env_id, self.mode, self.env_kwargs = env_id, mode, dict(env_kwargs or {})
        self.slots = num_envs
        self.vec = self._make()
        self._ids = itertools.count()
        self._resets: dict[int, tuple[int, int | None, dict | None]] = {}   # slot -> (ticket, seed, options)
        self._actions: dict[int, tuple[int, str]] = {}                      # slot -> (ticket, action)
        self._running = np.zeros(num_envs, dtype=bool)   # a sub-env mid-episode
        self._idle = np.zeros(num_envs, dtype=bool)      # released by the driver: padding
        self._done: dict[int, tuple[Any, BaseException | None]] = {}
        self._started = False  # every sub-env reset once

    def _make(self):
        import selfgym  # noqa: F401

        kwargs: dict[str, Any] = {"autoreset_mode": gym.vector.AutoresetMode.DISABLED}
        if self.mode == "async":
            kwargs["shared_memory"] = False  # Text observations cannot live in shared memory
            # fork would copy this process's threads' locks (a browser driver, a sandbox pool) mid-use;
            # the fork server starts clean, imports selfgym once, and forks each sub-env from there
            import multiprocessing

            multiprocessing.set_forkserver_preload(["selfgym", "selfgym.executors.local"])
            kwargs["context"] = self.context
        return gym.make_vec(self.env_id, num_envs=self.slots, vectorization_mode=self.mode,
                            vector_kwargs=kwargs, wrappers=[CarryInfo], **self.env_kwargs)

    def reset(self, slot, seed, options):
        t = next(self._ids)
        self._resets[slot] = (t, seed, options)
        return t

    def step(self, slot, action):
        t = next(self._ids)
        self._actions[slot] = (t, action)
        return t

    def release(self, slot):
        self._idle[slot] = True

    def _flush(self) -> None:
        if self._resets:
            self._do_resets(dict(self._resets))
            self._resets.clear()
        live = [i for i in range(self.slots) if self._running[i] and not self._idle[i]]
        if not self._actions or any(i not in self._actions for i in live):
            return
        pads = [i for i in range(self.slots) if self._idle[i] and not self._running[i]]
        if pads:
            try:
                self._reset_group(pads, [None] * len(pads), None)
            except Exception as exc:  # noqa: BLE001
                self._fail_all(exc)
                return
        actions = tuple(self._actions[i][1] if i in self._actions else "" for i in range(self.slots))
        sent = dict(self._actions)
        self._actions.clear()
        try:
            obs, rewards, terms, truncs, infos = self.vec.step(actions)
        except Exception as exc:  # noqa: BLE001 - every episode of this step fails together
            for t, _ in sent.values():
                self._done[t] = (None, exc)
            self._rebuild()
            return
        for i in range(self.slots):
            self._running[i] = not (terms[i] or truncs[i])
            if i in sent:
                o, info = _unbatch(infos, i)
                self._done[sent[i][0]] = ((o, float(rewards[i]), bool(terms[i]), bool(truncs[i]), info), None)

    def _do_resets(self, resets: dict[int, tuple[int, int | None, dict | None]]) -> None:
        if not self._started:  # a partial reset needs every sub-env to have an observation already
            others = [i for i in range(self.slots) if i not in resets]
            if others:
                try:
                    self._reset_group(others, [None] * len(others), None)
                except Exception as exc:  # noqa: BLE001
                    for t, _, _ in resets.values():
                        self._done[t] = (None, exc)
                    self._rebuild()
                    return
                self._idle[others] = True  # padding until the driver gives them a job
            self._started = True
        groups: dict[str, list[int]] = {}
        for slot, (_, _, options) in resets.items():
            groups.setdefault(repr(options), []).append(slot)
        for slots in groups.values():
            options = resets[slots[0]][2]
            try:
                obs, infos = self._reset_group(slots, [resets[s][1] for s in slots], options)
            except Exception as exc:  # noqa: BLE001
                for s in slots:
                    self._done[resets[s][0]] = (None, exc)
                self._rebuild()
                continue
            for s in slots:
                self._idle[s] = False
                self._done[resets[s][0]] = (_unbatch(infos, s), None)

    def _reset_group(self, slots: list[int], seeds: list[int | None], options: dict | None):
        mask = np.zeros(self.slots, dtype=bool)
        mask[slots] = True
        seed_list: list[int | None] = [None] * self.slots
        for s, sd in zip(slots, seeds, strict=True):
            seed_list[s] = sd
        obs, infos = self.vec.reset(seed=seed_list, options={**(options or {}), "reset_mask": mask})  # pyright: ignore[reportArgumentType]
        self._running[slots] = True
        return obs, infos

    def _fail_all(self, exc: BaseException) -> None:
        for t, _ in self._actions.values():
            self._done[t] = (None, exc)
        self._actions.clear()
        self._rebuild()

    def _rebuild(self) -> None:
        try:
            self.vec.close()
        except Exception:  # noqa: BLE001 - it is being replaced because it failed
            pass
        self.vec = self._make()
        self._running[:] = False
        self._started = False

    def wait(self, tickets):
        self._flush()
        out = [(t, *self._done.pop(t)) for t in tickets if t in self._done]
        if not out and tickets:
            raise RuntimeError(f"{self.name}: no sub-env can move (waiting on {len(tickets)} calls); this is a bug")
        return out

    def repair(self, slot):
        self._running[slot] = False
        return True

    def close(self):
        try:
            self.vec.close()
        except Exception:  # noqa: BLE001
            pass
