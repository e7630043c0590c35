"""QLoRA (harness.stages.qlora) on the tiny model: trainable share, what trains, save and strict reload."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from harness.inference.decode import DecodeSettings, decode, prepare_batch, Prompt, build_prompt
from harness.systems.models import PICKLE_SUFFIXES, load_system
from harness.stages import qlora
from harness.training.examples import collate
from harness.training.forward import forward_loss, unwrapped
from harness.training.loop import train
from harness.training.lora import PAPER_LORA, LoraSettings, add_lora, parameter_count, trainable_parameters
from harness.training.settings import TrainSettings
from conftest import TINY_TARGETS

STEPS = TrainSettings(lr=1e-2, batch_size=4, steps=3, threads=1, seed=0, log_every=1)


def linear_width_and_total(model) -> tuple[int, int]:
    """Computed on the full-precision model, independently of qlora's helpers."""
    head = model.lm_head
    width = sum(m.in_features + m.out_features for m in model.modules()
                if isinstance(m, torch.nn.Linear) and m is not head)
    return width, sum(p.numel() for p in model.parameters())


def inputs_for(processor, clips, lang="de"):
    prompt = Prompt(processor, build_prompt(processor, lang, "instruct"))
    return prepare_batch(processor, prompt, clips, processor.tokenizer.pad_token_id)


def logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


# --- the trainable share --------------------------------------------------------------

@pytest.mark.parametrize("rank", [1, 4, 16])
def test_trainable_share_matches_the_rank_formula(tiny_base_dir, tiny_model, rank):
    width, total = linear_width_and_total(tiny_model)
    model = qlora.load_4bit(tiny_base_dir)
    assert parameter_count(model) == total  # packed 4-bit weights counted unpacked
    assert qlora.lora_width(model) == width
    predicted = qlora.share_for_rank(model, rank)
    assert predicted == pytest.approx(rank * width / (total + rank * width), rel=1e-12)

    peft_model = add_lora(qlora.prepare_base(model), LoraSettings.for_rank(rank))
    counts = trainable_parameters(peft_model)
    assert counts == {"trainable": rank * width, "total": total + rank * width, "share": pytest.approx(predicted)}
    assert peft_model.get_nb_trainable_parameters() == (counts["trainable"], counts["total"])  # PEFT's own count
    # "all-linear": every linear layer of the encoder, projector and decoder, not the LM head.
    adapted = {name.removeprefix("base_model.model.").removesuffix(".lora_A")
               for name, _ in peft_model.named_modules() if name.endswith(".lora_A")}
    expected = {name for name, m in tiny_model.named_modules() if isinstance(m, torch.nn.Linear) and name != "lm_head"}
    assert adapted == expected
    assert any(name.startswith("model.audio_tower") for name in adapted)
    assert "model.multi_modal_projector.linear" in adapted
    assert all(p.requires_grad == ("lora_" in name) for name, p in peft_model.named_parameters())


@pytest.mark.parametrize("share", [0.0241, 0.005, 0.1, 0.3])
def test_rank_for_share_picks_the_nearest_rank(tiny_base_dir, tiny_model, share):
    width, total = linear_width_and_total(tiny_model)
    model = qlora.load_4bit(tiny_base_dir)

    def share_of(rank):
        return rank * width / (total + rank * width)

    brute_force = min(range(1, 5000), key=lambda rank: (abs(share_of(rank) - share), rank))
    assert qlora.rank_for_share(model, share) == brute_force
    settings = LoraSettings.for_rank(brute_force)
    assert settings.alpha == 2 * brute_force and settings.rslora and settings.dropout == 0.0


def test_the_papers_share_from_the_7b_shapes():
    """Qwen2-Audio-7B(-Instruct)'s shapes, built on the meta device: rank 64 on all linear
    modules trains 2.41 % (Moslem, IWSLT 2025), and 2.41 % gives back rank 64."""
    from conftest import qwen2_audio_7b_on_meta

    model = qwen2_audio_7b_on_meta()
    assert parameter_count(model) == pytest.approx(8.397e9, rel=1e-3)
    assert round(100 * qlora.share_for_rank(model, 64), 2) == 2.41
    assert qlora.rank_for_share(model, qlora.PAPER_SHARE) == 64
    assert LoraSettings.for_rank(64) == PAPER_LORA


