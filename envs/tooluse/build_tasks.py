"""Rebuild the shipped task list: ``python -m selfgym.envs.tooluse.build_tasks [--check]``.

Runs every domain's templates with a fixed seed (11 tasks per domain) and writes
``data/tasks.jsonl``. With ``--check`` it writes nothing and exits 1 if the file differs from
what the templates produce now (a changed tool or template).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from selfgym.envs.tooluse.tasks import TASK_FILE, build_builtin

PATH = Path(__file__).parent / "data" / TASK_FILE


def render() -> str:
    return "".join(json.dumps(t.to_dict(), ensure_ascii=False) + "\n" for t in build_builtin())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = PATH.exists() and PATH.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{PATH} differs from the templates; rebuild it")
        return 0 if same else 1
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} tasks to {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
