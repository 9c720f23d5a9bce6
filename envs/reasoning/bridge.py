"""The bridge to reasoning-gym: its procedural datasets as selfgym Tasks, scored by its scorers.

Plain functions that ``ReasoningEnv``, the tests and any runner share.

- ``make_task(dataset, level, seed, index, config)`` builds one Task: reasoning-gym generates
  the item (question, reference answer, metadata); the Task's payload keeps everything needed to
  score it again (``dataset``, ``config``, the item), so tasks are data that round-trip JSON.
- ``level`` uses the dataset's own curriculum (reasoning-gym defines, per dataset, difficulty
  attributes with a list of levels): every attribute is set to ``min(level, its top level)``
  and the configuration spans levels 0..level (reasoning-gym's inclusive mode, the one its
  generators are tuned for). ``level=None`` keeps the dataset's defaults.
- ``score(task, answer)`` calls the dataset's scorer; its value in [0, 1] is the reward. A scorer
  that raises on the answer but still scores its own reference answer failed because of the
  answer (a task failure); one that raises on its reference too is a verifier failure
  (``Verdict.infra_error``), never a score of 0. For scorers that ``eval`` the answer, answers
  holding code or explosive arithmetic are refused first (``unsafe_answer``).

Datasets are cached per (name, configuration, seed); items are drawn by index from blocks of
``BLOCK`` so that generating a task is cheap after the first.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from selfgym.errors import ConfigError, TaskError, require
from selfgym.types import CheckResult, Status, Task, Verdict, to_jsonable

BLOCK = 1000
ANSWER_INSTRUCTION = "Give your final answer inside <answer></answer> tags."
_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)


def _rg():
    return require("reasoning_gym", "reasoning", "the Reasoning-v0 env")


def datasets() -> list[str]:
    """Every dataset name reasoning-gym offers (``composite`` excepted: it needs a spec)."""
    from reasoning_gym.factory import DATASETS

    _rg()
    return sorted(n for n in DATASETS if n != "composite")


def check_dataset(name: str) -> None:
    """Raise ConfigError, with close matches, when ``name`` is not a reasoning-gym dataset."""
    names = datasets()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ConfigError(f"unknown reasoning-gym dataset {name!r}.{hint} See selfgym.envs.reasoning.bridge.datasets().")


def max_level(name: str) -> int:
    """The top curriculum level of a dataset (0 when it has no curriculum)."""
    from reasoning_gym.factory import CURRICULA, create_curriculum

    if name not in CURRICULA:
        return 0
    return max(len(a.levels) - 1 for a in create_curriculum(name).attributes.values())


def level_config(name: str, level: int | None) -> dict[str, Any]:
    """The dataset configuration (JSON-ready kwargs) for ``level`` under its curriculum."""
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode
    from reasoning_gym.factory import CURRICULA, create_curriculum

    if level is None or name not in CURRICULA:
        return {}
    if level < 0:
        raise ConfigError(f"level must be >= 0, got {level}")
    curriculum = create_curriculum(name)
    for attr_name, attr in curriculum.attributes.items():
        curriculum.set_attr_level(attr_name, min(int(level), len(attr.levels) - 1))
    config = curriculum.generate_configuration({"seed": 0, "size": 1},
                                               DefaultCurriculumContext(mode=RangeAttributeMode.INCLUSIVE))
    fields = set()
    for attr in curriculum.attributes.values():  # only what the curriculum sets; the rest keeps its default
        fields |= {getattr(attr, n) for n in ("lower_field_name", "upper_field_name", "field_name") if getattr(attr, n, None)}
    return to_jsonable({k: v for k, v in vars(config).items() if k in fields})


@lru_cache(maxsize=64)
def _dataset(name: str, config_json: str, seed: int):
    config = json.loads(config_json)
    try:
        return _rg().create_dataset(name, seed=seed, size=BLOCK, **config)
    except (TypeError, AssertionError, ValueError) as exc:
        raise ConfigError(f"reasoning-gym rejected the configuration of {name!r}: {exc}") from exc


def make_task(name: str, level: int | None = None, seed: int = 0, index: int = 0,
              config: dict[str, Any] | None = None) -> Task:
    """Generate item ``index`` of block ``seed`` of ``name`` at ``level`` (config keys override)."""
    check_dataset(name)
    cfg = {**level_config(name, level), **to_jsonable(config or {})}
    cfg_json = json.dumps(cfg, sort_keys=True)
    index = int(index) % BLOCK
    try:
        entry = _dataset(name, cfg_json, int(seed))[index]
    except ConfigError:
        raise
    except Exception as exc:  # reasoning-gym's generators raise many types at extreme settings
        raise TaskError(f"reasoning-gym could not generate {name!r} at level {level} (seed {seed}, index {index}): "
                        f"{type(exc).__name__}: {exc}. Try a lower level.") from exc
    entry = to_jsonable({"question": entry["question"], "answer": entry["answer"], "metadata": entry["metadata"]})
    lvl = 0 if level is None else int(min(level, max_level(name)))
    return Task(
        id=f"reasoning/{name}/L{lvl}/s{seed}/{index}",
        family="reasoning",
        prompt=f"{entry['question'].rstrip()}\n\n{ANSWER_INSTRUCTION}",
        payload={"dataset": name, "config": cfg, "seed": int(seed), "index": index, "entry": entry},
        difficulty=difficulty_of(entry, lvl),
        source=f"reasoning-gym/{name}",
        license="Apache-2.0",
    )


def difficulty_of(entry: dict[str, Any], level: int) -> dict[str, float]:
    """Numeric difficulty attributes of one item.

    ``level`` is the curriculum level. For each attribute reasoning-gym lists under
    ``metadata["difficulty"]``, the item's own value is used where its metadata has one (a list
    counts by its length); otherwise a range gives ``<name>_max`` and a number itself.
    """
    meta = entry.get("metadata", {})
    out: dict[str, float] = {"level": float(level)}
    spec = meta.get("difficulty")
    if not isinstance(spec, dict):
        return out
    for key, value in spec.items():
        own = meta.get(key)
        if isinstance(own, (int, float)) and not isinstance(own, bool):
            out[key] = float(own)
        elif isinstance(own, list):
            out[key] = float(len(own))
        elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            out[f"{key}_max"] = float(value[1])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def extract_answer(text: str) -> str:
    """The last <answer>...</answer> block of a reply, else the whole reply, stripped."""
    from selfgym.envs.reasoning.integration import last_tagged

    found = last_tagged(text)
    return (found if found is not None else text).strip()


#: Some reasoning-gym scorers pass the answer to ``eval`` or sympy's ``parse_expr`` (which evals) in
#: this process. For those datasets an answer is refused before scoring (a task failure) when it
#: holds what code needs to escape an arithmetic expression, or what makes sympy compute without
#: end. This narrows, but does not close, the gap: see docs/SECURITY.md, "Host-side code".
MAX_EVAL_ANSWER_CHARS = 50_000
_CODE_LIKE = re.compile(
    r"__|\\|\b(?:lambda|import|exec|eval|compile|open|getattr|setattr|delattr|hasattr|globals|locals|vars|"
    r"breakpoint|input|help|exit|quit|memoryview|bytearray|bytes|chr|ord|type|object|super|dir|classmethod|"
    r"staticmethod|property|lambdify|sympify|parse_expr|preview|init_session|init_printing|os|sys|subprocess)\b")
_EXPLOSIVE = re.compile(r"\d{200}"  # a long digit run
                        r"|(?<![\w.])\d+(?:\.\d*)?[eE][+-]?\d{4}"  # an exponent of four digits
                        r"|(?:\*\*|\^)[ \t\w.()]{0,40}?(?:\*\*|\^)"  # a tower of powers
                        r"|(?:\*\*|\^)\s*\(?\s*\d{4}")  # a power of four digits
_EVALUATES: dict[type, bool] = {}


def _evaluates_answers(dataset: Any) -> bool:
    """Whether a dataset's scorer may ``eval`` the answer (its module calls eval or a sympy parser)."""
    cls = type(dataset)
    if cls not in _EVALUATES:
        import inspect

        module = inspect.getmodule(cls)
        try:
            source = inspect.getsource(module) if module is not None else "eval("
        except (OSError, TypeError):
            source = "eval("  # unknown: treat as evaluating (the guard only refuses code-like answers)
        _EVALUATES[cls] = any(k in source for k in ("eval(", "parse_expr", "sympify", "exec("))
    return _EVALUATES[cls]


