"""Reasoning-v0: a constructor config belongs to the constructor's datasets only."""

import gymnasium as gym

import selfgym  # noqa: F401 - registers the ids


def test_constructor_config_is_not_carried_into_another_dataset():
    env = gym.make("selfgym/Reasoning-v0", dataset="basic_arithmetic", config={"min_terms": 4, "max_terms": 6})
    obs, info = env.reset(seed=0, options={"dataset": "gsm_symbolic", "level": 0})
    assert info["task_id"].startswith("reasoning/gsm_symbolic/")
    # the constructor's dataset still gets its config
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert info["task_id"].startswith("reasoning/basic_arithmetic/")
        assert 4 <= info["difficulty"]["num_terms"] <= 6
    # an episode's own config applies to the dataset it names
    obs, info = env.reset(seed=1, options={"dataset": "chain_sum", "level": 0, "config": {"min_terms": 5, "max_terms": 5}})
    assert info["task_id"].startswith("reasoning/chain_sum/")
    assert env.unwrapped.task.payload["config"]["min_terms"] == 5
