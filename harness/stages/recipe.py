"""The recipe pieces of Moslem (IWSLT 2025) System A and System B, shared by their build scripts.

Moslem, "Efficient Speech Translation through Model Compression and Knowledge
Distillation" (IWSLT 2025) builds one system per language pair from Qwen2-Audio-7B-
Instruct:

- teacher: full fine-tuning on the 784 ACL 60/60 training utterances (stage 1);
- sequence-level KD data: the teacher translates those utterances greedily, its outputs
  join the references, duplicates removed;
- System A: QLoRA (nf4, double quantization, rsLoRA on all linear modules) on the KD set;
- System B: 8 of 32 decoder layers pruned greedily, the pruned model fully fine-tuned on
  ACL + KD, then QLoRA on ACL + KD x10 plus 100 k CoVoST2 utterances.

``submissions/modelA/build.py`` and ``submissions/modelB/build.py`` are each a few lines
naming their chain of ``Recipe`` methods; everything else lives here. Every stage runs
through ``harness.stages.cache.StageCache`` with the same names, settings and inputs in
both recipes, so building B after A reuses the teacher and the KD data, a killed build
resumes at the stage it was in, and a changed setting reruns only that stage and those
downstream of it. A stage that produces a model writes a system folder ``model/`` inside
its stage folder.

Configuration is a TOML file per submission and track (``submissions/<name>/config/
<track>.toml``; tables ``build``, ``data``, ``teacher``, ``distill``, ``prune``,
``finetune_pruned``, ``qlora``, ``qlora.train``), each checked at load time against its
dataclass in ``harness.stages.config`` (an unknown table or key, or a value of the wrong
type, stops the build before any stage runs, with one line naming it). Data sources are a
folder of this project (a segmented set, e.g. ``testsets/mini/talks_train``) or a hub source:
``hub:acl6060/train`` (the paper's 784 utterances), ``hub:acl6060/dev100`` (100 of those
784, for layer selection: ACL 60/60 has no split besides the paper's 784/100, and the
100 test utterances are never used for selection), or a general-domain corpus read from a
local copy (``harness.data.corpora``: ``hub:covost2/en_de``, ``hub:covost2/en_zh-CN``,
``hub:europarl-st/en_de``, ``hub:covost2-europarl-st/sample``; the folders come from the
environment variables ``COMMON_VOICE_ROOT``, ``COVOST2_ROOT``, ``EUROPARL_ST_ROOT``), which
is converted once into the stage cache as the seeded sample of the config's
``general_size`` / ``general_seed``. Any other hub source has no loader here and stops
the build with a one-line ``StageError`` naming it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar
from pathlib import Path

from harness.files import staged_folder
from harness.stages import config as tables
from harness.stages.base import StageError, materialize_base
from harness.stages.cache import StageCache, StageOutput, folder_input, testset_input
from harness.data.tracks import REPO, Track, get_track, made_by_hint
from harness.data.hub import HUB_REVISIONS

MODEL = "model"  # the system folder inside a model-producing stage's folder
KD_FILE = "kd.jsonl"
SET = "set"  # the segmented set folder inside a data stage's folder
HUB = "hub:"


# ---------------------------------------------------------------- configuration


def config_path(submission: str, track: str) -> Path:
    """``<submission's folder>/config/<track>.toml`` (the folders: ``harness.submissions.root``)."""
    from harness import submissions

    return submissions.root() / submission / "config" / f"{track}.toml"


def required_tables(submission: str) -> tuple[str, ...]:
    """The tables ``submission``'s chain reads (its build.py's ``REQUIRED_TABLES``): a missing one fails
    before any stage runs."""
    from harness import submissions

    return submissions.required_tables(submission)


