"""The optional vLLM backend (harness.inference.vllm_backend): a one-line error without vLLM, and, against a
stand-in ``vllm`` module, the same prompt, greedy settings and output handling as harness.inference.decode."""

from __future__ import annotations

import json
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from harness.inference import vllm_backend
from harness.inference.decode import DecodeSettings, build_prompt
from test_mini_base import BASE

SETTINGS = DecodeSettings(max_new_tokens=24, batch_size=4)


def test_without_vllm_the_backend_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(vllm_backend.BackendError, match="vLLM is not installed") as excinfo:
        vllm_backend.VllmSystem(BASE, "de")
    assert "\n" not in str(excinfo.value)


class FakeEngine:
    """Records what the backend asks for and answers each request with a fixed German sentence."""

    calls: list = []

    def __init__(self, **kwargs):
        FakeEngine.calls.append(("init", kwargs))

    def generate(self, requests, params, use_tqdm=False):
        FakeEngine.calls.append(("generate", requests, params))
        tokenizer = FakeEngine.tokenizer
        ids = tokenizer("Hallo Welt", add_special_tokens=False)["input_ids"] + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
        return [SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, finish_reason="stop")]) for _ in requests]


@pytest.fixture
def fake_vllm(monkeypatch):
    from harness.systems.models import load_processor

    FakeEngine.calls = []
    FakeEngine.tokenizer = load_processor(BASE).tokenizer
    module = SimpleNamespace(LLM=FakeEngine, SamplingParams=lambda **kwargs: kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return FakeEngine


def test_same_prompt_greedy_settings_and_outputs_as_the_transformers_backend(fake_vllm):
    system = vllm_backend.VllmSystem(BASE, "de")
    init = fake_vllm.calls[0][1]
    assert init["model"] == str(BASE.resolve()) and init["trust_remote_code"] is False
    assert init["limit_mm_per_prompt"] == {"audio": 1}
    clips = [np.zeros(16000, np.float32), np.ones(8000, np.float32) * 0.1]
    out = vllm_backend.decode(system, clips, "de", SETTINGS)
    _, requests, params = fake_vllm.calls[1]
    assert [r["prompt"] for r in requests] == [build_prompt(system.processor, "de", "instruct")] * 2
    assert np.array_equal(requests[1]["multi_modal_data"]["audio"][0], clips[1])
    assert requests[1]["multi_modal_data"]["audio"][1] == 16000
    assert params["temperature"] == 0.0 and params["max_tokens"] == 24 and params["repetition_penalty"] == 1.0
    assert [h.text for h in out.hypotheses] == ["Hallo Welt", "Hallo Welt"]
    assert all(h.finished for h in out.hypotheses) and out.hypotheses[0].new_tokens == len(out.hypotheses[0].token_ids)
    assert out.settings.prompt_style == "instruct" and out.stats.utterances == 2


def test_only_full_precision_systems(fake_vllm, tmp_path):
    folder = tmp_path / "quantized"
    shutil.copytree(BASE, folder)
    manifest = json.loads((folder / "system.json").read_text())
    manifest["format"] = "hqq-mixed"
    (folder / "system.json").write_text(json.dumps(manifest))
    with pytest.raises(vllm_backend.BackendError, match="full-precision"):
        vllm_backend.VllmSystem(folder, "de")


def test_make_eval_with_the_vllm_backend_is_one_line_without_vllm(monkeypatch, tmp_path, capsys):
    import dataclasses

    from harness.evaluation import evaluate
    from harness.data.testsets import write_segmented_set
    from harness.data.tracks import TestSetSpec, get_track

    monkeypatch.setitem(sys.modules, "vllm", None)
    shutil.copytree(BASE, tmp_path / "build" / "mini" / "baseline")
    write_segmented_set(tmp_path / "one", name="one", version="1", domain="talks", generator={"name": "test"},
                        rows=[{"id": "u0", "audio": np.zeros(16000, np.float32), "en": "Hi.", "de": "Hallo.",
                               "zh": "你好。"}])
    track = dataclasses.replace(get_track("mini"), testsets=(TestSetSpec("one", "local", str(tmp_path / "one")),))
    monkeypatch.setattr(evaluate, "get_track", lambda name: track)
    code = evaluate.main(["--track", "mini", "--build-root", str(tmp_path / "build"), "--results-root",
                          str(tmp_path / "results"), "--backend", "vllm"])
    err = capsys.readouterr().err
    assert code == 2 and "vLLM is not installed" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()
