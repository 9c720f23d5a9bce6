"""GGUF weight types derived offline from the default model, and served by the default backend."""

import numpy as np
import pytest

from selfgym.errors import ConfigError

pytestmark = pytest.mark.model

gguf = pytest.importorskip("gguf")


def _fields(reader):
    skip = ("GGUF.", "general.file_type")
    return {f.name: f.contents() for f in reader.fields.values() if not f.name.startswith(skip)}


def test_f16_file_is_the_dequantised_model_with_the_same_metadata(tmp_path):
    from selfgym.llm.llamacpp import derive_gguf
    from selfgym.models import default_gguf_path

    src = default_gguf_path()
    out = derive_gguf(src, "F16", tmp_path / "model.F16.gguf")
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(out)
    assert _fields(a) == _fields(b)  # tokenizer, chat template and hyper-parameters copied
    assert b.get_field("general.file_type").contents() == 1
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    qt = gguf.GGMLQuantizationType
    for ta, tb in zip(a.tensors, b.tensors, strict=True):
        assert list(ta.shape) == list(tb.shape), ta.name
        if ta.tensor_type == qt.F32:
            assert tb.tensor_type == qt.F32 and np.array_equal(ta.data, tb.data), ta.name
        else:
            assert tb.tensor_type == qt.F16, ta.name
            want = gguf.quants.dequantize(ta.data, ta.tensor_type).astype(np.float16)
            assert np.array_equal(np.asarray(tb.data), want), ta.name
    assert list(tmp_path.iterdir()) == [out]  # no partial file left beside it


def test_q8_0_model_decodes_a_batch_like_one_by_one():
    pytest.importorskip("xllamacpp")
    from selfgym.llm import SamplingParams, make_backend

    backend = make_backend("default", weight_type="Q8_0", n_parallel=8, threads=1)
    assert backend.name.endswith(".Q8_0.gguf")
    chats = [[{"role": "user", "content": f"What is {17 + i} times {23 + 2 * i}? Explain step by step."}]
             for i in range(8)]
    sampling = SamplingParams(temperature=0.0, max_tokens=24, seed=0)
    batched = backend.generate(chats, sampling)  # the first batch after start-up
    alone = [backend.generate([c], sampling)[0] for c in chats]
    assert [c.token_ids for c in batched] == [c.token_ids for c in alone]
    assert all(c.token_ids for c in batched)


def test_unknown_weight_type_names_the_choices(tmp_path):
    from selfgym.llm.llamacpp import derive_gguf
    from selfgym.models import default_gguf_path

    with pytest.raises(ConfigError, match="Q8_0"):
        derive_gguf(default_gguf_path(), "Q3_K", tmp_path / "x.gguf")
