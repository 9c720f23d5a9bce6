"""scripts/demo.sh ends by printing its total time (setup replaced by a no-op here: CI runs the
real one through scripts/test.sh; the demo's own steps run for real, with the constant agent)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.docker
@pytest.mark.browser
def test_demo_prints_its_total_time_last(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(ROOT / "scripts" / "demo.sh", scripts / "demo.sh")
    (scripts / "setup.sh").write_text("echo setup already done\n")
    out = subprocess.run(["bash", str(scripts / "demo.sh"), "--agent", "constant", "--episodes", "1",
                          "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "COLUMNS": "140"})
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert re.fullmatch(r"demo total time: \d+ s", lines[-1]), lines[-3:]
    assert (tmp_path / "run" / "summary.json").is_file()
