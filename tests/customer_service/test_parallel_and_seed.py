"""The customer-service Parallel env, and PettingZoo's seed tests over whole conversations."""

from __future__ import annotations

import functools

import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test, seed_test

from selfgym.envs.customer_service.aec import env as aec_env
from selfgym.envs.customer_service.data import load_domain_tasks
from selfgym.envs.customer_service.oracle import oracle_actions
from selfgym.envs.customer_service.parallel import parallel_env
from selfgym.envs.customer_service.user import ScriptedUser
from selfgym.registration import make_pettingzoo

NAME = "selfgym/customer_service"


def test_seed_test_passes_over_whole_conversations():
    # 500 cycles: the conversations end, so the final info (with its verdict) is compared too
    seed_test(functools.partial(make_pettingzoo, NAME, False), num_cycles=500)


def test_info_verdict_leaves_timings_out_and_the_env_keeps_them():
    task = load_domain_tasks("retail")[0]
    env = aec_env(domain="retail")
    env.reset(options={"task": task})
    user, actions = ScriptedUser(), iter(oracle_actions(task))
    for seat in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            break
        env.step(user.act(obs["text"], info) if seat == "user" else next(actions, ""))
    assert info["verdict"]["passed"] and "timings" not in info["verdict"]
    assert env.unwrapped.verdict.timings["total"] >= 0


def test_the_parallel_env_is_registered_and_passes_pettingzoo_checks():
    env = make_pettingzoo(NAME, parallel=True)
    assert type(env).__name__ == "CustomerServiceParallelEnv"
    parallel_api_test(env, num_cycles=500)
    parallel_seed_test(functools.partial(make_pettingzoo, NAME, True), num_cycles=500)


def play_parallel(env, task, agent_actions):
    obs, infos = env.reset(options={"task": task})
    user, actions = ScriptedUser(), iter(agent_actions)
    totals = {a: 0.0 for a in env.possible_agents}
    movers = []
    while env.agents:
        mover = infos["agent"]["active_agent"]
        assert infos["user"]["active_agent"] == mover and obs[mover]["to_move"] == 1
        movers.append(mover)
        act = user.act(obs["user"]["text"], infos["user"]) if mover == "user" else next(actions, "")
        # the seat that is not moving sends something too: it is ignored
        obs, rewards, terms, truncs, infos = env.step({mover: act, ("agent" if mover == "user" else "user"): "ignored"})
        for a, r in rewards.items():
            totals[a] += r
    assert terms == {"agent": True, "user": True} or truncs == {"agent": True, "user": True}
    return totals, movers, infos


@pytest.mark.parametrize("domain,index", [("retail", 0), ("airline", 3)])
def test_parallel_oracle_and_scripted_user_earn_one_like_the_aec_env(domain, index):
    task = load_domain_tasks(domain)[index]
    totals, movers, infos = play_parallel(parallel_env(domain=domain), task, oracle_actions(task))
    assert totals == {"agent": 1.0, "user": 1.0}
    assert movers[0] == "user" and "agent" in movers
    assert infos["agent"]["verdict"]["passed"] and infos["agent"]["outcome"] in ("user_stop", "agent_stop")
    silent, _, _ = play_parallel(parallel_env(domain=domain), task, [])
    assert silent == {"agent": 0.0, "user": 0.0}
