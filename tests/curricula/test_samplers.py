"""Each sampler's behaviour: what it prefers after given outcomes, and its guards."""

from __future__ import annotations

import math
import pickle
from collections import Counter

import pytest

from selfgym.curricula import (
    ExItSampler, HeadTailSampler, LearnabilitySampler, LearningProgressSampler, LevelSampler, UniformSampler,
    improvement_reward, self_iteration_task,
)
from selfgym.curricula.compare import SAMPLERS, make_sampler
from selfgym.errors import ConfigError
from selfgym.types import Task


def _tasks(n=3, per=1):
    return [Task(id=f"t{k}/{j}", family="arithmetic", prompt=f"task {k}", difficulty={"level": k})
            for k in range(n) for j in range(per)]


def _counts(sampler, n=3000):
    return Counter(sampler.sample().difficulty["level"] for _ in range(n))


def _feed(sampler, task, scores):
    for s in scores:
        sampler.update(task, s)


def test_uniform_is_even_and_reproducible():
    tasks = _tasks(4)
    counts = _counts(UniformSampler(tasks, seed=1), 4000)
    assert set(counts) == {0, 1, 2, 3}
    assert all(850 < c < 1150 for c in counts.values())
    a, b = UniformSampler(tasks, seed=7), UniformSampler(tasks, seed=7)
    assert [a.sample().id for _ in range(20)] == [b.sample().id for _ in range(20)]


def test_learnability_prefers_the_half_solved_task():
    easy, hard, mid = _tasks(3)
    s = LearnabilitySampler([easy, hard, mid], seed=0)
    _feed(s, easy, [1.0] * 10)
    _feed(s, hard, [0.0] * 10)
    _feed(s, mid, [1.0, 0.0] * 5)
    counts = _counts(s)
    p_easy = 10.5 / 11  # ten successes shrunk by one pseudo-episode at 0.5
    w_edge = 4 * p_easy * (1 - p_easy)
    assert counts[2] / 3000 == pytest.approx(1 / (1 + 2 * w_edge), abs=0.03)
    assert counts[0] / 3000 == pytest.approx(w_edge / (1 + 2 * w_edge), abs=0.03)
    p = s.recent_success()
    assert p[0] > 0.9 and p[1] < 0.1 and abs(p[2] - 0.5) < 1e-9


def test_success_band_drops_tasks_outside_the_band():
    easy, hard, mid = _tasks(3)
    s = LearnabilitySampler([easy, hard, mid], seed=0, band=(0.3, 0.7), floor=0.0)
    _feed(s, easy, [1.0] * 10)
    _feed(s, hard, [0.0] * 10)
    _feed(s, mid, [1.0, 0.0] * 5)
    assert _counts(s, 500) == {2: 500}
    with pytest.raises(ConfigError, match="band"):
        LearnabilitySampler([easy], band=(0.8, 0.2))


def test_unseen_tasks_are_tried_first_by_learnability():
    tasks = _tasks(3)
    s = LearnabilitySampler(tasks, seed=0)
    _feed(s, tasks[0], [1.0] * 10)
    _feed(s, tasks[1], [1.0] * 10)
    counts = _counts(s, 2000)
    assert counts[2] > 4 * max(counts[0], counts[1])  # the unseen task has the top weight, 1


def test_learning_progress_prefers_the_changing_task():
    flat_hi, flat_lo, rising = _tasks(3)
    s = LearningProgressSampler([flat_hi, flat_lo, rising], seed=0, window=10, epsilon=0.1)
    _feed(s, flat_hi, [1.0] * 10)
    _feed(s, flat_lo, [0.0] * 10)
    _feed(s, rising, [0.0] * 5 + [1.0] * 5)
    lp = s.progress()
    assert lp[0] == 0 and lp[1] == 0 and lp[2] == pytest.approx(1.0)
    counts = _counts(s)
    # greedy mass on the rising task, epsilon spread uniformly: (0.9 + 0.1/3) of samples
    assert counts[2] / 3000 == pytest.approx(0.9 + 0.1 / 3, abs=0.03)
    assert counts[0] / 3000 == pytest.approx(0.1 / 3, abs=0.015)


