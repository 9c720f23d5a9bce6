"""The Agent and Sampler contracts are declared in code and every implementation meets them."""

from __future__ import annotations

import inspect

import gymnasium as gym

from selfgym.agent import Agent, AgentProtocol
from selfgym.agents.scripted import ConstantAgent, RandomAgent, ReplayAgent
from selfgym.curricula import samplers
from selfgym.curricula.base import Sampler, TaskSampler
from selfgym.rollout import rollout


def test_agents_meet_the_agent_protocol_and_runners_rely_on_it():
    for agent in (ConstantAgent("0"), ReplayAgent(["1"]), RandomAgent(seed=0)):
        assert isinstance(agent, AgentProtocol)
        assert agent.last_completions == [] and agent.last_chats == []  # declared, empty without a model
    assert not isinstance(object(), AgentProtocol)
    env = gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1)
    (episode,) = rollout([env], ConstantAgent("0"), 1, seed=0)
    assert episode.steps and not episode.steps[0].token_ids


def test_every_sampler_meets_the_sampler_protocol_hooks_included():
    tasks = gym.make("selfgym/Arithmetic-v0", level=1).unwrapped.task_set(6)
    classes = [c for _, c in inspect.getmembers(samplers, inspect.isclass)
               if issubclass(c, TaskSampler) and c.__module__ == samplers.__name__]
    assert len(classes) >= 4
    for cls in classes:
        sampler = cls(tasks, seed=0)
        assert isinstance(sampler, Sampler), cls
        task = sampler.sample()
        sampler.update(task, 1.0)
        sampler.reseed(1)
        assert sampler.observe_episode(task, [], 1.0) is None


def test_agent_base_requires_act_or_act_batch():
    class Nothing(Agent):
        pass

    try:
        Nothing().act("obs", {})
    except TypeError as exc:
        assert "must override act or act_batch" in str(exc)
    else:
        raise AssertionError("an agent with neither act nor act_batch must fail")
