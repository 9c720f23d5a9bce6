"""SelfChallengingAgent: one policy that writes its own code tasks, then practises on them.

The loop, after "Self-Challenging Language Model Agents" (Zhou et al., 2025):

1. **Challenger**: the policy reads a brief from ``CodeChallenge-v0`` and proposes a task in the
   Code-as-Task form (instruction, verification, example solution, failure cases). The sandbox
   keeps it only if the verification passes the solution and rejects every failure case.
2. **Executor**: the policy attempts each valid task ``solve_attempts`` times in
   ``CodeTask-v0``; its pass rate p gives the challenger the learnability reward 4p(1-p) and
   decides whether the task is kept (p inside ``keep_pass_rate``) in the shared TaskPool.
3. **Practice**: the executor plays ``practice_episodes`` episodes drawn from the pool.

Every episode of both roles is recorded as ``(role, task, trajectory, reward)`` (``records``,
``save_records``) with the token ids an LLM policy returned, ready for a trainer; ``stats``
counts proposed / valid / kept tasks. Each role takes any selfgym ``Agent`` (an ``LLMAgent``) or
a plain callable ``policy(observation, info) -> action``; one policy may play both roles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.rollout import rollout
from selfgym.types import Episode, Task, dump_jsonl

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
        self.seed = int(seed)
        self.records: list[Record] = []
        self.stats = Stats()
        self._round = 0
        solve_kwargs = dict(solve_kwargs or {})
        challenge_kwargs = dict(challenge_kwargs or {})
        challenge_kwargs.setdefault("on_infra_error", "mask")
        solve_kwargs.setdefault("on_infra_error", "mask")
        self.solve_envs = [CodeTaskEnv(source=self.pool, **solve_kwargs) for _ in range(n_envs)]
        solver = self.pass_rate if self.solve_attempts else None
        self.challenge_envs = [CodeChallengeEnv(self.pool, solver=solver, pool_pass_rate=keep_pass_rate,
                                                **challenge_kwargs) for _ in range(n_envs)]

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

    # ------------------------------------------------------------------ roles
    def pass_rate(self, task: Task) -> float:
        """Run the executor ``solve_attempts`` times on ``task``; the fraction of episodes solved."""
        k = max(1, self.solve_attempts)
        episodes = rollout(self.solve_envs, self.executor, k, tasks=[task], seed=self._seed("solve"),
                           env_id="selfgym/CodeTask-v0")
        self._record("executor", episodes, task)
        solved = [ep.success for ep in episodes if not self._infra(ep)]
        self.stats.solve_episodes += len(episodes)
        self.stats.solved += sum(solved)
        p = sum(solved) / len(solved) if solved else 0.0
        self.stats.pass_rates.append(p)
        return p

    def propose(self, n: int) -> list[Episode]:
        """``n`` challenger episodes; valid tasks (inside the keep band) land in the pool."""
        episodes = rollout(self.challenge_envs, self.challenger, n, seed=self._seed("propose"),
                           env_id="selfgym/CodeChallenge-v0")
        for ep in episodes:
            for step in ep.steps:
                self.stats.proposed += 1
                valid = step.info.get("valid")
                if valid is None and "validation" in step.info:
                    self.stats.infra_errors += 1
                self.stats.valid += bool(valid)
                self.stats.kept += bool(step.info.get("added"))
            last = ep.steps[-1].info if ep.steps else {}
            task = last.get("proposal") or {"id": ep.task_id}
            self.records.append(Record("challenger", task, ep.to_dict(), ep.total_reward))
        return episodes

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

    def run(self, rounds: int, proposals_per_round: int = 4) -> Stats:
        """Alternate the roles for ``rounds`` rounds; returns the running ``stats``."""
        if rounds < 0 or proposals_per_round < 1:
            raise ConfigError("rounds must be >= 0 and proposals_per_round >= 1")
        for _ in range(rounds):
            self.propose(proposals_per_round)
            self.practice(self.practice_episodes)
            self._round += 1
        return self.stats

    # ------------------------------------------------------------------ records
    def save_records(self, path: str | os.PathLike, append: bool = False) -> int:
        """Write the recorded (role, task, trajectory, reward) rows as JSON lines."""
        return dump_jsonl(self.records, path, append=append)

    def _record(self, role: str, episodes: list[Episode], task: Task) -> None:
        for ep in episodes:
            self.records.append(Record(role, task.to_dict(), ep.to_dict(), ep.total_reward))

    @staticmethod
    def _infra(ep: Episode) -> bool:
        return any(s.info.get("reward_valid") is False for s in ep.steps)

    def _seed(self, what: str) -> int:
        offset = {"propose": 0, "solve": 1, "practice": 2}[what]
        n = self.stats.proposed + self.stats.solve_episodes + self.stats.practice_episodes
        return self.seed + 1_000_003 * offset + 10_007 * self._round + n
