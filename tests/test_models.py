"""harness.systems.models: system manifests, the loader registry, strict offline loading, content hashes.

The systems are the tiny real Qwen2-Audio folders of conftest.py (fp32, bf16, bitsandbytes
nf4 with double quantization, nf4 + rsLoRA adapter). Broken folders are made by editing
copies: removing or adding one tensor in a safetensors file, swapping in pickles,
truncating files, pointing configs at the hub.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import TINY_WINDOW_SECONDS, copy_system, write_system_json
from harness.systems import models
from harness.systems.models import LOADERS, load_system, read_manifest, verify_weights
from harness.systems.model_files import ModelLoadError
from harness.files import content_hash


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a host fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _rewrite(path: Path, change) -> None:
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def _inputs(processor, clips):
    from harness.inference.decode import Prompt, build_prompt, prepare_batch

    prompt = Prompt(processor, build_prompt(processor, "de", "instruct"))
    return prepare_batch(processor, prompt, clips, processor.tokenizer.pad_token_id)


def _logits(model, inputs):
    with torch.inference_mode():
        return model(**inputs).logits.float()


# ---------------------------------------------------------------- the formats load


def test_registry_is_a_plain_dict_keyed_by_format():
    assert type(LOADERS) is dict
    assert set(LOADERS) == {"hf", "bnb-4bit", "bnb-4bit+lora", "hqq-mixed"}
    assert models.FORMATS == tuple(LOADERS)


@pytest.mark.parametrize("fixture, fmt, dtype", [
    ("tiny_base_dir", "hf", torch.float32),
    ("tiny_bf16_dir", "hf", torch.bfloat16),
    ("tiny_bnb4_dir", "bnb-4bit", torch.float32),
    ("tiny_lora_dir", "bnb-4bit+lora", torch.float32),
])
def test_each_format_loads_offline(request, no_network, fixture, fmt, dtype):
    folder = request.getfixturevalue(fixture)
    system = load_system(folder, "zh")
    assert system.format == fmt and system.prompt_style == "instruct" and system.lang == "zh"
    assert system.folder == folder and system.model_folder == folder.resolve()
    assert system.dtype == dtype, "loaded in the saved dtype"
    assert system.content_hash == content_hash(folder)
    assert not system.model.training
    assert system.processor.feature_extractor.chunk_length == TINY_WINDOW_SECONDS
    provenance = system.provenance()
    assert provenance["format"] == fmt and provenance["manifest"]["built_by"] == "tests/conftest.py"


def test_fp32_load_reproduces_the_saved_model(tiny_base_dir, tiny_model, tiny_processor, tiny_clips):
    system = load_system(tiny_base_dir, "de")
    inputs = _inputs(tiny_processor, tiny_clips[:3])
    assert torch.equal(_logits(system.model, inputs), _logits(tiny_model, inputs))


def test_dtype_override(tiny_bf16_dir):
    system = load_system(tiny_bf16_dir, "de", dtype=torch.float32)
    assert system.dtype == torch.float32
    stored = load_file(tiny_bf16_dir / "model.safetensors")["language_model.lm_head.weight"]
    assert torch.equal(system.model.lm_head.weight, stored.float())


def test_sharded_weights_load(tmp_path, tiny_model, tiny_processor):
    folder = tmp_path / "sharded"
    tiny_model.save_pretrained(folder, max_shard_size="200KB")
    tiny_processor.save_pretrained(folder)
    write_system_json(folder, "hf")
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) > 1 and (folder / "model.safetensors.index.json").is_file()
    assert models.weight_files(folder) == shards
    system = load_system(folder, "de")
    assert all(torch.equal(a, b) for a, b in zip(system.model.state_dict().values(), tiny_model.state_dict().values()))
    # A tensor removed from one shard is still found missing.
    _rewrite(shards[-1], lambda tensors: tensors.pop(sorted(tensors)[0]))
    with pytest.raises(ModelLoadError, match="missing"):
        load_system(folder, "de")


def test_bnb4_dtype_override(tiny_bnb4_dir):
    import bitsandbytes as bnb

    system = load_system(tiny_bnb4_dir, "de", dtype=torch.bfloat16)
    assert system.model.lm_head.weight.dtype == torch.bfloat16
    assert all(m.compute_dtype == torch.bfloat16 for m in system.model.modules() if isinstance(m, bnb.nn.Linear4bit))


def test_bnb4_layers_stay_4bit_and_follow_the_file(tiny_bnb4_dir, tiny_base_dir, tiny_processor, tiny_clips):
    import bitsandbytes as bnb

    quantized = load_system(tiny_bnb4_dir, "de").model
    layers = [m for m in quantized.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and all(m.weight.dtype == torch.uint8 for m in layers)
    assert all(m.weight.quant_state.quant_type == "nf4" and m.weight.quant_state.nested for m in layers)
    # Close to the full-precision model it was quantized from, but not equal to it.
    inputs = _inputs(tiny_processor, tiny_clips[:2])
    full = _logits(load_system(tiny_base_dir, "de").model, inputs)
    four_bit = _logits(quantized, inputs)
    assert not torch.equal(full, four_bit)
    assert torch.nn.functional.cosine_similarity(full.flatten(), four_bit.flatten(), dim=0) > 0.9


def test_bnb4_cpu_forward_does_not_repack_the_saved_weights(tiny_bnb4_dir, tiny_processor, tiny_clips):
    system = load_system(tiny_bnb4_dir, "de")
    _logits(system.model, _inputs(tiny_processor, tiny_clips[:1]))
    # After a forward, the model must still hold exactly what the files hold.
    verify_weights(system.model, [tiny_bnb4_dir / "model.safetensors"])


def test_lora_adapter_is_applied(tiny_lora_dir, tiny_bnb4_dir, tiny_processor, tiny_clips):
    from peft import PeftModel

    system = load_system(tiny_lora_dir, "de")
    assert isinstance(system.model, PeftModel)
    lora_layers = [name for name, _ in system.model.named_modules() if name.endswith("lora_A")]
    assert any("audio_tower" in name for name in lora_layers) and any("language_model" in name for name in lora_layers)
    inputs = _inputs(tiny_processor, tiny_clips[:2])
    assert not torch.equal(_logits(system.model, inputs), _logits(load_system(tiny_bnb4_dir, "de").model, inputs))


def test_languages_in_their_own_subfolders(tmp_path, tiny_base_dir, tiny_bf16_dir):
    system_dir = tmp_path / "sys"
    shutil.copytree(tiny_base_dir, system_dir / "de")
    shutil.copytree(tiny_bf16_dir, system_dir / "zh")
    write_system_json(system_dir, "hf", {"de": "de", "zh": "zh"})
    german, chinese = load_system(system_dir, "de"), load_system(system_dir, "zh")
    assert german.dtype == torch.float32 and chinese.dtype == torch.bfloat16
    assert german.model_folder == (system_dir / "de").resolve()
    assert german.content_hash == content_hash(system_dir / "de") != chinese.content_hash


# ---------------------------------------------------------------- strictness


@pytest.mark.parametrize("fixture, key", [
    ("tiny_base_dir", "language_model.model.layers.1.mlp.up_proj.weight"),
    ("tiny_base_dir", "audio_tower.layers.0.fc1.bias"),
    ("tiny_bnb4_dir", "language_model.model.layers.0.self_attn.q_proj.weight.absmax"),
    ("tiny_bnb4_dir", "language_model.model.layers.1.mlp.down_proj.weight"),
])
def test_missing_tensor_is_an_error_naming_it(request, tmp_path, fixture, key):
    folder = copy_system(request.getfixturevalue(fixture), tmp_path / "sys")
    _rewrite(folder / "model.safetensors", lambda tensors: tensors.pop(key))
    with pytest.raises(ModelLoadError) as caught:
        load_system(folder, "de")
    message = str(caught.value)
    assert "\n" not in message
    # transformers names it by its v5 module path; either way the layer's own name is there.
    assert key.removeprefix("language_model.model.").removeprefix("audio_tower.") in message
    assert "missing" in message


@pytest.mark.parametrize("fixture, key", [
    ("tiny_base_dir", "language_model.model.layers.1.mlp.extra.weight"),
    ("tiny_bnb4_dir", "audio_tower.layers.0.surprise"),
])
def test_extra_tensor_is_an_error_naming_it(request, tmp_path, fixture, key):
    folder = copy_system(request.getfixturevalue(fixture), tmp_path / "sys")
    _rewrite(folder / "model.safetensors", lambda tensors: tensors.__setitem__(key, torch.zeros(3)))
    with pytest.raises(ModelLoadError) as caught:
        load_system(folder, "de")
    assert key.removeprefix("language_model.model.").removeprefix("audio_tower.") in str(caught.value)
    assert "unexpected" in str(caught.value)


def test_verify_weights_catches_a_tensor_that_was_not_loaded(tiny_base_dir):
    # Independent of transformers' report: a re-initialised weight no longer matches its file.
    model = load_system(tiny_base_dir, "de").model
    with torch.no_grad():
        model.model.language_model.layers[0].self_attn.k_proj.weight.normal_()
    with pytest.raises(ModelLoadError, match=r"language_model\.model\.layers\.0\.self_attn\.k_proj\.weight differs"):
        verify_weights(model, [tiny_base_dir / "model.safetensors"])


def test_adapter_missing_tensor(tmp_path, tiny_lora_dir):
    folder = copy_system(tiny_lora_dir, tmp_path / "sys")
    key = "base_model.model.model.language_model.layers.1.mlp.up_proj.lora_A.weight"
    _rewrite(folder / "adapter_model.safetensors", lambda tensors: tensors.pop(key))
    with pytest.raises(ModelLoadError, match=r"adapter_model\.safetensors: missing adapter tensor.*layers\.1\.mlp\.up_proj\.lora_A"):
        load_system(folder, "de")


def test_adapter_extra_tensor(tmp_path, tiny_lora_dir):
    folder = copy_system(tiny_lora_dir, tmp_path / "sys")
    key = "base_model.model.model.language_model.layers.1.mlp.nowhere.lora_A.weight"
    _rewrite(folder / "adapter_model.safetensors", lambda tensors: tensors.__setitem__(key, torch.zeros(4, 64)))
    with pytest.raises(ModelLoadError, match=r"not used by the model: .*mlp\.nowhere\.lora_A"):
        load_system(folder, "de")


def test_adapter_base_tensor_missing(tmp_path, tiny_lora_dir):
    folder = copy_system(tiny_lora_dir, tmp_path / "sys")
    key = "language_model.model.layers.0.mlp.gate_proj.weight.quant_map"
    _rewrite(folder / "model.safetensors", lambda tensors: tensors.pop(key))
    with pytest.raises(ModelLoadError, match=r"layers\.0\.mlp\.gate_proj\.weight\.quant_map"):
        load_system(folder, "de")


# ---------------------------------------------------------------- broken folders (table-driven)


def _json_edit(name: str, **changes):
    def edit(folder: Path) -> None:
        path = folder / name
        data = json.loads(path.read_text())
        data.update(changes)
        path.write_text(json.dumps(data))
    return edit


def _remove(*names: str):
    def edit(folder: Path) -> None:
        for name in names:
            (folder / name).unlink()
    return edit


def _write(name: str, data: bytes):
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(data)
    return edit


def _truncate(name: str):
    def edit(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return edit


def _shard_index(folder: Path) -> None:
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}}))
    (folder / "model.safetensors").unlink()


def _other_window(folder: Path) -> None:
    from harness.stages import from_scratch
    from transformers import Qwen2AudioProcessor

    processor = Qwen2AudioProcessor.from_pretrained(folder, local_files_only=True)
    from_scratch.build_processor(processor.tokenizer, TINY_WINDOW_SECONDS + 1).save_pretrained(folder)


BROKEN = [
    # (case, fixture, edit, expected fragment of the one-line message)
    ("no manifest", "tiny_base_dir", _remove("system.json"), "system.json: no system manifest"),
    ("unknown format", "tiny_base_dir", _json_edit("system.json", format="gguf"), "unknown format 'gguf'"),
    ("unknown prompt", "tiny_base_dir", _json_edit("system.json", prompt="chat"), "unknown prompt 'chat'"),
    ("language path escapes", "tiny_base_dir", _json_edit("system.json", languages={"de": "..", "zh": "."}),
     "points outside the system folder"),
    ("language folder absent", "tiny_base_dir", _json_edit("system.json", languages={"de": "de", "zh": "."}),
     "model folder for 'de' does not exist"),
    ("no weights", "tiny_base_dir", _remove("model.safetensors"), "no weights (model.safetensors"),
    ("pickle weights", "tiny_base_dir", _write("pytorch_model.bin", b"\x80\x04K\x01."),
     "pytorch_model.bin: pickle weight file refused"),
    ("corrupt safetensors", "tiny_base_dir", _truncate("model.safetensors"),
     "model.safetensors: not a readable safetensors file"),
    ("garbage safetensors", "tiny_base_dir", _write("model.safetensors", b"not a tensor file at all"),
     "model.safetensors: not a readable safetensors file"),
    ("shard missing", "tiny_base_dir", _shard_index, "model-00001-of-00002.safetensors: shard named in the index is missing"),
    ("no config", "tiny_base_dir", _remove("config.json"), "no config.json"),
    ("remote code", "tiny_base_dir", _json_edit("config.json", auto_map={"AutoModel": "Qwen/x--modeling.Model"}),
     "config.json: auto_map asks for remote code"),
    ("not qwen2-audio", "tiny_base_dir", _json_edit("config.json", model_type="llama"), "model_type 'llama'"),
    ("hf format but quantized", "tiny_bnb4_dir", _json_edit("system.json", format="hf"),
     "format 'hf' but the config has a quantization_config"),
    ("bnb format but full precision", "tiny_base_dir", _json_edit("system.json", format="bnb-4bit"),
     "needs a bitsandbytes 4-bit quantization_config"),
    ("adapter in an hf folder", "tiny_lora_dir", _json_edit("system.json", format="bnb-4bit"),
     "format 'bnb-4bit' but the folder holds an adapter"),
    ("adapter base on the hub", "tiny_lora_dir",
     _json_edit("adapter_config.json", base_model_name_or_path="Qwen/Qwen2-Audio-7B-Instruct"),
     "base_model_name_or_path 'Qwen/Qwen2-Audio-7B-Instruct' does not point inside the model folder"),
    ("adapter base outside", "tiny_lora_dir", _json_edit("adapter_config.json", base_model_name_or_path=".."),
     "does not point inside the model folder"),
    ("adapter weights absent", "tiny_lora_dir", _remove("adapter_model.safetensors"), "no adapter_model.safetensors"),
    ("adapter as pickle", "tiny_lora_dir",
     lambda folder: (_remove("adapter_model.safetensors")(folder), _write("adapter_model.bin", b"\x80\x04K\x01.")(folder)),
     "adapter_model.bin: pickle weight file refused"),
    ("adapter not lora", "tiny_lora_dir", _json_edit("adapter_config.json", peft_type="IA3"), "peft_type 'IA3'"),
    ("processor window differs", "tiny_base_dir", _other_window, "the feature extractor gives 500 frames"),
]


@pytest.mark.parametrize("case, fixture, edit, fragment", BROKEN, ids=[case[0] for case in BROKEN])
def test_broken_folder(request, tmp_path, no_network, case, fixture, edit, fragment):
    folder = copy_system(request.getfixturevalue(fixture), tmp_path / "sys")
    edit(folder)
    with pytest.raises(ModelLoadError) as caught:
        load_system(folder, "de")
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 400


def test_missing_folder_is_never_taken_for_a_hub_id(no_network, tmp_path):
    with pytest.raises(ModelLoadError, match="system folder does not exist"):
        load_system(tmp_path / "Qwen" / "Qwen2-Audio-7B-Instruct", "de")


def test_unknown_language(tiny_base_dir):
    folder_manifest = read_manifest(tiny_base_dir)
    assert set(folder_manifest.languages) == {"de", "zh"}
    with pytest.raises(ModelLoadError, match="no model for language 'fr'"):
        load_system(tiny_base_dir, "fr")


def test_manifest_keeps_unknown_keys_for_provenance(tmp_path, tiny_base_dir):
    folder = copy_system(tiny_base_dir, tmp_path / "sys")
    _json_edit("system.json", notes="pruned 8 layers")(folder)
    manifest = read_manifest(folder)
    assert manifest.extra == {"notes": "pruned 8 layers"}
    assert manifest.as_dict()["notes"] == "pruned 8 layers"


# ---------------------------------------------------------------- content hash


def test_content_hash_definition(tmp_path):
    import hashlib

    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_bytes(b"bee")
    (folder / "sub" / "a.txt").write_bytes(b"ay")
    digest = hashlib.sha256()
    for name, data in sorted([("b.txt", b"bee"), ("sub/a.txt", b"ay")]):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n")
    assert content_hash(folder) == digest.hexdigest()


def test_content_hash_follows_bytes_and_names(tmp_path, tiny_base_dir):
    folder = copy_system(tiny_base_dir, tmp_path / "sys")
    original = content_hash(folder)
    assert content_hash(folder) == original == content_hash(tiny_base_dir)
    config = folder / "generation_config.json"
    stat = config.stat()
    data = bytearray(config.read_bytes())
    data[-2] = ord(" ") if data[-2] != ord(" ") else ord("\t")
    config.write_bytes(bytes(data))  # same size, new bytes, new mtime: the cache must not serve the old digest
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = content_hash(folder)
    assert changed != original
    config.rename(folder / "generation_config.renamed.json")
    assert content_hash(folder) not in (original, changed)


def test_content_hash_is_cached_per_file(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin.txt").write_bytes(b"x" * 1000)
    content_hash(folder)
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    content_hash(folder)
    assert opened == []
