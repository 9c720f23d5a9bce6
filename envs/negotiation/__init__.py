"""Deal or No Deal (Lewis et al., 2017) as played by language models in self-play (Liao,
Tomlin and Klein, 2024): two players split books, hats and balls they value differently.

- ``rules``: the game (validation, scoring, Pareto check); ``contexts``: generator and loader;
- ``env``: PettingZoo AEC ``env()`` and Parallel ``parallel_env()``;
- ``single``: ``selfgym/Negotiation-v0``, one seat against a pluggable partner;
- ``partners``: scripted policies; ``runner``: self-play runs and the filtered BC dataset.
"""


def register_envs(register, register_pettingzoo):
    register_pettingzoo(
        "selfgym/negotiation",
        "selfgym.envs.negotiation.env:env",
        "selfgym.envs.negotiation.env:parallel_env",
        family="negotiation",
        description="Deal or No Deal self-play: two players negotiate a split of books, hats and balls.",
    )
    register(
        "selfgym/Negotiation-v0",
        "selfgym.envs.negotiation.single:NegotiationEnv",
        family="negotiation",
        description="Deal or No Deal against a partner (scripted greedy/fair/stubborn/random or any agent).",
    )
