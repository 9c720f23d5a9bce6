"""The real MiniWoB++ tasks in headless Chromium: ``selfgym/MiniWoB-<task>-v0`` for all 125.

Registration only lists the ``miniwob`` wheel's HTML files (``catalog``); Playwright and the
browser are imported and started when the first env resets. Every id's catalogue description
says whether the task is solvable from text alone (``catalog.text_solvable``); the env exposes
it as ``env.unwrapped.text_solvable`` and in ``Task.difficulty["text_solvable"]``.
"""

from selfgym.envs.miniwob.catalog import step_cap, task_names, text_solvable


def register_envs(register, register_pettingzoo):
    for name in task_names():
        solvable = "text-solvable" if text_solvable(name) else "needs vision or dragging"
        register(
            f"selfgym/MiniWoB-{name}-v0",
            "selfgym.envs.miniwob.env:MiniWoBEnv",
            family="miniwob",
            description=f"MiniWoB++ {name} in Chromium ({solvable}; step cap {step_cap(name)}).",
            kwargs={"task": name},
            check_kwargs={"settle_ms": 0},
        )
