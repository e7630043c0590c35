"""The training stage: full fine-tuning of a Qwen2-Audio model on speech translation pairs.

The loop and everything it trains on are harness.training's (settings, features,
examples, the forward pass, the local / distributed context); this stage loads a
system, trains the one model it uses for both directions and saves it as a new system.
It serves two jobs:

- the mini base (``harness.stages.mini_base``): a small Qwen2-Audio trained from random
  initialisation on the mini track's general domain, both directions, with the Instruct
  prompt; ``FROM_SCRATCH`` holds its schedule (AdamW, peak lr 2e-3, warm-up, cosine);
- the teachers: Moslem (IWSLT 2025, "Efficient Speech Translation through Model
  Compression and Knowledge Distillation"), stage 1, fully fine-tunes Qwen2-Audio-7B-
  Instruct on the 784 ACL 60/60 training utterances: 3 epochs, batch 4, lr 1e-5, weight
  decay 0.001, no warm-up, bf16 (``PAPER_TEACHER``; the Hugging Face Trainer it ran
  decays the lr linearly). ``MINI_TEACHER`` is the same recipe scaled to the mini base.

Each example is one utterance and one target language, the model seeing exactly what
``harness.inference.decode`` feeds it at test time (``harness.training.examples``); log-mel
features are computed once per training set (``harness.training.features``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.training.context import training_context
from harness.training.examples import padding_id, testset_examples
from harness.training.features import cached_features
from harness.training.loop import train
from harness.training.lora import LoraSettings, add_lora, trainable_parameters
from harness.training.settings import TrainSettings, add_train_arguments, train_overrides, with_overrides


# ---------------------------------------------------------------- recipes

# Moslem (IWSLT 2025), stage 1, the teacher: 3 epochs, batch 4, lr 1e-5, weight decay
# 0.001, no warm-up, bf16, Hugging Face Trainer defaults otherwise (linear decay,
# AdamW betas 0.9/0.999, gradient clipping at 1.0).
PAPER_TEACHER = TrainSettings(lr=1e-5, batch_size=4, epochs=3, weight_decay=0.001, warmup_steps=0,
                              schedule="linear", bf16=True, threads=None)

# The mini base from scratch: the pilot's recipe (qwen2audio-notes.md), AdamW at peak
# 2e-3 with warm-up and cosine; the step count is set in harness.stages.mini_base.
FROM_SCRATCH = TrainSettings(lr=2e-3, batch_size=32, steps=2000, weight_decay=0.01, warmup_steps=150,
                             schedule="cosine", min_lr_ratio=0.05, betas=(0.9, 0.98), checkpoint_every=250)

# The mini teacher: the paper's recipe (3 epochs, no warm-up, weight decay 0.001, linear
# decay) on the 784 mini talks_train utterances; the lr is scaled to a 4.5 M parameter
# model trained at 2e-3 (the 7B's 1e-5 would barely move it). One thread: on two shared
# cores two OpenMP threads stall on each other (see harness.stages.mini_base).
MINI_TEACHER = TrainSettings(lr=5e-4, batch_size=16, epochs=3, weight_decay=0.001, warmup_steps=0,
                              schedule="linear", betas=(0.9, 0.98), threads=1)


# ---------------------------------------------------------------- command line

PRESETS = {"mini-teacher": MINI_TEACHER, "paper-teacher": PAPER_TEACHER, "from-scratch": FROM_SCRATCH}


def finetune_system(system_folder: str | os.PathLike, train_folder: str | os.PathLike, out: str | os.PathLike,
                    settings: TrainSettings, *, langs: Sequence[str] = ("de", "zh"), device: str = "cpu",
                    lora=None, prompt: str | None = None, features_root: str | os.PathLike | None = None,
                    kd: str | os.PathLike | None = None, base_model: str | None = None,
                    progress: str | None = "train", log: Callable[[str], None] | None = print) -> dict:
    """Fine-tune the one model a system uses for both directions; save it as a new system.

    Full fine-tuning by default. ``lora`` (a ``harness.training.lora.LoraSettings``) trains
    a LoRA adapter on the frozen full-precision model instead and merges it into the weights
    before saving, as Diet-KIT (Liu et al., IWSLT 2026) does before quantizing. ``prompt`` trains
    (and records) another prompt style than the input system's (Diet-KIT: "base").
    ``kd`` (a KD file of harness.stages.distill, whose rows point at ``train_folder``'s
    utterances) trains on its rows of ``langs``, the authentic and the teacher's
    translations (Moslem 2025, System B step 2), instead of the set's references.
    The output folder gets the model (safetensors), processor, ``system.json`` (format hf;
    ``base_model`` defaults to the input system's folder; a pruned input's layer list is
    carried over) and ``finetune.json`` (settings, loss curve, the training set's content
    hash and the input system's content hash).
    """
    from harness.systems.models import load_system, single_model_dir, write_manifest
    from harness.stages.from_scratch import save_base
    from harness.data.testsets import load_testset

    # --- distributed hook (issue 11): several processes when the build asks for them (harness/inference/distributed.py) ---
    from harness.inference.distributed import finetune_in_processes, fsdp_wanted, launched, local_device, requested_processes

    if launched():
        if lora is not None and fsdp_wanted():
            raise ValueError("LoRA trains under DDP, not FSDP (its frozen base fits one GPU); unset HARNESS_FSDP")
        device = local_device(device)
    elif requested_processes() > 1:
        return finetune_in_processes(requested_processes(), system_folder, train_folder, out, settings, langs=langs,
                                     device=device, lora=lora, prompt=prompt, features_root=features_root, kd=kd,
                                     base_model=base_model)
    # --- end of the distributed hook ---
    single_model_dir(system_folder, langs, action="fine-tune")  # every direction uses one model: load it once
    system = load_system(system_folder, langs[0], device=device)
    model, processor = system.model, system.processor
    testset = load_testset(train_folder)
    style = prompt or system.prompt_style
    store = cached_features(testset, processor.feature_extractor, features_root)
    kd_data = {}
    if kd is None:
        examples = testset_examples(processor, testset, langs, style)
    else:
        from harness.stages.distill import kd_examples, read_rows

        rows = [row for row in read_rows(kd) if row.lang in langs]
        examples = kd_examples(processor, rows, style, 1, ids=testset.ids)
        kd_data = {"kd_rows": len(rows), "examples": len(examples)}
    if lora is not None:
        model = add_lora(model, lora)  # PEFT freezes every weight but the adapter's
        counts = trainable_parameters(model)
    context = training_context()  # this process alone, or its share of a multi-process launch
    result = train(model, examples, store, settings, pad_id=padding_id(processor), progress=progress, log=log,
                   context=context)
    if lora is not None:
        model = model.merge_and_unload()
    model = context.model_to_save(model, lambda: load_system(system_folder, langs[0], device="cpu").model)
    if model is None:  # another process (rank 0) saves
        return {"training": result.summary()}
    out = Path(out)
    save_base(model, processor, out)
    pruned = {k: v for k, v in system.manifest.extra.items() if k == "pruned_layers"}
    write_manifest(out, format="hf", languages={lang: "." for lang in langs}, prompt=style,
                   base_model=str(system_folder) if base_model is None else base_model,
                   built_by="stage:finetune", **pruned)
    summary = {"input_system": str(system_folder), "input_content_hash": system.content_hash,
               "method": "full" if lora is None else "lora-merged", "prompt": style,
               **({} if lora is None else {"lora": lora.as_dict(), "parameters": counts}),
               "train_set": {"name": testset.name, "content_hash": testset.content_hash,
                             "utterances": len(testset.utterances), "directions": list(langs)},
               **kd_data, "training": result.summary()}
    (out / "finetune.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Full fine-tuning of a system on a segmented training set.")
    parser.add_argument("--system", required=True, help="the system folder to start from (holds system.json)")
    parser.add_argument("--train", required=True, help="a segmented set folder, e.g. testsets/mini/talks_train")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mini-teacher")
    parser.add_argument("--langs", default="de,zh")
    add_train_arguments(parser)
    parser.add_argument("--settings-json", help="every TrainSettings field as JSON (replaces --preset and its overrides)")
    parser.add_argument("--lora-json", help="train a LoRA adapter (LoraSettings as JSON) and merge it")
    parser.add_argument("--prompt", help="the prompt style to train and record (default: the input system's)")
    parser.add_argument("--features-root", help="where log-mel features are cached")
    parser.add_argument("--kd", help="train on this KD file's rows (harness.stages.distill) instead of the references")
    parser.add_argument("--base-model", help="the base_model recorded in system.json (default: --system)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        if args.settings_json:
            settings = TrainSettings.from_dict(json.loads(args.settings_json))
        else:
            settings = with_overrides(PRESETS[args.preset], **train_overrides(args))
        lora = LoraSettings(**json.loads(args.lora_json)) if args.lora_json else None
    except (TypeError, ValueError) as err:
        parser.error(f"bad settings: {err}")
    summary = finetune_system(args.system, args.train, args.out, settings, langs=tuple(args.langs.split(",")),
                              device=args.device, lora=lora, prompt=args.prompt, features_root=args.features_root,
                              kd=args.kd, base_model=args.base_model)
    training = summary["training"]
    print(f"{args.out}: {training['steps']} steps, {training['seconds'] / 60:.1f} min, "
          f"loss {training['first_loss']:.3f} -> {training['final_loss']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
