"""LLMAgent and the batched runner on real envs with the default model."""

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the ids
from selfgym.agents.llm import LLMAgent
from selfgym.agents.prompts import GenericTemplate, template_for
from selfgym.agents.scripted import ConstantAgent, RandomAgent, ReplayAgent
from selfgym.envs.arithmetic.prompting import ArithmeticTemplate
from selfgym.envs.negotiation.llm import LenientTemplate
from selfgym.llm import SamplingParams
from selfgym.rollout import load_episodes, rollout, save_episodes, summarize, to_hf_dataset

SHORT = SamplingParams(temperature=0.7, max_tokens=16, seed=0)


class CountingBackend:
    """The real backend, counting generate calls and batch sizes (the runner's contract)."""

    def __init__(self, inner):
        self.inner, self.name, self.batches = inner, inner.name, []

    def generate(self, chats, sampling=None):
        self.batches.append(len(chats))
        return self.inner.generate(chats, sampling)


@pytest.mark.model
def test_one_generate_call_per_step_for_all_envs(backend, tmp_path):
    counting = CountingBackend(backend)
    agent = LLMAgent(counting, SHORT)
    envs = [gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=2) for _ in range(4)]
    episodes = rollout(envs, agent, 4, seed=11)
    assert len(episodes) == 4
    longest = max(len(e.steps) for e in episodes)
    assert len(counting.batches) == longest  # one call per step, not per env
    assert counting.batches[0] == 4 and sum(counting.batches) == sum(len(e.steps) for e in episodes)
    for e in episodes:
        s = e.steps[0]
        assert s.token_ids and len(s.token_ids) == len(s.logprobs) and s.prompt_token_ids
        assert s.info["chat"][-1]["content"] == s.observation and "verdict" in e.steps[-1].info
        assert e.metadata["messages"][-1]["role"] == "user"
    path = tmp_path / "episodes.jsonl"
    save_episodes(episodes, path)
    again = load_episodes(path)
    assert [e.total_reward for e in again] == [e.total_reward for e in episodes]
    assert again[0].steps[0].token_ids == episodes[0].steps[0].token_ids
    rows = to_hf_dataset(episodes)
    assert len(rows) == sum(len(e.steps) for e in episodes)
    assert rows[0]["completion_token_ids"] == episodes[0].steps[0].token_ids
    summary = summarize(episodes)
    assert summary["episodes"] == 4 and 0.0 <= summary["success"] <= 1.0 and summary["tokens"] > 0


@pytest.mark.model
def test_agent_exposes_last_completions_and_acts_on_other_families(backend):
    agent = LLMAgent(backend, SHORT)
    ids = [e for e in ("selfgym/Negotiation-v0", "selfgym/ToolUse-v0", "selfgym/CodeTask-v0")
           if e in gym.registry]
    envs = [gym.make(e) for e in ids]
    resets = [env.reset(seed=3) for env in envs]
    actions = agent.act_batch([r[0] for r in resets], [r[1] for r in resets])
    assert len(agent.last_completions) == len(ids) == len(actions)
    for env, action, (obs, info) in zip(envs, actions, resets):
        assert isinstance(action, str)
        if info.get("family") == "negotiation":
            assert action.startswith("[")  # the template keeps the env's action syntax
        env.step(action)  # any string is a legal action


def test_templates_follow_the_info_contract():
    info = {"family": "arithmetic", "messages": [{"role": "system", "content": "SYS"}, {"role": "user", "content": "Compute 1 + 1."}]}
    chat = template_for(info).chat("Compute 1 + 1.", info, memory="MEMORY")
    assert chat[0]["role"] == "system" and chat[0]["content"].startswith("SYS") and "MEMORY" in chat[0]["content"]
    assert chat[1:] == info["messages"][1:]
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Find a thing.",
                                               "parameters": {"properties": {"key": {"type": "string"}}}}}]
    chat = template_for({"family": "unknown", "tools": tools}).chat("obs", {"tools": tools})
    assert "lookup(key: string): Find a thing." in chat[0]["content"] and chat[1] == {"role": "user", "content": "obs"}
    long = [{"role": "user", "content": "task"}] + [{"role": r, "content": "x" * 100} for r in ("assistant", "user") * 20]
    fitted = GenericTemplate(max_chars=500)._fit(long)
    assert fitted[0]["content"] == "task" and fitted[1]["role"] == "user" and len(fitted) < len(long)
    assert ArithmeticTemplate().answer_key("so 3 + 4 = 7\n1,234") == "1234"
    assert GenericTemplate().answer_key("blah\n<final_answer> Paris. </final_answer>") == "paris"
    assert LenientTemplate().extract("I want the hats", {}) == "[message] I want the hats"


def test_families_name_their_templates_and_agents_know_no_family():
    import pathlib

    for env_id, cls in (("selfgym/Arithmetic-v0", "ArithmeticTemplate"), ("selfgym/CodeTask-v0", "CodeTemplate"),
                        ("selfgym/ToolUse-v0", "GenericTemplate")):
        env = gym.make(env_id)
        _, info = env.reset(seed=0)
        assert type(template_for(info)).__name__ == cls
        env.close()
    source = (pathlib.Path(__file__).resolve().parents[2] / "agents" / "prompts.py").read_text()
    for family in ("arithmetic", "code", "negotiation", "tooluse"):
        assert f'"{family}"' not in source


def test_scripted_baselines_run_through_the_runner():
    envs = [gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1) for _ in range(2)]
    eps = rollout(envs, ConstantAgent("0"), 3, seed=0)
    assert len(eps) == 3 and all(not e.steps[0].token_ids for e in eps)
    env = gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=3)
    obs, info = env.reset(seed=0)
    answer = env.unwrapped.cheat()
    eps = rollout([env], ReplayAgent(["wrong", answer]), 1, seed=0)
    assert eps[0].success and len(eps[0].steps) == 2
    eps = rollout(envs, RandomAgent(seed=1), 2, seed=0)
    assert len(eps) == 2
    vec = gym.vector.SyncVectorEnv([lambda: gym.make("selfgym/Arithmetic-v0", max_attempts=1)] * 3)
    eps = rollout(vec, ConstantAgent("1"), 5, seed=0)  # a vector env's sub-envs are stepped as a list
    assert len(eps) == 5 and sorted(e.seed for e in eps) == [0, 1, 2, 3, 4]
