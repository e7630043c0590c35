"""The recipe pieces of Diet-KIT (Liu, Koneru and Niehues, IWSLT 2026, "Post-Training Quantization for Speech LLMs").

One system serves both directions. Its steps, each a cached stage of
``harness.stages.cache`` (so a rerun resumes and a changed setting reruns only what it
affects):

0. ``lora_general``: LoRA fine-tuning of the base on a general-domain sample in both
   directions, merged into the weights (r 64, alpha 128, dropout 0.05, lr 1e-6, 3 epochs,
   batch 8, 3 % warm-up; the paper's CoVoST + Europarl-ST sample is unconstrained data);
1-3. HQQ 4 bit on all linear layers, the input embedding at 2 bit, group size 128, the LM
   head kept at 4 bit (``hqq`` with a plan of ``harness.stages.hqq``);
4. ``sensitivity``: each decoder layer's MLP alone at 3 bit, the change in teacher-forced
   cross-entropy on the dev set; ``fitting_plan`` puts the n least sensitive MLPs at 3 bit,
   n the smallest that brings the system under the track's limit;
5. ``awq``: activation-aware scales searched on the dev set's source audio (all of it) for
   that plan, folded into the float weights; then ``hqq`` quantizes the scaled model.

The build ends with the storage check (harness.systems.storage, headers only): a system over the
limit stops the build with a one-line error naming the bytes and the limit.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from harness.stages import config as tables
from harness.stages.base import StageError
from harness.stages.cache import StageOutput
from harness.stages.recipe import MODEL, SET, Recipe, lora_settings, train_settings

SENSITIVITY_FILE = "sensitivity.json"


def _langs_label(recipe: Recipe) -> str:
    return "+".join(recipe.langs)


def _table(recipe: Recipe, name: str):
    """The typed ``[name]`` table (``harness.stages.config``); an absent one is a one-line StageError."""
    return tables.table(recipe.config, name)


def _compute_dtype(recipe: Recipe):
    import torch

    from harness.systems.hqq_mixed import COMPUTE_DTYPES

    name = _table(recipe, "quantize").compute_dtype
    if name is None:
        from harness.stages.hqq import default_dtype
        return default_dtype(recipe.device)
    # torch's other names of these dtypes ("float", "half") are taken as before.
    dtype = COMPUTE_DTYPES.get(name) or getattr(torch, str(name), None)
    if dtype not in COMPUTE_DTYPES.values():
        raise StageError(f"[quantize] compute_dtype {name!r} is not one of {', '.join(COMPUTE_DTYPES)}")
    return dtype


# ---------------------------------------------------------------- config defaults (harness.plan reads them too)


def quantize_settings(table) -> tuple[int, object, int]:
    """``[quantize]``'s (group_size, embedding_bits, head_bits), default the paper's (128, 2, 4)
    (``config.QuantizeTable``'s; a dict is read as that table)."""
    if isinstance(table, dict):
        table = tables.from_table("quantize", table)
    return int(table.group_size), table.embedding_bits, int(table.head_bits)


def ladder_setting(table) -> list:
    """``[sensitivity] ladder`` as written, default the paper's one rung: [("mlp", bits)] (``bits``, default 3)."""
    if isinstance(table, dict):
        table = tables.from_table("sensitivity", table)
    return list(table.ladder) if table.ladder is not None else [("mlp", table.bits)]


def batch_size_of(table) -> int:
    """``[sensitivity]``'s or ``[awq]``'s ``batch_size``, default 8 (both tables' default)."""
    return int(table.get("batch_size", 8) if isinstance(table, dict) else table.batch_size)


# ---------------------------------------------------------------- step 0


def lora_general(recipe: Recipe, base: StageOutput) -> StageOutput:
    """LoRA fine-tuning on ``[lora] general_size`` general-domain utterances, both directions, merged."""
    from dataclasses import replace

    from harness.stages.finetune import finetune_system
    from harness.stages.hqq import meta_model
    from harness.stages.qlora import rank_for_share

    table = _table(recipe, "lora")
    lora, share = lora_settings(table)
    warmup_ratio = float(table.train.warmup_ratio) if table.train is not None else 0.0
    settings = train_settings(table.train or {})  # warmup_ratio is not a TrainSettings field
    prompt = table.prompt
    sample = recipe.general_sample(_langs_label(recipe), table="lora", langs=recipe.langs)
    examples = int(table.general_size) * len(recipe.langs)
    # Hugging Face's warmup_ratio, as steps of this run: the cache key then names them.
    settings = replace(settings, warmup_steps=max(settings.warmup_steps,
                                                  math.ceil(warmup_ratio * settings.total_steps(examples))))

    def produce(folder: Path) -> dict:
        chosen = lora
        if share is not None:
            rank = rank_for_share(meta_model(_model_dir(base.path)), share)
            chosen = replace(lora, rank=rank, alpha=2 * rank)
        return finetune_system(base.path, sample.path / SET, folder / MODEL, settings, langs=recipe.langs,
                               device=recipe.device, lora=chosen, prompt=prompt, log=None)

    key = {"lora": lora.as_dict(), "match_share": share, "prompt": prompt, "train": settings.as_dict()}
    return recipe.run_stage(_langs_label(recipe), "lora_general", key, [base, sample], produce)


def _model_dir(system: Path) -> Path:
    from harness.systems.models import read_manifest, single_model_dir

    try:
        return single_model_dir(system, list(read_manifest(system).languages), action="quantize")
    except ValueError as err:
        raise StageError(str(err)) from None


# ---------------------------------------------------------------- steps 1-3 and the final quantization


def base_plan(recipe: Recipe):
    """The plan of steps 1-3 from ``[quantize]``: 4 bit everywhere, the embedding and the head as set."""
    from harness.stages.hqq import LM_HEAD, QuantSpec, paper_plan

    group, embedding_bits, head_bits = quantize_settings(_table(recipe, "quantize"))
    plan = paper_plan(group, embedding_bits=embedding_bits)
    if head_bits != 4:
        plan = ((LM_HEAD, QuantSpec(head_bits, group)),) + tuple(rule for rule in plan if rule[0] != LM_HEAD)
    return plan


def hqq(recipe: Recipe, system: StageOutput, plan, name: str) -> StageOutput:
    """``system`` (format hf, one model) quantized with ``plan`` and saved as "hqq-mixed"."""
    from harness.stages.hqq import plan_as_json, quantize_system

    compute_dtype = _compute_dtype(recipe)

    def produce(folder: Path) -> dict:
        output = quantize_system(system.path / MODEL, folder / MODEL, plan, langs=recipe.langs, plan_name=name,
                                 device=recipe.device, compute_dtype=compute_dtype, progress=None, log=None)
        return {"plan_name": name, "modules": len(output.manifest.get("modules", {}))}

    key = {"plan": plan_as_json(plan), "compute_dtype": str(compute_dtype)}
    return recipe.run_stage(_langs_label(recipe), "hqq", key, [system], produce)


def stored_bytes(folder: Path, track) -> tuple[int, int | None]:
    """(weight bytes of the largest unit, the track's limit) from the headers (harness.systems.storage)."""
    from harness.systems import storage

    verdict = storage.check(folder, track).verdict
    return verdict.size_bytes, None if verdict.rule is None else verdict.rule.limit_bytes


def size_limit(recipe: Recipe, track_limit: int | None) -> int | None:
    """The bytes to fit: the track's limit, or ``[sensitivity] target_bytes`` where that is tighter (never looser)."""
    target = _table(recipe, "sensitivity").target_bytes
    if target is None:
        return track_limit
    return int(target) if track_limit is None else min(track_limit, int(target))


# ---------------------------------------------------------------- step 4


def dev_batches(recipe: Recipe, system: StageOutput, batch_size: int, limit: int | None):
    """The dev set's utterances in every direction, collated for teacher forcing (with features cached)."""
    from harness.systems.models import load_system
    from harness.training.examples import collate, padding_id, testset_examples
    from harness.training.features import cached_features

    dev = recipe.dataset("dev", recipe.langs[0]).testset
    loaded = load_system(system.path / MODEL, recipe.langs[0], device=recipe.device, dtype=_compute_dtype(recipe))
    store = cached_features(dev, loaded.processor.feature_extractor)
    examples = testset_examples(loaded.processor, dev, recipe.langs, loaded.prompt_style)
    if limit:
        per_lang = len(dev.utterances)
        examples = [e for i, e in enumerate(examples) if i % per_lang < limit]
    pad_id = padding_id(loaded.processor)
    batches = [collate(examples[i:i + batch_size], store, pad_id) for i in range(0, len(examples), batch_size)]
    return loaded, batches


def ladder(recipe: Recipe) -> list[tuple[str, int]]:
    """The (module kind, bits) rungs of step 4, in order: ``[sensitivity] ladder``, default the paper's [("mlp", 3)]."""
    from harness.stages.sensitivity import KINDS

    rungs = [(str(kind), int(bits)) for kind, bits in ladder_setting(_table(recipe, "sensitivity"))]
    for kind, bits in rungs:
        if kind not in KINDS or bits not in (2, 3):
            raise StageError(f"[sensitivity] ladder: ({kind!r}, {bits}) is not one of {sorted(KINDS)} at 2 or 3 bit")
    return rungs


def dev_setup(recipe: Recipe, system: StageOutput):
    """What step 4 measures on, as ``setup(batch_size, limit)``: (the loaded system, the dev
    set's embedded batches, the unquantized model's loss on them), made on the first call
    and kept, so several rungs load, embed and score once and cached rungs load nothing."""
    from harness.stages import sensitivity as sens

    @functools.cache
    def setup(batch_size: int, limit: int | None):
        loaded, batches = dev_batches(recipe, system, batch_size, limit)
        embedded = sens.embed_batches(loaded.model, batches)
        return loaded, embedded, sens.teacher_forced_loss(loaded.model, embedded)

    return setup


def sensitivity(recipe: Recipe, system: StageOutput, kind: str = "mlp", bits: int | None = None,
                setup=None) -> StageOutput:
    """Step 4's measurement: every decoder layer's ``kind`` projections alone at ``bits`` on the dev set.

    ``setup``: a ``dev_setup`` the rungs of a ladder share (None: one of its own).
    """
    from harness.files import atomic_write_json
    from harness.stages import sensitivity as sens

    table = _table(recipe, "sensitivity")
    bits = int(bits if bits is not None else table.bits)
    group = int(table.group_size)
    batch_size, limit = batch_size_of(table), table.limit
    dev = recipe.dataset("dev", recipe.langs[0])
    setup = setup or dev_setup(recipe, system)

    def produce(folder: Path) -> dict:
        loaded, embedded, baseline = setup(batch_size, limit)
        result = sens.measure(loaded.model, embedded, bits=bits, group_size=group, kind=kind,
                              quantize=sens.hqq_quantizer(bits, group, _compute_dtype(recipe)), baseline=baseline,
                              progress=f"sensitivity {kind} {bits} bit")
        atomic_write_json(folder / SENSITIVITY_FILE, result.as_dict())
        return {"ranking": result.ranking(), "baseline_loss": result.baseline_loss, "tokens": result.tokens}

    key = {"bits": bits, "group_size": group, "batch_size": batch_size, "limit": limit,
           "compute_dtype": str(_compute_dtype(recipe))}
    if kind != "mlp":  # the paper's measurement keeps its key
        key["kind"] = kind
    return recipe.run_stage(_langs_label(recipe), "sensitivity", key, [system, dev.input], produce)


def sensitivities(recipe: Recipe, system: StageOutput) -> list[tuple[str, int, StageOutput]]:
    """One measurement per rung of the ladder, all on one ``dev_setup``."""
    setup = dev_setup(recipe, system)
    return [(kind, bits, sensitivity(recipe, system, kind, bits, setup)) for kind, bits in ladder(recipe)]


def ranking(stage: StageOutput) -> list[int]:
    return json.loads((stage.path / SENSITIVITY_FILE).read_text())["ranking"]


def move_saving(model_dir: Path, kind: str, layer: int, from_spec, to_bits: int, compute_dtype) -> int:
    """Bytes saved by layer ``layer``'s ``kind`` projections going from ``from_spec`` to ``to_bits``.

    HQQ's stored tensors depend on a weight's shape, bits and group size only, so a random
    weight of each projection's shape gives the figure; each is measured as serialized
    safetensors, so the header entries' change (dtype, shape) counts too.
    """
    import torch
    from safetensors.torch import save

    from harness.stages.hqq import meta_model, quantize_linear
    from harness.stages.sensitivity import KINDS

    block = meta_model(model_dir).model.language_model.layers[layer]
    saved = 0
    for path in KINDS[kind]:
        shape = block.get_submodule(path).weight.shape
        linear = torch.nn.Linear(shape[1], shape[0], bias=False, dtype=compute_dtype)
        sizes = []
        for bits in (from_spec.bits, to_bits):
            state = quantize_linear(linear, bits, from_spec.group_size, compute_dtype).state_dict()
            tensors = {f"{path}.{key}": value.contiguous() for key, value in state.items() if torch.is_tensor(value)}
            sizes.append(len(save(tensors)))
        saved += sizes[0] - sizes[1]
    return saved


def with_moves(plan, moves: list[tuple[str, int, int]]):
    """``plan`` with each move (kind, bits, layer) applied; a later rung wins over an earlier one."""
    from harness.stages.hqq import with_bits

    rungs: dict[tuple[str, int], list[int]] = {}
    for kind, bits, layer in moves:
        rungs.setdefault((kind, bits), []).append(layer)
    for (kind, bits), layers in rungs.items():  # prepended in order: the last rung ends up first
        plan = with_bits(plan, layers, bits, kind)
    return plan


def fitting_plan(recipe: Recipe, system: StageOutput, step3: StageOutput, rungs: list[tuple[str, int, StageOutput]]):
    """Step 4's choice: the fewest moves, least sensitive first and rung by rung, that bring the system under the limit.

    The paper's ladder is one rung, the decoder MLPs at 3 bit. ``step3`` is ``system``
    quantized with ``base_plan``; a move's saving is exact (it depends on shapes only,
    and every decoder layer has the same shapes). Returns (plan, record).

    Planning (``recipe.planning``: no stage ran, nothing to measure): step 3's plan, and a
    record saying the moves are chosen at build time (harness.plan estimates the final
    size as at most the limit).
    """
    from harness.stages.hqq import spec_for
    from harness.stages.sensitivity import KINDS, smallest_fitting

    plan = base_plan(recipe)
    if recipe.planning:
        return plan, {"planned": "the moves are chosen at build time from the measured sizes and sensitivities",
                      "ladder": [[k, b] for k, b, _ in rungs]}
    size, track_limit = stored_bytes(step3.path / MODEL, recipe.track)
    limit = size_limit(recipe, track_limit)
    if limit is None:
        raise StageError(f"track {recipe.track.name} has no size limit to fit")
    model_dir, dtype = _model_dir(system.path / MODEL), _compute_dtype(recipe)
    current: dict[tuple[str, int], object] = {}
    savings: dict[tuple[str, int, int], int] = {}
    moves = []  # (kind, bits, layer, saving)
    for kind, bits, stage in rungs:
        for layer in ranking(stage):
            spec = current.get((kind, layer)) or spec_for(plan, f"model.language_model.layers.{layer}.{KINDS[kind][0]}")
            if spec is None or spec.bits <= bits:
                continue
            if (kind, spec.bits, bits) not in savings:
                savings[(kind, spec.bits, bits)] = move_saving(model_dir, kind, layer, spec, bits, dtype)
            moves.append((kind, bits, layer, savings[(kind, spec.bits, bits)]))
            current[(kind, layer)] = type(spec)(bits, spec.group_size)
    try:
        chosen = smallest_fitting(moves, lambda prefix: size - sum(m[3] for m in prefix) <= limit)
    except ValueError:
        shown = ", ".join(f"{kind} at {bits} bit" for kind, bits, _ in rungs)
        raise StageError(f"over the limit even with every move of the ladder ({shown}): step 3 is {size:,} bytes, "
                         f"the moves save {sum(m[3] for m in moves):,}, the limit is {limit:,}") from None
    record = {"step3_bytes": size, "limit_bytes": limit, "ladder": [[k, b] for k, b, _ in rungs],
              "moves": [{"kind": k, "bits": b, "layer": layer, "saving_bytes": saved} for k, b, layer, saved in chosen],
              "estimated_bytes": size - sum(m[3] for m in chosen)}
    if recipe.log is not None:
        counts = {}
        for kind, bits, _, _ in chosen:
            counts[(kind, bits)] = counts.get((kind, bits), 0) + 1
        shown = ", ".join(f"{n} {kind} at {bits} bit" for (kind, bits), n in counts.items()) or "no move"
        recipe.log(f"[{_langs_label(recipe)}] plan: {shown}; estimated {record['estimated_bytes']:,} bytes "
                   f"against the limit {limit:,}")
    return with_moves(plan, [(k, b, layer) for k, b, layer, _ in chosen]), record


# ---------------------------------------------------------------- step 5


def awq(recipe: Recipe, system: StageOutput, plan) -> StageOutput:
    """AWQ scales for ``plan`` searched on the dev set's source audio and folded into the float model."""
    from harness.systems.models import load_system, write_manifest
    from harness.stages.awq import awq_scale_model
    from harness.stages.from_scratch import save_base
    from harness.stages.hqq import plan_as_json, spec_for

    table = _table(recipe, "awq")
    dev = recipe.dataset("dev", recipe.langs[0])
    max_utterances, max_tokens = table.max_utterances, table.max_tokens
    batch_size, per_pass = batch_size_of(table), table.layers_per_pass

    def per_module(name: str):
        spec = spec_for(plan, name)
        return None if spec is None else (spec.bits, spec.group_size)

    def produce(folder: Path) -> dict:
        loaded = load_system(system.path / MODEL, recipe.langs[0], device=recipe.device,
                             dtype=_compute_dtype(recipe))
        audios = [u.audio() for u in dev.testset.utterances]
        found = awq_scale_model(loaded.model, loaded.processor, audios, list(recipe.langs), plan=per_module,
                                prompt_style=loaded.prompt_style, batch_size=batch_size,
                                max_utterances=max_utterances, max_tokens=max_tokens, layers_per_pass=per_pass,
                                progress="awq")
        save_base(loaded.model, loaded.processor, folder / MODEL)
        write_manifest(folder / MODEL, format="hf", languages={lang: "." for lang in recipe.langs},
                       prompt=loaded.prompt_style, base_model=str(system.path / MODEL),
                       built_by="stage:awq (scales folded)")
        return {"groups": len(found), "utterances": len(audios)}

    key = {"plan": plan_as_json(plan), "max_utterances": max_utterances, "max_tokens": max_tokens,
           "batch_size": batch_size, "compute_dtype": str(_compute_dtype(recipe))}
    return recipe.run_stage(_langs_label(recipe), "awq", key, [system, dev.input], produce)


def require_under_limit(recipe: Recipe, final: StageOutput) -> int:
    """The final system's bytes; a StageError when it is over the limit (the build must fail loudly).

    The limit is the track's, or ``[sensitivity] target_bytes`` where that is tighter.
    Planning (``recipe.planning``): nothing was built to measure; 0.
    """
    if recipe.planning:
        return 0
    size, track_limit = stored_bytes(final.path / MODEL, recipe.track)
    limit = size_limit(recipe, track_limit)
    if limit is not None and size > limit:
        where = f"the {recipe.track.name} track's" if limit == track_limit else "the configured (target_bytes)"
        raise StageError(f"the system is {size:,} bytes, over {where} limit of {limit:,} bytes")
    return size
