"""`python -m harness check`: size, parameters, verdicts and integrity of system folders built in tmp_path.

The tiny models are real Qwen2AudioForConditionalGeneration checkpoints (bf16, and
bitsandbytes nf4 with double quantization saved by transformers on the CPU, and a
PEFT LoRA adapter). Expected sizes come from os.path.getsize, parameter counts from
the torch model, torch.save sizes from torch.save itself: never from the code under test.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.systems import storage
from harness.data.tracks import REPO, SizeBin, SizeRule, get_track, scaled_rule

TINY_CONFIG = dict(
    audio_config=dict(model_type="qwen2_audio_encoder", d_model=64, encoder_layers=2, encoder_attention_heads=2,
                      encoder_ffn_dim=128, num_mel_bins=128, max_source_positions=200),
    text_config=dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=1, vocab_size=1000, max_position_embeddings=512,
                     tie_word_embeddings=False),
    audio_token_index=999)
DTYPE_BYTES = {"BF16": 2, "F32": 4, "U8": 1, "I32": 4, "I64": 8}


@dataclass(frozen=True)
class Models:
    bf16: Path          # save_pretrained of the tiny model in bf16
    bnb4: Path          # the same, quantized with bitsandbytes nf4 + double quantization, saved
    adapter: Path       # a PEFT LoRA adapter trained on nothing, saved (adapter_config + adapter_model)
    params: int         # sum of the fp model's parameter numels


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Models:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("tiny-models")
    torch.manual_seed(0)
    config = transformers.Qwen2AudioConfig(**TINY_CONFIG)
    model = transformers.Qwen2AudioForConditionalGeneration(config).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(root / "bf16")
    quantization = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                   bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
    quantized = transformers.Qwen2AudioForConditionalGeneration.from_pretrained(
        root / "bf16", quantization_config=quantization, device_map="cpu")
    quantized.save_pretrained(root / "bnb4")
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(root / "adapter")
    return Models(root / "bf16", root / "bnb4", root / "adapter", params)


# ---- builders ----------------------------------------------------------------------------

def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]], *, header: dict | None = None,
                      data: bytes | None = None) -> Path:
    """A safetensors file of zero bytes laid out contiguously, or with a given (possibly lying) header and data."""
    if header is None:
        header, offset = {}, 0
        for name, (dtype, shape) in tensors.items():
            size = DTYPE_BYTES[dtype]
            for dim in shape:
                size *= dim
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
        data = bytes(offset) if data is None else data
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + (data or b""))
    return path


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def size_of(folder: Path, *names: str) -> int:
    return sum(os.path.getsize(folder / name) for name in names)


def folder_size(folder: Path, *, leave_out: tuple[str, ...] = ()) -> int:
    """The counting rule, computed independently: st_size of every regular file (links not followed)."""
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if path.relative_to(folder).as_posix() not in leave_out and not path.is_symlink() and path.is_file():
                total += os.path.getsize(path)
    return total


def rule(limit: int, bins: tuple[SizeBin, ...] = ()) -> SizeRule:
    return SizeRule(limit_bytes=limit, bins=bins, reference_bytes=10 * limit + 1, reference_params=10**6, source="test rule")


def set_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# Each builder gets (tmp_path, models) and returns (folder, rule or None, track name).

def valid_bf16(tmp, m):
    return copy_model(m.bf16, tmp / "sys"), None, "iwslt2026"


def valid_bnb4(tmp, m):
    return copy_model(m.bnb4, tmp / "sys"), None, "iwslt2026"


def pickle_file(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [0.0] * 8}, protocol=4))
    return folder, None, "iwslt2026"


def pickle_as_safetensors(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "model.safetensors").write_bytes(pickle.dumps({"w": [0.0] * 8}, protocol=2))
    return folder, None, "iwslt2026"


def torch_zip_as_safetensors(tmp, m):
    import torch

    folder = copy_model(m.bf16, tmp / "sys")
    torch.save({"w": torch.zeros(4)}, folder / "extra.safetensors")
    return folder, None, "iwslt2026"


def legacy_torch_pickle(tmp, m):
    import torch

    folder = copy_model(m.bf16, tmp / "sys")
    torch.save({"w": torch.zeros(4)}, folder / "weights.pt", _use_new_zipfile_serialization=False)
    return folder, None, "iwslt2026"


def symlink_escape(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    outside = write_safetensors(tmp / "outside" / "w.safetensors", {"w": ("BF16", [4])})
    (folder / "extra.safetensors").symlink_to(outside)
    return folder, None, "iwslt2026"


def symlink_dir_escape(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (tmp / "outside").mkdir()
    (folder / "more").symlink_to(tmp / "outside", target_is_directory=True)
    return folder, None, "iwslt2026"


def dangling_symlink(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "gone.safetensors").symlink_to(folder / "nowhere.safetensors")
    return folder, None, "iwslt2026"


def hard_link_outside(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    outside = write_safetensors(tmp / "outside" / "w.safetensors", {"w": ("BF16", [4])})
    os.link(outside, folder / "extra.safetensors")
    return folder, None, "iwslt2026"


def hard_link_inside_counted_twice(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    os.link(folder / "model.safetensors", folder / "copy.safetensors")
    # Over only if the second link is counted.
    return folder, rule(folder_size(folder, leave_out=("copy.safetensors",))), "iwslt2026"


def truncated(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    with open(folder / "model.safetensors", "r+b") as handle:
        handle.truncate(os.path.getsize(folder / "model.safetensors") - 10)
    return folder, None, "iwslt2026"


def truncated_inside_header(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    with open(folder / "model.safetensors", "r+b") as handle:
        handle.truncate(100)
    return folder, None, "iwslt2026"


def truncated_to_nothing(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "model.safetensors").write_bytes(b"\x10\x00")
    return folder, None, "iwslt2026"


def header_lies_about_size(tmp, m):
    folder = tmp / "sys"
    header = {"w": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 16]}}
    write_safetensors(folder / "model.safetensors", {}, header=header, data=bytes(16))
    return folder, None, "iwslt2026"


def header_overlap(tmp, m):
    folder = tmp / "sys"
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
    write_safetensors(folder / "model.safetensors", {}, header=header, data=bytes(24))
    return folder, None, "iwslt2026"


def header_gap(tmp, m):
    folder = tmp / "sys"
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [20, 36]}}
    write_safetensors(folder / "model.safetensors", {}, header=header, data=bytes(36))
    return folder, None, "iwslt2026"


def header_offsets_beyond_file(tmp, m):
    folder = tmp / "sys"
    header = {"a": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}
    write_safetensors(folder / "model.safetensors", {}, header=header, data=bytes(64))
    return folder, None, "iwslt2026"


def header_length_beyond_file(tmp, m):
    folder = tmp / "sys"
    folder.mkdir()
    raw = json.dumps({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw) + 500) + raw + bytes(4))
    return folder, None, "iwslt2026"


def trailing_bytes(tmp, m):
    folder = tmp / "sys"
    write_safetensors(folder / "model.safetensors", {"a": ("F32", [4])}, data=bytes(16 + 1000))
    return folder, None, "iwslt2026"


def duplicate_header_key(tmp, m):
    folder = tmp / "sys"
    folder.mkdir()
    raw = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(4))
    return folder, None, "iwslt2026"


def weights_as_txt(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    shutil.copy(folder / "model.safetensors", folder / "notes.txt")
    # Under the limit without it; over only if notes.txt is counted.
    return folder, rule(folder_size(folder, leave_out=("notes.txt",))), "iwslt2026"


def weights_in_subfolder(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    write_safetensors(folder / "deep" / "er" / "w.safetensors", {"w": ("BF16", [8])})
    return folder, rule(folder_size(folder, leave_out=("deep/er/w.safetensors",))), "iwslt2026"


def adapter_without_base(tmp, m):
    return copy_model(m.adapter, tmp / "sys"), None, "iwslt2026"


def adapter_base_hub_id(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(m.adapter / name, folder / name)
    set_json(folder / "adapter_config.json", base_model_name_or_path="Qwen/Qwen2-Audio-7B-Instruct")
    return folder, None, "iwslt2026"


def adapter_base_outside(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    shutil.copytree(m.adapter, folder / "adapter")
    set_json(folder / "adapter" / "adapter_config.json", base_model_name_or_path=str(m.bf16))
    return folder, None, "iwslt2026"


def adapter_with_base(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    shutil.copytree(m.adapter, folder / "adapter")
    set_json(folder / "adapter" / "adapter_config.json", base_model_name_or_path="..")
    return folder, None, "iwslt2026"


def adapter_config_alone(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    shutil.copy(m.adapter / "adapter_config.json", folder / "adapter_config.json")
    set_json(folder / "adapter_config.json", base_model_name_or_path=".")
    return folder, None, "iwslt2026"


def config_hub_id(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    set_json(folder / "config.json", _name_or_path="Qwen/Qwen2-Audio-7B-Instruct")
    return folder, None, "iwslt2026"


def config_remote_code(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    set_json(folder / "config.json", auto_map={"AutoModel": "modeling_evil.EvilModel"})
    return folder, None, "iwslt2026"


def index_missing_shard(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}))
    return folder, None, "iwslt2026"


def empty_folder(tmp, m):
    (tmp / "sys").mkdir()
    return tmp / "sys", None, "iwslt2026"


def fifo(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    os.mkfifo(folder / "pipe.safetensors")
    return folder, None, "iwslt2026"


def over_by_one_byte(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    return folder, rule(folder_size(folder) - 1), "iwslt2026"


def exactly_on_limit(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    return folder, rule(folder_size(folder)), "iwslt2026"


def _bins_around(size: int) -> tuple[SizeBin, ...]:
    return (SizeBin("BinA", size, 2 * size), SizeBin("BinB", size // 2, size), SizeBin("BinC", 0, size // 2))


def exactly_on_bin_boundary(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    size = folder_size(folder)
    return folder, rule(2 * size, _bins_around(size)), "iwslt2026"


def one_byte_below_bin_boundary(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    size = folder_size(folder)
    return folder, rule(2 * size, _bins_around(size + 1)), "iwslt2026"


def binned_track_on_top_boundary(tmp, m):
    # 2025 rule: the top bin excludes its upper bound, so a size equal to it fits no bin.
    folder = copy_model(m.bf16, tmp / "sys")
    size = folder_size(folder)
    return folder, rule(size, (SizeBin("Bin1", size // 2, size), SizeBin("Bin2", 0, size // 2))), "iwslt2025"


def gguf_counted(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "model.gguf").write_bytes(b"GGUF" + struct.pack("<I", 3) + bytes(1000))
    return folder, rule(folder_size(folder) - 1), "iwslt2026"


def npz_counted(tmp, m):
    import numpy as np

    folder = copy_model(m.bf16, tmp / "sys")
    np.savez(folder / "extra.dat", w=np.zeros(100, dtype=np.float32))
    return folder, rule(folder_size(folder) - 1), "iwslt2026"


def npz_with_object_array(tmp, m):
    import numpy as np

    folder = copy_model(m.bf16, tmp / "sys")
    np.savez(folder / "extra", w=np.array([{"a": 1}], dtype=object))
    return folder, None, "iwslt2026"


def onnx_counted(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    # ir_version 8, then producer_name (field 2): the start of an ONNX ModelProto.
    (folder / "graph.bin").write_bytes(b"\x08\x08\x12\x07pytorch" + bytes(500))
    return folder, rule(folder_size(folder) - 1), "iwslt2026"


def tar_with_pickle(tmp, m):
    import tarfile

    folder = copy_model(m.bf16, tmp / "sys")
    (tmp / "weights.pkl").write_bytes(pickle.dumps([0.0], protocol=4))
    with tarfile.open(folder / "bundle.dat", "w") as archive:
        archive.add(tmp / "weights.pkl", arcname="weights.pkl")
    return folder, None, "iwslt2026"


def unrecognised_bin_counted(tmp, m):
    folder = copy_model(m.bf16, tmp / "sys")
    (folder / "raw.bin").write_bytes(bytes(range(256)) * 4)
    return folder, rule(folder_size(folder) - 1), "iwslt2026"


def bnb_shape_lie(tmp, m):
    folder = tmp / "sys"
    state = json.dumps({"quant_type": "nf4", "blocksize": 64, "shape": [4, 8]}).encode()
    header, offset = {}, 0
    for name, dtype, shape, size in (("l.weight", "U8", [8, 1], 8),
                                     ("l.weight.quant_state.bitsandbytes__nf4", "U8", [len(state)], len(state))):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    write_safetensors(folder / "model.safetensors", {}, header=header, data=bytes(8) + state)
    return folder, None, "iwslt2026"


CASES = [
    # (id, builder, exit code, fragment of the reason line)
    ("valid-bf16", valid_bf16, 0, "compliant"),
    ("valid-bnb-nf4", valid_bnb4, 0, "compliant"),
    ("pickle-file", pickle_file, 2, "pytorch_model.bin: pickle-based weight file"),
    ("pickle-as-safetensors", pickle_as_safetensors, 2, "model.safetensors: pickle-based weight file"),
    ("torch-zip-as-safetensors", torch_zip_as_safetensors, 2, "extra.safetensors: pickle-based weight file (torch.save archive"),
    ("legacy-torch-pickle", legacy_torch_pickle, 2, "weights.pt: pickle-based weight file (pickle protocol 2)"),
    ("symlink-escape", symlink_escape, 2, "extra.safetensors: symlink pointing outside the folder"),
    ("symlinked-dir-escape", symlink_dir_escape, 2, "more: symlink pointing outside the folder"),
    ("dangling-symlink", dangling_symlink, 2, "gone.safetensors: dangling symlink"),
    ("hard-link-outside", hard_link_outside, 2, "extra.safetensors: hard link shared with 1 path(s) outside"),
    ("hard-link-inside", hard_link_inside_counted_twice, 1, "over the limit"),
    ("truncated", truncated, 2, "model.safetensors: truncated: tensors need"),
    ("truncated-in-header", truncated_inside_header, 2, "reaches beyond the end of the file"),
    ("truncated-to-2-bytes", truncated_to_nothing, 2, "model.safetensors: not a safetensors file"),
    ("header-size-lie", header_lies_about_size, 2, "is 32 bytes but its offsets span 16"),
    ("header-overlap", header_overlap, 2, "overlaps the previous tensor"),
    ("header-gap", header_gap, 2, "gap of 4 bytes before tensor 'b'"),
    ("offsets-beyond-file", header_offsets_beyond_file, 2, "tensors need 4000 data bytes but the file holds 64"),
    ("header-length-beyond-file", header_length_beyond_file, 2, "reaches beyond the end of the file"),
    ("trailing-bytes", trailing_bytes, 2, "1000 trailing bytes after the last tensor"),
    ("duplicate-header-key", duplicate_header_key, 2, "header names 'a' twice"),
    ("weights-as-txt", weights_as_txt, 1, "over the limit"),
    ("weights-in-subfolder", weights_in_subfolder, 1, "over the limit"),
    ("adapter-without-base", adapter_without_base, 2, "adapter whose base weights are not in the folder"),
    ("adapter-base-hub-id", adapter_base_hub_id, 2, "base_model_name_or_path 'Qwen/Qwen2-Audio-7B-Instruct' is a hub id"),
    ("adapter-base-outside", adapter_base_outside, 2, "does not point inside the folder"),
    ("adapter-with-base", adapter_with_base, 0, "compliant"),
    ("adapter-config-without-weights", adapter_config_alone, 2, "adapter without adapter_model.safetensors"),
    ("config-hub-id", config_hub_id, 2, "config.json: _name_or_path 'Qwen/Qwen2-Audio-7B-Instruct' is a hub id"),
    ("config-remote-code", config_remote_code, 2, "auto_map asks for remote code"),
    ("index-missing-shard", index_missing_shard, 2, "names 'model-00002-of-00002.safetensors', which is missing"),
    ("empty-folder", empty_folder, 2, "no weight files in the folder"),
    ("fifo", fifo, 2, "pipe.safetensors: not a regular file"),
    ("over-by-one-byte", over_by_one_byte, 1, "by 1 bytes"),
    ("exactly-on-limit", exactly_on_limit, 0, "compliant"),
    ("exactly-on-bin-boundary", exactly_on_bin_boundary, 0, "2025 BinA"),
    ("one-byte-below-boundary", one_byte_below_bin_boundary, 0, "2025 BinB"),
    ("binned-track-top-boundary", binned_track_on_top_boundary, 1, "fits no 2025 bin"),
    ("gguf-counted", gguf_counted, 1, "by 1 bytes"),
    ("npz-counted", npz_counted, 1, "by 1 bytes"),
    ("npz-object-array", npz_with_object_array, 2, "extra.npz: pickle-based weight file"),
    ("onnx-counted", onnx_counted, 1, "by 1 bytes"),
    ("tar-with-pickle", tar_with_pickle, 2, "bundle.dat: pickle-based weight file (tar archive holding 'weights.pkl')"),
    ("unrecognised-bin-counted", unrecognised_bin_counted, 1, "by 1 bytes"),
    ("bnb-shape-lie", bnb_shape_lie, 2, "quant state declares shape [4, 8]"),
]


@pytest.mark.parametrize("build, code, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_folder_cases(tmp_path, models, build, code, fragment):
    folder, size_rule, track = build(tmp_path, models)
    report = storage.check(folder, get_track(track), rule=size_rule)
    assert (report.exit_code, fragment in report.reason) == (code, True), report.reason


# ---- sizes and parameters ----------------------------------------------------------------

def test_bf16_sizes_and_components(models):
    report = storage.check(models.bf16, get_track("iwslt2026"))
    data = storage.to_json(report)
    assert data["totals"]["weight_file_bytes"] == os.path.getsize(models.bf16 / "model.safetensors")
    assert data["totals"]["size_bytes"] == folder_size(models.bf16) == report.verdict.size_bytes
    assert data["totals"]["logical_params"] == data["totals"]["stored_elements"] == models.params
    # The breakdown adds up to the rule's size: tensors, headers, and every other file by path.
    assert sum(c["bytes"] for c in data["components"].values()) == data["totals"]["size_bytes"]
    assert set(data["components"]) == {"audio_encoder", "projector", "decoder_layers", "embedding", "lm_head", "other",
                                       storage.HEADERS_ROW, storage.OTHER_ROW}
    others = {f["path"]: f["bytes"] for f in data["other_files"]}
    assert others == {name: size_of(models.bf16, name) for name in os.listdir(models.bf16) if name != "model.safetensors"}
    assert data["components"][storage.OTHER_ROW]["bytes"] == sum(others.values())
    assert data["components"]["decoder_layers"]["layers"] == [0, 1]
    assert data["components"]["embedding"]["logical_params"] == 1000 * 64
    assert data["dtypes"]["BF16"]["bytes"] == 2 * models.params


def test_bnb4_logical_params_equal_the_fp_model(models):
    data = storage.to_json(storage.check(models.bnb4, get_track("iwslt2026")))
    totals = data["totals"]
    assert totals["logical_params"] == models.params
    # Packed 4-bit storage: fewer stored elements than parameters (Moslem 2025's "4.95 B" effect).
    assert totals["param_elements"] < totals["logical_params"]
    assert totals["stored_elements"] > totals["param_elements"]       # + absmax, quant maps, JSON states
    schemes = data["quantization"]["schemes"]
    assert schemes["bnb nf4"]["quantized_modules"] == len(data["quantization"]["modules"]) > 0
    assert all(m["bits"] == 4 and m["group_size"] == 64 for m in data["quantization"]["modules"])
    assert 4 < schemes["bnb nf4"]["bits_per_weight"] < 8


def test_adapter_is_its_own_component(tmp_path, models):
    folder, _, _ = adapter_with_base(tmp_path, models)
    data = storage.to_json(storage.check(folder, get_track("iwslt2026")))
    header = json.loads((models.adapter / "adapter_model.safetensors").read_bytes()[8:][:struct.unpack(
        "<Q", (models.adapter / "adapter_model.safetensors").read_bytes()[:8])[0]])
    lora_params = sum(_numel(v["shape"]) for k, v in header.items() if k != "__metadata__")
    assert data["components"]["adapter"]["logical_params"] == lora_params
    assert data["totals"]["logical_params"] == models.params + lora_params


def _numel(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


@pytest.mark.parametrize("name, expected", [
    ("audio_tower.layers.3.fc1.weight", ("audio_encoder", None)),
    ("model.audio_tower.conv1.weight", ("audio_encoder", None)),
    ("multi_modal_projector.linear.weight", ("projector", None)),
    ("language_model.model.layers.7.mlp.up_proj.weight", ("decoder_layers", 7)),
    ("model.language_model.layers.12.self_attn.q_proj.weight", ("decoder_layers", 12)),
    ("base_model.model.language_model.model.layers.2.mlp.down_proj.weight", ("decoder_layers", 2)),
    ("base_model.model.model.language_model.layers.2.self_attn.q_proj.lora_A.weight", ("adapter", None)),
    ("language_model.model.embed_tokens.weight", ("embedding", None)),
    ("model.language_model.embed_tokens.weight", ("embedding", None)),
    ("language_model.lm_head.weight", ("lm_head", None)),
    ("lm_head.weight", ("lm_head", None)),
    ("language_model.model.norm.weight", ("other", None)),
])
def test_component_names(name, expected):
    assert storage.component_of(name, in_adapter_file=False) == expected


def test_hqq_packed_weights_and_manifest(tmp_path):
    torch = pytest.importorskip("torch")
    hqq = pytest.importorskip("hqq.core.quantize")
    from safetensors.torch import save_file

    state = {}
    for index, bits in ((0, 4), (1, 3), (2, 2)):
        linear = torch.nn.Linear(64, 96, bias=True)
        layer = hqq.HQQLinear(linear, hqq.BaseQuantizeConfig(nbits=bits, group_size=64), compute_dtype=torch.float32, device="cpu")
        for key, value in layer.state_dict().items():
            state[f"language_model.model.layers.{index}.mlp.down_proj.{key}"] = value.detach().contiguous()
    state["language_model.model.norm.weight"] = torch.ones(64, dtype=torch.bfloat16)
    folder = tmp_path / "hqq"
    folder.mkdir()
    save_file(state, folder / "model.safetensors")
    manifest = {"modules": {f"model.language_model.layers.{i}.mlp.down_proj": {"bits": b, "group_size": 64}
                            for i, b in ((0, 4), (1, 3), (2, 2))}}
    (folder / storage.MANIFEST_NAME).write_text(json.dumps(manifest))

    report = storage.check(folder, get_track("iwslt2026"))
    data = storage.to_json(report)
    assert report.exit_code == 0, report.reason
    assert data["totals"]["logical_params"] == 3 * (96 * 64 + 96) + 64
    assert {m["module"].split(".")[3]: m["bits"] for m in data["quantization"]["modules"]} == {"0": 4, "1": 3, "2": 2}
    assert set(data["quantization"]["schemes"]) == {"hqq 4-bit", "hqq 3-bit", "hqq 2-bit", "f32", "bf16"}

    manifest["modules"]["model.language_model.layers.1.mlp.down_proj"]["bits"] = 4
    (folder / storage.MANIFEST_NAME).write_text(json.dumps(manifest))
    report = storage.check(folder, get_track("iwslt2026"))
    assert report.exit_code == 2 and "at 4 bits, but the weights hold 3-bit hqq" in report.reason


# ---- the mini track's scaled rule -----------------------------------------------------------

def test_mini_without_base_has_no_verdict(tmp_path, models):
    report = storage.check(models.bf16, get_track("mini"), repo=tmp_path)
    assert report.exit_code == 0 and report.status == "no_verdict"
    assert "does not exist yet" in report.reason


def test_mini_scales_from_the_base_headers(tmp_path, models):
    copy_model(models.bf16, tmp_path / "models" / "mini-base")
    report = storage.check(models.bnb4, get_track("mini"), repo=tmp_path)
    expected = scaled_rule(2 * models.params, models.params)
    assert report.verdict.rule == expected
    size = folder_size(models.bnb4)      # every file counts (the reference stays the base's bf16 tensor bytes)
    assert report.exit_code == (0 if size <= expected.limit_bytes else 1)
    assert report.verdict.reduction_params == pytest.approx(0.0)
    assert report.verdict.reduction_bytes == pytest.approx(1 - size / (2 * models.params))


def test_mini_with_invalid_base_has_no_verdict(tmp_path, models):
    base = tmp_path / "models" / "mini-base"
    base.mkdir(parents=True)
    (base / "model.safetensors").write_bytes(pickle.dumps([1], protocol=4))
    report = storage.check(models.bf16, get_track("mini"), repo=tmp_path)
    assert report.status == "no_verdict" and "is invalid" in report.reason


# ---- torch.save size ---------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["bf16", "bnb4", "adapter"])
def test_torch_save_size_is_exact(tmp_path, models, which):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    folder = adapter_with_base(tmp_path, models)[0] if which == "adapter" else getattr(models, which)
    state = {}
    for path in sorted(folder.rglob("*.safetensors"), key=lambda p: p.relative_to(folder).as_posix()):
        state.update(load_file(path))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    report = storage.check(folder, get_track("iwslt2026"), torch_save=True)
    assert report.torch_save_bytes == len(buffer.getvalue())


# ---- the command line -------------------------------------------------------------------------

def test_cli_table_json_and_last_line(tmp_path, models, capsys):
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    code = storage.main([str(models.bnb4), "--track", "iwslt2026", "--json", str(target), "--torch-save-size"])
    out = capsys.readouterr().out.rstrip("\n").splitlines()
    assert code == 0
    assert out[-1].startswith("compliant: ") and "(track iwslt2026)" in out[-1]
    assert any(line.startswith("decoder_layers") for line in out)
    data = json.loads(target.read_text())
    assert data["schema"] == storage.SCHEMA and data["schema_version"] == storage.SCHEMA_VERSION
    assert set(data) == {"schema", "schema_version", "folder", "track", "files", "components", "other_files", "unloadable",
                         "dtypes", "quantization", "totals", "verdicts", "integrity", "load", "status", "exit_code", "reason"}
    assert data["reason"] == out[-1] and data["exit_code"] == 0
    assert data["totals"]["torch_save_bytes"] > data["totals"]["weight_file_bytes"]
    assert list(target.parent.iterdir()) == [target]        # the temporary file was renamed, not left behind


def test_cli_invalid_goes_to_stderr(tmp_path, models, capsys):
    folder, _, _ = pickle_file(tmp_path, models)
    code = storage.main([str(folder), "--track", "iwslt2026"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.rstrip("\n").splitlines()[-1].startswith("invalid: pytorch_model.bin: pickle-based")


def test_cli_missing_folder(tmp_path, capsys):
    assert storage.main([str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_cli_json_write_failure(tmp_path, models, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = storage.main([str(models.bf16), "--track", "iwslt2026", "--json", str(blocker / "r.json")])
    assert code == 2 and "cannot write" in capsys.readouterr().err


def test_dispatcher_knows_check():
    from harness.__main__ import COMMANDS

    assert COMMANDS["check"][0] == "harness.systems.storage"


MARKER_CODE = "import pathlib; pathlib.Path({marker!r}).write_text('executed')\n"


def test_never_imports_from_the_folder(tmp_path, models):
    folder = copy_model(models.bf16, tmp_path / "sys")
    marker = tmp_path / "marker"
    for name in ("config.py", "__init__.py", "modeling_qwen2_audio.py", "configuration_qwen2_audio.py"):
        (folder / name).write_text(MARKER_CODE.format(marker=str(marker)))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "harness", "check", str(folder), "--track", "iwslt2026",
                             "--torch-save-size"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "is never imported or run" in result.stdout
    report = storage.check(folder, get_track("iwslt2026"), torch_save=True)
    assert report.exit_code == 0
    assert not marker.exists()
    assert not [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "") or "").startswith(str(folder))]


def test_check_does_not_import_torch():
    code = "import sys, harness.systems.storage; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.stdout.split() == ["False", "False"], result.stderr


# ---- per-direction models (system.json) ------------------------------------------------------

def two_model_system(tmp: Path, m: Models) -> Path:
    folder = tmp / "sys"
    copy_model(m.bf16, folder / "de")
    copy_model(m.bnb4, folder / "zh")
    (folder / "system.json").write_text(json.dumps({"format": "hf", "languages": {"de": "de", "zh": "zh"},
                                                    "prompt": "instruct"}))
    return folder


def test_each_direction_is_judged_on_its_own(tmp_path, models):
    folder = two_model_system(tmp_path, models)
    shared = size_of(folder, "system.json")      # outside every model folder: counted for each direction
    de_bytes = folder_size(folder / "de") + shared
    zh_bytes = folder_size(folder / "zh") + shared
    report = storage.check(folder, get_track("iwslt2026"), rule=rule(de_bytes))
    assert report.exit_code == 0, report.reason      # the two together would be over
    units = storage.to_json(report)["verdicts"]["units"]
    assert {name: unit["size_bytes"] for name, unit in units.items()} == {"de": de_bytes, "zh": zh_bytes}
    assert units["zh"]["logical_params"] == units["de"]["logical_params"] == models.params

    report = storage.check(folder, get_track("iwslt2026"), rule=rule(de_bytes - 1))
    assert report.exit_code == 1 and "the de model, the largest, is" in report.reason


def test_weights_outside_the_direction_folders_count_for_every_direction(tmp_path, models):
    folder = two_model_system(tmp_path, models)
    write_safetensors(folder / "shared.safetensors", {"w": ("BF16", [8])})
    report = storage.check(folder, get_track("iwslt2026"), rule=rule(10**9))
    units = storage.to_json(report)["verdicts"]["units"]
    assert units["zh"]["size_bytes"] == folder_size(folder / "zh") + size_of(folder, "shared.safetensors", "system.json")
    assert "shared.safetensors" in units["de"]["files"]
    assert units["de"]["logical_params"] == models.params + 8


def test_every_file_outside_the_model_folders_counts_for_every_direction(tmp_path, models):
    """Tokenizer, code, a .git/ folder and an archive at the top count for both directions, a model folder's only for its own."""
    folder = two_model_system(tmp_path, models)
    (folder / "tokenizer.json").write_text("{}" + " " * 5000)
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "pack").write_bytes(bytes(3000))
    (folder / "weights.tar.gz").write_bytes(b"\x1f\x8b\x08" + bytes(7000))
    (folder / "de" / "notes.md").write_text("de only\n" * 100)
    report = storage.check(folder, get_track("iwslt2026"), rule=rule(10**9))
    units = storage.to_json(report)["verdicts"]["units"]
    top = size_of(folder, "tokenizer.json", ".git/objects/pack", "weights.tar.gz", "system.json")
    assert units["de"]["size_bytes"] == folder_size(folder / "de") + top
    assert units["zh"]["size_bytes"] == folder_size(folder / "zh") + top
    assert "de/notes.md" not in units["zh"]["files"] and ".git/objects/pack" in units["zh"]["files"]
    assert units["de"]["logical_params"] is None            # the archive may hold weights: parameters unknown
    assert report.exit_code == 0 and report.reason.endswith("the harness cannot load weights.tar.gz (gzip-compressed)")


