"""The generic TRL adapter, model-free: TRL-style tool calls reach every family's env.

Each test drives an ``environment_factory`` class exactly as TRL 1.16's GRPOTrainer does: the
tools are the class's public functions (``inspect.getmembers(type(env), inspect.isfunction)``,
minus ``reset`` / ``get_reward``), their schemas come from transformers' ``get_json_schema``
(what ``apply_chat_template(tools=...)`` uses), and a call is dispatched by name with the
call's JSON arguments as keyword arguments. The scripted calls are the env's oracle, written
as tool calls: they must change the env's state and earn the oracle's reward.
"""

from __future__ import annotations

import inspect
import json
import re

import pytest
from transformers.utils import get_json_schema

from selfgym.integrations.trl import task_dataset
from selfgym.integrations.trl_envs import environment_class, environment_for


def trl_tools(env) -> dict:
    """The name -> bound method dict TRL builds for one rollout (GRPOTrainer._generate)."""
    return {name: getattr(env, name) for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")}


def dispatch(tools: dict, name: str, arguments: dict) -> str:
    """One tool call as TRL runs it: by name, the JSON arguments as keyword arguments."""
    assert name in tools, f"Tool {name} not found (TRL would answer so); tools: {sorted(tools)}"
    return tools[name](**json.loads(json.dumps(arguments)))


def play(env, to_call, max_calls=40) -> list[str]:
    """Play the oracle as tool calls until the episode ends; return what each call answered."""
    tools = trl_tools(env)
    schemas = {name: get_json_schema(m) for name, m in tools.items()}  # every tool renders as TRL needs
    assert all(s["function"]["name"] == n for n, s in schemas.items())
    outs = []
    for _ in range(max_calls):
        name, arguments = to_call(env._env.unwrapped.cheat(), env)
        assert set(arguments) <= set(schemas[name]["function"]["parameters"]["properties"])
        outs.append(dispatch(tools, name, arguments))
        if outs[-1].endswith("[episode over]"):
            return outs
    raise AssertionError(f"the oracle did not finish in {max_calls} calls: {outs[-3:]}")


def json_call(action: str, env):
    if not action.lstrip().startswith("{"):  # the oracle says something to the customer
        return "reply", {"message": action}
    call = json.loads(action)
    return call["name"], call.get("arguments", {})


def test_tooluse_tools_are_methods_and_the_oracle_wins():
    cls = environment_class("selfgym/ToolUse-v0")
    env = cls()
    env.reset(seed=0)
    tools = trl_tools(env)
    # every tool of every domain is its own method, with its typed signature
    wanted = {"convert_mass", "exchange", "caesar_shift", "find_flights", "reverse_complement", "final_answer"}
    assert wanted <= set(tools)
    assert str(inspect.signature(tools["convert_mass"])) == "(value: float, from_unit: str, to_unit: str) -> str"
    for seed in range(6):
        env.reset(seed=seed)
        outs = play(env, json_call)
        assert env.last_info["turn"] == len(outs) >= 2  # the env counted every call
        assert env.get_reward() == 1.0, outs


def test_tooluse_agent_mistakes_are_observations():
    env = environment_class("selfgym/ToolUse-v0")()
    env.reset(seed=0)
    tools = trl_tools(env)
    out = dispatch(tools, "convert_mass", {"value": "heavy", "from_unit": "kg", "to_unit": "g"})
    assert "must be a number" in out and env.last_info["turn"] == 1


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_customer_service_oracle_through_tool_methods(domain):
    env = environment_for(f"selfgym/CustomerService-{domain}-v0")()
    base = env._env.unwrapped
    env.reset(seed=0)
    start = base.conversation.db.hash() if hasattr(base.conversation, "db") else None
    outs = play(env, json_call, max_calls=60)
    assert "reply" in trl_tools(env)
    assert env.get_reward() == 1.0, outs[-2:]
    if start is not None:
        assert base.conversation.db.hash() != start


def test_web_actions_are_methods():
    from selfgym.envs.web.actions import parse_action

    def web_call(action, env):
        parsed = parse_action(action)
        args = dict(parsed.args)
        return parsed.name, args

    env = environment_class("selfgym/Web-v0")()
    for seed in range(3):
        env.reset(seed=seed)
        before = env._env.unwrapped.page.steps
        play(env, web_call)
        assert env._env.unwrapped.page.steps > before
        assert env.get_reward() == 1.0
    web_actions = {"click", "fill", "select_option", "press", "scroll", "hover", "noop", "send_msg_to_user"}
    assert set(trl_tools(env)) == web_actions


def test_negotiation_actions_are_methods():
    def neg_call(action, env):
        m = re.match(r"\[propose\] \((\d+) books, (\d+) hats, (\d+) balls\)", action)
        if m:
            return "propose", {"books": int(m[1]), "hats": int(m[2]), "balls": int(m[3])}
        return "send_message", {"message": action.removeprefix("[message]").strip()}

    env = environment_class("selfgym/Negotiation-v0")()
    env.reset(seed=0)
    tools = trl_tools(env)
    assert set(tools) == {"send_message", "propose"}
    turns = env._env.unwrapped.game.dialogue
    outs = play(env, neg_call)
    assert turns.done and "[propose]" in " ".join(m["content"] for m in env.last_info["messages"])
    assert env.get_reward() > 0, outs  # the oracle's proposals reach an agreement


def test_answer_families_submit_through_methods():
    env = environment_class("selfgym/Arithmetic-v0", level=1)()
    env.reset(seed=0)
    task = env._env.unwrapped.task
    out = dispatch(trl_tools(env), "submit_answer", {"answer": task.payload["answer"]})
    assert out.startswith("Correct.") and env.get_reward() == 1.0
    env = environment_class("selfgym/Reasoning-v0")()
    env.reset(seed=0)
    answer = re.search(r"<answer>(.*)</answer>", env._env.unwrapped.cheat(), re.S)[1]
    dispatch(trl_tools(env), "submit_answer", {"answer": answer})
    assert env.get_reward() == 1.0


def test_code_task_solution_through_its_method():
    env = environment_class("selfgym/CodeTask-v0")(sandbox="process")
    env.reset(task="humaneval/0")
    solution = env._env.unwrapped.task.payload["solution"]
    out = dispatch(trl_tools(env), "submit_solution", {"code": solution})
    assert env.get_reward() == 1.0, (out, env.last_info.get("verdict"))


def test_task_dataset_rows_do_not_repeat_the_first_observation():
    ds = task_dataset("selfgym/ToolUse-v0", 2)
    env = environment_class("selfgym/ToolUse-v0")()
    row = ds[0]
    assert env.reset(**row) is None  # the row's prompt already shows it: TRL then appends nothing
    assert env._env.unwrapped.task.id == json.loads(row["task"])["id"]
    first = env.reset(prompt=[{"role": "user", "content": "Solve the task with the tools."}], seed=0)
    assert first.startswith("\n\n") and "Tools:" in first


def test_bad_ids_and_arguments_are_selfgym_errors():
    from selfgym.errors import ConfigError

    with pytest.raises(ConfigError, match="not a registered"):
        environment_class("selfgym/Nope-v0")
    env = environment_class("selfgym/Web-v0")()
    env.reset(seed=0)
    assert env.click().startswith("Error: click: missing required argument")
    assert env.scroll(direction="sideways").startswith("Error: scroll: argument 'direction' must be one of")