def unsafe_answer(dataset: Any, answer: str) -> str | None:
    """Why ``answer`` must not reach ``dataset``'s scorer, or None."""
    if not _evaluates_answers(dataset):
        return None
    if len(answer) > MAX_EVAL_ANSWER_CHARS:
        return f"the answer is longer than {MAX_EVAL_ANSWER_CHARS} characters"
    if _CODE_LIKE.search(answer):
        return "the answer contains Python code (names such as eval or open, '__', or backslashes); it is not scored"
    if _EXPLOSIVE.search(answer):
        return "the answer builds numbers too large to evaluate (long digit runs, huge exponents, towers of powers)"
    return None


def score(task: Task, answer: str) -> Verdict:
    """Score an extracted answer with the dataset's own scorer (refusing unsafe answers first)."""
    p = task.payload
    try:
        dataset = _dataset(p["dataset"], json.dumps(p.get("config", {}), sort_keys=True), int(p.get("seed", 0)))
    except KeyError as exc:
        raise TaskError(f"reasoning task {task.id!r} lacks payload key {exc}") from exc
    refused = unsafe_answer(dataset, answer)
    if refused:
        return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                       checks=[CheckResult("answer_safe_to_score", False, refused, got=answer[:200])], error=refused)
    try:
        value = float(dataset.score_answer(answer, p["entry"]))
    except Exception as exc:  # noqa: BLE001 - a third-party scorer raises anything; classified below
        why = f"the {p['dataset']!r} scorer raised {type(exc).__name__}: {str(exc)[:200]}"
        try:  # a scorer that still reads its own reference answer failed on this answer: the agent's failure
            float(dataset.score_answer(str(p["entry"].get("answer")), p["entry"]))
        except Exception:  # noqa: BLE001 - it fails on its reference too: the verifier's failure, never a 0
            return Verdict.infra_error(why)
        return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                       checks=[CheckResult("reasoning_gym_score", False, why, got=answer[:200])], error=why)
    passed = value >= 1.0
    return Verdict(
        reward=value, passed=passed, status=Status.OK if passed else Status.TASK_FAILURE,
        checks=[CheckResult("reasoning_gym_score", passed, "" if passed else "answer not accepted", score=value,
                            expected=p["entry"].get("answer"), got=answer)],
        error=None if passed else f"scored {value:.2f} of 1",
    )


def cheat(task: Task) -> str:
    """The oracle's reply: the reference answer (scores 1 on datasets with a single right answer)."""
    return f"<answer>{task.payload['entry']['answer']}</answer>"