def test_settings_follow_the_paper():
    lora = PAPER_LORA
    assert (lora.rank, lora.alpha, lora.dropout, lora.rslora, lora.target_modules) == (64, 128, 0.0, True, "all-linear")
    a, b = qlora.PAPER_QLORA_A, qlora.PAPER_QLORA_B
    assert (a.epochs, a.batch_size, a.lr) == (4, 4, 1e-5) and (b.epochs, b.batch_size, b.lr) == (1, 8, 1e-5)
    assert a.total_steps(1568) == 4 * 392
    config = qlora.quantization_config(qlora.compute_dtype("cpu"))
    assert (config.bnb_4bit_quant_type, config.bnb_4bit_use_double_quant, config.bnb_4bit_compute_dtype) == \
        ("nf4", True, torch.float32)
    assert qlora.compute_dtype("cuda") == torch.bfloat16
    with pytest.raises(ValueError):
        LoraSettings(rank=0)


# --- what trains -------------------------------------------------------------------------

def test_training_moves_lora_b_and_leaves_the_4bit_base(tiny_base_dir, tiny_processor, store, examples):
    import bitsandbytes as bnb

    peft_model = add_lora(qlora.prepare_base(qlora.load_4bit(tiny_base_dir)), LoraSettings.for_rank(4))
    frozen = {name: p.detach().clone() for name, p in peft_model.named_parameters() if "lora_" not in name}
    scales = {name: m.weight.quant_state.absmax.clone() for name, m in peft_model.named_modules()
              if isinstance(m, bnb.nn.Linear4bit)}
    lora_a = {name: p.detach().clone() for name, p in peft_model.named_parameters() if "lora_A" in name}
    lora_b = {name: p.detach().clone() for name, p in peft_model.named_parameters() if "lora_B" in name}
    assert scales and lora_b and all(not b.any() for b in lora_b.values())  # PEFT starts B at zero

    result = train(peft_model, examples, store, STEPS, pad_id=tiny_processor.tokenizer.pad_token_id,
                      progress=None)
    assert result.steps == 3 and all(math.isfinite(loss) for loss in result.losses)
    after = dict(peft_model.named_parameters())
    assert all(after[name].any() for name in lora_b), "every B matrix moved off zero"
    assert all(not torch.equal(after[name], before) for name, before in lora_a.items())
    assert all(torch.equal(after[name], before) for name, before in frozen.items()), "the base is frozen"
    packed = [name for name in frozen if after[name].__class__.__name__ == "Params4bit"]
    assert packed and all(after[name].dtype == torch.uint8 for name in packed)
    modules = dict(peft_model.named_modules())
    assert all(torch.equal(modules[name].weight.quant_state.absmax, absmax) for name, absmax in scales.items())


def test_trimmed_audio_path_finds_the_tower_inside_the_peft_model(tiny_base_dir, tiny_processor, store, examples):
    peft_model = add_lora(qlora.prepare_base(qlora.load_4bit(tiny_base_dir)), LoraSettings.for_rank(4))
    assert hasattr(unwrapped(peft_model).model, "audio_tower")
    batch = collate(examples[:6], store, tiny_processor.tokenizer.pad_token_id)
    with torch.no_grad():
        full = forward_loss(peft_model, batch, trim_audio=False)
        trimmed = forward_loss(peft_model, batch, trim_audio=True)
    assert math.isclose(float(full), float(trimmed), rel_tol=1e-5)


# --- the saved system --------------------------------------------------------------------

