"""Reproduce the mini track's base model: a small Qwen2-Audio trained from scratch.

    python -m harness.stages.mini_base --out models/mini-base

The mini base plays Qwen2-Audio-7B-Instruct (DESIGN.md, "The mini track"): it
translates the general domain (the mini CoVoST2) and is weak on talks (the mini
ACL 60/60) until fine-tuned. Steps:

1. a byte-level BPE tokenizer in Qwen2 format (``from_scratch.train_tokenizer``) on the
   English, German and Chinese texts of general_train, talks_train and talks_dev plus
   the prompt strings (never a test set's texts);
2. a processor with a 9 s window (the longest mini utterance, in talks, is 8.75 s);
3. the "mini" config (12 decoder layers, 7B-like parameter shares, untied head) at the
   design vocabulary of 1,500, seeded Whisper-sinusoid initialisation;
4. ``harness.stages.finetune.train`` on general_train only, with the Instruct prompt, for
   a fixed number of steps (deterministic for the seed and the thread count, one
   thread); a checkpoint is saved every 250 steps under ``--work`` so that a usable
   base exists even if the run is cut short. Recipes (``--recipe``):
   - ``translate``: every utterance once per direction (de, zh), AdamW at peak 2e-3,
     150 warm-up steps, cosine to 5 %, 2,800 steps of 32;
   - ``asr-mix``: He-initialised encoder convolutions, and every utterance also
     transcribed ("Transcribe the English speech:", same chat prompt), 1,600 steps;
   - ``curriculum``: the first 1,000 steps of ``translate``, then the ``asr-mix`` tasks.
5. ``from_scratch.save_base`` (safetensors, atomic) plus ``system.json`` (so
   ``harness.models.load_system`` loads it), ``training.json`` (settings, loss curve,
   wall time, throughput, shares, the data's content hashes) and ``SHA256SUMS``.

``--evaluate`` then decodes every mini test set in both directions (batched greedy,
``harness.decode``) and writes ``evaluation.json`` into the folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from harness.stages import finetune as ft
from harness.stages import from_scratch as fs

WINDOW_SECONDS = 9  # talks_train's longest clip is 8.75 s
VOCAB_SIZE = fs.MINI_DESIGN_VOCAB_SIZE
SEED = 20260
# One intra-op thread: on two cores shared with other jobs, two OpenMP threads wait on
# each other at every small op (measured 2.7 examples/s against 25 with one thread).
THREADS = 1
STEPS = 2800  # one thread: ~25 examples/s even beside another job (two threads collapse to ~3/s then)
MINI = Path("testsets/mini")
TOKENIZER_SETS = ("general_train", "talks_train", "talks_dev")
TRAIN_SET = "general_train"
EVAL_SETS = ("general_test", "talks_test", "accent_test", "noisy_test")
LANGS = ("de", "zh")
SUMS_FILE = "SHA256SUMS"
TRAINING_FILE = "training.json"
EVALUATION_FILE = "evaluation.json"
SYSTEM_JSON = dict(format="hf", languages={"de": ".", "zh": "."}, prompt="instruct", base_model=None,
                   built_by="harness/stages/mini_base.py")
PROMPT_STRINGS = (
    "You are a professional translator.",
    "You are a helpful assistant.",
    "Translate the English speech into German:",
    "Translate the English speech into Chinese:",
    "Translate this speech to German: \n",
    "Translate this speech to Chinese: \n",
    "system\n", "user\n", "assistant\n", "Audio 1: ",
)

BASE_SETTINGS = ft.with_overrides(ft.FROM_SCRATCH, steps=STEPS, seed=SEED, threads=THREADS)

# The curriculum recipe: stage 1 is the first STAGE1_STEPS steps of the translation-only
# schedule above (so its weights equal that run's checkpoint at that step); stage 2 adds
# an English transcription task (same chat prompt, "Transcribe the English speech:") to
# both translation directions, which gives the small audio encoder a monotonic, word-by-
# word signal, with a fresh AdamW, a short warm-up and its own cosine.
TRANSCRIBE_TEXT = "Transcribe the English speech:"
STAGE1_STEPS = 1000
STAGE2_STEPS = 1700
STAGE1_SETTINGS = ft.with_overrides(BASE_SETTINGS, stop_after=STAGE1_STEPS)
STAGE2_SETTINGS = ft.with_overrides(BASE_SETTINGS, steps=STAGE2_STEPS, lr=1.5e-3, warmup_steps=50, seed=SEED + 1)
# The "asr-mix" recipe: from scratch, the encoder's two convolutions initialised with He
# (Kaiming) normal weights and zero biases instead of the config's N(0, 0.02), and every
# utterance used three times (German, Chinese, English transcription). With N(0, 0.02) the
# convolutions' output is ~70x smaller than the sinusoid position table it is added to, so
# at first the audio tokens carry position and length but hardly any content, and the
# decoder learns to ignore them (measured: the translation-only run's loss with another
# clip's audio stayed only 0.25 nats above the true audio's from step 750 to 1250).
MIX_STEPS = 1600
MIX_SETTINGS = ft.with_overrides(BASE_SETTINGS, steps=MIX_STEPS)
RECIPES = ("translate", "curriculum", "asr-mix")


def kaiming_conv_init(model, seed: int) -> None:
    """He-normal weights (fan-in, ReLU gain) and zero biases for the audio encoder's convolutions."""
    tower = model.model.audio_tower
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in (tower.conv1, tower.conv2):
            fan_in = conv.weight.shape[1] * conv.weight.shape[2]
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            conv.bias.zero_()


