"""QLoRA: a LoRA adapter trained on top of a frozen 4-bit copy of a system's model.

Dettmers et al. (NeurIPS 2023, "QLoRA: Efficient Finetuning of Quantized LLMs") freeze
the base in 4-bit NormalFloat (nf4) with double quantization (the block scales are
quantized too) and train low-rank adapters (Hu et al., ICLR 2022, "LoRA") in higher
precision through it. Moslem (IWSLT 2025, "Efficient Speech Translation through Model
Compression and Knowledge Distillation") applies it to the fine-tuned Qwen2-Audio-7B-
Instruct teacher (System A) and to the pruned model (System B), as his reference code
(ymoslem/Model-Compression, Qwen2-Audio/QwenAudio-FineTuning.ipynb) does:

- bitsandbytes 4-bit: nf4, double quantization, bf16 compute (here: fp32 on a CPU,
  where bf16 matmuls are slow, bf16 on CUDA);
- ``peft.prepare_model_for_kbit_training`` (freezes the base, casts its unquantized
  fp16/bf16 tensors -- embedding, LM head, norms, biases -- to fp32; this is why the
  paper's 4-bit base + adapter weighs 9.64 GB: those tensors are stored in fp32);
- LoRA on all linear modules (``target_modules="all-linear"``: every Linear of the audio
  encoder, the projector and the decoder, not the LM head), rank 64, alpha 128,
  dropout 0, rsLoRA (Kalajdzievski 2023: scale alpha / sqrt(rank)), no bias:
  2.41 % of the parameters trainable (``share_for_rank`` reproduces this number from
  the 7B's shapes: tests/test_qlora.py);
- System A: 4 epochs, batch 4, lr 1e-5; System B: 1 epoch, batch 8, lr 1e-5; no
  warm-up, cosine decay, no weight decay, bf16 (the notebook's Trainer arguments).

A small model given rank 64 would train a far larger share of itself than the 7B did;
``rank_for_share`` picks the rank whose trainable share is nearest the paper's 2.41 %
(alpha kept at 2 x rank, ``LoraSettings.for_rank``).

Training is harness.training's loop on its ``Example``s (e.g. the KD set of
harness.stages.distill). The output folder is the "bnb-4bit+lora" layout that
harness.systems.models loads strictly: the 4-bit base as ``save_pretrained`` writes it (the
frozen base is saved before training; the test proves training leaves it untouched),
``adapter_config.json`` with ``base_model_name_or_path`` ".", ``adapter_model.safetensors``,
the processor, ``system.json`` and ``qlora.json`` (LoRA and quantization settings,
trainable parameters and share, the training summary). It is assembled in a temporary
sibling folder and renamed into place, so a crash leaves no half-written system.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from harness.files import staged_folder
from harness.training.examples import padding_id
from harness.training.features import FeatureStore
from harness.training.lora import PAPER_LORA, LoraSettings, add_lora, parameter_count, trainable_parameters
from harness.training.loop import TrainResult, train
from harness.training.settings import TrainSettings

# Moslem (IWSLT 2025): "2.41 % trainable" with rank 64 on the 7B.
PAPER_SHARE = 0.0241


# Moslem (IWSLT 2025) and the notebook's Trainer arguments for QLoRA: no warm-up, cosine
# decay, weight decay 0.0, bf16; AdamW and gradient clipping at 1.0 are Trainer defaults.
PAPER_QLORA_A = TrainSettings(lr=1e-5, batch_size=4, epochs=4, weight_decay=0.0, warmup_steps=0, schedule="cosine",
                              bf16=True, threads=None)
PAPER_QLORA_B = TrainSettings(lr=1e-5, batch_size=8, epochs=1, weight_decay=0.0, warmup_steps=0, schedule="cosine",
                              bf16=True, threads=None)


# ---------------------------------------------------------------- quantization


def compute_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on CUDA (the paper's); fp32 on a CPU."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def quantization_config(dtype: torch.dtype):
    """nf4 with double quantization (Dettmers et al. 2023; Moslem 2025), computing in ``dtype``."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)