def test_learning_progress_measures_unseen_keys_first_and_tracks_regress():
    a, b = _tasks(2)
    s = LearningProgressSampler([a, b], seed=0, window=4, epsilon=0.0)
    _feed(s, a, [1.0, 1.0, 1.0, 1.0])
    assert _counts(s, 200) == {1: 200}  # b has no measurement: optimistic weight 1 against 0
    _feed(s, b, [1.0, 1.0, 0.0, 0.0])  # forgetting is progress too (absolute value)
    assert s.progress()[1] == pytest.approx(1.0)


def test_head_tail_gives_hard_tasks_more_samples():
    easy, hard, mid = _tasks(3)
    s = HeadTailSampler([easy, hard, mid], seed=0)
    _feed(s, easy, [1.0] * 20)
    _feed(s, hard, [0.0] * 20)
    _feed(s, mid, [1.0, 0.0] * 10)
    counts = _counts(s)
    assert counts[1] > counts[2] > counts[0]
    assert counts[0] < 0.05 * 3000  # the head is down-weighted


def test_levels_rise_when_success_passes_the_threshold():
    tasks = _tasks(3, per=2)
    s = LevelSampler(tasks, seed=0, threshold=0.8, min_episodes=5, window=10, replay=0.0)
    assert s.level == 0 and {s.sample().difficulty["level"] for _ in range(50)} == {0}
    for _ in range(4):
        s.update(s.sample(), 1.0)
    assert s.level == 0  # fewer than min_episodes at this level
    s.update(s.sample(), 1.0)
    assert s.level == 1
    for _ in range(20):
        s.update(s.sample(), 0.0)
    assert s.level == 1  # no way down without `lower`
    assert s.history == [(5, 1.0)]


def test_levels_step_down_with_lower_and_replay_easier_levels():
    tasks = _tasks(3)
    s = LevelSampler(tasks, seed=0, threshold=0.8, lower=0.2, min_episodes=3, window=5, replay=0.0, start=2)
    for _ in range(3):
        s.update(s.sample(), 0.0)
    assert s.level == 1
    r = LevelSampler(tasks, seed=0, replay=0.3, start=2)
    counts = _counts(r, 2000)
    assert counts[2] / 2000 == pytest.approx(0.7, abs=0.04) and counts[0] > 0 and counts[1] > 0
    assert r.summary()["level"] == 2


def test_levels_need_the_attribute():
    with pytest.raises(ConfigError, match="numeric difficulty\\['level'\\]"):
        LevelSampler([Task(id="a", family="f", prompt="p")])


def test_scores_of_other_levels_do_not_move_the_level():
    tasks = _tasks(2)
    s = LevelSampler(tasks, seed=0, min_episodes=2, window=2, replay=0.0)
    _feed(s, tasks[1], [1.0] * 5)
    assert s.level == 0


def test_improvement_reward():
    assert improvement_reward(1.0, 0.5) == 1.0
    assert improvement_reward(0.75, 0.5) == pytest.approx(0.5)
    assert improvement_reward(0.2, 0.5) == 0.0
    assert improvement_reward(1.0, 1.0) == 0.0
    assert improvement_reward(0.3, 0.0) == pytest.approx(0.3)


