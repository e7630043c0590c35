"""The results files' schema as typed definitions, one place for every writer and reader (issue 20).

A results summary (``<testset>.json``, harness.results) is written by ``make eval`` (harness.evaluation.evaluate,
harness.evaluation.longform), by the contract runner (harness.evaluation.contract), by ``import-hyps`` (outside teams'
hypotheses) and updated by ``python -m harness speed``; it is read by the leaderboard, the report and
the speed re-measure. The dataclasses below are that agreement: harness.results checks every summary
and segment row against them before it writes, and harness.leaderboard.render checks every summary it reads,
so a writer that drifts fails where it writes, not as a blank cell on the page.

The same definitions are published as a JSON Schema (draft 2020-12), ``schemas/results.schema.json``,
for outside teams to validate their files before they send them:

  python -m harness.results_schema validate leaderboard/results/mini/modelB/talks_test.json
  python -m harness.results_schema write      # regenerate schemas/results.schema.json (make schema)

An object lists the keys the harness reads, with their types; a key marked optional may be absent.
Objects accept keys beyond the listed ones (provenance details grow) except ``Metric`` and
``ConfidenceInterval``, whose shape is fixed (a misspelled ``ci95`` would drop a confidence interval).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness import REPO
from harness.errors import HarnessError, one_line

SCHEMA_VERSION = 2
EVAL_SCHEMA = "iwslt-harness/eval"
LONGFORM_SCHEMA = "iwslt-harness/eval-longform"
RESULT_SCHEMAS = (EVAL_SCHEMA, LONGFORM_SCHEMA)
SCHEMA_FILE = REPO / "schemas" / "results.schema.json"
SCHEMA_ID = f"https://github.com/iwslt-compression-harness/schemas/results-{SCHEMA_VERSION}.schema.json"


class ResultsSchemaError(HarnessError, ValueError):
    """A results file that does not follow the schema, with the path of the first wrong key."""


# ---------------------------------------------------------------- the definitions

@dataclass(frozen=True)
class ConfidenceInterval:
    """A 95 % bootstrap interval, sacreBLEU's "mean ± half_width" (harness.scoring.metrics.confidence_interval)."""

    CLOSED: ClassVar[bool] = True
    low: float
    high: float
    half_width: float
    mean: float | None = None
    n_samples: int | None = None
    seed: int | None = None
    method: str | None = None


@dataclass(frozen=True)
class Metric:
    """One corpus score with its signature; ``value`` null with an ``absent_reason`` when not computed."""

    CLOSED: ClassVar[bool] = True
    value: float | None
    metric: str | None = None
    signature: str | None = None
    absent_reason: str | None = None
    ci95: ConfidenceInterval | None = None


@dataclass(frozen=True)
class SpeedFigure:
    """Median, range and spread of one speed figure over the protocol's repetitions (harness.evaluation.speed)."""

    median: float | None
    min: float | None = None
    max: float | None = None
    spread: float | None = None
    runs: list[float] | None = None


@dataclass(frozen=True)
class SpeedMemory:
    peak_rss_bytes: int | None = None
    gpu_peak_bytes: int | None = None
    gpu_memory_source: str | None = None
    gpu_absent_reason: str | None = None


@dataclass(frozen=True)
class Speed:
    """The speed phase of one direction (harness.evaluation.speed): measured, or absent with the reason. A block
    without a status predates the speed protocol: the leaderboard compares it with nothing."""

    status: Literal["measured", "absent"] | None = None
    absent_reason: str | None = None
    protocol: dict[str, Any] | None = None
    comparability: dict[str, Any] | None = None
    comparability_key: str | None = None
    rtfx: SpeedFigure | None = None
    tokens_per_second: SpeedFigure | None = None
    batch1_latency_seconds: SpeedFigure | None = None
    sample_audio_seconds: float | None = None
    load: dict[str, Any] | None = None
    contended: bool | None = None
    memory: SpeedMemory | None = None
    measured: str | None = None


@dataclass(frozen=True)
class LegacySpeed:
    """A speed block written before the speed protocol (one run, no comparability): shown as no speed."""

    rtfx: float | None = None
    peak_rss_bytes: int | None = None
    gpu_peak_bytes: int | None = None
    batch1_latency_mean_seconds: float | None = None


@dataclass(frozen=True)
class LanguageReport:
    """One direction (en-<lang>) of one test set: scores, failure rates, speed and what decoded it."""

    metrics: dict[str, Metric]
    degeneration: dict[str, dict[str, Any]] | None = None
    speed: Speed | LegacySpeed | None = None
    decode_pass: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    decode_settings: dict[str, Any] | None = None
    truncated_audio: int | None = None
    unfinished: int | None = None
    hypothesis_lines: list[str] | None = None
    resegmentation: dict[str, Any] | None = None
    contract_run: dict[str, Any] | None = None


@dataclass(frozen=True)
class TestSetInfo:
    """Which test set, at which version and content hash (harness.data.testsets)."""

    __test__: ClassVar[bool] = False  # a dataclass named Test*: not a pytest test class
    name: str
    content_hash: str
    version: str | None = None
    utterances: int | None = None
    talks: int | None = None
    reference_segments: int | None = None
    audio_seconds: float | None = None
    domain: str | None = None