def load_4bit(model_dir: str | os.PathLike, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """A full-precision ("hf") model folder loaded with its linear layers quantized to nf4 on the fly.

    The folder passes harness.systems.models' checks (no pickles, no remote code, safetensors,
    no quantization yet) and transformers' loading report must be empty. ``dtype``
    (default ``compute_dtype(device)``) is the compute dtype and the unquantized
    tensors' dtype.
    """
    from harness.systems.model_files import model_error, weight_files
    from harness.systems.models import NO_ADAPTER, check_loading_info, check_no_pickles, check_quantization, prepare_4bit
    from transformers import Qwen2AudioForConditionalGeneration

    model_dir = Path(model_dir).resolve()
    dtype = dtype or compute_dtype(device)
    check_no_pickles(model_dir)
    check_quantization(model_dir, "hf")
    weight_files(model_dir)
    try:
        model, info = Qwen2AudioForConditionalGeneration.from_pretrained(
            str(model_dir), quantization_config=quantization_config(dtype), dtype=dtype, device_map={"": device},
            local_files_only=True, use_safetensors=True, trust_remote_code=False, output_loading_info=True,
            adapter_kwargs=dict(NO_ADAPTER))
    except Exception as err:
        raise model_error(model_dir, f"cannot load the model in 4 bit ({type(err).__name__}: {err})") from err
    check_loading_info(model_dir, info)
    prepare_4bit(model, None)  # no CPU repacking: the in-memory model computes as the saved one will
    return model


# ---------------------------------------------------------------- parameter counts


def lora_targets(model) -> list[str]:
    """The modules ``target_modules="all-linear"`` adapts: every Linear (4-bit ones too) but the LM head."""
    output = model.get_output_embeddings()
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not output]


def lora_width(model) -> int:
    """Sum of (in + out features) over ``lora_targets``: a rank-r adapter has r x this many parameters."""
    modules = dict(model.named_modules())
    return sum(modules[name].in_features + modules[name].out_features for name in lora_targets(model))


def share_for_rank(model, rank: int) -> float:
    """The trainable share of ``model`` (without an adapter) with a rank-``rank`` all-linear adapter."""
    lora = rank * lora_width(model)
    return lora / (parameter_count(model) + lora)


