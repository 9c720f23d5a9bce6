"""TRL adapters: rewards come from selfgym envs, infrastructure errors are masked, GRPO trains."""

from __future__ import annotations

import json
import math
import os

import pytest

from selfgym.integrations.trl import EnvReward, completion_text, env_tasks, task_dataset
from selfgym.integrations.trl_envs import environment_class, environment_for
from selfgym.types import Task

ARITH = "selfgym/Arithmetic-v0"
ARITH_KW = {"level": 1, "max_attempts": 1}


def test_task_dataset_rows_are_the_envs_first_prompt():
    ds = task_dataset(ARITH, 6, seed=3, env_kwargs=ARITH_KW)
    assert len(ds) == 6 and set(ds.column_names) == {"prompt", "task", "env_id"}
    task = Task.from_dict(json.loads(ds[0]["task"]))
    assert ds[0]["prompt"][-1] == {"role": "user", "content": task.prompt}
    assert ds[0]["prompt"][0]["role"] == "system"
    assert len({json.loads(t)["id"] for t in ds["task"]}) > 1


def test_env_reward_scores_with_the_envs_checker():
    tasks = env_tasks(ARITH, 4, env_kwargs=ARITH_KW)
    reward = EnvReward(ARITH, ARITH_KW)
    right = [f"It is {t.payload['answer']}" for t in tasks]
    wrong = [f"It is {t.payload['answer'] + 1}" for t in tasks]
    rows = [json.dumps(t.to_dict()) for t in tasks]
    assert reward(None, right, task=rows) == [1.0] * 4
    # conversational completions, as TRL passes them for chat datasets
    assert reward(None, [[{"role": "assistant", "content": w}] for w in wrong], task=rows) == [0.0] * 4
    assert reward.stats["calls"] == 8 and reward.stats["masked"] == 0
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]) == "ab"


@pytest.mark.docker
def test_infrastructure_errors_are_masked_never_zero():
    from selfgym.envs.code.env import CodeTaskEnv
    from selfgym.verifiers import get_sandbox

    dead = get_sandbox("process")
    dead.close()
    task = CodeTaskEnv().task_set(1)[0]
    reward = EnvReward("selfgym/CodeTask-v0", {"max_attempts": 1, "sandbox": dead})
    solution = f"```python\n{task.payload['solution']}\n```"
    assert reward(None, [solution], task=[json.dumps(task.to_dict())]) == [None]
    assert reward.stats["masked"] == 1
    env = environment_class("selfgym/CodeTask-v0")(sandbox=dead)
    env.reset(task=json.dumps(task.to_dict()))
    env.submit_solution(task.payload["solution"])
    assert math.isnan(env.get_reward())


@pytest.mark.docker
def test_code_environment_pays_the_verifiers_reward():
    env = environment_class("selfgym/CodeTask-v0", max_attempts=2)()
    task = env._env.unwrapped.task_set(1)[0]
    first = env.reset(task=json.dumps(task.to_dict()))
    assert task.payload["entry_point"] in first
    feedback = env.submit_solution("def nothing():\n    return None\n")
    assert "attempt" in feedback.lower() and env.get_reward() == 0.0
    env.submit_solution(task.payload["solution"])
    assert env.get_reward() == 1.0
    assert env.submit_solution("x") .startswith("The episode is over")


def test_environment_for_builds_the_family_adapter():
    web = environment_for("selfgym/Web-click-button-v0")()
    assert "click" in dir(web) and web.reset(seed=0)
    arith = environment_for(ARITH)()
    methods = {m for m in dir(type(arith)) if not m.startswith("_") and callable(getattr(type(arith), m))}
    assert methods == {"submit_answer", "reset", "get_reward"}  # TRL turns public methods into tools


@pytest.fixture(scope="module")
def default_model():
    from selfgym.models import default_model_dir

    return str(default_model_dir())


