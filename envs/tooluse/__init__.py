"""ToolUse: multi-domain tool-use tasks (units, dates, travel, cipher, shop, DNA).

Tools are typed Python functions described by ``selfgym.tools``; each task needs two or more
tool calls, is checked by exact answer, and carries its oracle action list. Importing this
package is cheap: the env and its domains load on ``gymnasium.make``.
"""


def register_envs(register, register_pettingzoo):
    register(
        "selfgym/ToolUse-v0",
        "selfgym.envs.tooluse.env:ToolUseEnv",
        family="tooluse",
        description="Call typed tools across 6 domains, then give an exact final answer; 10-turn limit.",
    )
