"""The self-challenging loop: one policy writes its own code tasks, then practises on them.

After "Self-Challenging Language Model Agents" (Zhou et al., 2025). One round, top to bottom
(``SelfChallengingAgent.run_round``):

1. **Propose**: the challenger plays ``CodeChallenge-v0`` briefs and proposes tasks in the
   Code-as-Task form (instruction, verification, example solution, failure cases).
2. **Validate**: each proposal is validated in the sandbox inside its env step (the verification
   must pass the solution and reject every failure case); a copy of a task already proposed
   this round or pooled counts as invalid.
3. **Solve in batches**: the executor attempts every valid task ``solve_attempts`` times, all
   tasks of the round in one rollout (one batched agent call per step); its pass rate p per
   task is measured.
4. **Pay the challenger**: validity x 4p(1-p) (tasks everyone or no one solves teach nothing;
   validity alone when ``solve_attempts`` is 0); a valid task with p inside ``keep_pass_rate``
   enters the shared TaskPool.
5. **Practise**: the executor plays ``practice_episodes`` episodes drawn from the pool.

No env step runs a policy: envs only validate and verify; this module calls the agents.
Every episode of both roles is recorded as ``(role, task, trajectory, reward)`` (``records``,
``save_records``) with the token ids an LLM policy returned, ready for a trainer; ``stats``
counts proposed / valid / kept tasks. Each role takes any selfgym ``Agent`` (an ``LLMAgent``) or
a plain callable ``policy(observation, info) -> action``; one policy may play both roles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.rollout import rollout
from selfgym.types import Episode, Task, dump_jsonl


def learnability(p: float) -> float:
    """The challenger's pay for a valid task the executor solves with rate ``p``: 4p(1-p)."""
    return 4.0 * p * (1.0 - p)

Policy = Agent | Callable[[Any, dict[str, Any]], str]


class PolicyAgent(Agent):
    """Wraps a callable ``policy(observation, info) -> action`` as an Agent."""

    def __init__(self, policy: Callable[[Any, dict[str, Any]], str], name: str | None = None):
        if not callable(policy):
            raise ConfigError(f"a policy must be an Agent or a callable, got {type(policy).__name__}")
        self.policy = policy
        self.name = name or getattr(policy, "__name__", "policy")

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        return self.policy(observation, info)


def as_agent(policy: Policy, name: str | None = None) -> Agent:
    """An Agent for ``policy`` (Agents pass through unchanged)."""
    return policy if isinstance(policy, Agent) else PolicyAgent(policy, name)


@dataclass
class Record:
    """One recorded episode for training: who acted, on what, how it went, what it earned."""

    role: str
    task: dict[str, Any]
    trajectory: dict[str, Any]
    reward: float

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "task": self.task, "trajectory": self.trajectory, "reward": self.reward}


@dataclass
class Stats:
    """Counts of the loop so far."""

    proposed: int = 0
    valid: int = 0
    kept: int = 0
    solve_episodes: int = 0
    solved: int = 0
    practice_episodes: int = 0
    practice_solved: int = 0
    infra_errors: int = 0
    pass_rates: list[float] = field(default_factory=list)

    @property
    def valid_rate(self) -> float:
        return self.valid / self.proposed if self.proposed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"proposed": self.proposed, "valid": self.valid, "kept": self.kept, "valid_rate": self.valid_rate,
                "solve_episodes": self.solve_episodes, "solved": self.solved,
                "practice_episodes": self.practice_episodes, "practice_solved": self.practice_solved,
                "infra_errors": self.infra_errors, "pass_rates": list(self.pass_rates)}