def _trainer_parts(path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    return model, tok


def _config(tmp_path, **kw):
    from trl import GRPOConfig

    base = dict(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=8, num_generations=4,
                max_completion_length=24, learning_rate=1e-5, logging_steps=1, report_to=[], save_strategy="no",
                use_cpu=True, bf16=False, temperature=1.0, seed=0)
    base.update(kw)
    return GRPOConfig(**base)


@pytest.mark.model
@pytest.mark.slow
def test_two_grpo_steps_on_a_selfgym_env_change_the_weights(default_model, tmp_path):
    import torch
    from trl import GRPOTrainer

    model, tok = _trainer_parts(default_model)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    reward = EnvReward(ARITH, {"level": [1, 2], "max_attempts": 1})
    ds = task_dataset(ARITH, 16, env_kwargs={"level": [1, 2], "max_attempts": 1})
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=_config(tmp_path), train_dataset=ds, processing_class=tok)
    trainer.train()
    assert reward.stats["calls"] == 16  # 2 steps x 8 completions, every one scored by the env
    logged = [h for h in trainer.state.log_history if "rewards/selfgym_Arithmetic_v0/mean" in h]
    assert len(logged) == 2
    changed = [k for k, v in model.named_parameters() if not torch.equal(before[k], v)]
    assert changed, "no parameter changed after two GRPO steps"


@pytest.mark.model
@pytest.mark.slow
def test_environment_factory_rollouts_are_scored_by_the_env(default_model, tmp_path):
    import datasets
    from trl import GRPOTrainer

    from selfgym.integrations.trl import ensure_tool_template

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    model, tok = _trainer_parts(default_model)
    ensure_tool_template(tok)
    scored, stepped = [], []

    class Counting(environment_class(ARITH, level=1, max_attempts=1)):
        def _act(self, action):
            stepped.append(action)  # a tool call turned into an env step
            return super()._act(action)

        def get_reward(self) -> float:
            scored.append(self.last_info.get("task_id"))
            return super().get_reward()

    # Two worked calls in the prompt: the 135M model then answers with a <tool_call> (8 of 8
    # samples when this test was written), which TRL dispatches to the submit_answer method.
    def call(n):
        return {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "submit_answer", "arguments": {"answer": n}}}]}

    ask = "Answer with the submit_answer tool.\n\n"
    shots = [{"role": "user", "content": ask + "Compute 2 + 3."}, call(5),
             {"role": "user", "content": ask + "Compute 7 - 4."}, call(3),
             {"role": "user", "content": ask}]
    ds = datasets.Dataset.from_dict({"prompt": [shots] * 4, "seed": [0, 1, 2, 3]})
    trainer = GRPOTrainer(model=model, args=_config(tmp_path, max_steps=1, per_device_train_batch_size=4,
                                                    num_generations=4, max_completion_length=48,
                                                    max_tool_calling_iterations=1),
                          train_dataset=ds, processing_class=tok, environment_factory=Counting)
    trainer.train()
    assert len(scored) == 4 and all(scored)
    assert stepped and all(a.strip().lstrip("-").isdigit() for a in stepped), stepped  # submit_answer's text
    assert any("rewards/Counting/mean" in h for h in trainer.state.log_history)


@pytest.mark.model
def test_reflect_retry_reward_scores_the_retry_that_follows_a_reflection(default_model):
    from selfgym.integrations.reflect_retry import (
        REFLECT_PROMPT, ReflectRetryReward, failed_first_attempts, reflection_dataset,
    )
    from selfgym.llm.base import SamplingParams
    from selfgym.llm.transformers import TransformersBackend

    backend = TransformersBackend(default_model)
    kw = {"level": 3, "max_attempts": 1}
    tasks = env_tasks(ARITH, 4, env_kwargs=kw)
    failures = failed_first_attempts(ARITH, tasks, backend, SamplingParams(temperature=0.0, max_tokens=16), env_kwargs=kw)
    assert failures, "the 135M model should fail some 4-operand problems"
    ds = reflection_dataset(failures)
    chat = ds[0]["prompt"]
    assert chat[-2] == {"role": "assistant", "content": failures[0].attempt}
    assert chat[-1]["content"].endswith(REFLECT_PROMPT)
    reward = ReflectRetryReward(ARITH, backend, kw, SamplingParams(temperature=0.0, max_tokens=16))
    answer = failures[0].task.payload["answer"]
    out = reward(ds["prompt"][:1], [f"I must compute carefully; the result is {answer}."], task=ds["task"][:1])
    assert out[0] in (0.0, 1.0) and len(reward.retries) == 1
    assert out == [EnvReward(ARITH, kw).score(ds["task"][0], reward.retries[0])]  # the env's verdict on the retry
