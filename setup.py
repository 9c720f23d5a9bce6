"""Maps the repository's root folders onto one import package, ``selfgym``.

``selfgym/`` is the core; ``envs/``, ``agents/``, ``verifiers/`` and ``curricula/`` install as
``selfgym.envs`` and so on. Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = {
    "selfgym": "selfgym",
    "selfgym.envs": "envs",
    "selfgym.agents": "agents",
    "selfgym.verifiers": "verifiers",
    "selfgym.curricula": "curricula",
}

packages, package_dir = [], {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
