"""The tables of a recipe configuration (``submissions/<name>/config/<track>.toml``), as frozen dataclasses.

``harness.stages.recipe.load_config`` reads a config file and checks every table it has
against these classes before anything runs (``make build`` and ``python -m harness plan``
both load it): a table or key the harness does not read, or a value of the wrong type, is
one ``StageError`` line naming it and what is accepted, e.g.
``submissions/modelB/config/mini.toml: [qlora] has no key "rnak"; accepted: alpha, ...``.
Each class's fields are exactly the keys the stages read (harness/stages/recipe.py,
harness/stages/diet_kit.py, harness/data/corpora.py ``sample_settings``, harness/plan.py) and
each default is the one the stages use when the key is absent. ``None`` stands for "the
track's value" or "not set" (TOML has no null: a key can only be absent). Values are kept
as written (an integer stays an integer where a float is accepted), so the settings the
stages pass to the stage cache, and so the cache keys, are those of the raw tables.

The tables and where their values come from (summaries in /work/shared/reference/papers.md):

- ``[build]`` (``BuildTable``): where the stages run (``device``).
- ``[data]`` (``DataTable``): the base model and the data sources (a project folder or
  ``hub:...``; a string, or a table per language). Moslem (IWSLT 2025, "Efficient Speech
  Translation through Model Compression and Knowledge Distillation"): ACL 60/60's 784
  training utterances (``train``), a dev split for layer selection (``select``),
  CoVoST2 as the general domain (``general``). Diet-KIT (Liu, Koneru and Niehues, IWSLT
  2026, "Post-Training Quantization for Speech LLMs"): Qwen2-Audio-7B, not Instruct
  (``base``, ``base_prompt``), a CoVoST + Europarl-ST sample (``general``), the ACL dev
  set (``dev``).
- ``[teacher]``, ``[finetune_pruned]``, ``[qlora.train]`` (``TrainTable``): a training
  run, the fields of ``TrainSettings`` (``threads = 0``: torch's own choice). Moslem's
  stage 1: 3 epochs, batch 4, lr 1e-5, weight decay 0.001, no warm-up, bf16; System A's
  QLoRA 4 epochs, batch 4; System B's 1 epoch, batch 8, lr 1e-5.
- ``[lora.train]`` (``LoraTrainTable``): a ``TrainTable`` plus Hugging Face's
  ``warmup_ratio``; Diet-KIT: lr 1e-6, 3 epochs, batch 8, warm-up 3 %.
- ``[distill]`` (``DistillTable``): the teacher's greedy translations of the training set
  (sequence-level KD, Moslem System A step 1; max length 1024).
- ``[prune]`` (``PruneTable``): greedy decoder-layer pruning (Moslem System B step 1: 8 of
  32 layers, chrF++ for DE and chrF for ZH, first and last layers never candidates).
- ``[qlora]`` (``QloraTable``): the adapter of QLoRA (Dettmers et al., NeurIPS 2023: nf4,
  double quantization) with LoRA (Hu et al., ICLR 2022) and rsLoRA (Kalajdzievski, 2023);
  Moslem: rank 64, alpha 128, dropout 0, all linear modules; System B adds the KD set
  oversampled x10 and 100 k CoVoST2 utterances (``general_size``).
- ``[lora]`` (``LoraTable``): Diet-KIT's step 0, LoRA on the base merged (r 64, alpha 128,
  dropout 0.05) on a general-domain sample.
- ``[quantize]`` (``QuantizeTable``): Diet-KIT steps 1-3, HQQ (Badri and Shaji, 2023,
  half-quadratic quantization) 4 bit, the input embedding at 2 bit, the LM head at 4 bit,
  group size 128.
- ``[sensitivity]`` (``SensitivityTable``): Diet-KIT step 4, each decoder MLP alone at 3
  bit, teacher-forced cross-entropy on the dev set; ``ladder`` adds further rungs.
- ``[awq]`` (``AwqTable``): Diet-KIT step 5, AWQ (Lin et al., MLSys 2024) scales searched
  on the dev set's source audio.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.stages.base import StageError
from harness.training.lora import LoraSettings
from harness.training.settings import TrainSettings

# The [data] roles that are data sources (the other [data] keys name the base model).
DATA_SOURCES = ("train", "select", "general", "dev")


@dataclass(frozen=True)
class BuildTable:
    """``[build]``: where the stages run."""

    device: str = "cpu"


@dataclass(frozen=True)
class DataTable:
    """``[data]``: the base model (default the track's) and the data sources (a string or a table per language)."""

    base: str | None = None  # a project folder or a hub id; None: the track's base model
    base_revision: str | None = None  # None: the track's pin (harness.data.hub.HUB_REVISIONS)
    base_prompt: str | None = None  # "instruct" | "base"; None: the track's prompt
    train: str | dict[str, str] | None = None
    select: str | dict[str, str] | None = None
    general: str | dict[str, str] | None = None
    dev: str | dict[str, str] | None = None


@dataclass(frozen=True)
class TrainTable(TrainSettings):
    """A training run: exactly the fields of ``TrainSettings`` (harness.training.settings), with its
    defaults and its checks (one of ``steps`` / ``epochs``, a positive ``lr``, ...); ``threads = 0``
    in a config is torch's own choice (TrainSettings' None)."""


@dataclass(frozen=True)
class LoraTrainTable(TrainTable):
    """``[lora.train]``: a training run plus Hugging Face's ``warmup_ratio`` (turned into warm-up steps)."""

    warmup_ratio: float = 0.0


@dataclass(frozen=True)
class DistillTable:
    """``[distill]``: the teacher's greedy decoding of the training set."""

    max_new_tokens: int | None = None  # None: the track's
    batch_size: int = 16


PRUNE_METRICS = {"de": "chrf++", "zh": "chrf"}  # harness.stages.prune.DEFAULT_METRICS (Moslem System B)


@dataclass(frozen=True)
class PruneTable:
    """``[prune]``: greedy removal of ``remove`` decoder layers, candidates scored by decoding the selection set."""

    remove: int
    of: int | None = None  # the decoder layers the teacher must have; None: not checked
    metric: str | dict[str, str] = field(default_factory=lambda: dict(PRUNE_METRICS))
    exclude_first_last: bool = True
    limit: int | None = None  # score on the first ``limit`` utterances; None: all
    max_new_tokens: int | None = None  # None: the track's
    batch_size: int = 16


@dataclass(frozen=True)
class QloraTable(LoraSettings):
    """``[qlora]``: the adapter (``LoraSettings``' fields, defaults and checks), the data mix, and ``[qlora.train]``."""

    match_share: float | None = None  # set: the rank is chosen by rank_for_share (alpha = 2 x rank)
    oversample: int = 1
    gradient_checkpointing: bool = False
    general_size: int | None = None  # the general-domain sample (modelB); None: none
    general_seed: int = 0
    train: TrainTable | None = None


@dataclass(frozen=True)
class LoraTable(LoraSettings):
    """``[lora]``: Diet-KIT's LoRA on the base (merged; ``LoraSettings``' fields), its general-domain
    sample and ``[lora.train]``."""

    match_share: float | None = None
    prompt: str | None = None  # the prompt style trained; None: the base's
    general_size: int | None = None
    general_seed: int = 0
    train: LoraTrainTable | None = None


@dataclass(frozen=True)
class QuantizeTable:
    """``[quantize]``: Diet-KIT steps 1-3 (HQQ)."""

    group_size: int = 128
    embedding_bits: int = 2
    head_bits: int = 4
    compute_dtype: str | None = None  # None: the device's default (harness.stages.hqq.default_dtype)


@dataclass(frozen=True)
class SensitivityTable:
    """``[sensitivity]``: Diet-KIT step 4; ``ladder`` None is the paper's one rung, [("mlp", bits)]."""

    ladder: list[tuple[str, int]] | None = None
    bits: int = 3
    group_size: int = 128
    batch_size: int = 8
    limit: int | None = None  # the first ``limit`` dev utterances per direction; None: all
    target_bytes: int | None = None  # a tighter size limit than the track's


@dataclass(frozen=True)
class AwqTable:
    """``[awq]``: Diet-KIT step 5."""

    batch_size: int = 8
    max_utterances: int | None = None
    max_tokens: int | None = None
    layers_per_pass: int | None = None  # None: all decoder layers in one pass


TABLES: dict[str, type] = {
    "build": BuildTable, "data": DataTable, "teacher": TrainTable, "distill": DistillTable, "prune": PruneTable,
    "finetune_pruned": TrainTable, "qlora": QloraTable, "lora": LoraTable, "quantize": QuantizeTable,
    "sensitivity": SensitivityTable, "awq": AwqTable,
}


# ---------------------------------------------------------------- checking


def _where(path) -> str:
    if path is None:
        return ""
    from harness.data.tracks import REPO

    path = Path(path)
    try:
        shown = path.resolve().relative_to(REPO)
    except ValueError:
        shown = path
    return f"{shown}: "


def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def _is_table_type(tp) -> type | None:
    """The dataclass a field holds (a nested table such as [qlora.train]), else None."""
    for arg in typing.get_args(tp) or (tp,):
        if isinstance(arg, type) and dataclasses.is_dataclass(arg):
            return arg
    return None


def _describe(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is dict:
        return f"a table of {_describe(args[1]).removeprefix('a ').removeprefix('an ')}s per language"
    if origin is tuple:
        return f"a list of {len(args)} numbers" if all(a is float for a in args) else \
            f"a list [{', '.join(_describe(a).removeprefix('a ').removeprefix('an ') for a in args)}]"
    if origin is list:
        if typing.get_origin(args[0]) is tuple:
            return f"a list of {_describe(args[0]).removeprefix('a list ')} pairs"
        return f"a list of {_describe(args[0]).removeprefix('a ')}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


def _check(value, tp):
    """``value`` as stored (lists to tuples where a tuple is declared), or raise TypeError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg)
            except TypeError:
                pass
        raise TypeError
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is dict:
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: _check(v, args[1]) for k, v in value.items()}
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and len(value) == len(args):
            return tuple(_check(v, a) for v, a in zip(value, args))
    elif origin is list:
        if isinstance(value, list):
            return [_check(v, args[0]) for v in value]
    raise TypeError


def _shown(value) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def from_table(name: str, table, path: str | os.PathLike | None = None):
    """The typed ``[name]`` table (a dotted name for a nested one: ``qlora.train``) of a TOML table.

    An unknown key, a missing required one or a value of the wrong type is one ``StageError``
    line, prefixed with ``path`` (shown relative to the project) when given.
    """
    top, _, sub = name.partition(".")
    cls = TABLES.get(top)
    if cls is None:
        raise StageError(f"{_where(path)}no table [{top}] in a recipe config; accepted: {', '.join(sorted(TABLES))}")
    if sub:
        cls = _is_table_type(_hints(cls).get(sub))
        if cls is None:
            raise StageError(f"{_where(path)}[{top}] has no table [{name}]")
    return _build(cls, name, table, path)


def _build(cls: type, name: str, table, path):
    where = _where(path)
    if not isinstance(table, Mapping):
        raise StageError(f"{where}[{name}] must be a table, not {_shown(table)}")
    hints = _hints(cls)
    accepted = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in table if key not in hints]
    if unknown:
        raise StageError(f'{where}[{name}] has no key "{unknown[0]}"; accepted: {", ".join(sorted(accepted))}')
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise StageError(f"{where}[{name}] needs {f.name} ({_describe(hints[f.name])})")
            continue
        value, tp = table[f.name], hints[f.name]
        nested = _is_table_type(tp)
        if nested is not None:
            values[f.name] = _build(nested, f"{name}.{f.name}", value, path)
            continue
        try:
            values[f.name] = _check(value, tp)
        except TypeError:
            raise StageError(f"{where}[{name}] {f.name} must be {_describe(tp)}, not {_shown(value)}") from None
    try:
        return cls(**values)
    except ValueError as err:  # the settings' own checks (TrainSettings, LoraSettings)
        raise StageError(f"{where}[{name}]: {err}") from None


def validate(config: Mapping, path: str | os.PathLike | None = None) -> dict:
    """Every table of a parsed config file, typed: {name: table}. A key outside a table is refused too."""
    where = _where(path)
    typed = {}
    for name, table in config.items():
        if name not in TABLES:
            what = f"no table [{name}]" if isinstance(table, Mapping) else f"key {name} is outside any table"
            raise StageError(f"{where}{what} in a recipe config; accepted tables: {', '.join(sorted(TABLES))}")
        typed[name] = from_table(name, table, path)
    return typed


class RecipeConfig(dict):
    """A loaded config: the TOML tables as parsed (a dict, as callers read it) and ``tables``, each typed."""

    def __init__(self, raw: Mapping, tables: Mapping, path: str | os.PathLike | None = None) -> None:
        super().__init__(raw)
        self.tables = dict(tables)
        self.path = path


def table(config: Mapping, name: str, required: bool = True):
    """The typed ``[name]`` table of ``config`` (a ``RecipeConfig``, or a plain dict checked now).

    An absent table is a one-line StageError, or its defaults where ``required`` is false.
    """
    tables = getattr(config, "tables", None)
    if tables is not None and name in tables:
        return tables[name]
    raw = config.get(name)
    if raw is None:
        if required:
            raise StageError(f"the config has no [{name}] table")
        return TABLES[name]()
    return from_table(name, raw, getattr(config, "path", None))
