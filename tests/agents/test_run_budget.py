"""`selfgym run`: time budget, rows as envs finish, partial results on SIGTERM/Ctrl-C,
representative ids for --all, wall-clock seconds in the summary, the sandbox pool size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

from selfgym.cli import main
from selfgym.rollout import rollout, summarize
from selfgym.verifiers import docker_available

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import slow_env  # noqa: E402

slow_env.register()
SLOW = ["--agent", "constant", "--batch", "1", "--env-kwargs", '{"delay": 0.1, "length": 2}']


def _episodes(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines()]


def test_budget_gives_every_env_a_share_and_keeps_what_finished(tmp_path, capsys):
    out = tmp_path / "run"
    t0 = time.monotonic()
    rc = main(["run", slow_env.ENV_ID, slow_env.ENV_ID2, "--episodes", "100", "--budget", "2",
               "--out", str(out), *SLOW])
    elapsed = time.monotonic() - t0
    assert rc == 0
    assert elapsed < 6, elapsed  # 100 episodes per env would take 40 s
    summary = json.loads((out / "summary.json").read_text())
    for env_id in (slow_env.ENV_ID, slow_env.ENV_ID2):
        row = summary[env_id]
        assert row["stopped"] == "budget"
        assert 0 < row["episodes"] < 100  # each env got its share, not the first env all of it
    saved = _episodes(out)
    assert len(saved) == sum(r["episodes"] for r in summary.values())
    printed = capsys.readouterr().out
    assert f"{slow_env.ENV_ID}: " in printed and "stopped: budget" in printed


def test_budget_must_be_positive(tmp_path):
    from selfgym.errors import ConfigError

    with pytest.raises(ConfigError, match="--budget"):
        main(["run", slow_env.ENV_ID, "--budget", "0", "--out", str(tmp_path / "r"), *SLOW])


def _start_run(tmp_path: Path, episodes_first: int) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "run"
    # Ctrl-C as in a terminal: a test run started in the background inherits SIGINT ignored
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import slow_env; slow_env.register(); "
            "from selfgym.cli import main; sys.exit(main(sys.argv[1:]))")
    # 0.6 s an episode: the stop lands while the second env still has over a second to run
    argv = [sys.executable, "-c", code, "run", slow_env.ENV_ID, slow_env.ENV_ID2, "--out", str(out), *SLOW,
            "--env-kwargs", '{"delay": 0.3, "length": 2}', "--episodes", str(episodes_first)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


@pytest.mark.parametrize("sig, status, reason", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "interrupt")])
def test_a_stopped_run_prints_rows_as_envs_finish_and_writes_partial_results(tmp_path, sig, status, reason):
    proc, out = _start_run(tmp_path, episodes_first=3)
    lines = []
    try:
        deadline = time.monotonic() + 120
        # the first env's row is printed as soon as it finishes, while the second env still runs
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(f"{slow_env.ENV_ID}: "):
                break
            assert time.monotonic() < deadline, "".join(lines)
        else:
            pytest.fail("the run ended before printing the first env's row:\n" + "".join(lines))
        # wait for the second env's first episode, then stop the run
        while len(_episodes(out)) < 4:
            time.sleep(0.05)
            assert time.monotonic() < deadline
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, "".join(lines) + rest
    summary = json.loads((out / "summary.json").read_text())
    first, second = summary[slow_env.ENV_ID], summary[slow_env.ENV_ID2]
    assert first["episodes"] == 3 and "stopped" not in first
    assert second["stopped"] == reason and 1 <= second["episodes"] < 3
    assert len(_episodes(out)) == first["episodes"] + second["episodes"]
    assert json.loads((out / "config.json").read_text())["episodes"] == 3
    assert f"stopped early ({reason})" in rest


def test_all_picks_representative_text_solvable_ids():
    from selfgym.envs.miniwob.catalog import text_solvable
    from selfgym.registration import catalog
    from selfgym.run_cli import family_ids

    ids = family_ids()
    entries = {e.id: e for e in catalog("gymnasium")}
    assert len(ids) == len({e.family for e in entries.values()})  # one per family
    assert "selfgym/MiniWoB-drag-box-v0" not in ids
    for env_id in ids:
        assert "needs vision" not in entries[env_id].description, env_id
        if env_id.startswith("selfgym/MiniWoB-"):
            assert text_solvable(entries[env_id].kwargs["task"]), env_id
    assert {"selfgym/CodeTask-v0", "selfgym/Web-v0", "selfgym/MiniWoB-login-user-v0"} <= set(ids)


def test_summary_seconds_is_wall_time_not_the_sum_of_episodes():
    from selfgym.agents.scripted import ConstantAgent

    envs = [gym.make(slow_env.ENV_ID, delay=0.05, length=3) for _ in range(4)]
    t0 = time.monotonic()
    episodes = rollout(envs, ConstantAgent("ok"), 4)
    wall = time.monotonic() - t0
    s = summarize(episodes)
    assert s["seconds"] <= wall + 0.01
    assert s["seconds"] >= 0.9 * 3 * 0.05  # each episode's 3 sleeps of 0.05 s happened one after another
    assert s["episode_seconds"] > 2.5 * s["seconds"]  # four episodes overlapped in time


def _sandbox_size(env: dict, *argv: str) -> int:
    code = ("import sys, json; from selfgym.cli import main; rc = main(sys.argv[1:]) if len(sys.argv) > 1 else 0; "
            "from selfgym.verifiers import default_sandbox; sb = default_sandbox(); "
            "print(json.dumps(sb.status()['pool'])); sb.close()")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "SELFGYM_SANDBOX": "docker", **env})
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])["size"]


@pytest.mark.docker
@pytest.mark.skipif(not docker_available()[0], reason="no docker engine or image")
def test_pool_size_from_the_environment_and_the_command_line(tmp_path):
    default = max(2, os.cpu_count() or 2)
    assert _sandbox_size({"SELFGYM_POOL_SIZE": str(default + 1)}) == default + 1
    assert _sandbox_size({}, "run", "selfgym/Arithmetic-v0", "--agent", "constant", "--episodes", "1",
                         "--pool-size", "1", "--out", str(tmp_path / "r")) == 1


def test_pool_size_setting_rejects_nonsense(monkeypatch):
    from selfgym.errors import ConfigError
    from selfgym.verifiers import pool_size_setting

    monkeypatch.setenv("SELFGYM_POOL_SIZE", "lots")
    with pytest.raises(ConfigError, match="SELFGYM_POOL_SIZE"):
        pool_size_setting()
    monkeypatch.setenv("SELFGYM_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="SELFGYM_POOL_SIZE"):
        pool_size_setting()


def test_run_works_off_the_main_thread_without_a_budget(tmp_path):
    import threading

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", main(
        ["run", slow_env.ENV_ID, "--episodes", "2", "--out", str(tmp_path / "r"), *SLOW])))
    t.start()
    t.join(60)
    assert result.get("rc") == 0
    assert len(_episodes(tmp_path / "r")) == 2