def test_system_json_pointing_outside_is_invalid(tmp_path, models):
    folder = copy_model(models.bf16, tmp_path / "sys")
    (folder / "system.json").write_text(json.dumps({"languages": {"de": "../elsewhere"}}))
    (tmp_path / "elsewhere").mkdir()
    report = storage.check(folder, get_track("iwslt2026"))
    assert report.exit_code == 2 and "languages.de '../elsewhere' is not a folder inside" in report.reason


# ---- --load ---------------------------------------------------------------------------------

def _fake_models(monkeypatch, load_system, languages=("de", "zh")):
    module = types.ModuleType("harness.systems.models")

    class ModelLoadError(Exception):
        pass

    module.ModelLoadError = ModelLoadError
    module.read_manifest = lambda folder: types.SimpleNamespace(languages={lang: "." for lang in languages})
    module.load_system = lambda folder, lang, device="cpu": load_system(folder, lang, device, ModelLoadError)
    monkeypatch.setitem(sys.modules, "harness.systems.models", module)


def test_load_without_loader_module(monkeypatch, models):
    monkeypatch.setitem(sys.modules, "harness.systems.models", None)
    report = storage.check(models.bf16, get_track("iwslt2026"), load=True)
    assert report.exit_code == 2 and "--load needs harness.systems.models" in report.reason


