"""HQQ at mixed bit widths (harness.stages.hqq) and its "hqq-mixed" format (harness.systems.hqq_mixed).

Liu, Koneru & Niehues (IWSLT 2026): 4-bit linear layers, 2-bit input embedding, 4-bit LM
head, group size 64 or 128, a few decoder MLPs at 3 bit; HQQ by Badri & Shaji (2023).
On the tiny fixture model: the plans, the quantized modules, the size check, a strict
reload that gives the in-memory logits exactly, tampered folders refused in one line,
decoding, a tied head, the command line. On the shipped mini base: sizes and chrF,
printed (run with -s to see them).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from harness.systems import hqq_mixed, models, storage
from harness.inference.decode import DecodeSettings, Prompt, build_prompt, decode, prepare_batch
from harness.systems.models import load_system
from harness.systems.model_files import ModelLoadError, canonical_module
from harness.stages import hqq
from harness.data.tracks import get_track

ROOT = Path(__file__).resolve().parents[1]
MINI_BASE = ROOT / "models" / "mini-base"
FIXED = ROOT / "tests" / "data" / "mini-base-fixed"
WEIGHTS = "model.safetensors"

LINEAR_NAMES = {  # a module name of each kind -> (bits, group size) under PAPER_4BIT_G64
    "model.language_model.embed_tokens": (2, 64),
    "lm_head": (4, 64),
    "model.audio_tower.layers.0.self_attn.q_proj": (4, 64),
    "model.audio_tower.layers.3.self_attn.out_proj": (4, 64),
    "model.audio_tower.layers.1.fc1": (4, 64),
    "model.audio_tower.layers.1.fc2": (4, 64),
    "model.multi_modal_projector.linear": (4, 64),
    "model.language_model.layers.0.self_attn.k_proj": (4, 64),
    "model.language_model.layers.11.self_attn.o_proj": (4, 64),
    "model.language_model.layers.5.mlp.gate_proj": (4, 64),
    "model.language_model.layers.5.mlp.down_proj": (4, 64),
    "model.audio_tower.embed_positions": None,
    "model.audio_tower.conv1": None,
    "model.language_model.norm": None,
}


def logits(model, processor, clips, lang="de"):
    inputs = prepare_batch(processor, Prompt(processor, build_prompt(processor, lang, "instruct")), clips,
                           processor.tokenizer.pad_token_id)
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(**{name: tensor.to(device) for name, tensor in inputs.items()}).logits


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / hqq_mixed.QUANTIZATION_FILE).read_text())


@pytest.fixture(scope="module")
def quantized(tiny_base_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("hqq") / "tiny-g64"
    return hqq.quantize_system(tiny_base_dir, out, hqq.PAPER_4BIT_G64, langs=("de", "zh"), plan_name="paper-g64",
                               progress=None, log=None)


# --- plans ----------------------------------------------------------------------------

def test_the_loader_is_registered():
    assert models.LOADERS["hqq-mixed"] is models.load_hqq_mixed
    assert models.FORMATS == tuple(models.LOADERS)


@pytest.mark.parametrize("name, expected", LINEAR_NAMES.items())
def test_paper_plans(name, expected):
    spec = hqq.spec_for(hqq.PAPER_4BIT_G64, name)
    assert (None if spec is None else (spec.bits, spec.group_size)) == expected
    spec128 = hqq.spec_for(hqq.PAPER_4BIT_G128, name)
    assert (None if spec128 is None else (spec128.bits, spec128.group_size)) == \
        (None if expected is None else (expected[0], 128))
    step1 = hqq.spec_for(hqq.PAPER_STEP1, name)  # the embedding stays full precision before step 2
    assert (None if step1 is None else step1.bits) == (None if expected is None or "embed_tokens" in name else 4)


def test_mlp3_puts_only_the_given_layers_mlps_at_3_bit():
    plan = hqq.with_mlp3(hqq.PAPER_4BIT_G128, hqq.PAPER_MLP3_LAYERS)
    for layer in range(32):
        for proj in ("gate_proj", "up_proj", "down_proj"):
            spec = hqq.spec_for(plan, f"model.language_model.layers.{layer}.mlp.{proj}")
            assert (spec.bits, spec.group_size) == ((3, 128) if layer in (4, 21, 22, 24) else (4, 128))
        assert hqq.spec_for(plan, f"model.language_model.layers.{layer}.self_attn.q_proj").bits == 4
    assert hqq.spec_for(plan, "model.language_model.layers.14.mlp.up_proj").bits == 4  # not 4 by prefix
    assert hqq.spec_for(hqq.with_mlp3(hqq.PAPER_4BIT_G64, [1], group_size=128),
                        "model.language_model.layers.1.mlp.up_proj").group_size == 128


@pytest.mark.parametrize("bad", [dict(bits=5, group_size=64), dict(bits=4, group_size=60),
                                 dict(bits=4, group_size=0), dict(bits=4, group_size=64, axis=2)])
def test_bad_specs_are_refused(bad):
    with pytest.raises(ValueError):
        hqq.QuantSpec(**bad)


def test_plan_modules_on_the_tiny_model(tiny_model):
    chosen = hqq.plan_modules(tiny_model, hqq.PAPER_4BIT_G64)
    linears = {name for name, m in tiny_model.named_modules() if isinstance(m, torch.nn.Linear)}
    assert set(chosen) == linears | {"model.language_model.embed_tokens"}
    assert all((s.bits, s.group_size) == (4, 64) for name, s in chosen.items() if name in linears)
    embedding = tiny_model.get_input_embeddings().weight
    groups = embedding.numel() // 64
    # axis 1 (HqqConfig's) where four 2-bit groups fill whole bytes, else axis 0
    assert chosen["model.language_model.embed_tokens"] == hqq.QuantSpec(2, 64, 1 if groups % 4 == 0 else 0)


def test_a_general_rule_shadowed_by_overrides_is_fine(tiny_model):
    plan = hqq.with_bits(hqq.with_mlp3(hqq.PAPER_4BIT_G64, [0, 1]), [0, 1], 3, "attention")
    chosen = hqq.plan_modules(tiny_model, plan)  # every decoder linear is taken before DECODER_LINEAR
    decoder = {name: spec for name, spec in chosen.items() if ".layers." in name and "audio_tower" not in name}
    assert decoder and all(spec.bits == 3 for spec in decoder.values())
    with pytest.raises(ValueError, match="unknown kind"):
        hqq.with_bits(hqq.PAPER_4BIT_G64, [0], 3, "norm")


@pytest.mark.parametrize("plan, message", [
    (hqq.with_mlp3(hqq.PAPER_4BIT_G64, [7]), "matches no Linear"),  # the tiny model has 2 decoder layers
    ((("model\\.language_model\\.layers\\.0\\.mlp\\.up_proj", hqq.QuantSpec(4, 24)),), "groups of 24"),
])
def test_a_plan_that_does_not_fit_changes_nothing(tiny_model, plan, message):
    model = copy.deepcopy(tiny_model)
    with pytest.raises(ValueError, match=message):
        hqq.quantize_model(model, plan, torch.float32, progress=None)
    assert not any(type(m).__name__.startswith("HQQ") for m in model.modules())


# --- quantizing one module -------------------------------------------------------------

@pytest.mark.parametrize("bits, worst", [(8, 0.01), (4, 0.15), (3, 0.3), (2, 0.6)])
def test_quantize_linear_approximates_and_keeps_the_original(bits, worst):
    torch.manual_seed(0)
    linear = torch.nn.Linear(192, 96)
    before = linear.weight.detach().clone()
    layer = hqq.quantize_linear(linear, bits, 64, torch.float32)
    assert torch.equal(linear.weight, before)  # the sensitivity stage puts the original back
    restored = layer.dequantize()
    relative = ((restored - before).norm() / before.norm()).item()
    assert relative < worst
    x = torch.randn(5, 192)
    with torch.no_grad():
        assert torch.allclose(layer(x), torch.nn.functional.linear(x, restored, linear.bias), atol=1e-5)
        assert int(layer.meta["nbits"]) == bits


def test_hqq_state_is_tensors_with_the_keys_the_loader_expects():
    layer = hqq.quantize_linear(torch.nn.Linear(64, 32), 4, 64, torch.float32)
    state = layer.state_dict()
    assert set(state) == hqq_mixed.PACKED_KEYS | {"bias"}
    assert all(isinstance(v, torch.Tensor) for v in state.values())


# --- the saved folder ----------------------------------------------------------------------

def test_manifest_bits_match_the_stored_tensors(quantized):
    folder = quantized.folder
    report = storage.check(folder, get_track("mini"))
    assert report.exit_code in (0, 1), report.reason  # valid; over or under the limit
    data = storage.to_json(report)
    stored = {canonical_module(m["module"]): (m["method"], m["bits"], m["group_size"])
              for m in data["quantization"]["modules"]}
    listed = {canonical_module(name): ("hqq", spec["bits"], spec["group_size"])
              for name, spec in manifest_of(folder)["modules"].items()}
    assert stored == listed and len(stored) == len(quantized.manifest["modules"])
    # 2-bit input embedding, 4-bit LM head (the paper's step 2)
    assert stored["language_model.model.embed_tokens"][1:] == (2, 64)
    assert stored["language_model.lm_head"][1:] == (4, 64)
    assert data["totals"]["weight_file_bytes"] == (folder / WEIGHTS).stat().st_size
    assert data["verdicts"]  # the mini track's rule, scaled from models/mini-base, judged the size
    # The rule's size is every file of the folder (issue 18): the weights plus configs, tokenizer, manifest.
    assert report.verdict.size_bytes == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    manifest = manifest_of(folder)
    assert manifest["method"] == "hqq" and manifest["compute_dtype"] == "float32" and manifest["hqq_version"]
    assert manifest["plan"] == hqq.plan_as_json(hqq.PAPER_4BIT_G64)
    assert json.loads((folder / "system.json").read_text())["format"] == "hqq-mixed"


def test_keys_on_disk_use_the_checkpoint_names(quantized):
    keys = set(load_file(quantized.folder / WEIGHTS))
    assert "language_model.model.layers.0.mlp.down_proj.W_q" in keys
    assert "language_model.lm_head.W_q" in keys and "language_model.model.embed_tokens.W_q" in keys
    assert "audio_tower.layers.0.fc1.W_q" in keys and "multi_modal_projector.linear.bias" in keys
    assert not any(key.startswith("model.") for key in keys)


@pytest.mark.parametrize("lang", ["de", "zh"])
def test_reload_gives_the_in_memory_logits_exactly(quantized, tiny_clips, lang):
    system = load_system(quantized.folder, lang)
    assert system.format == "hqq-mixed" and system.dtype == torch.float32
    model = system.model
    assert isinstance(model.model.language_model.embed_tokens, hqq_mixed.HQQEmbedding)
    assert int(model.model.language_model.embed_tokens.meta["nbits"]) == 2
    assert type(model.lm_head).__name__ == "HQQLinear" and int(model.lm_head.meta["nbits"]) == 4
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    expected = logits(quantized.model, quantized.processor, tiny_clips[:3], lang)
    assert torch.equal(logits(model, system.processor, tiny_clips[:3], lang), expected)


def test_decode_works_on_the_loaded_system(quantized, tiny_clips):
    system = load_system(quantized.folder, "de")
    settings = DecodeSettings(max_new_tokens=12, batch_size=4)
    out = decode(system, tiny_clips[:4], "de", settings)
    assert len(out.hypotheses) == 4 and all(h.new_tokens > 0 for h in out.hypotheses)
    in_memory = decode(replace(system, model=quantized.model), tiny_clips[:4], "de", settings)
    assert [h.token_ids for h in out.hypotheses] == [h.token_ids for h in in_memory.hypotheses]


def test_packed_4_bit_weights_are_a_quarter_of_fp16(quantized):
    tensors = load_file(quantized.folder / WEIGHTS)
    modules = [name for name, spec in manifest_of(quantized.folder)["modules"].items() if spec["bits"] == 4]
    assert modules
    for module in modules:
        stored = next(k.removesuffix(".W_q") for k in tensors
                      if k.endswith(".W_q") and canonical_module(k.removesuffix(".W_q"))
                      == canonical_module(module))
        numel = math.prod(tensors[f"{stored}.shape"].tolist())
        assert 4 * tensors[f"{stored}.W_q"].nbytes == 2 * numel  # exactly 4 bits per weight


@pytest.mark.parametrize("dtype, group, ratio", [(torch.float32, 64, 16 / 5), (torch.bfloat16, 64, 16 / 4.5),
                                                 (torch.bfloat16, 128, 16 / 4.25)])
def test_hqq_4_bit_against_fp16_including_scales_and_zeros(dtype, group, ratio):
    """A scale and a zero per group, in the compute dtype: 4 + 2 x 16 / g bits per weight in
    bf16 (~3.6x smaller than fp16 at g64, ~3.8x at g128, as on the 7B), 4 + 64 / g in fp32."""
    linear = torch.nn.Linear(1024, 512, bias=False).to(dtype)
    state = hqq.quantize_linear(linear, 4, group, dtype).state_dict()
    packed = sum(state[key].nbytes for key in ("W_q", "scale", "zero"))
    assert 2 * linear.weight.numel() / packed == pytest.approx(ratio)


# --- strictness --------------------------------------------------------------------------

def _drop(key):
    def change(tensors, manifest):
        del tensors[key]
    return change


def _add(key):
    def change(tensors, manifest):
        tensors[key] = torch.zeros(3)
    return change


def _manifest_bits(module, bits):
    def change(tensors, manifest):
        manifest["modules"][module]["bits"] = bits
    return change


def _unlist(module):
    def change(tensors, manifest):
        del manifest["modules"][module]
    return change


def _stored_bits(module, bits):
    def change(tensors, manifest):  # the manifest agrees, but W_q is still packed at 4 bits
        manifest["modules"]["lm_head"]["bits"] = bits
        tensors[f"{module}.nbits"] = torch.tensor(bits, dtype=torch.int32)
    return change


def _string_tensor(key, text):
    def change(tensors, manifest):
        tensors[key] = torch.tensor(list(text.encode()), dtype=torch.uint8)
    return change


DOWN = "language_model.model.layers.0.mlp.down_proj"
TAMPERING = {
    "packed tensor removed": (_drop(f"{DOWN}.scale"), "missing tensor"),
    "packed weight removed": (_drop("language_model.lm_head.W_q"), "missing tensor"),
    "plain tensor removed": (_drop("language_model.model.norm.weight"), "missing tensor"),
    "extra tensor in a packed module": (_add(f"{DOWN}.extra"), "not part of the HQQ module"),
    "extra tensor elsewhere": (_add("language_model.model.extra.weight"), "unexpected"),
    "manifest bit width changed": (_manifest_bits("lm_head", 8), "stored at 4 bits, but quantization.json says 8"),
    "manifest group size changed": (lambda t, m: m["modules"]["lm_head"].update(group_size=128), "group size 64"),
    "module not in the manifest": (_unlist("lm_head"), "does not list its module"),
    "nbits tensor changed": (_stored_bits("language_model.lm_head", 2), "packing"),
    "code in a dtype string": (_string_tensor(f"{DOWN}.compute_dtype", "__import__('os').system('touch PWNED')"),
                               "compute_dtype"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_a_tampered_folder_is_one_line_error(quantized, tmp_path, case, monkeypatch):
    change, message = TAMPERING[case]
    folder = tmp_path / "tampered"
    shutil.copytree(quantized.folder, folder)
    tensors = load_file(folder / WEIGHTS)
    manifest = manifest_of(folder)
    change(tensors, manifest)
    save_file(tensors, folder / WEIGHTS, metadata={"format": "pt"})
    (folder / hqq_mixed.QUANTIZATION_FILE).write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match=message) as error:
        load_system(folder, "de")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "PWNED").exists()


def test_the_untampered_copy_loads(quantized, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(quantized.folder, folder)
    tensors = load_file(folder / WEIGHTS)
    save_file(tensors, folder / WEIGHTS, metadata={"format": "pt"})  # the rewrite itself is harmless
    load_system(folder, "de")


# --- a tied LM head ----------------------------------------------------------------------

KEEP_ENDS = ((hqq.EMBEDDING, None), (hqq.LM_HEAD, None)) + hqq.PAPER_4BIT_G64[2:]


@pytest.mark.parametrize("plan", [hqq.PAPER_4BIT_G64, KEEP_ENDS], ids=["ends-quantized", "ends-kept"])
def test_a_tied_head_is_saved_untied(tiny_model, tiny_processor, tiny_clips, tmp_path, plan):
    model = copy.deepcopy(tiny_model)
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    model.config.text_config.tie_word_embeddings = True
    modules = hqq.quantize_model(model, plan, torch.float32, progress=None)
    manifest = hqq.quantization_manifest(modules, plan, torch.float32)
    folder = hqq.save_hqq(model, tiny_processor, tmp_path / "tied", manifest, languages=("de",), prompt="instruct",
                          base_model=None)
    config = json.loads((folder / "config.json").read_text())
    assert config["text_config"]["tie_word_embeddings"] is False
    system = load_system(folder, "de")
    assert torch.equal(logits(system.model, system.processor, tiny_clips[:2]),
                       logits(model, tiny_processor, tiny_clips[:2]))


# --- the command line ----------------------------------------------------------------------

def test_cli_g128_with_3_bit_mlps(tiny_base_dir, tiny_clips, tmp_path, capsys):
    out = tmp_path / "tiny-g128-mlp3"
    assert hqq.main(["--system", str(tiny_base_dir), "--lang", "de,zh", "--out", str(out), "--plan", "paper-g128",
                     "--mlp3", "0"]) == 0
    assert "modules quantized" in capsys.readouterr().out
    manifest = manifest_of(out)
    assert manifest["plan_name"] == "paper-g128+mlp3:0"
    for proj in ("gate_proj", "up_proj", "down_proj"):
        assert manifest["modules"][f"model.language_model.layers.0.mlp.{proj}"]["bits"] == 3
        assert manifest["modules"][f"model.language_model.layers.1.mlp.{proj}"]["bits"] == 4
    assert {spec["group_size"] for spec in manifest["modules"].values()} == {128}
    report = storage.check(out, get_track("mini"))
    assert report.exit_code in (0, 1), report.reason
    assert {m["bits"] for m in storage.to_json(report)["quantization"]["modules"]} == {2, 3, 4}
    system = load_system(out, "zh")
    assert torch.isfinite(logits(system.model, system.processor, tiny_clips[:2], "zh")).all()


@pytest.mark.parametrize("case", ["no system", "bad layers", "layer beyond the model", "out is the input",
                                  "out is not a system", "unknown language"])
def test_cli_bad_input_is_one_line_exit_2(tiny_base_dir, tmp_path, capsys, case):
    out = tmp_path / "out"
    args = {"--system": str(tiny_base_dir), "--lang": "de", "--out": str(out)}
    if case == "no system":
        args["--system"] = str(tmp_path / "missing")
    elif case == "bad layers":
        args["--mlp3"] = "4,x"
    elif case == "layer beyond the model":
        args["--mlp3"] = "9"
    elif case == "out is the input":
        args["--out"] = str(tiny_base_dir)
    elif case == "out is not a system":
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    else:
        args["--lang"] = "fr"
    argv = [part for pair in args.items() for part in pair]
    assert hqq.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and sum(line.startswith("error") for line in err) == 1
    if case == "out is not a system":
        assert (out / "notes.txt").read_text() == "keep me"
    elif case != "out is the input":
        assert not out.exists()
    assert (tiny_base_dir / "model.safetensors").is_file()


# --- the mini base: sizes and chrF (printed, not asserted) --------------------------------

def test_mini_base_sizes_and_chrf(tmp_path):
    """Sizes of the paper's plans against the mini track's limit, and greedy chrF on the
    12 committed general_test sentences, fp32 base vs 4-bit g64 vs g128 (fp32 compute)."""
    from harness.scoring.metrics import score_all
    from harness.data.testsets import load_testset

    torch.set_num_threads(min(2, torch.get_num_threads()))
    fixed = load_testset(FIXED)
    rows = [i for i, u in enumerate(fixed.utterances) if u.meta["set"] == "general_test"]
    audios = [fixed.utterances[i].audio() for i in rows]
    settings = DecodeSettings(max_new_tokens=64, batch_size=12)

    def chrf(folder: Path) -> dict[str, float]:
        scores = {}
        for lang in ("de", "zh"):
            hyps = [h.text for h in decode(load_system(folder, lang), audios, lang, settings).hypotheses]
            refs = [fixed.utterances[i].targets[lang] for i in rows]
            scores[lang] = score_all(hyps, refs, lang, ["chrf"])["chrf"].value
        return scores

    lines = []
    base = storage.check(MINI_BASE, get_track("mini"))
    limit = base.verdict.rule.limit_bytes
    lines.append(f"mini track limit {limit:,} bytes; fp32 base {base.verdict.size_bytes:,} bytes; chrF {chrf(MINI_BASE)}")
    for name, dtype in (("paper-g64", torch.float32), ("paper-g128", torch.float32),
                        ("paper-g64", torch.bfloat16), ("paper-g128", torch.bfloat16)):
        folder = tmp_path / f"{name}-{hqq_mixed.dtype_name(dtype)}"
        hqq.quantize_system(MINI_BASE, folder, hqq.PLANS[name], langs=("de", "zh"), compute_dtype=dtype,
                            progress=None, log=None)
        report = storage.check(folder, get_track("mini"))
        assert report.exit_code in (0, 1), report.reason
        data = storage.to_json(report)
        size = report.verdict.size_bytes
        scores = chrf(folder) if dtype == torch.float32 else "not decoded"
        lines.append(f"{name} scales/zeros {hqq_mixed.dtype_name(dtype)}: {size:,} bytes "
                     f"({size / limit:.2f} x limit, {report.status}; headers {data['totals']['header_bytes']:,}); "
                     f"chrF {scores}")
    print("\n" + "\n".join(lines))
