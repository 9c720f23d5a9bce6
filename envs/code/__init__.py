"""Code-as-Task: programming tasks verified in a sandbox, and the self-challenging loop.

- ``selfgym/CodeTask-v0``: solve a task (bundled, HumanEval, a JSONL file or a live TaskPool);
  the sandboxed verifier gives the reward; multi-turn self-correction with feedback.
- ``selfgym/CodeChallenge-v0``: propose a task in the CaT form; the env validates it in the
  sandbox and rewards validity (times learnability when a solver pass rate is supplied); valid
  tasks go into a TaskPool that CodeTask-v0 can draw from.

This module stays cheap to import: the envs are named by string entry points.
"""


def register_envs(register, register_pettingzoo):
    register(
        "selfgym/CodeTask-v0",
        "selfgym.envs.code.env:CodeTaskEnv",
        family="code",
        description="Write a Python function; sandboxed tests give the reward; self-correction turns.",
    )
    register(
        "selfgym/CodeChallenge-v0",
        "selfgym.envs.code.challenge:CodeChallengeEnv",
        family="code",
        description="Propose a Code-as-Task task; reward = validity (x learnability) in the sandbox.",
    )