@dataclass(frozen=True)
class StorageUnit:
    """The size verdict of one language unit (harness.systems.storage)."""

    size_bytes: int | None = None
    logical_params: int | None = None
    files: list[str] | None = None
    limit_2026: dict[str, Any] | None = None
    bin_2025: dict[str, Any] | None = None
    reduction: dict[str, Any] | None = None


@dataclass(frozen=True)
class StorageVerdicts:
    units: dict[str, StorageUnit] | None = None
    judged_unit: str | None = None
    judged_by: str | None = None
    compliant: bool | None = None
    absent_reason: str | None = None
    rule: dict[str, Any] | None = None
    track: str | None = None


@dataclass(frozen=True)
class Storage:
    """``python -m harness check``'s report on the system folder (harness.systems.storage)."""

    status: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    totals: dict[str, Any] | None = None
    verdicts: StorageVerdicts | None = None


@dataclass(frozen=True)
class SystemManifest:
    """The system's system.json (harness.systems.models.SystemManifest) or a contract system's stand-in."""

    format: str | None = None
    built_by: str | None = None
    base_model: str | None = None
    data_condition: str | None = None
    condition: str | None = None


@dataclass(frozen=True)
class GitState:
    commit: str | None = None
    dirty: bool | None = None


@dataclass(frozen=True)
class Provenance:
    """What ran: the harness's commit, package versions, hardware, pinned hub revisions (harness.results)."""

    git: GitState | None = None
    packages: dict[str, str] | None = None
    hardware: dict[str, Any] | None = None
    hub_revisions: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeclaredSize:
    """An imported system's own declaration of its size (harness.leaderboard.import_hyps)."""

    bytes: int | None = None
    params: int | None = None
    same_as: str | None = None


@dataclass(frozen=True)
class ResultsSummary:
    """One (system, test set) results summary, ``<testset>.json``."""

    schema: Literal["iwslt-harness/eval", "iwslt-harness/eval-longform"]
    schema_version: int
    system: str
    track: str
    testset: TestSetInfo
    languages: dict[str, LanguageReport]
    system_manifest: SystemManifest | None = None
    decode: dict[str, Any] | None = None
    storage: Storage | None = None
    provenance: Provenance | None = None
    created: str | None = None
    # long-form sets (harness.evaluation.longform)
    segmentation: dict[str, Any] | None = None
    segments: dict[str, list[list[float]]] | None = None
    # run by contract (harness.evaluation.contract)
    run_by: str | None = None
    contract: dict[str, Any] | None = None
    # imported hypotheses (harness.leaderboard.import_hyps)
    team: str | None = None
    team_system: str | None = None
    verification: str | None = None
    declared: DeclaredSize | None = None
    verified: dict[str, Any] | None = None
    size: dict[str, Any] | None = None
    size_flags: list[str] | None = None
    imported: dict[str, Any] | None = None


@dataclass(frozen=True)
class SegmentRow:
    """One line of ``<testset>.segments.jsonl``: a segmented set's utterance (``id``) or a long-form
    set's realigned reference line (``talk``, ``index``), with its hypothesis and sentence scores."""

    lang: str
    hypothesis: str
    id: str | None = None
    talk: str | None = None
    index: int | None = None
    source: str | None = None
    reference: str | None = None
    audio_seconds: float | None = None
    decode_seconds: float | None = None
    new_tokens: int | None = None
    finished: bool | None = None
    truncated_audio: bool | None = None
    flags: list[str] | None = None
    scores: dict[str, float | None] | None = None


DEFINITIONS = (ResultsSummary, SegmentRow, TestSetInfo, LanguageReport, Metric, ConfidenceInterval, Speed,
               SpeedFigure, SpeedMemory, LegacySpeed, Storage, StorageVerdicts, StorageUnit, SystemManifest, Provenance,
               GitState, DeclaredSize)


# ---------------------------------------------------------------- checking

@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, resolved type) of each field of a definition, resolved once (a check runs per row)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


@functools.cache
def _required(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls)
                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def _type_name(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if kind is type(None):
        return "null"
    if kind is Any:
        return "anything"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(k) for k in typing.get_args(kind))
    if origin is Literal:
        return " or ".join(json.dumps(v) for v in typing.get_args(kind))
    if origin is dict:
        return "an object"
    if origin is list:
        return "a list"
    if dataclasses.is_dataclass(kind):
        return "an object"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[kind]