def load_config(path: str | os.PathLike, required: Sequence[str] = ("data",)) -> tables.RecipeConfig:
    """A recipe configuration (TOML), every table checked (``harness.stages.config``): the parsed tables
    as a dict, their typed views in ``.tables``; a missing or malformed file, an unknown table or key,
    or a value of the wrong type is a one-line StageError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError:
        raise StageError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as err:
        raise StageError(f"{path}: not valid TOML ({err})") from None
    typed = tables.validate(config, path)
    for table in required:
        if table not in config:
            raise StageError(f"{path}: missing table [{table}]")
    return tables.RecipeConfig(config, typed, path)


def train_settings(table):
    """A ``TrainSettings`` from a config table (a dict or a ``config.TrainTable``); ``threads = 0`` means
    torch's own choice (None)."""
    from harness.training.settings import TrainSettings

    if isinstance(table, tables.TrainTable):  # its fields and defaults are TrainSettings' (warmup_ratio aside)
        table = {f.name: getattr(table, f.name) for f in fields(tables.TrainTable)}
    known = {f.name for f in fields(TrainSettings)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise StageError(f"unknown training setting(s) {', '.join(unknown)}")
    values = dict(table)
    if values.get("threads") == 0:
        values["threads"] = None
    try:
        return TrainSettings.from_dict(values)
    except (TypeError, ValueError) as err:
        raise StageError(f"training settings: {err}") from None


def decode_settings(table, track: Track):
    """``DecodeSettings`` of a ``config.DistillTable`` or ``config.PruneTable`` (or such a dict)."""
    from harness.inference.decode import DecodeSettings

    if isinstance(table, dict):
        table = tables.from_table("distill", {k: table[k] for k in ("max_new_tokens", "batch_size") if k in table})
    new = table.max_new_tokens if table.max_new_tokens is not None else track.max_new_tokens
    return DecodeSettings(max_new_tokens=int(new), batch_size=int(table.batch_size))


def lora_settings(table):
    """(LoraSettings, match_share) of a ``config.QloraTable`` / ``config.LoraTable`` (or such a dict):
    ``match_share`` set means the rank is chosen by ``rank_for_share``."""
    from harness.training.lora import LoraSettings

    if not isinstance(table, dict):
        return LoraSettings(**{f.name: getattr(table, f.name) for f in fields(LoraSettings)}), table.match_share
    values = {k: v for k, v in table.items() if k in {f.name for f in fields(LoraSettings)}}
    return LoraSettings(**values), table.get("match_share")


def _per_lang(value, lang: str):
    return value[lang] if isinstance(value, dict) else value


# ---------------------------------------------------------------- data sources


@dataclass
class DataSet:
    """A resolved segmented set: its stage-input view and the loaded set."""

    input: StageOutput
    testset: object  # harness.data.testsets.TestSet with a folder
    # The stage that wrote the set when it already is the config's seeded general sample (a corpus source,
    # converted as [<table>] general_size / general_seed: harness.data.corpora.sample_settings).
    sample_stage: StageOutput | None = None


def _acl6060(track: Track, part: str, langs: Sequence[str], cache: StageCache, log) -> DataSet:
    """The paper's ACL 60/60 split from the hub, written once as a segmented set folder in the cache."""
    from harness.data.testsets import TestSetError, load_acl6060, load_testset, write_segmented_set

    if part not in ("train", "dev100"):
        raise StageError(f"hub:acl6060/{part}: known parts are train and dev100 (the test split is never "
                         "used for building)")
    try:
        sets = load_acl6060(tuple(langs), track=track.name)
    except TestSetError as err:
        raise StageError(f"ACL 60/60 training data is missing: {err}") from None
    train = sets["train"]
    chosen = list(train.utterances)[-100:] if part == "dev100" else list(train.utterances)
    name = f"acl6060_{part}"

    def produce(folder: Path) -> dict:
        rows = [{"id": u.id, "audio": u.audio(), "en": u.en, **{t: u.targets[t] for t in langs}} for u in chosen]
        write_segmented_set(folder / SET, name=name, version=train.version, domain="talks", rows=rows,
                            generator={"source": "hub:acl6060", "part": part, "of": train.name,
                                       "built_by": "stage:data"}, track=track.name,
                            languages=("en", *langs))
        return {"utterances": len(rows)}

    stage = cache.run(f"data-{name}", {"part": part, "langs": list(langs)},
                      [StageOutput(name=train.name, key=train.content_hash, path=Path("."))], produce)
    log_stage(log, "data", name, stage)
    testset = load_testset(stage.path / SET)
    return DataSet(input=testset_input(testset), testset=testset)


def _corpus(source: str, track: Track, langs: Sequence[str], cache: StageCache, log,
            sample: tuple[int, int] | None) -> DataSet:
    """A general-domain corpus (harness.data.corpora) from local files, its seeded sample written once into the cache."""
    from harness.data.corpora import CorpusError, resolve_source
    from harness.data.testsets import TestSetError, load_testset

    if sample is None:
        raise StageError(f"{source}: a corpus is read as a seeded sample; the config needs general_size (and "
                         f"general_seed) in the table that trains on it")
    size, seed = sample
    split = "train"
    try:
        corpus = resolve_source(source, langs)
        lists = corpus.fingerprint(split)
    except CorpusError as err:
        raise StageError(str(err)) from None

    def produce(folder: Path) -> dict:
        try:
            manifest = corpus.write_sample(folder / SET, size=size, seed=seed, split=split, track=track.name,
                                           lists=lists, log=lambda line: print(line, file=sys.stderr))
        except (CorpusError, TestSetError) as err:
            raise StageError(str(err)) from None
        return {"utterances": manifest["utterances"], "audio_seconds": manifest["audio_seconds"]}

    # Keyed by the list files read (not the clips: hashing 100 k audio files would take longer than the sample).
    stage = cache.run(f"data-{corpus.name}", {"source": source, "languages": list(corpus.languages),
                                              "split": split, "size": size, "seed": seed},
                      [StageOutput(name=f"{corpus.name}-lists", key=lists, path=Path("."))], produce)
    log_stage(log, "data", corpus.name, stage)
    testset = load_testset(stage.path / SET)
    return DataSet(input=testset_input(testset), testset=testset, sample_stage=stage)


def resolve_set(source: str, *, track: Track, langs: Sequence[str], cache: StageCache, log,
                sample: tuple[int, int] | None = None) -> DataSet:
    """A data source of the config (a project folder or ``hub:...``) as a loaded segmented set.

    ``sample``: (size, seed) of a corpus source (harness.data.corpora), which is converted as
    that seeded sample of its train split; its set's languages are the pair's (en, de for
    ``hub:covost2/en_de``), or en + ``langs`` for the combined ``covost2-europarl-st`` sample.
    """
    from harness.data.corpora import is_corpus_source
    from harness.data.testsets import TestSet, TestSetError, load_testset

    if source.startswith(HUB):
        dataset, _, part = source[len(HUB):].partition("/")
        if dataset == "acl6060":
            return _acl6060(track, part, langs, cache, log)
        if is_corpus_source(source):
            return _corpus(source, track, langs, cache, log, sample)
        raise StageError(f"{source}: this data source is not available offline and the harness has no loader "
                         f"for it; point the config at a local segmented set folder instead")
    folder = Path(source) if Path(source).is_absolute() else REPO / source
    try:
        testset = load_testset(folder)
    except TestSetError as err:
        raise StageError(f"{source}: data set is missing or unreadable ({err}){made_by_hint(folder)}") from None
    if not isinstance(testset, TestSet):
        raise StageError(f"{source}: a long-form set; training and selection need a segmented set")
    missing = [lang for lang in langs if lang not in testset.languages]
    if missing:
        raise StageError(f"{source}: no {', '.join(missing)} references")
    return DataSet(input=testset_input(testset), testset=testset)


# ---------------------------------------------------------------- the recipe


def log_stage(log, lang: str, name: str, output: StageOutput) -> None:
    if log is not None:
        log(f"[{lang}] {name}: {'reused' if output.reused else 'ran'} {output.path}")


@dataclass
class Recipe:
    """One build: the track, the config, the stage cache, and every stage run so far (``stages``)."""

    track: Track
    config: dict
    cache: StageCache
    log: Callable[[str], None] | None = print
    langs: tuple[str, ...] = ()  # the directions this build makes (default: the track's)
    stages: list[tuple[str, str, StageOutput]] = field(default_factory=list)  # (lang, stage, output)
    _sets: dict = field(default_factory=dict)
    # True in harness.stages.planning's stand-in: the stages do not run, so a step that reads an earlier
    # stage's files at build time (diet_kit.fitting_plan, require_under_limit) gives its planning answer.
    planning: ClassVar[bool] = False

    @property
    def device(self) -> str:
        return tables.table(self.config, "build", required=False).device

    def table(self, name: str, required: bool = True):
        """The typed ``[name]`` table of the config (``harness.stages.config``)."""
        return tables.table(self.config, name, required)

    def run_stage(self, lang: str, name: str, settings: dict, inputs: Sequence[StageOutput],
             produce: Callable[[Path], dict | None]) -> StageOutput:
        output = self.cache.run(name, {"lang": lang, **settings}, inputs, produce)
        self.stages.append((lang, name, output))
        log_stage(self.log, lang, name, output)
        return output

    # ---- inputs

    def dataset(self, role: str, lang: str) -> DataSet:
        """The set named by ``[data] <role>`` (a string, or a table per language)."""
        source = getattr(self.table("data"), role) if role in tables.DATA_SOURCES else None
        if source is None:
            raise StageError(f"the config has no [data] {role}")
        source = _per_lang(source, lang)
        if source not in self._sets:
            from harness.data.corpora import CorpusError, is_corpus_source, sample_settings

            sample = None
            if is_corpus_source(source):
                try:
                    sample = sample_settings(self.config)
                except CorpusError as err:
                    raise StageError(str(err)) from None
            self._sets[source] = resolve_set(source, track=self.track, langs=self.track.languages,
                                             cache=self.cache, log=self.log, sample=sample)
        return self._sets[source]

    def base(self) -> StageOutput:
        """The base model: ``[data] base`` (a folder), else the track's (a project folder or a hub id)."""
        data = self.table("data")
        configured = data.base if data.base is not None else self.track.base_model
        local = Path(configured) if Path(configured).is_absolute() else REPO / configured
        if local.is_dir():
            return folder_input("base", local)
        if configured.startswith(("./", "/")):
            raise StageError(f"base model {configured} is missing (the mini base is made by make mini-base)")

        # A configured base other than the track's (diet-kit's Qwen2-Audio-7B) has its own pin.
        revision = data.base_revision or (
            self.track.base_revision if configured == self.track.base_model else HUB_REVISIONS.get(configured))
        prompt = data.base_prompt if data.base_prompt is not None else self.track.prompt

        def produce(folder: Path) -> dict:
            from harness.systems.models import write_manifest

            materialize_base(self.track, folder / MODEL, model=configured, revision=revision)
            # A system folder, as every stage's input is: one model for every direction.
            write_manifest(folder / MODEL, format="hf", languages={lang: "." for lang in self.track.languages},
                           prompt=prompt, base_model=configured, built_by="stage:base")
            return {"model": configured, "revision": revision}

        output = self.cache.run("base", {"model": configured, "revision": revision, "prompt": prompt}, [], produce)
        log_stage(self.log, "all", "base", output)
        return folder_input("base", output.path / MODEL)

    # ---- stages

    def teacher(self, lang: str, base: StageOutput) -> StageOutput:
        """Stage 1: full fine-tuning of the base on the training set (one direction)."""
        from harness.stages.finetune import finetune_system

        train = self.dataset("train", lang)
        settings = train_settings(self.table("teacher"))

        def produce(folder: Path) -> dict:
            return finetune_system(base.path, train.testset.folder, folder / MODEL, settings, langs=(lang,),
                                   device=self.device, log=None)

        return self.run_stage(lang, "teacher", {"train": settings.as_dict()}, [base, train.input], produce)

    def distill(self, lang: str, teacher: StageOutput) -> StageOutput:
        """Sequence-level KD data: the teacher's greedy translations of the training set, deduplicated."""
        from harness.stages.distill import distill_testset

        train = self.dataset("train", lang)
        settings = decode_settings(self.table("distill"), self.track)

        def produce(folder: Path) -> dict:
            return distill_testset(teacher.path / MODEL, train.testset, folder / KD_FILE, settings, langs=(lang,),
                                   device=self.device, progress=True, log=None)

        return self.run_stage(lang, "distill", {"decode": settings.as_dict()}, [teacher, train.input], produce)

    def prune(self, lang: str, teacher: StageOutput, layers: str | Sequence[int] | None = None) -> StageOutput:
        """Greedy decoder-layer pruning, candidates scored on the selection (dev) set.

        ``layers`` skips the search: ``"middle"`` (the paper's ablation, the contiguous
        middle block of ``[prune] remove`` layers) or a list of layer indices.
        """
        import json

        from harness.stages.prune import middle_layers, prune_system

        table = self.table("prune")
        select = self.dataset("select", lang)
        settings = decode_settings(table, self.track)
        remove, expected = int(table.remove), table.of
        metric = _per_lang(table.metric, lang)
        exclude = bool(table.exclude_first_last)
        limit = table.limit

        fixed = list(layers) if layers is not None and layers != "middle" else layers

        def produce(folder: Path) -> dict:
            config = json.loads((teacher.path / MODEL / "config.json").read_text())
            count = config.get("text_config", {}).get("num_hidden_layers")
            if expected is not None and count != expected:
                raise StageError(f"the config prunes {remove} of {expected} decoder layers; the teacher has {count}")
            chosen = middle_layers(count, remove) if fixed == "middle" else fixed
            selection = None if chosen is not None else select.testset.folder  # given layers need no selection set
            result = prune_system(teacher.path / MODEL, selection, folder / MODEL, lang=lang,
                                  remove=remove, metric=metric, exclude_first_last=exclude, settings=settings,
                                  device=self.device, limit=limit, progress=f"prune {lang}", layers=chosen)
            return {"removed": list(result.removed), "metric": result.metric, "baseline": result.baseline,
                    "final": result.rounds[-1].score if result.rounds else result.baseline}

        prune_settings = {"remove": remove, "of": expected, "metric": metric, "exclude_first_last": exclude,
                          "limit": limit, "decode": settings.as_dict()}
        if fixed is not None:  # the search's settings do not apply; the key says which layers
            prune_settings = {"remove": remove, "of": expected, "layers": fixed}
        return self.run_stage(lang, "prune", prune_settings, [teacher, select.input], produce)

    def nf4(self, lang: str, system: StageOutput) -> StageOutput:
        """A system's model in nf4 without an adapter (for reports: what QLoRA starts from)."""
        from harness.stages.qlora import nf4_system

        def produce(folder: Path) -> dict:
            return nf4_system(system.path / MODEL, folder / MODEL, lang=lang, device=self.device)

        return self.run_stage(lang, "nf4", {}, [system], produce)

    def _kd_examples(self, processor, style: str, lang: str, kd: StageOutput, factor: int):
        from harness.stages.distill import kd_examples, read_rows
        from harness.training.features import cached_features

        train = self.dataset("train", lang).testset
        rows = [row for row in read_rows(kd.path / KD_FILE) if row.lang == lang]
        store = cached_features(train, processor.feature_extractor)
        return kd_examples(processor, rows, style, factor, ids=train.ids), store, len(rows)

    def finetune_kd(self, lang: str, system: StageOutput, kd: StageOutput) -> StageOutput:
        """Full fine-tuning of ``system`` on the authentic + KD pairs (System B, step 2)."""
        from harness.systems.models import read_manifest
        from harness.stages.finetune import finetune_system

        settings = train_settings(self.table("finetune_pruned"))

        def produce(folder: Path) -> dict:
            return finetune_system(system.path / MODEL, self.dataset("train", lang).testset.folder, folder / MODEL,
                                   settings, langs=(lang,), device=self.device, kd=kd.path / KD_FILE,
                                   base_model=read_manifest(system.path / MODEL).base_model,
                                   progress=f"finetune {lang}", log=None)

        return self.run_stage(lang, "finetune_kd", {"train": settings.as_dict()}, [system, kd], produce)

    def general_sample(self, lang: str, *, table: str = "qlora", langs: Sequence[str] | None = None) -> StageOutput:
        """``[<table>] general_size`` utterances of the general-domain set (CoVoST2 in Moslem 2025), seeded.

        ``langs``: the target languages kept (default: ``lang`` alone); ``lang`` then only
        labels the stage (e.g. "de+zh" for Diet-KIT's bilingual fine-tuning).
        """
        from harness.data.corpora import CorpusError, seeded_sample
        from harness.data.testsets import write_segmented_set

        targets = tuple(langs or (lang,))
        config = self.table(table)
        general = self.dataset("general", targets[0])
        if general.sample_stage is not None:  # a corpus source, already converted as this very sample
            return general.sample_stage
        if config.general_size is None:
            raise StageError(f"the config's [{table}] has no general_size (the general-domain sample's size)")
        size, seed = int(config.general_size), int(config.general_seed)
        try:
            picked = seeded_sample(general.testset.utterances, size, seed, general.testset.name)
        except CorpusError as err:
            raise StageError(f"general_size: {err}") from None

        def produce(folder: Path) -> dict:
            # A generator: the writer streams, so only one utterance's float audio is held at a time.
            rows = ({"id": u.id, "audio": u.audio(), "en": u.en, **{t: u.targets[t] for t in targets}}
                    for u in picked)
            write_segmented_set(folder / SET, name=f"{general.testset.name}_sample", version="1",
                                domain="general", rows=rows, generator={"of": general.testset.name, "seed": seed,
                                                                        "built_by": "stage:general_sample"},
                                languages=("en", *targets))
            return {"utterances": size}

        return self.run_stage(lang, "general_sample", {"size": size, "seed": seed}, [general.input], produce)

    def qlora(self, lang: str, system: StageOutput, kd: StageOutput, general: StageOutput | None = None) -> StageOutput:
        """QLoRA on ``system`` with the KD set (x ``[qlora] oversample``), plus the general sample if given."""
        from harness.systems.models import load_processor, read_manifest
        from harness.stages.qlora import qlora_system
        from harness.training.examples import make_examples
        from harness.training.features import cached_features, stack_stores

        table = self.table("qlora")
        lora, share = lora_settings(table)
        settings = train_settings(table.train or {})
        factor = int(table.oversample)
        gradient_checkpointing = bool(table.gradient_checkpointing)

        def produce(folder: Path) -> dict:
            from harness.data.testsets import load_testset

            manifest = read_manifest(system.path / MODEL)
            processor = load_processor((system.path / MODEL / manifest.languages[lang]).resolve())
            examples, store, rows = self._kd_examples(processor, manifest.prompt, lang, kd, factor)
            data = {"kd_rows": rows, "oversample": factor, "kd_examples": len(examples)}
            if general is not None:
                sample = load_testset(general.path / SET)
                extra = cached_features(sample, processor.feature_extractor)
                offset = len(store)
                examples += make_examples(processor, [u.targets[lang] for u in sample.utterances], lang,
                                          manifest.prompt, clips=[offset + i for i in range(len(sample))])
                store = stack_stores([store, extra])
                data.update(general=sample.name, general_examples=len(sample))
            output = qlora_system(system.path / MODEL, examples, store, folder / MODEL, settings, lora=lora,
                                  match_share=share, langs=(lang,), device=self.device,
                                  gradient_checkpointing=gradient_checkpointing, train_data=data,
                                  progress=f"qlora {lang}", log=None)
            return {"lora": output.summary["lora"], "parameters": output.summary["parameters"], "data": data}

        inputs = [system, kd] + ([general] if general is not None else [])
        settings_key = {"lora": lora.as_dict(), "match_share": share, "oversample": factor,
                        "gradient_checkpointing": gradient_checkpointing, "train": settings.as_dict()}
        return self.run_stage(lang, "qlora", settings_key, inputs, produce)


# ---------------------------------------------------------------- the final folder and the command line


def assemble(out: Path, finals: dict[str, StageOutput], *, built_by: str, **extra) -> Path:
    """Copy each direction's final system into ``out/<lang>/`` (one model for all: ``out/model/``)
    and write ``out/system.json``; atomic."""
    from harness.systems.models import read_manifest, write_manifest

    manifests = {lang: read_manifest(stage.path / MODEL) for lang, stage in finals.items()}
    formats = {m.format for m in manifests.values()}
    prompts = {m.prompt for m in manifests.values()}
    if len(formats) != 1 or len(prompts) != 1:
        raise StageError(f"the directions' systems differ in format or prompt: {sorted(formats | prompts)}")
    out = Path(out)
    with staged_folder(out) as staging:
        if len({stage.path for stage in finals.values()}) == 1:  # one model serves every direction
            shutil.copytree(next(iter(finals.values())).path / MODEL, staging / MODEL)
            folders = {lang: MODEL for lang in finals}
        else:
            for lang, stage in finals.items():
                shutil.copytree(stage.path / MODEL, staging / lang)
            folders = {lang: lang for lang in finals}
        first = next(iter(manifests.values()))
        write_manifest(staging, format=formats.pop(), languages=folders,
                       prompt=prompts.pop(), base_model=first.base_model, built_by=built_by,
                       stages={lang: str(stage.path) for lang, stage in finals.items()}, **extra)
    return out


@dataclass
class BuildResult:
    out: Path
    stages: list[tuple[str, str, StageOutput]]  # (lang, stage, output) in run order

    def reused(self, lang: str, name: str) -> bool:
        return next(output.reused for where, stage, output in self.stages if where == lang and stage == name)


Chain = Callable[[Recipe, str, StageOutput], StageOutput]  # (recipe, lang, base) -> the final stage


def open_recipe(submission: str, *, track: str = "mini", langs: Sequence[str] | None = None,
                config: str | os.PathLike | None = None, work: str | os.PathLike | None = None,
                log: Callable[[str], None] | None = print, required: Sequence[str] | None = None) -> Recipe:
    """A submission's recipe on a track over the shared stage cache, its data sources checked first.

    ``required``: the config tables the chain reads (default: the submission's declaration's)."""
    try:
        track_obj = get_track(track)
    except ValueError as err:
        raise StageError(str(err)) from None
    langs = tuple(langs or track_obj.languages)
    unknown = [lang for lang in langs if lang not in track_obj.languages]
    if unknown:
        raise StageError(f"track {track} has no direction en-{', en-'.join(unknown)}")
    settings = load_config(config or config_path(submission, track),
                           required_tables(submission) if required is None else tuple(required))

    # The cache's "running" line is progress (stderr); the per-stage result line is log_stage's.
    def progress(line: str) -> None:
        if log is not None and ": running" in line:
            print(line, file=sys.stderr)

    cache = StageCache(work or REPO / "build" / track / "cache", log=progress)
    recipe = Recipe(track=track_obj, config=settings, cache=cache, log=log, langs=langs)
    for role in settings["data"]:  # every data source first: a missing one fails before any training
        if role in tables.DATA_SOURCES:  # the other [data] keys name the base model
            for lang in langs:
                recipe.dataset(role, lang)
    return recipe


def run_chain(chain: Chain, recipe: Recipe, base: StageOutput, *, shared: bool = False) -> dict[str, StageOutput]:
    """``chain`` for each of the recipe's directions, or once for all when ``shared`` (one model serves
    them all): direction -> the chain's result. The build and the plan (harness.stages.planning) both run it."""
    if shared:
        final = chain(recipe, "+".join(recipe.langs), base)
        return {lang: final for lang in recipe.langs}
    return {lang: chain(recipe, lang, base) for lang in recipe.langs}


def build(submission: str, chain: Chain, *, track: str = "mini", langs: Sequence[str] | None = None,
          out: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
          work: str | os.PathLike | None = None, log: Callable[[str], None] | None = print,
          shared: bool = False, required: Sequence[str] | None = None) -> BuildResult:
    """Run ``chain`` for each direction (``shared``: once, one model for all) and assemble the system folder."""
    recipe = open_recipe(submission, track=track, langs=langs, config=config, work=work, log=log, required=required)
    finals = run_chain(chain, recipe, recipe.base(), shared=shared)
    target = Path(out or REPO / "build" / track / submission)
    assemble(target, finals, built_by=f"submissions/{submission}/build.py", track=track,
             config=str(config or config_path(submission, track)))
    if log is not None:
        log(f"built {target}")
    return BuildResult(out=target, stages=recipe.stages)


def main(submission: str, chain: Chain, description: str, argv: Sequence[str] | None = None,
         shared: bool = False, required: Sequence[str] | None = None) -> int:
    """The command line every build script shares (``build_main`` passes a build.py's declaration);
    bad input is one line on stderr and exit status 2."""
    from harness.errors import one_line

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--track", default="mini")
    parser.add_argument("--lang", choices=("de", "zh", "both"), default="both")
    parser.add_argument("--out", type=Path, help=f"default: build/<track>/{submission}")
    parser.add_argument("--config", type=Path, help=f"default: submissions/{submission}/config/<track>.toml")
    parser.add_argument("--work", type=Path, help="the stage cache; default: build/<track>/cache")
    args = parser.parse_args(argv)
    try:
        build(submission, chain, track=args.track, langs=None if args.lang == "both" else (args.lang,),
              out=args.out, config=args.config, work=args.work, shared=shared, required=required)
    except StageError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    return 0


def build_main(path: str | os.PathLike, argv: Sequence[str] | None = None) -> int:
    """The command line of a build.py with a chain: ``sys.exit(build_main(__file__))``."""
    from harness import submissions
    from harness.errors import one_line

    try:
        declared = submissions.load_file(path)
    except submissions.SubmissionError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    if declared.chain is None:
        print(f"error: {declared.build_script} declares no chain", file=sys.stderr)
        return 2
    if declared.folder.parent != submissions.root():  # a build.py run from elsewhere reads the configs beside it
        os.environ[submissions.ENV] = str(declared.folder.parent)
    return main(declared.name, declared.chain, declared.description, argv, shared=declared.shared,
                required=declared.required_tables)
