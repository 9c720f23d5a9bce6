"""Verifiable reasoning: reasoning-gym's procedural datasets, and integration checked with sympy.

``selfgym/Reasoning-v0`` bridges reasoning-gym (100+ generators, each with its scorer; the
dataset, its configuration and a curriculum level are options). ``selfgym/Integration-v0`` is
selfgym's own: find an antiderivative, checked by differentiating the answer with sympy.
Rules live in plain modules (``bridge``, ``integration``) that the envs and tests share.
"""


def register_envs(register, register_pettingzoo):
    register(
        "selfgym/Reasoning-v0",
        "selfgym.envs.reasoning.env:ReasoningEnv",
        family="reasoning",
        description="reasoning-gym datasets (countdown, basic_arithmetic, ...; dataset, config, level as options), scored by their scorers.",
    )
    register(
        "selfgym/Integration-v0",
        "selfgym.envs.reasoning.env:IntegrationEnv",
        family="integration",
        description="Find an antiderivative (levels 1-5); sympy differentiates the answer to check it.",
    )