def _matches(kind: Any, value: object) -> bool:
    """Whether ``value`` has the JSON shape of ``kind`` at this level (containers checked by _check)."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return True
    if kind is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(k, value) for k in typing.get_args(kind))
    if origin is Literal:
        return value in typing.get_args(kind)
    if origin is dict or dataclasses.is_dataclass(kind):
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list)
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # JSON has one number type: an integer is a number
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


class _Mismatch(Exception):
    def __init__(self, key_path: str, reason: str) -> None:
        super().__init__(f"{key_path}: {reason}" if key_path else reason)


def _check(kind: Any, value: object, key_path: str) -> None:
    if not _matches(kind, value):
        raise _Mismatch(key_path, f"expected {_type_name(kind)}, found {json.dumps(value)[:60]}")
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        mismatches = []
        for option in typing.get_args(kind):
            if _matches(option, value):
                try:
                    _check(option, value, key_path)
                    return
                except _Mismatch as mismatch:
                    mismatches.append(mismatch)
        raise mismatches[0]
    elif origin is dict:
        _, item = typing.get_args(kind)
        for key, inner in value.items():
            _check(item, inner, f"{key_path}.{key}" if key_path else key)
    elif origin is list:
        (item,) = typing.get_args(kind)
        for index, inner in enumerate(value):
            _check(item, inner, f"{key_path}[{index}]")
    elif dataclasses.is_dataclass(kind):
        _check_object(kind, value, key_path)


def _check_object(cls: type, data: object, key_path: str) -> None:
    if not isinstance(data, dict):
        raise _Mismatch(key_path, f"expected an object, found {json.dumps(data)[:60]}")
    for name in _required(cls):
        if name not in data:
            raise _Mismatch(key_path, f"the required key {name!r} is missing")
    fields = _fields(cls)
    if getattr(cls, "CLOSED", False):
        unknown = sorted(set(data) - {name for name, _ in fields})
        if unknown:
            raise _Mismatch(key_path, f"unknown key {unknown[0]!r} (accepted: "
                                      f"{', '.join(name for name, _ in fields)})")
    for name, kind in fields:
        if name in data:
            _check(kind, data[name], f"{key_path}.{name}" if key_path else name)


def check_object(cls: type, data: object, where: str) -> None:
    """Raise ResultsSchemaError, "<where>: <key path>: <what is wrong>", at the first key of ``data``
    that does not follow the definition ``cls``."""
    try:
        _check_object(cls, data, "")
    except _Mismatch as mismatch:
        raise ResultsSchemaError(f"{where}: {mismatch}") from None


def check_summary(summary: object, where: str = "summary") -> None:
    """A results summary as the leaderboard reads it; ResultsSchemaError names what is wrong."""
    if isinstance(summary, dict) and summary.get("schema") not in RESULT_SCHEMAS:
        raise ResultsSchemaError(f"{where}: unknown schema {summary.get('schema')!r} "
                                 f"(expected one of {', '.join(RESULT_SCHEMAS)})")
    check_object(ResultsSummary, summary, where)


def check_segment_rows(rows: list[dict], where: str = "segments") -> None:
    for number, row in enumerate(rows, 1):
        check_object(SegmentRow, row, f"{where} line {number}")


# ---------------------------------------------------------------- the JSON Schema

def _json_type(kind: Any) -> dict:
    origin = typing.get_origin(kind)
    if kind is Any:
        return {}
    if kind is type(None):
        return {"type": "null"}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_json_type(k) for k in typing.get_args(kind)]}
    if origin is Literal:
        return {"enum": list(typing.get_args(kind))}
    if origin is dict:
        return {"type": "object", "additionalProperties": _json_type(typing.get_args(kind)[1])}
    if origin is list:
        return {"type": "array", "items": _json_type(typing.get_args(kind)[0])}
    if dataclasses.is_dataclass(kind):
        return {"$ref": f"#/$defs/{kind.__name__}"}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[kind]}


def _definition(cls: type) -> dict:
    return {"type": "object", "description": " ".join((cls.__doc__ or cls.__name__).split()),
            "properties": {name: _json_type(kind) for name, kind in _fields(cls)},
            "required": list(_required(cls)), "additionalProperties": not getattr(cls, "CLOSED", False)}


def json_schema() -> dict:
    """The definitions as one JSON Schema: a summary at the root, a segment row under $defs."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": f"IWSLT compression harness results, schema version {SCHEMA_VERSION}",
            "description": "A results summary (<testset>.json); each line of <testset>.segments.jsonl "
                           "follows #/$defs/SegmentRow.",
            "$ref": "#/$defs/ResultsSummary",
            "$defs": {cls.__name__: _definition(cls) for cls in DEFINITIONS}}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- command line

def _validate_file(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsSchemaError(f"{path}: cannot read ({one_line(error)})") from None
    segments = path.name.endswith(".jsonl")
    try:
        data = [json.loads(line) for line in text.splitlines() if line.strip()] if segments else json.loads(text)
    except ValueError as error:
        raise ResultsSchemaError(f"{path}: not JSON ({one_line(error)})") from None
    if segments:
        check_segment_rows(data, str(path))
    else:
        check_summary(data, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.results_schema", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check results files (.json summaries, .segments.jsonl rows)")
    validate.add_argument("files", nargs="+", type=Path)
    write = commands.add_parser("write", help=f"write the JSON Schema (default {SCHEMA_FILE.name} in schemas/)")
    write.add_argument("--out", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)
    if args.command == "write":
        from harness.files import atomic_write_text

        atomic_write_text(args.out, schema_text())
        print(f"wrote {args.out}")
        return 0
    try:
        for path in args.files:
            _validate_file(path)
    except ResultsSchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(args.files)} file(s) follow results schema version {SCHEMA_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