class SelfChallengingAgent(Agent):
    """Alternates challenger and executor roles over one or two policies (see the module docstring).

    Args:
        policy: plays both roles unless ``challenger`` / ``executor`` are given.
        challenger / executor: a policy per role (an Agent or a callable).
        pool: the TaskPool shared by both envs (a fresh one by default: ``agent.pool``).
        solve_attempts: executor episodes per new task to measure its pass rate (0: no
            learnability; the challenger is paid for validity alone).
        keep_pass_rate: (lo, hi): a valid task is kept when lo <= p <= hi.
        practice_episodes: executor episodes drawn from the pool after each round.
        n_envs: envs per role run side by side (one batched agent call per step).
        challenge_kwargs / solve_kwargs: extra arguments for CodeChallengeEnv / CodeTaskEnv
            (for example ``max_attempts``, ``reward_mode``, ``sandbox``).
        seed: base seed; round r uses seeds derived from it.

    As an ``Agent`` it routes ``act`` by ``info["family"]``: briefs go to the challenger, code
    tasks to the executor.
    """

    name = "self_challenging"

    def __init__(self, policy: Policy | None = None, *, challenger: Policy | None = None,
                 executor: Policy | None = None, pool=None, solve_attempts: int = 4,
                 keep_pass_rate: tuple[float, float] = (0.0, 1.0), practice_episodes: int = 0, n_envs: int = 2,
                 challenge_kwargs: dict[str, Any] | None = None, solve_kwargs: dict[str, Any] | None = None,
                 seed: int = 0):
        from selfgym.envs.code.challenge import CodeChallengeEnv
        from selfgym.envs.code.env import CodeTaskEnv
        from selfgym.envs.code.pool import TaskPool

        challenger = challenger if challenger is not None else policy
        executor = executor if executor is not None else policy
        if challenger is None or executor is None:
            raise ConfigError("give a policy for both roles, or challenger= and executor=")
        if solve_attempts < 0 or practice_episodes < 0 or n_envs < 1:
            raise ConfigError("solve_attempts and practice_episodes must be >= 0 and n_envs >= 1")
        self.challenger = as_agent(challenger, "challenger")
        self.executor = as_agent(executor, "executor")
        self.pool = pool if pool is not None else TaskPool()
        self.solve_attempts = int(solve_attempts)
        self.practice_episodes = int(practice_episodes)
        lo, hi = keep_pass_rate
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"keep_pass_rate must satisfy 0 <= lo <= hi <= 1, got {keep_pass_rate!r}")
        self.keep_pass_rate = (float(lo), float(hi))
        self.seed = int(seed)
        self.records: list[Record] = []
        self.stats = Stats()
        self._round = 0
        solve_kwargs = dict(solve_kwargs or {})
        challenge_kwargs = dict(challenge_kwargs or {})
        challenge_kwargs.setdefault("on_infra_error", "mask")
        solve_kwargs.setdefault("on_infra_error", "mask")
        self.solve_envs = [CodeTaskEnv(source=self.pool, **solve_kwargs) for _ in range(n_envs)]
        self.challenge_envs = [CodeChallengeEnv(self.pool, add_to_pool=False, **challenge_kwargs)
                               for _ in range(n_envs)]

    # ------------------------------------------------------------------ Agent interface
    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        out: list[str | None] = [None] * len(observations)
        for role, agent in (("code_challenge", self.challenger), (None, self.executor)):
            idx = [i for i, info in enumerate(infos) if (info.get("family") == "code_challenge") == (role is not None)]
            if idx:
                acts = agent.act_batch([observations[i] for i in idx], [infos[i] for i in idx])
                for i, a in zip(idx, acts):
                    out[i] = a
        return [a if a is not None else "" for a in out]

    def reset(self) -> None:
        self.challenger.reset()
        if self.executor is not self.challenger:
            self.executor.reset()

    # ------------------------------------------------------------------ the loop
    def run(self, rounds: int, proposals_per_round: int = 4) -> Stats:
        """``rounds`` rounds of the loop; returns the running ``stats``."""
        if rounds < 0 or proposals_per_round < 1:
            raise ConfigError("rounds must be >= 0 and proposals_per_round >= 1")
        for _ in range(rounds):
            self.run_round(proposals_per_round)
        return self.stats

    def run_round(self, proposals: int) -> list[Task]:
        """One round of the loop (see the module docstring); returns the tasks kept in the pool."""
        from selfgym.envs.code.taskformat import fingerprint

        # 1-2. Propose; each env step validates its proposal in the sandbox.
        episodes = self.propose(proposals)
        valid: list[tuple[Episode, Task]] = []
        seen = set()
        for ep in episodes:
            info = ep.steps[-1].info if ep.steps else {}
            if info.get("valid") is None and "validation" in info:
                self.stats.infra_errors += 1
            if not info.get("valid"):
                continue
            task = Task.from_dict(info["proposal"])
            if fingerprint(task) in seen or self.pool.contains_content(task):
                continue  # a copy of a task proposed earlier this round (or already pooled)
            seen.add(fingerprint(task))
            valid.append((ep, task))
        self.stats.valid += len(valid)
        # 3. Solve every valid task solve_attempts times, in one batched rollout.
        rates = self.pass_rates([task for _, task in valid]) if self.solve_attempts else {}
        # 4. Pay the challenger; keep the tasks inside the pass-rate band.
        kept, pay = [], {}
        lo, hi = self.keep_pass_rate
        for ep, task in valid:
            p = rates.get(task.id)
            if p is not None:
                self.stats.pass_rates.append(p)
            pay[id(ep)] = learnability(p) if p is not None else 1.0
            if (p is None or lo <= p <= hi) and self.pool.add(task):
                kept.append(task)
        for ep in episodes:  # invalid proposals earn 0; a masked infrastructure error stays NaN
            masked = ep.total_reward != ep.total_reward
            self._record_challenger(ep, pay.get(id(ep), ep.total_reward if masked else 0.0))
        self.stats.kept += len(kept)
        # 5. Practise on the pool.
        self.practice(self.practice_episodes)
        self._round += 1
        return kept

    # ------------------------------------------------------------------ the roles
    def propose(self, n: int) -> list[Episode]:
        """``n`` challenger episodes (validated by their envs; nothing is pooled here)."""
        episodes = rollout(self.challenge_envs, self.challenger, n, seed=self._seed("propose"),
                           env_id="selfgym/CodeChallenge-v0")
        self.stats.proposed += sum(len(ep.steps) for ep in episodes)
        return episodes

    def pass_rates(self, tasks: list[Task]) -> dict[str, float]:
        """The executor's pass rate on each task: ``solve_attempts`` episodes each, one rollout."""
        if not tasks:
            return {}
        k = max(1, self.solve_attempts)
        jobs = [t for t in tasks for _ in range(k)]
        episodes = rollout(self.solve_envs, self.executor, len(jobs), tasks=jobs, seed=self._seed("solve"),
                           env_id="selfgym/CodeTask-v0")
        by_id = {t.id: t for t in tasks}
        solved: dict[str, list[bool]] = {t.id: [] for t in tasks}
        for ep in episodes:
            tid = str(ep.task_id)
            self.records.append(Record("executor", by_id[tid].to_dict(), ep.to_dict(), ep.total_reward))
            if not self._infra(ep):
                solved[tid].append(bool(ep.success))
        self.stats.solve_episodes += len(episodes)
        self.stats.solved += sum(sum(v) for v in solved.values())
        return {tid: (sum(v) / len(v) if v else 0.0) for tid, v in solved.items()}

    def pass_rate(self, task: Task) -> float:
        """The executor's pass rate on one task (``pass_rates`` for a batch)."""
        return self.pass_rates([task])[task.id]

    def practice(self, n: int) -> list[Episode]:
        """``n`` executor episodes on tasks drawn from the pool (none while it is empty)."""
        if n <= 0 or len(self.pool) == 0:
            return []
        episodes = rollout(self.solve_envs, self.executor, n, seed=self._seed("practice"),
                           env_id="selfgym/CodeTask-v0")
        for ep in episodes:
            if ep.task_id in self.pool:
                self.pool.record(ep.task_id, ep.total_reward)
                task = self.pool.get(ep.task_id).to_dict()
            else:
                task = {"id": ep.task_id}
            self.records.append(Record("executor", task, ep.to_dict(), ep.total_reward))
            self.stats.practice_episodes += 1
            self.stats.practice_solved += bool(ep.success)
        return episodes

    # ------------------------------------------------------------------ records
    def save_records(self, path: str | os.PathLike, append: bool = False) -> int:
        """Write the recorded (role, task, trajectory, reward) rows as JSON lines."""
        return dump_jsonl(self.records, path, append=append)

    def _record_challenger(self, ep: Episode, reward: float) -> None:
        last = ep.steps[-1].info if ep.steps else {}
        task = last.get("proposal") or {"id": ep.task_id}
        self.records.append(Record("challenger", task, ep.to_dict(), reward))

    @staticmethod
    def _infra(ep: Episode) -> bool:
        return any(s.info.get("reward_valid") is False for s in ep.steps)

    def _seed(self, what: str) -> int:
        offset = {"propose": 0, "solve": 1, "practice": 2}[what]
        n = self.stats.proposed + self.stats.solve_episodes + self.stats.practice_episodes
        return self.seed + 1_000_003 * offset + 10_007 * self._round + n
