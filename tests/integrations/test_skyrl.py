"""SkyRL-Gym (0.4.0): every family behind BaseTextEnv, selected by a row's env_class."""

import json
import math

import gymnasium as gym
import pytest

skyrl_gym = pytest.importorskip("skyrl_gym", reason="skyrl-gym is installed by the trainers extra")

from selfgym.errors import VerifierError  # noqa: E402
from selfgym.integrations import skyrl as sk  # noqa: E402
from selfgym.run_cli import family_ids  # noqa: E402

MARKS = {"code": [pytest.mark.docker], "web": [pytest.mark.browser], "miniwob": [pytest.mark.browser]}
ACTIONS = ["hello", '{"name": "final_answer", "arguments": {"answer": "42"}}', "[propose] (1 books, 1 hats, 1 balls)"]


def family_params():
    from selfgym.registration import catalog

    family = {e.id: e.family for e in catalog("gymnasium")}
    return [pytest.param(i, marks=MARKS.get(family[i], []), id=family[i]) for i in family_ids()]


def test_every_selfgym_id_is_registered_in_skyrl_gym():
    from skyrl_gym.envs.registration import registry

    from selfgym.registration import catalog

    ids = {e.id for e in catalog("gymnasium")}
    assert ids | {"selfgym"} <= set(registry)
    assert registry["selfgym/Arithmetic-v0"].kwargs == {"env_id": "selfgym/Arithmetic-v0"}


@pytest.mark.parametrize("env_id", family_params())
def test_adapter_replays_the_env_exactly(env_id):
    """Through skyrl_gym.make(row['env_class']), each family gives the env's own chat and rewards."""
    row = sk.skyrl_rows(env_id, 1, seed=3)[0]
    env = skyrl_gym.make(row["env_class"], env_config={}, extras=row)
    assert isinstance(env, sk.SelfgymTextEnv)
    chat, meta = env.init(row["prompt"])
    assert chat == row["prompt"] and chat[-1]["role"] == "user"
    ref = gym.make(env_id)
    _, info = ref.reset(seed=3, options={"task": json.loads(row["extra_info"]["task"])})
    assert chat == info["messages"] and meta["tools"] == info["tools"]
    for action in ACTIONS:
        out = env.step(action)
        _, reward, term, trunc, info = ref.step(action)
        assert out["reward"] == reward and out["done"] == (term or trunc)
        if out["done"]:
            assert out["observations"] == []
            break
        # The observation is exactly what the env appended after the reply.
        assert info["messages"][-2] == {"role": "assistant", "content": action}
        assert out["observations"] == info["messages"][-1:]
        chat = chat + [{"role": "assistant", "content": action}] + out["observations"]
        assert chat == info["messages"]
    env.close()
    ref.close()


def test_generic_class_reads_the_id_from_extra_info_and_rewards_are_the_envs():
    row = sk.skyrl_rows("selfgym/Arithmetic-v0", 1, env_kwargs={"level": 1, "max_attempts": 2})[0]
    row["env_class"] = "selfgym"
    env = skyrl_gym.make(row["env_class"], env_config={"env_kwargs": {"level": 1}}, extras=row)
    assert env.env_id == "selfgym/Arithmetic-v0"
    env.init(row["prompt"])
    answer = json.loads(row["extra_info"]["task"])["payload"]["answer"]
    wrong = env.step(str(answer + 1))
    assert wrong["reward"] == 0.0 and not wrong["done"] and "attempt" in wrong["observations"][0]["content"]
    right = env.step(f"So the answer is\n{answer}")
    assert right["reward"] == 1.0 and right["done"] and right["observations"] == []
    assert env.get_metrics() == {"turns": 2, "return": 1.0, "passed": 1.0, "reward_valid": 1.0}


def test_max_turns_ends_the_episode():
    row = sk.skyrl_rows("selfgym/Arithmetic-v0", 1, env_kwargs={"max_attempts": 5}, max_turns=2)[0]
    env = skyrl_gym.make(row["env_class"], env_config={}, extras=row)
    env.init(row["prompt"])
    assert not env.step("no idea")["done"]
    assert env.step("still no idea")["done"]


@pytest.mark.model
def test_default_model_plays_through_the_adapter():
    """The loop SkyRL's generator runs: init, then generate and step until done."""
    from selfgym.llm import SamplingParams, make_backend

    backend = make_backend("default")
    rows = sk.skyrl_rows("selfgym/Arithmetic-v0", 2, env_kwargs={"level": 1, "max_attempts": 2})
    for row in rows:
        env = skyrl_gym.make(row["env_class"], env_config={}, extras=row)
        chat, _ = env.init(row["prompt"])
        ref = gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=2)
        ref.reset(seed=0, options={"task": json.loads(row["extra_info"]["task"])})
        done, turns = False, 0
        while not done:
            reply = backend.generate([chat], SamplingParams(max_tokens=48, seed=turns))[0].text
            out = env.step(reply)
            assert out["reward"] == ref.step(reply)[1]
            chat = chat + [{"role": "assistant", "content": reply}] + out["observations"]
            done, turns = out["done"], turns + 1
        assert 1 <= turns <= 2


def dead_code_row(dead):
    row = sk.skyrl_rows("selfgym/CodeTask-v0", 1, env_kwargs={"max_attempts": 1})[0]
    solution = json.loads(row["extra_info"]["task"])["payload"]["solution"]
    row["extra_info"]["env_kwargs"] = {"max_attempts": 1, "sandbox": dead}
    return row, f"```python\n{solution}\n```"


def test_infrastructure_error_raises_or_masks_never_zero(dead_sandbox):
    row, solution = dead_code_row(dead_sandbox)
    env = skyrl_gym.make(row["env_class"], env_config={}, extras=row)
    env.init(row["prompt"])
    with pytest.raises(VerifierError, match="infrastructure"):
        env.step(solution)
    env = skyrl_gym.make(row["env_class"], env_config={"on_infra_error": "mask"}, extras=row)
    env.init(row["prompt"])
    out = env.step(solution)
    assert math.isnan(out["reward"]) and out["done"] and out["metadata"]["reward_valid"] is False
    assert math.isnan(env.get_metrics()["return"])
    # With a live sandbox the same solution is paid by the verifier.
    row["extra_info"]["env_kwargs"] = {"max_attempts": 1, "sandbox": "process"}
    env = skyrl_gym.make(row["env_class"], env_config={}, extras=row)
    env.init(row["prompt"])
    assert env.step(solution)["reward"] == 1.0
