"""Envs behind OpenEnv-protocol servers (``selfgym serve-env``), one WebSocket session per slot.

Each slot is an openenv-core ``EnvClient`` (``SelfgymEnvClient``) with its own session on one
of the servers (slots are dealt round-robin over ``urls``). Calls run on one asyncio loop in a
background thread, so many sessions are in flight at once. A session that dies (the server
gone, the connection dropped, the env failing with ``EXECUTION_ERROR``) fails its episode's
call; ``repair`` opens a new session (on the same server, else the next one that answers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
from collections.abc import Sequence
from typing import Any

from selfgym.executors.driver import Transport


class EnvServers(Transport):
    """``sessions`` sessions over the OpenEnv servers at ``urls`` (http:// or ws://)."""

    name = "envserver"

    def __init__(self, urls: str | Sequence[str], sessions: int = 2, *, message_timeout_s: float = 300.0,
                 connect_timeout_s: float = 10.0):
        from selfgym.serve_env import SelfgymEnvClient  # needs the distributed extra

        self._client_cls = SelfgymEnvClient
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.slots = sessions
        self.message_timeout_s, self.connect_timeout_s = message_timeout_s, connect_timeout_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="envserver-io")
        self.thread.start()
        self.clients: list[Any] = [None] * sessions
        try:
            for i in range(sessions):
                self.clients[i] = self._run(self._connect(self.urls[i % len(self.urls)]), timeout=connect_timeout_s + 5)
        except Exception:
            self.close()
            raise

    def _run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self, url: str):
        client = self._client_cls(base_url=url, connect_timeout_s=self.connect_timeout_s,
                                  message_timeout_s=self.message_timeout_s)
        await client.connect()
        return client

    def reset(self, slot, seed, options):
        client = self.clients[slot]

        async def call():
            from selfgym.serve_env import observation_of

            r = await client.reset(seed=seed, options=options)
            return observation_of(r.observation), r.observation.info

        return asyncio.run_coroutine_threadsafe(call(), self.loop)

    def step(self, slot, action):
        from selfgym.serve_env import gym_result

        client = self.clients[slot]

        async def call():
            return gym_result(await client.step(action))

        return asyncio.run_coroutine_threadsafe(call(), self.loop)

    def wait(self, tickets: Sequence[Any]):
        done, _ = cf.wait(list(tickets), return_when=cf.FIRST_COMPLETED)
        done |= {t for t in tickets if t.done()}
        out = []
        for t in done:
            exc = t.exception()
            out.append((t, None, exc) if exc is not None else (t, t.result(), None))
        return out

    def repair(self, slot):
        old = self.clients[slot]
        if old is not None:
            try:
                self._run(old.close(), timeout=5)
            except Exception:  # noqa: BLE001 - the session is being replaced because it failed
                pass
        self.clients[slot] = None
        first = slot % len(self.urls)
        for k in range(len(self.urls)):
            try:
                self.clients[slot] = self._run(self._connect(self.urls[(first + k) % len(self.urls)]),
                                               timeout=self.connect_timeout_s + 5)
                return True
            except Exception:  # noqa: BLE001 - try the next server
                continue
        return False

    def close(self):
        for c in self.clients:
            if c is not None:
                try:
                    self._run(c.close(), timeout=5)
                except Exception:  # noqa: BLE001
                    pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
