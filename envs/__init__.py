"""selfgym.envs: one package per env family.

Each family package defines ``register_envs(register, register_pettingzoo)`` in its
``__init__`` (see ``selfgym.registration``); ``import selfgym`` finds and calls them all.
"""
