"""Documentation is code: every ```python block in README.md and docs/*.md runs as written.

Each block runs in a fresh interpreter, in its own empty temporary folder, offline (no model or
data hub), and must finish within 60 seconds. A block whose first line is exactly ``# sketch`` is
not run (code that needs a GPU, a server, a long training run, or shows placeholders).

Shell commands: every ``selfgym ...`` line in a fenced shell block, and every inline
```selfgym ...``` in the prose, must parse with the real command-line parser (so each documented
subcommand and option exists; prose may leave out required arguments); every documented subcommand's ``--help`` and the quick commands
(``selfgym list``, ``selfgym --help``, ``selfgym model info``) run in a subprocess.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKETCH = "# sketch"
TIMEOUT_S = 60
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
QUICK = ("selfgym list", "selfgym --help", "selfgym model info")
SHELL_FENCES = ("bash", "sh", "shell", "console", "")


def fenced_blocks(path: Path) -> list[tuple[str, int, str]]:
    """(language, first line number, code) of every fenced block of a Markdown page.

    A fence opens on a line that is exactly ```` ```lang ```` (indentation allowed) and closes on
    the next line that is exactly ```` ``` ````, so fences quoted inside code stay code.
    """
    blocks, lang, start, body = [], None, 0, []
    for no, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if lang is None:
            m = re.fullmatch(r"```([\w+-]*)", stripped)
            if m:
                lang, start, body, indent = m.group(1).lower(), no + 1, [], len(line) - len(line.lstrip())
        elif stripped == "```":
            blocks.append((lang, start, "\n".join(body)))
            lang = None
        else:
            body.append(line[indent:] if line[:indent].strip() == "" else line)
    return blocks


def python_blocks() -> list:
    params = []
    for page in PAGES:
        for lang, line, code in fenced_blocks(page):
            if lang != "python":
                continue
            rel = page.relative_to(ROOT)
            sketch = code.split("\n", 1)[0].strip() == SKETCH
            marks = [pytest.mark.skip(reason="marked # sketch")] if sketch else []
            params.append(pytest.param(rel, line, code, id=f"{rel}:{line}", marks=marks))
    return params


@pytest.mark.parametrize("page, line, code", python_blocks())
def test_python_block_runs_as_written(page, line, code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code + "\n")
    env = {**os.environ, **OFFLINE}
    env.pop("PYTHONPATH", None)
    try:
        out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page}:{line}: the block ran past {TIMEOUT_S} s; make it faster or mark it {SKETCH!r}")
    assert out.returncode == 0, (f"{page}:{line} failed (exit {out.returncode}); fix it or mark it {SKETCH!r}:\n"
                                 f"{out.stderr[-4000:]}")


# ------------------------------------------------------------------------------ shell commands
def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).strip()


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each ``selfgym ...`` command shown in the docs."""
    found = []
    for page in PAGES:
        rel = page.relative_to(ROOT)
        for lang, line, code in fenced_blocks(page):
            if lang not in SHELL_FENCES:
                continue
            logical = code.replace("\\\n", " ").splitlines()
            for k, text in enumerate(logical):
                cmd = _strip_comment(text.strip().lstrip("$ "))
                if re.match(r"selfgym (?:[a-z]|--?[a-z])", cmd):  # not a diagram's "selfgym (core ...)"
                    found.append((f"{rel}:{line + k}", cmd))
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for m in re.finditer(r"`(selfgym (?:[a-z-]+|--help)[^`]*)`", prose):
            # usage notation: optional parts in [brackets] are shown as if given
            found.append((f"{rel} (inline)", re.sub(r"[\[\]]", "", m.group(1)).strip()))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands():
    assert any(cmd.startswith("selfgym run") for _, cmd in COMMANDS)


@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w}: {c}"[:100] for w, c in COMMANDS])
def test_documented_command_parses(where, command):
    from selfgym.cli import build_parser

    import contextlib
    import io

    argv = shlex.split(command)[1:]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(argv)
    except SystemExit as exc:
        # prose may name a command without its required arguments ("`selfgym report` writes ...")
        named_only = where.endswith("(inline)") and "arguments are required" in err.getvalue()
        assert exc.code == 0 or named_only, (f"{where}: `{command}` does not parse with the selfgym command "
                                             f"line:\n{err.getvalue()}")


def _subcommand_paths() -> list[tuple[str, ...]]:
    """Every documented subcommand path, e.g. ("run",), ("sandbox", "status")."""
    import argparse

    from selfgym.cli import build_parser

    paths = set()
    for _, command in COMMANDS:
        parser, path = build_parser(), []
        for word in shlex.split(command)[1:]:
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not subs or word not in subs[0].choices:
                break
            path.append(word)
            parser = subs[0].choices[word]
        if path:
            paths.add(tuple(path))
    return sorted(paths)


def _run(argv: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfgym.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **OFFLINE, "COLUMNS": "160"})


@pytest.mark.parametrize("path", _subcommand_paths(), ids=" ".join)
def test_documented_subcommand_help_runs(path):
    out = _run([*path, "--help"])
    assert out.returncode == 0 and "usage: selfgym" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("command", QUICK)
def test_quick_commands_run(command):
    assert any(cmd == command or cmd.startswith(command + " ") for _, cmd in COMMANDS) or command == "selfgym --help"
    out = _run(shlex.split(command)[1:])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    if command == "selfgym list":
        assert "selfgym/Arithmetic-v0" in out.stdout and "selfgym/customer_service" in out.stdout
    if command == "selfgym --help":
        for sub in ("run", "serve", "list", "sandbox"):
            assert sub in out.stdout