def test_load_failure_is_invalid(monkeypatch, models):
    def failing(folder, lang, device, error):
        raise error("no loader for this layout")

    _fake_models(monkeypatch, failing)
    report = storage.check(models.bf16, get_track("iwslt2026"), load=True)
    assert report.exit_code == 2 and report.reason == "invalid: load failed: no loader for this layout"


def test_load_success_every_direction_offline(monkeypatch, models):
    seen = []

    def loading(folder, lang, device, error):
        seen.append((folder, lang, device, os.environ.get("HF_HUB_OFFLINE")))
        return types.SimpleNamespace(format="hf")

    _fake_models(monkeypatch, loading)
    report = storage.check(models.bf16, get_track("iwslt2026"), load=True)
    assert report.exit_code == 0 and report.load_ok
    root = models.bf16.resolve()
    assert seen == [(root, "de", "cpu", "1"), (root, "zh", "cpu", "1")]


def test_load_that_writes_into_the_folder_is_refused(monkeypatch, models, tmp_path):
    folder = copy_model(models.bf16, tmp_path / "sys")

    def writing(folder, lang, device, error):
        (folder / "cache.json").write_text("{}")
        return types.SimpleNamespace()

    _fake_models(monkeypatch, writing)
    report = storage.check(folder, get_track("iwslt2026"), load=True)
    assert report.exit_code == 2 and "load changed the folder's files" in report.reason