def test_self_iteration_task_carries_the_attempt_and_its_lineage():
    root = Task(id="arith/1", family="arithmetic", prompt="Compute 2 + 2.", payload={"answer": 4}, difficulty={"level": 1})
    msgs = [{"role": "user", "content": "Compute 2 + 2."}, {"role": "assistant", "content": "5"}]
    child = self_iteration_task(root, msgs, 0.0)
    assert child.family == "arithmetic" and child.payload == root.payload
    assert "Compute 2 + 2." in child.prompt and "5" in child.prompt and "0.00" in child.prompt
    assert child.difficulty == {"level": 1, "exit_depth": 1}
    grandchild = self_iteration_task(child, [{"role": "assistant", "content": "3"}], 0.0)
    assert grandchild.metadata["exit"]["root_id"] == "arith/1" and grandchild.difficulty["exit_depth"] == 2
    assert grandchild.prompt.count("Compute 2 + 2.") == 1  # built on the root prompt, not nested
    assert self_iteration_task(root, [{"role": "user", "content": "x"}], 0.0) is None


def test_exit_buffers_starts_and_replays_those_whose_returns_vary():
    base = _tasks(2)
    s = ExItSampler(base, seed=0, p_exit=1.0, group_size=4)
    attempt = [{"role": "assistant", "content": "wrong"}]
    assert s.observe_episode(base[0], attempt, 1.0) is None  # solved: nothing to improve
    child = s.observe_episode(base[0], attempt, 0.0)
    assert child is not None and child.metadata["exit"]["r_prev"] == 0.0
    other = s.observe_episode(base[1], [{"role": "assistant", "content": "also wrong"}], 0.5)
    assert len(s.buffer) == 2
    _feed(s, child, [0.0, 1.0, 0.0, 1.0])  # high variance: keep replaying it
    _feed(s, other, [0.0, 0.0, 0.0, 0.0])  # zero variance: nothing to learn, dropped
    assert list(s.buffer) == [child.id]
    assert all(s.sample().id == child.id for _ in range(20))
    _feed(s, child, [1.0, 1.0, 1.0, 1.0])  # now solved every time: dropped as well
    assert not s.buffer
    assert s.sample().id in {t.id for t in base}  # empty buffer: the base sampler


def test_exit_respects_depth_and_parent_variance():
    base = _tasks(1)
    s = ExItSampler(base, seed=0, max_depth=1, group_size=2)
    child = s.observe_episode(base[0], [{"role": "assistant", "content": "a"}], 0.0)
    assert s.observe_episode(child, [{"role": "assistant", "content": "b"}], 0.0) is None  # too deep
    t = _tasks(1)[0]
    s2 = ExItSampler([t], seed=0, group_size=2)
    _feed(s2, t, [0.0, 0.0])  # the parent's group never varies
    assert s2.observe_episode(t, [{"role": "assistant", "content": "c"}], 0.0) is None


def test_nan_scores_are_ignored_by_every_sampler():
    tasks = _tasks(2)
    for name in SAMPLERS:
        s = make_sampler(name, tasks, seed=0)
        s.update(tasks[0], math.nan)
        assert s.steps == 0, name


def test_difficulty_key_pools_tasks_into_buckets():
    tasks = _tasks(2, per=5)
    s = LearnabilitySampler(tasks, seed=0, key="difficulty")
    assert len(s.keys) == 2
    _feed(s, tasks[0], [1.0] * 10)  # one task's outcomes count for its whole bucket
    assert s.recent_success()[0] > 0.9
    assert len({s.sample().id for _ in range(300)}) > 5


def test_every_sampler_pickles_and_keeps_sampling():
    tasks = _tasks(3)
    for name in SAMPLERS:
        s = make_sampler(name, tasks, seed=3)
        s.update(tasks[0], 1.0)
        clone = pickle.loads(pickle.dumps(s))
        assert [clone.sample().id for _ in range(5)] == [s.sample().id for _ in range(5)], name


def test_bad_arguments_name_the_parameter():
    tasks = _tasks(2)
    with pytest.raises(ConfigError, match="empty task list"):
        UniformSampler([])
    with pytest.raises(ConfigError, match="epsilon"):
        LearningProgressSampler(tasks, epsilon=2)
    with pytest.raises(ConfigError, match="unknown sampler 'nope'"):
        make_sampler("nope", tasks)
    with pytest.raises(ConfigError, match="key must be"):
        UniformSampler(tasks, key=3)
