"""selfgym.curricula: choosing what to practise next.

``TaskSampler`` is the contract (``sample() -> Task``, ``update(task, reward)``);
``CurriculumWrapper(env, sampler)`` applies any sampler to any family through
``reset(options={"task": ...})``. The samplers: uniform, learnability / success band, absolute
learning progress, head-tail rebalancing, attribute levelling and ExIt. ``SimulatedLearner``
and ``compare`` measure them without a model; ``bstar`` picks sampling settings for
self-training.
"""

from selfgym.curricula.base import KeyStats, TaskSampler, difficulty_key, task_key
from selfgym.curricula.exit import ExItSampler, improvement_reward, self_iteration_task
from selfgym.curricula.levels import LevelSampler
from selfgym.curricula.samplers import HeadTailSampler, LearnabilitySampler, LearningProgressSampler, UniformSampler
from selfgym.curricula.simulated import LearnerConfig, SimulatedLearner, simulated_tasks
from selfgym.curricula.wrapper import CurriculumWrapper, task_set_of

__all__ = [
    "CurriculumWrapper", "ExItSampler", "HeadTailSampler", "KeyStats", "LearnabilitySampler", "LearnerConfig",
    "LearningProgressSampler", "LevelSampler", "SimulatedLearner", "TaskSampler", "UniformSampler",
    "difficulty_key", "improvement_reward", "self_iteration_task", "simulated_tasks", "task_key", "task_set_of",
]
