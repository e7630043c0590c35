"""Reproduction reports: a paper's results table rebuilt from a recipe's own stage outputs.

A system paper reports one row per pipeline step (Moslem, IWSLT 2025, Table 2: base,
teacher, System A, pruned without fine-tuning, pruned + fine-tuning, System B; Liu et
al., IWSLT 2026, Table 3: each quantization step). ``submissions/<name>/report.py``
names those steps as system folders (the ``model/`` of each cached build stage); this
module's rows are evaluated the way ``make eval`` does (harness.evaluation.evaluate.evaluate_rows: the
same decoding, metrics, signatures and results files with provenance, kept under
``build/<track>/reports/<report>/``; a rerun reuses a results file of the same model
content, test set and decode settings instead of decoding again), sizes it from
the safetensors headers (harness.systems.storage, no code run), and writes the table as
Markdown and JSON, atomically. Nothing in the table is typed by hand; a metric the
harness cannot compute (COMET without its model) is shown absent with the reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import results
from harness.files import atomic_write_json, atomic_write_text
from harness.scoring.metrics import CHRF_FOR, METRIC_LABEL
from harness.data.tracks import TestSetSpec, Track, spec_by_name

REPORT_SCHEMA = "iwslt-harness/report"


@dataclass(frozen=True)
class ReportRow:
    """One line of the table: a label and, per direction, the system folder that plays it."""

    label: str
    systems: dict[str, Path]  # lang -> a system folder (holds system.json)
    note: str = ""

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")


@dataclass
class RowResult:
    row: ReportRow
    metrics: dict[str, dict[str, dict]] = field(default_factory=dict)  # lang -> metric -> Score.to_dict()
    size: dict[str, dict] = field(default_factory=dict)  # lang -> {bytes, logical_params, dtypes}

    def value(self, lang: str, metric: str) -> float | None:
        return self.metrics.get(lang, {}).get(metric, {}).get("value")

    def as_dict(self) -> dict:
        from harness.data.tracks import REPO

        def shown(path: Path) -> str:  # repository-relative where it can be: the file is committed
            path = Path(path).resolve()
            return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)

        return {"label": self.row.label, "note": self.row.note,
                "systems": {lang: shown(path) for lang, path in self.row.systems.items()},
                "metrics": self.metrics, "size": self.size}


@functools.lru_cache(maxsize=None)  # stage folders never change, and a report sizes one folder per direction and set
def size_of(folder: Path, track: Track) -> dict:
    """A row's size from the safetensors headers (harness.systems.storage, no code run)."""
    from harness.systems import storage

    report = storage.to_json(storage.check(folder, track))
    totals = report["totals"]
    return {"bytes": totals["size_bytes"], "logical_params": totals["logical_params"],
            "dtypes": sorted(report["dtypes"]), "status": report["status"]}


def resolve_testset(track: Track, testset: str | Path) -> TestSetSpec:
    """One of the track's test sets by name, or a local segmented set folder."""
    spec = spec_by_name(track, str(testset))
    if spec is not None:
        return spec
    folder = Path(testset)
    if not folder.is_dir():
        raise ValueError(f"track {track.name} has no test set {testset!r}, and no such folder exists")
    return TestSetSpec(folder.name, "local", str(folder.resolve()))


def _cell(value: float | None) -> str:
    return "absent" if value is None else f"{value:.2f}"


def render_markdown(results_: Sequence[RowResult], *, langs: Sequence[str], metrics: Sequence[str] = ("bleu", "chrf", "comet"),
                    testset: str, size_unit: tuple[str, int] = ("MB", 10**6)) -> str:
    """The table (one column per direction and metric, then size per direction) and its signatures.

    ``chrf`` in ``metrics`` stands for the direction's paper metric (``CHRF_FOR``).
    """
    unit, scale = size_unit
    header = ["system"]
    for lang in langs:
        header += [f"{lang.upper()} {METRIC_LABEL[CHRF_FOR[lang] if m == 'chrf' else m]}" for m in metrics]
    header += [f"{lang.upper()} params (M)" for lang in langs] + [f"{lang.upper()} {unit}" for lang in langs]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    signatures, absent = {}, {}
    for result in results_:
        cells = [result.row.label]
        for lang in langs:
            for m in metrics:
                name = CHRF_FOR[lang] if m == "chrf" else m
                score = result.metrics.get(lang, {}).get(name)
                cells.append(_cell(score["value"]) if score else "not run")
                if score and score["value"] is not None and score["signature"]:
                    signatures.setdefault((lang, name), score["signature"])
                elif score:
                    absent.setdefault(name, score["absent_reason"])
        for lang in langs:
            params = result.size.get(lang, {}).get("logical_params")
            cells.append("?" if params is None else f"{params / 1e6:.2f}")
        for lang in langs:
            size = result.size.get(lang, {}).get("bytes")
            cells.append("?" if size is None else f"{size / scale:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Test set: `{testset}`. Sizes: every file of one direction's folder, as stored "
                 f"(harness.systems.storage, headers only); parameters are logical (a packed 4-bit byte holds two).")
    for (lang, name), signature in sorted(signatures.items()):
        lines.append(f"- {METRIC_LABEL[name]} en-{lang}: `{signature}`")
    for name, reason in sorted(absent.items()):
        lines.append(f"- {METRIC_LABEL[name]}: absent ({reason})")
    return "\n".join(lines) + "\n"


def write_report(path: Path, markdown: str, data: dict) -> None:
    """``path`` (Markdown) and ``path`` with ``.json`` (the same numbers, with provenance), atomically."""
    data = {"schema": REPORT_SCHEMA, "schema_version": results.SCHEMA_VERSION, **data,
            "provenance": results.provenance()}
    atomic_write_json(path.with_suffix(".json"), data)
    atomic_write_text(path, markdown)
