"""Customer service with a simulated user, tau-bench style: retail and airline domains.

- ``db``: the copy-on-write database and its state hash; ``retail`` / ``airline``: the domains' tools;
- ``data``: the tau2 data read from the inspect-evals package; ``tasks``: task lists;
- ``reward``: gold replay and the tau-bench verdict; ``oracle``: each task's oracle actions;
- ``user``: the scripted user and the LLM user; ``dialogue``: the rules of turns;
- ``aec``: the PettingZoo agent-vs-user env; ``parallel``: the same under the Parallel API;
  ``env``: the agent-only Gymnasium view.
"""


def register_envs(register, register_pettingzoo):
    for domain in ("retail", "airline"):
        register(
            f"selfgym/CustomerService-{domain}-v0",
            "selfgym.envs.customer_service.env:CustomerServiceEnv",
            family="customer_service",
            description=f"tau2 {domain} customer service: tools over a database, a simulated customer, "
                        "reward = gold database hash and required outputs.",
            kwargs={"domain": domain},
        )
    register_pettingzoo(
        "selfgym/customer_service",
        "selfgym.envs.customer_service.aec:env",
        "selfgym.envs.customer_service.parallel:parallel_env",
        family="customer_service",
        description="Agent vs customer (both seats trainable) on tau2 retail and airline tasks.",
        kwargs={"domain": None},
    )
