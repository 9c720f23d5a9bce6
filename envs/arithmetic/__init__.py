"""Arithmetic: a small verifiable-reasoning env (an integer expression, an exact-answer checker).

It is the smallest real env in selfgym: seeded problems at chosen difficulty, the answer parsed
from free text, the reward from its checker. It exercises the whole env contract.
"""


def register_envs(register, register_pettingzoo):
    register(
        "selfgym/Arithmetic-v0",
        "selfgym.envs.arithmetic.env:ArithmeticEnv",
        family="arithmetic",
        description="Evaluate an integer expression; exact answer, up to 3 attempts.",
    )