def rank_for_share(model, share: float = PAPER_SHARE) -> int:
    """The rank whose trainable share is nearest ``share`` (ties: the smaller rank); at least 1.

    The share is rank x W / (N + rank x W) (W = ``lora_width``, N = ``parameter_count``),
    so the exact rank is share x N / ((1 - share) x W); the nearer of its floor and ceiling wins.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    width = lora_width(model)
    if width == 0:
        raise ValueError("the model has no linear module to adapt")
    exact = share * parameter_count(model) / ((1.0 - share) * width)
    candidates = sorted({max(1, math.floor(exact)), max(1, math.ceil(exact))})
    return min(candidates, key=lambda rank: (abs(share_for_rank(model, rank) - share), rank))


# ---------------------------------------------------------------- the adapter


def prepare_base(model, *, gradient_checkpointing: bool = False):
    """``peft.prepare_model_for_kbit_training``, as the reference code calls it before adding LoRA.

    It freezes every parameter and casts the unquantized fp16/bf16 tensors to fp32 (a
    no-op on a CPU, where everything already is fp32); ``gradient_checkpointing`` is its
    option (on in the notebook; it saves GPU memory on the 7B at the price of speed).
    """
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)


def _save_adapter(model, folder: Path) -> None:
    model.save_pretrained(str(folder), safe_serialization=True, save_embedding_layers=False)
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    # The base sits beside the adapter; never a path on this machine or a hub id.
    config["base_model_name_or_path"] = "."
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "README.md").unlink(missing_ok=True)  # PEFT's model card names the build machine's path


# ---------------------------------------------------------------- the stage


@dataclass
class QLoraOutput:
    folder: Path
    summary: dict  # what qlora.json holds
    model: object  # the trained PeftModel, in eval mode
    processor: object
    result: TrainResult


def qlora_system(system_folder: str | os.PathLike, examples: Sequence, store: FeatureStore,
                 out: str | os.PathLike, settings: TrainSettings, *, lora: LoraSettings = PAPER_LORA,
                 match_share: float | None = None, langs: Sequence[str] = ("de", "zh"), device: str = "cpu",
                 dtype: torch.dtype | None = None, gradient_checkpointing: bool = False,
                 train_data: dict | None = None, progress: str | None = "qlora",
                 log: Callable[[str], None] | None = print) -> QLoraOutput:
    """QLoRA on the one full-precision model a system uses for ``langs``; saved as a "bnb-4bit+lora" system.

    ``examples`` index clips of ``store`` (e.g. ``distill.kd_examples`` over the training
    set's ``harness.training.features.cached_features``). ``match_share`` replaces
    ``lora``'s rank by ``rank_for_share(model, match_share)`` (alpha 2 x rank).
    ``train_data`` (e.g. the KD summary) is recorded in qlora.json as given.
    """
    from harness.systems.models import check_no_pickles, load_processor, read_manifest, single_model_dir, write_manifest
    from harness.files import content_hash
    from harness.files import atomic_write_json

    system_folder = Path(system_folder)
    manifest = read_manifest(system_folder)
    model_dir = single_model_dir(system_folder, langs, action="QLoRA-train")
    dtype = dtype or compute_dtype(device)

    processor = load_processor(model_dir)
    model = load_4bit(model_dir, device=device, dtype=dtype)
    if match_share is not None:
        rank = rank_for_share(model, match_share)
        lora = replace(lora, rank=rank, alpha=2 * rank)
    input_hash = content_hash(model_dir)

    out = Path(out)
    with staged_folder(out) as staging:
        model = prepare_base(model, gradient_checkpointing=gradient_checkpointing)
        # The frozen 4-bit base as it is trained on (after the preparation's casts), saved
        # before the adapter's layers are inserted into it; training never changes it.
        model.save_pretrained(str(staging))
        peft_model = add_lora(model, lora)
        counts = trainable_parameters(peft_model)
        if log is not None:
            log(f"LoRA rank {lora.rank} alpha {lora.alpha:g}: {counts['trainable']:,} trainable of "
                f"{counts['total']:,} parameters ({100 * counts['share']:.2f} %)")
        result = train(peft_model, examples, store, settings, pad_id=padding_id(processor), progress=progress,
                       log=log)
        _save_adapter(peft_model, staging)
        processor.save_pretrained(str(staging))
        check_no_pickles(staging)
        write_manifest(staging, format="bnb-4bit+lora", languages={lang: "." for lang in langs},
                       prompt=manifest.prompt, base_model=str(system_folder), built_by="stage:qlora")
        summary = {"input_system": str(system_folder), "input_content_hash": input_hash,
                   "lora": lora.as_dict(), "rank_from_share": match_share,
                   "quantization": {"quant_type": "nf4", "double_quant": True,
                                    "compute_dtype": str(dtype).removeprefix("torch.")},
                   "gradient_checkpointing": gradient_checkpointing,
                   "parameters": counts, "train_data": train_data, "examples": len(examples),
                   "training": result.summary()}
        atomic_write_json(staging / "qlora.json", summary)
    return QLoraOutput(folder=out, summary=summary, model=peft_model, processor=processor, result=result)


def nf4_system(system_folder: str | os.PathLike, out: str | os.PathLike, *, lang: str, device: str = "cpu",
               dtype: torch.dtype | None = None) -> dict:
    """The system's model for ``lang`` in nf4 with no adapter: what QLoRA starts from.

    Not a submission's step: reports use it to separate what 4-bit quantization costs
    from what the adapter then recovers. Saved as a "bnb-4bit" system, atomically.
    """
    from harness.systems.models import load_processor, read_manifest, single_model_dir, write_manifest

    system_folder = Path(system_folder)
    manifest = read_manifest(system_folder)
    model_dir = single_model_dir(system_folder, [lang], action="quantize to nf4")
    model = load_4bit(model_dir, device=device, dtype=dtype)
    with staged_folder(out) as staging:
        model.save_pretrained(str(staging))
        load_processor(model_dir).save_pretrained(str(staging))
        write_manifest(staging, format="bnb-4bit", languages={lang: "."}, prompt=manifest.prompt,
                       base_model=str(system_folder), built_by="stage:qlora (nf4, no adapter)")
    return {"input_system": str(system_folder), "quantization": {"quant_type": "nf4", "double_quant": True}}


# ---------------------------------------------------------------- command line

PRESETS = {"paper-a": PAPER_QLORA_A, "paper-b": PAPER_QLORA_B}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from harness.stages import distill
    from harness.training.examples import testset_examples
    from harness.training.features import cached_features
    from harness.training.settings import add_train_arguments, train_overrides, with_overrides
    from harness.data.testsets import load_testset

    parser = argparse.ArgumentParser(description="QLoRA on a full-precision system; saves a bnb-4bit+lora system.")
    parser.add_argument("--system", required=True, help="the system folder to quantize and adapt (format hf)")
    parser.add_argument("--train", required=True, help="the segmented set the examples' clips index")
    parser.add_argument("--kd", help="a JSONL file from harness.stages.distill (default: the set's references)")
    parser.add_argument("--oversample", type=int, default=1, help="repeat the examples (System B: 10)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper-a")
    parser.add_argument("--langs", default="de,zh")
    parser.add_argument("--rank", type=int, help="LoRA rank, alpha 2 x rank (default: the paper's 64 / 128)")
    parser.add_argument("--match-share", type=float, help="the rank whose trainable share is nearest this, "
                                                          f"e.g. {PAPER_SHARE} (the paper's)")
    add_train_arguments(parser)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.rank is not None and args.match_share is not None:
        parser.error("give at most one of --rank and --match-share")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from harness.systems.models import load_processor, read_manifest

    langs = tuple(args.langs.split(","))
    system = Path(args.system)
    manifest = read_manifest(system)
    processor = load_processor((system / manifest.languages[langs[0]]).resolve())
    train_set = load_testset(args.train)
    store = cached_features(train_set, processor.feature_extractor)
    if args.kd:
        rows = [row for row in distill.read_rows(args.kd) if row.lang in langs]
        examples = distill.kd_examples(processor, rows, manifest.prompt, args.oversample, ids=train_set.ids)
        train_data = {"kd": str(args.kd), "rows": len(rows), "oversample": args.oversample}
    else:
        examples = distill.oversample(testset_examples(processor, train_set, langs, manifest.prompt), args.oversample)
        train_data = {"references_of": train_set.name, "oversample": args.oversample}
    train_data.update(set_name=train_set.name, set_content_hash=train_set.content_hash)
    settings = with_overrides(PRESETS[args.preset], **train_overrides(args))
    lora = LoraSettings.for_rank(args.rank) if args.rank is not None else PAPER_LORA
    output = qlora_system(system, examples, store, args.out, settings, lora=lora, match_share=args.match_share,
                          langs=langs, device=args.device, gradient_checkpointing=args.gradient_checkpointing,
                          train_data=train_data)
    training = output.summary["training"]
    print(f"{args.out}: rank {output.summary['lora']['rank']}, {training['steps']} steps, "
          f"{training['seconds'] / 60:.1f} min, loss {training['first_loss']:.3f} -> {training['final_loss']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