def test_load_is_not_attempted_on_an_invalid_folder(monkeypatch, tmp_path, models):
    def never(folder, lang, device, error):
        raise AssertionError("loaded an invalid folder")

    _fake_models(monkeypatch, never)
    folder, _, _ = pickle_file(tmp_path, models)
    report = storage.check(folder, get_track("iwslt2026"), load=True)
    assert report.exit_code == 2 and report.load_ok is None


def test_load_with_the_real_loader(tmp_path, monkeypatch):
    loader = pytest.importorskip("harness.systems.models", reason="harness.systems.models (the loader registry) is not in the tree yet")
    scratch = pytest.importorskip("harness.stages.from_scratch", reason="harness.stages.from_scratch is not in the tree yet")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer = scratch.train_tokenizer(["the small dog sees the big cat .", "der kleine Hund sieht die große Katze .",
                                         "小狗看见大猫。"] * 3, 300)
    config = scratch.model_config(len(tokenizer), window_seconds=4, size="tiny",
                                  audio_token_id=tokenizer.convert_tokens_to_ids(scratch.AUDIO_TOKEN))
    folder = tmp_path / "sys"
    scratch.save_base(scratch.init_model(config, seed=0), scratch.build_processor(tokenizer, 4), folder)
    loader.write_manifest(folder, format="hf", languages={"de": ".", "zh": "."}, prompt="instruct",
                          base_model=None, built_by=None)
    report = storage.check(folder, get_track("iwslt2026"), load=True)
    assert report.exit_code == 0, report.reason
    assert report.load_ok and "de (hf)" in report.load_detail

    set_json(folder / "config.json", model_type="llama")
    report = storage.check(folder, get_track("iwslt2026"), load=True)
    assert report.exit_code == 2 and "load failed" in report.reason
