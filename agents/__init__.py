"""selfgym.agents: LLM policies, reflection, self-evaluation rewards and scripted baselines.

- ``selfgym.agents.llm.LLMAgent``: a model acting through per-family prompt templates
  (``selfgym.agents.prompts``), one batched call per step.
- ``selfgym.agents.reflexion.ReflexionAgent``: reflects after a failed trial and retries.
- ``selfgym.agents.self_eval``: SelfJudge, MajorityVote, Confidence and PTrue reward wrappers.
- ``selfgym.agents.scripted``: model-free baselines.

Importing this package is cheap; the model runtimes load only when a backend is built.
"""

from selfgym.agent import Agent

__all__ = ["Agent"]