def test_saved_system_reloads_strictly_and_decodes_like_the_trained_model(
        tiny_base_dir, tiny_processor, tiny_clips, store, examples, tmp_path):
    out = qlora.qlora_system(tiny_base_dir, examples, store, tmp_path / "qlora", STEPS,
                             match_share=qlora.PAPER_SHARE, train_data={"name": "tiny"}, progress=None, log=None)
    folder = tmp_path / "qlora"
    assert out.folder == folder and sorted(p.name for p in tmp_path.iterdir()) == ["qlora"]  # no staging left
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "adapter_model.safetensors", "adapter_config.json",
            "system.json", "qlora.json", "processor_config.json", "tokenizer_config.json"} <= names
    assert not [p for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES] and "README.md" not in names
    adapter_config = json.loads((folder / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "."
    assert adapter_config["use_rslora"] and adapter_config["lora_dropout"] == 0.0
    quantization = json.loads((folder / "config.json").read_text())["quantization_config"]
    assert quantization["bnb_4bit_quant_type"] == "nf4" and quantization["bnb_4bit_use_double_quant"]
    manifest = json.loads((folder / "system.json").read_text())
    assert manifest["format"] == "bnb-4bit+lora" and manifest["languages"] == {"de": ".", "zh": "."}

    # qlora.json: the rank matched to the paper's share, alpha 2 x rank, the counts.
    summary = json.loads((folder / "qlora.json").read_text())
    rank = qlora.rank_for_share(qlora.load_4bit(tiny_base_dir), qlora.PAPER_SHARE)
    assert summary["lora"]["rank"] == adapter_config["r"] == rank and summary["lora"]["alpha"] == 2 * rank
    assert summary["parameters"] == trainable_parameters(out.model)
    assert summary["parameters"]["share"] == pytest.approx(
        qlora.share_for_rank(qlora.load_4bit(tiny_base_dir), rank))
    assert summary["training"]["steps"] == 3 and summary["train_data"] == {"name": "tiny"}

    system = load_system(folder, "de")  # strict: every stored tensor checked against the loaded model
    inputs = inputs_for(tiny_processor, tiny_clips[:3])
    trained = logits(out.model, inputs)
    assert torch.equal(logits(system.model, inputs), trained)
    with out.model.disable_adapter():
        assert not torch.equal(logits(out.model, inputs), trained), "the adapter changes the output"
    settings = DecodeSettings(max_new_tokens=16, batch_size=4)
    for lang in ("de", "zh"):
        reloaded = decode(load_system(folder, lang), tiny_clips, lang, settings).hypotheses
        in_memory = decode(replace(system, model=out.model, lang=lang), tiny_clips, lang, settings).hypotheses
        assert [h.token_ids for h in reloaded] == [h.token_ids for h in in_memory]
        assert sum(h.new_tokens for h in reloaded) > len(tiny_clips)  # real outputs, not empty ones


def test_refuses_a_quantized_input_and_keeps_an_existing_output(tiny_bnb4_dir, tiny_base_dir, store, examples,
                                                                  tmp_path):
    with pytest.raises(ValueError, match="full-precision"):
        qlora.qlora_system(tiny_bnb4_dir, examples, store, tmp_path / "out", STEPS, progress=None, log=None)
    existing = tmp_path / "out"
    existing.mkdir()
    (existing / "keep.txt").write_text("old")
    with pytest.raises(ValueError, match="no training examples"):
        qlora.qlora_system(tiny_base_dir, [], store, existing, STEPS, lora=LoraSettings.for_rank(2),
                           progress=None, log=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the staging folder is gone
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_command_line_trains_on_a_kd_file(tiny_base_dir, tiny_clips, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from harness.stages import distill

    utterances = tuple(SimpleNamespace(id=f"u{i}", audio=(lambda c=clip: c),
                                       targets={lang: TINY_TARGETS[lang][i] for lang in ("de", "zh")})
                       for i, clip in enumerate(tiny_clips))
    train_set = SimpleNamespace(name="tiny_train", content_hash="sha256:tiny", utterances=utterances,
                                ids=[u.id for u in utterances])
    rows = distill.combine(train_set.ids, {"de": TINY_TARGETS["de"][:8]}, {"de": ["die katze"] * 8}).rows
    distill.write_rows(tmp_path / "kd.jsonl", rows)
    monkeypatch.setattr("harness.data.testsets.load_testset", lambda folder: train_set)
    monkeypatch.chdir(tmp_path)  # the feature cache goes to ./build/features
    code = qlora.main(["--system", str(tiny_base_dir), "--train", "unused", "--kd", str(tmp_path / "kd.jsonl"),
                       "--oversample", "2", "--out", str(tmp_path / "student"), "--langs", "de", "--steps", "2",
                       "--batch-size", "4", "--lr", "1e-3", "--match-share", "0.0241", "--no-bf16"])
    assert code == 0
    summary = json.loads((tmp_path / "student" / "qlora.json").read_text())
    assert summary["examples"] == 2 * len(rows) == 2 * 16
    assert summary["train_data"]["oversample"] == 2 and summary["training"]["steps"] == 2
    system = load_system(tmp_path / "student", "de")
    assert system.format == "bnb-4bit+lora" and system.manifest.languages == {"de": "."}