def tokenizer_texts(mini: Path = MINI) -> list[str]:
    from harness.testsets import load_testset

    texts: list[str] = []
    for name in TOKENIZER_SETS:
        for utterance in load_testset(mini / name).utterances:
            texts += [utterance.en, utterance.targets["de"], utterance.targets["zh"]]
    # The prompt strings, often enough to be learned as units (min_frequency is 2).
    texts += list(PROMPT_STRINGS) * 2000
    return texts


def build_tokenizer_and_processor(mini: Path = MINI):
    tokenizer = fs.train_tokenizer(tokenizer_texts(mini), VOCAB_SIZE)
    # Left padding for batched training and generation; init_kwargs makes save_pretrained keep it.
    tokenizer.padding_side = "left"
    tokenizer.init_kwargs["padding_side"] = "left"
    return fs.build_processor(tokenizer, WINDOW_SECONDS)


def build_model(processor, seed: int = SEED):
    audio_id = processor.tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN)
    config = fs.model_config(VOCAB_SIZE, window_seconds=WINDOW_SECONDS, audio_token_id=audio_id, size="mini")
    return fs.init_model(config, seed)


def transcription_prompt(processor) -> str:
    """The Instruct chat prompt with the transcription instruction in place of the translation one."""
    from harness.decode import SYSTEM_PROMPT

    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": [{"type": "audio", "audio_url": "utterance.wav"},
                                             {"type": "text", "text": TRANSCRIBE_TEXT}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def curriculum_examples(processor, train_set) -> list[ft.Example]:
    """Stage 2's examples: each utterance translated into German and Chinese, and transcribed."""
    examples = ft.testset_examples(processor, train_set, LANGS, "instruct")
    examples += ft.make_examples(processor, [u.en for u in train_set.utterances], "de",
                                 prompt_text=transcription_prompt(processor))
    return examples


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sums(folder: Path) -> Path:
    """``sha256sum -c``-compatible list of every file in the folder except itself."""
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != SUMS_FILE]
    path = folder / SUMS_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def save_system(model, processor, folder: Path, extra_files: dict[str, dict] | None = None) -> None:
    from harness.models import write_manifest

    fs.save_base(model, processor, folder)
    write_manifest(folder, **SYSTEM_JSON)
    for name, payload in (extra_files or {}).items():
        (folder / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    write_sums(folder)


def _log_to(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "a", buffering=1)

    def log(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        print(stamped, file=stream)
        print(stamped, file=sys.stderr, flush=True)
    return log


def train_base(out: Path, work: Path, settings: ft.TrainSettings, mini: Path = MINI, recipe: str = "translate",
               stage2: ft.TrainSettings | None = None, resume_stage1: Path | None = None) -> dict:
    """Train and save the base. ``recipe`` "curriculum": ``settings`` is stage 1, ``stage2`` stage 2;
    ``resume_stage1`` takes stage 1's weights from a saved checkpoint of that exact stage."""
    from harness.testsets import load_testset

    torch.set_num_threads(settings.threads or torch.get_num_threads())
    log = _log_to(work / "train.log")
    started = time.time()
    processor = build_tokenizer_and_processor(mini)
    tokenizer = processor.tokenizer
    log(f"tokenizer: {len(tokenizer)} tokens ({time.time() - started:.0f} s)")
    model = build_model(processor, settings.seed)
    if recipe == "asr-mix":
        kaiming_conv_init(model, settings.seed)
    counts = fs.parameter_counts(model)
    shares = fs.parameter_shares(model)
    log(f"model: {counts['total']:,} parameters; shares " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in shares.items()))

    train_set = load_testset(mini / TRAIN_SET)
    store = ft.cached_features(train_set, processor.feature_extractor, progress=True)
    log(f"features: {store.features.shape} in {store.folder} ({time.time() - started:.0f} s)")
    examples = ft.testset_examples(processor, train_set, LANGS, "instruct")
    if recipe == "asr-mix":
        examples = curriculum_examples(processor, train_set)
    log(f"examples: {len(examples)} ({len(train_set.utterances)} utterances x {len(examples) // len(train_set.utterances)} "
        f"tasks); "
        f"settings {json.dumps(settings.as_dict())}")

    def checkpoint(step: int, current) -> None:
        save_system(current, processor, work / "checkpoint", {"checkpoint.json": {"step": step}})
        log(f"checkpoint at step {step} -> {work / 'checkpoint'}")

    results = []
    if resume_stage1 is not None:
        from transformers import Qwen2AudioForConditionalGeneration

        step = json.loads((resume_stage1 / "checkpoint.json").read_text())["step"]
        if step != settings.stop_after:
            raise ValueError(f"{resume_stage1} holds step {step}, stage 1 ends at step {settings.stop_after}")
        model = Qwen2AudioForConditionalGeneration.from_pretrained(resume_stage1, local_files_only=True)
        log(f"stage 1 taken from {resume_stage1} (step {step})")
    else:
        results.append(ft.train(model, examples, store, settings, pad_id=tokenizer.pad_token_id, log=log,
                                on_checkpoint=checkpoint))
    if recipe == "curriculum":
        examples = curriculum_examples(processor, train_set)
        log(f"stage 2: {len(examples)} examples (translation de, zh and transcription); "
            f"settings {json.dumps(stage2.as_dict())}")
        results.append(ft.train(model, examples, store, stage2, pad_id=tokenizer.pad_token_id, log=log,
                                on_checkpoint=lambda step, current: checkpoint(10_000 + step, current)))
    result = results[-1]
    summary = {
        "recipe": "python -m harness.stages.mini_base --out " + str(out),
        "seed": settings.seed, "window_seconds": WINDOW_SECONDS, "vocab_size_config": VOCAB_SIZE,
        "tokenizer_tokens": len(tokenizer), "tokenizer_sets": list(TOKENIZER_SETS),
        "train_set": {"name": train_set.name, "content_hash": train_set.content_hash,
                      "utterances": len(train_set.utterances), "directions": list(LANGS)},
        "recipe_name": recipe, "parameters": counts, "shares": shares,
        "training": result.summary(), "stages": [r.summary() for r in results],
        "wall_seconds_total": time.time() - started,
        "host": {"python": platform.python_version(), "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "machine": platform.machine()},
    }
    save_system(model, processor, out, {TRAINING_FILE: summary})
    log(f"saved {out}: {result.steps} steps, {result.seconds / 60:.1f} min, "
        f"{result.examples_per_second:.1f} ex/s, final loss {result.final_loss:.4f}")
    return summary


def evaluate(folder: Path, sets=EVAL_SETS, mini: Path = MINI, batch_size: int = 32, max_new_tokens: int = 96,
             limit: int | None = None) -> dict:
    """chrF / BLEU of the system in ``folder`` on the mini test sets, both directions."""
    from harness.decode import DecodeSettings, decode
    from harness.metrics import score_all
    from harness.models import load_system
    from harness.testsets import load_testset

    torch.set_num_threads(2)
    results: dict = {}
    for lang in LANGS:
        system = load_system(folder, lang)
        for name in sets:
            test = load_testset(mini / name)
            utterances = test.utterances[:limit] if limit else test.utterances
            started = time.time()
            out = decode(system, [u.audio() for u in utterances], lang,
                         DecodeSettings(max_new_tokens=max_new_tokens, batch_size=batch_size))
            hyps = [h.text for h in out.hypotheses]
            refs = [u.targets[lang] for u in utterances]
            # chrF++ for German as Moslem (IWSLT 2025) reports it; plain chrF for both.
            scores = score_all(hyps, refs, lang, ["bleu", "chrf", "chrf++"] if lang == "de" else ["bleu", "chrf"])
            entry = {metric: round(score.value, 2) for metric, score in scores.items()}
            entry["signatures"] = {metric: score.signature for metric, score in scores.items()}
            entry.update(utterances=len(utterances), seconds=round(time.time() - started, 1),
                         examples=[{"id": u.id, "ref": r, "hyp": h} for u, r, h in list(zip(utterances, refs, hyps))[:3]])
            results.setdefault(name, {})[lang] = entry
            print(f"{folder} {name} {lang}: " + " ".join(f"{k} {v}" for k, v in entry.items()
                                                        if k not in ("examples", "signatures")),
                  file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models/mini-base"))
    parser.add_argument("--work", type=Path, default=Path("build/mini-base"),
                        help="checkpoints and train.log (features go to build/features)")
    parser.add_argument("--steps", type=int, default=None, help=f"optimizer steps (default {STEPS})")
    parser.add_argument("--seed", type=int, default=None, help=f"(default {SEED})")
    parser.add_argument("--time-limit-min", type=float, default=None,
                        help="stop early after this many minutes of training (the result is then not the recipe's)")
    parser.add_argument("--evaluate", action="store_true", help="after training, score every mini test set")
    parser.add_argument("--evaluate-only", action="store_true", help="only score the system in --out")
    parser.add_argument("--mini", type=Path, default=MINI)
    parser.add_argument("--recipe", choices=RECIPES, default="translate")
    parser.add_argument("--resume-stage1", type=Path, default=None,
                        help="curriculum: a checkpoint folder saved at the end of stage 1 (skips stage 1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    if not args.evaluate_only:
        limit = None if args.time_limit_min is None else 60 * args.time_limit_min
        if args.recipe in ("translate", "asr-mix"):
            settings = ft.with_overrides(BASE_SETTINGS if args.recipe == "translate" else MIX_SETTINGS,
                                         steps=args.steps, seed=args.seed, time_limit_s=limit)
            train_base(args.out, args.work, settings, args.mini, args.recipe)
        else:
            stage2 = ft.with_overrides(STAGE2_SETTINGS, steps=args.steps, time_limit_s=limit)
            train_base(args.out, args.work, STAGE1_SETTINGS, args.mini, "curriculum", stage2, args.resume_stage1)
    if args.evaluate or args.evaluate_only:
        results = evaluate(args.out, mini=args.mini)
        (args.out / EVALUATION_FILE).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        write_sums(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
