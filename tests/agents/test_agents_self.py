"""Reflexion and the self-evaluation rewards on real envs with the default model: the mechanics."""

import math

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.agents.reflexion import REFLECTION_TYPES, RETRY_NOTE, ReflexionAgent
from selfgym.agents.self_eval import PTrue, Confidence, MajorityVote, SelfJudge, parse_score
from selfgym.errors import ConfigError
from selfgym.llm import SamplingParams
from selfgym.rollout import rollout

SHORT = SamplingParams(temperature=0.7, max_tokens=16, seed=0)


def hard_env():
    """Level-5 arithmetic with one attempt: the small model fails it, so trials repeat."""
    return gym.make("selfgym/Arithmetic-v0", level=5, max_attempts=1)


@pytest.mark.model
def test_reflections_are_written_stored_and_reused(backend):
    agent = ReflexionAgent(backend, SHORT, reflection_type="explanation",
                           reflection_sampling=SamplingParams(max_tokens=24, seed=0))
    episodes = rollout([hard_env(), hard_env()], agent, 2, seed=5, trials=2)
    failed_first = [e for e in episodes if e.metadata["trial"] == 1 and not e.success]
    assert failed_first, "the 135M model is expected to fail level-5 arithmetic"
    second = [e for e in episodes if e.metadata["trial"] == 2]
    assert len(second) == len(failed_first)
    for e in second:
        notes = agent.memory[e.task_id]
        system = e.steps[0].info["chat"][0]["content"]
        assert notes[0] in system and "Reflections on your earlier failed attempts" in system
        assert e.task_id == next(f.task_id for f in failed_first if f.metadata["job"] == e.metadata["job"])
    # failures of the final trial are reflected on lazily; flush and count them all
    agent.reflect_pending()
    assert agent.reflections_written == sum(not e.success for e in episodes)


@pytest.mark.model
def test_memory_keeps_at_most_three(backend):
    agent = ReflexionAgent(backend, SamplingParams(max_tokens=4, seed=0), reflection_type="retry")
    episodes = rollout([hard_env()], agent, 1, seed=9, trials=5)
    if any(e.success for e in episodes):
        pytest.skip("the model solved it by chance")
    agent.reflect_pending()
    assert agent.reflections_written == 5
    assert list(agent.memory[episodes[0].task_id]) == [RETRY_NOTE] * 3


@pytest.mark.model
def test_reflection_prompt_redacts_the_verdict_except_unredacted(backend):
    msgs = [{"role": "user", "content": "Compute 2 * 3."}, {"role": "assistant", "content": "5"},
            {"role": "user", "content": "Wrong. The answer was 6."}]
    redacted = ReflexionAgent(backend, reflection_type="solution").reflection_chat(msgs)[1]["content"]
    assert "answer was 6" not in redacted and "judged wrong" in redacted
    full = ReflexionAgent(backend, reflection_type="unredacted").reflection_chat(msgs)[1]["content"]
    assert "answer was 6" in full
    assert len(REFLECTION_TYPES) == 8
    with pytest.raises(ConfigError):
        ReflexionAgent(backend, reflection_type="vibes")


def test_parse_score():
    assert parse_score("Good work.\nScore: 4") == 4
    assert parse_score("**Score:** 2/5") == 2
    assert parse_score("I give it 3/5.") == 3
    assert parse_score("Score: 9") is None and parse_score("no number") is None


def _terminal(env, action):
    env.reset(seed=2)
    return env.step(action)


@pytest.mark.model
def test_self_judge_scores_are_parsed(backend):
    env = SelfJudge(gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1), backend,
                    sampling=SamplingParams(max_tokens=32, seed=0))
    env.reset(seed=2)
    _, reward, term, _, info = env.step(env.unwrapped.cheat())
    assert term and info["env_reward"] == 1.0
    scores = info["self_eval"]["scores"]
    assert len(scores) == 1
    if scores[0] is None:  # the judge failed: masked, never a zero
        assert math.isnan(reward) and info["reward_valid"] is False
    else:
        assert 0 <= scores[0] <= 5 and reward == pytest.approx(scores[0] / 5)


@pytest.mark.model
def test_majority_vote_and_confidence_count_votes(backend):
    sampling = SamplingParams(max_tokens=16, seed=1)
    env = MajorityVote(gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1), backend, k=3, sampling=sampling)
    _, reward, _, _, info = _terminal(env, "7")
    d = info["self_eval"]
    assert len(d["votes"]) == 3 and d["answer_key"] == "7"
    if d["majority"] is None:
        assert math.isnan(reward)
    else:
        assert sum(d["counts"].values()) == sum(v is not None for v in d["votes"])
        assert reward == float(d["majority"] == "7")
    env = Confidence(gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1), backend, k=3, sampling=sampling)
    _, reward, _, _, info = _terminal(env, "7")
    votes = info["self_eval"]["votes"]
    assert reward == pytest.approx(sum(v == "7" for v in votes) / 3)


@pytest.mark.model
def test_ptrue_is_a_probability(backend):
    env = PTrue(gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=1), backend)
    _, reward, _, _, info = _terminal(env, "7")
    d = info["self_eval"]
    if "p_true" in d:
        assert 0.0 <= reward <= 1.0 and reward == pytest.approx(d["p_true"] / (d["p_true"] + d["p_false"]))
    else:
        assert math.isnan(reward) and info["reward_valid"] is False
    assert "env_reward" in info and info["self_reward"] == reward or math.isnan(reward)
