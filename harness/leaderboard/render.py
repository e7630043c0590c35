"""`python -m harness leaderboard`: render leaderboard/ from results files only.

Reads every results summary under ``--results`` (``<track>/<system>/<testset>.json``,
schemas ``iwslt-harness/eval`` and ``iwslt-harness/eval-longform``, written by
harness.evaluation.evaluate / harness.evaluation.longform) and writes, atomically, to ``--out``:

  README.md     Markdown tables (tabulate), one per comparable group, each followed by its speed
                tables (one per speed comparability key)
  results.csv   one row per (system, test set, language pair), reproduced and reported
  results.json  the same rows, the groups and their signatures
  index.html    one self-contained page (inline CSS and JS, no network): a sortable table
                per group, filters by track / test set / language pair, a Pareto plot of
                quality against size with the track's size limit drawn, and a detail view
                per system (its storage verdict: totals, units, dtypes/quantization); rendered
                by Jinja2 from harness/templates/leaderboard.html.j2 (package data) with
                autoescaping, so a name from a submission is text, never markup

What it implements, and from where:
- Never rank incomparable numbers (the lesson of sacreBLEU, Post 2018, "A Call for
  Clarity in Reporting BLEU Scores": a score is meaningful only with its signature).
  A ranked group is keyed by track, test set (name + content hash), language pair,
  long-form segmentation method and the signature of every metric (sacreBLEU signature;
  COMET model id); rows whose signatures differ land in different groups.
- The Δ column of the WMT26 model-compression organizers' leaderboard
  (thammegowda/wmt26-model-compression): each score's difference from the track's
  uncompressed base (the ``baseline`` system) in the same group.
- The IWSLT rules (papers.md): compliance with the 2026 4 GB on-disk limit and the 2025
  size bin, scaled per track by harness.data.tracks / harness.systems.storage; constrained (in-domain
  talks data only) vs unconstrained data conditions.
- Every score with its 95 % bootstrap confidence interval where its results file has one
  (harness.scoring.metrics: sacreBLEU's bootstrap, 1,000 resamples, seed 12345; COMET: bootstrap of
  segment means on the same draws), shown as "value ±half width"; a file written before the
  intervals existed shows the bare value, never an invented interval.
- Speed only beside comparable speed: the speed protocol's block (harness.evaluation.speed) names what
  a figure depends on (hardware, device, backend, dtype, batch size, processes, threads,
  sample) and hashes it into a comparability key; each group's speed is one table per key,
  ranked by median RTFx among runs not under contention (CPU load by others below the
  protocol's threshold); contended or unsampled runs are listed below, never ranked.
- Rows run by contract (harness.evaluation.contract: a submission's own run.sh decoded, as the WMT26
  organizers run teams' systems) are marked "run by contract" (``run_by_contract``).
- Reported rows: the systems' published numbers (Moslem, IWSLT 2025, Table 2; Liu,
  Koneru, Niehues, IWSLT 2026) kept apart, with their own test set and metric settings,
  never ranked with reproduced rows.

The outputs are a pure function of the results files: rows are sorted, JSON keys are
sorted, paths are relative to the results folder, and the only time shown is the newest
results file's ``created`` stamp; the same results give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tabulate import tabulate

from harness.errors import HarnessError, one_line
from harness.leaderboard.import_hyps import SIZE_TOLERANCE   # one tolerance for a declared size, at import and on the board
from harness.scoring.metrics import (BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, CHRF_FOR, LOWER_IS_BETTER, METRIC_LABEL as LABEL,
                             METRIC_NAMES as METRICS, oriented)
from harness.results import RESULTS_ROOT
from harness.results_schema import ResultsSchemaError, check_summary
from harness.files import atomic_write_text
from harness.data.tracks import BASE_SYSTEM, GB, REAL_RULE, REPO

DEFAULT_RESULTS = RESULTS_ROOT
DEFAULT_OUT = REPO / "leaderboard"
SCHEMA = "iwslt-harness/leaderboard"
PAGE_TEMPLATE = "leaderboard.html.j2"   # harness/templates/, package data

# The data condition of the known submissions, used only when a system manifest does not
# declare one (papers.md; the task's 2025 rules: constrained = only ACL 60/60 talks data).
KNOWN_CONDITIONS = {
    "baseline": "n/a",
    "modelA": "constrained",           # Moslem 2025 System A: ACL 60/60 (+ its own KD outputs) only
    "modelB": "unconstrained",         # System B adds 100 k CoVoST2 utterances (general domain)
    "diet-kit": "unconstrained",       # Liu et al. 2026: CoVoST + Europarl-ST fine-tuning
    "contract-baseline": "n/a",        # the base's weights, run by contract (harness.evaluation.contract)
}
VERIFIED_RECIPE = "reproduced from a recipe"
VERIFIED_SIZE = "size verified"
VERIFIED_NONE = "hypotheses only"
_RECIPE = re.compile(r"^submissions/[A-Za-z0-9._-]+/build\.py$")

# The published numbers, typed from the papers (../shared/reference/papers.md), never
# mixed with reproduced rows. COMET in Moslem 2025 is wmt20-comet-da x100 (can be negative).
MOSLEM_2025 = "Moslem, IWSLT 2025, 'Efficient Speech Translation through Model Compression and Knowledge Distillation', Table 2"
LIU_2026 = "Liu, Koneru, Niehues, IWSLT 2026, 'Post-Training Quantization for Speech LLMs'"
REPORTED_TESTSET = "ACL 60/60 test (100 utterances, train_test_split seed 0)"
REPORTED_SETTINGS = {
    "moslem2025": {"bleu": "sacreBLEU BLEU (tok 13a for DE, zh for ZH)", "chrf": "sacreBLEU chrF (ZH)",
                   "chrf++": "sacreBLEU chrF++ (DE)", "comet": "Unbabel/wmt20-comet-da x100"},
    "liu2026": {"comet": "Unbabel/wmt22-comet-da x100"},
}
REPORTED = [
    # (paper, system, lang, metrics, gb, condition)
    *[("moslem2025", system, lang, metrics, gb, condition)
      for system, gb, condition, de, zh in (
          ("Baseline (Qwen2-Audio-7B-Instruct)", 16.79, "n/a",
           {"bleu": 22.96, "chrf++": 49.88, "comet": 8.61}, {"bleu": 38.73, "chrf": 32.53, "comet": 17.38}),
          ("Teacher (+ full fine-tuning)", 16.79, "constrained",
           {"bleu": 39.28, "chrf++": 65.27, "comet": 56.32}, {"bleu": 58.54, "chrf": 52.54, "comet": 65.97}),
          ("System A (QLoRA + KD)", 9.64, "constrained",
           {"bleu": 43.25, "chrf++": 68.02, "comet": 59.36}, {"bleu": 59.60, "chrf": 53.94, "comet": 68.42}),
          ("System B (pruning + KD + QLoRA + CoVoST2)", 8.65, "unconstrained",
           {"bleu": 39.59, "chrf++": 65.14, "comet": 59.21}, {"bleu": 56.52, "chrf": 50.74, "comet": 64.34}))
      for lang, metrics in (("de", de), ("zh", zh))],
    ("liu2026", "Diet-KIT uncompressed fine-tuned", "de", {"comet": 75.6}, None, "unconstrained"),
    ("liu2026", "Diet-KIT uncompressed fine-tuned", "zh", {"comet": 79.5}, None, "unconstrained"),
    ("liu2026", "Diet-KIT (HQQ 4/3/2-bit + AWQ)", "de", {"comet": 74.4}, 3.98, "unconstrained"),
    ("liu2026", "Diet-KIT (HQQ 4/3/2-bit + AWQ)", "zh", {"comet": 77.1}, 3.98, "unconstrained"),
]
PAPERS = {"moslem2025": MOSLEM_2025, "liu2026": LIU_2026}

CSV_COLUMNS = (
    "kind", "track", "testset", "testset_hash", "segmentation", "lang_pair", "group", "rank", "system",
    "data_condition", "verification", "run_by_contract",
    *[f"{m}{suffix}" for m in METRICS for suffix in ("", "_ci_low", "_ci_high", "_delta", "_signature")],
    "primary_metric", "degeneration_any_rate", "degeneration_empty_rate", "degeneration_repetition_rate",
    "size_bytes", "size_gb", "size_source", "declared_bytes", "size_flag", "logical_params", "reduction_bytes",
    "reduction_params", "limit_bytes",
    "complies_2026", "bin_2025", "storage_status", "rtfx", "rtfx_spread", "batch1_latency_median_seconds",
    "speed_contended", "speed_comparability_key", "peak_rss_bytes", "gpu_peak_bytes", "created", "source",
)
# The speed protocol's block (harness.evaluation.speed) has one of these statuses; any other block (or none)
# predates the protocol and is "no speed measured": its single figure names no comparability.
SPEED_STATUSES = ("measured", "absent")
# What a speed figure depends on, as the speed table's title names it (in this order; others after).
SPEED_FIELDS = (("hardware", "hardware"), ("device", "device"), ("backend", "backend"), ("dtype", "dtype"),
                ("batch_size", "batch size"), ("processes", "processes"), ("torch_threads", "torch threads"),
                ("sample", "sample"))
SPEED_HEADER = ("system", "RTFx median", "spread", "batch-1 latency median (s)", "tokens/s median", "peak RSS",
                "GPU peak", "load (others' CPU)")


class LeaderboardError(HarnessError, ValueError):
    """A one-line reason the leaderboard cannot be rendered."""


# ---------------------------------------------------------------- reading

def read_results(root: Path) -> list[tuple[str, dict]]:
    """Every results summary under ``root`` as (path relative to root, summary), sorted by path.

    Segment files (``*.segments.jsonl``) and resume checkpoints are not summaries and are not
    read; any other ``*.json`` must be a valid summary, or the render stops (a silently
    skipped file would drop a system from the board).
    """
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root).as_posix()
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise LeaderboardError(f"{relative}: not a readable JSON results file ({one_line(error)})") from None
        _validate(relative, summary)
        out.append((relative, summary))
    return out


def _validate(relative: str, summary) -> None:
    try:
        check_summary(summary, relative)
    except ResultsSchemaError as error:
        raise LeaderboardError(str(error)) from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- rows

def data_condition(summary: dict) -> str:
    """The manifest's declared condition, else the known submissions' table, else unknown."""
    manifest = summary.get("system_manifest") or {}
    declared = manifest.get("data_condition") or manifest.get("condition")
    if isinstance(declared, str) and declared:
        return declared
    return KNOWN_CONDITIONS.get(summary["system"], "unknown")


def verification(summary: dict) -> str:
    """How much of a row the harness itself established (strongest first)."""
    manifest = summary.get("system_manifest") or {}
    if isinstance(manifest.get("built_by"), str) and _RECIPE.match(manifest["built_by"]):
        return VERIFIED_RECIPE
    storage = summary.get("storage") or {}
    if storage.get("totals") and storage.get("status") not in (None, "invalid"):
        return VERIFIED_SIZE
    return VERIFIED_NONE


def _unit(storage: dict, lang: str) -> dict:
    """The storage unit that translates ``lang`` (harness.systems.storage judges per language unit)."""
    verdicts = storage.get("verdicts") or {}
    units = verdicts.get("units") or {}
    return units.get(lang) or units.get(verdicts.get("judged_unit") or "") or {}


def _row(relative: str, summary: dict, lang: str) -> dict:
    report = summary["languages"][lang]
    testset = summary["testset"]
    storage = summary.get("storage") or {}
    unit = _unit(storage, lang)
    totals = storage.get("totals") or {}
    size = unit.get("size_bytes", totals.get("weight_file_bytes"))
    declared = summary.get("declared") if isinstance(summary.get("declared"), dict) else {}
    declared_bytes = declared.get("bytes") if _is_number(declared.get("bytes")) else None
    # Hypotheses only: the team's declared bytes stand in for the size, marked as declared.
    size_source = "verified" if size is not None else "declared" if declared_bytes is not None else None
    if size is None:
        size = declared_bytes
    limit = unit.get("limit_2026") or {}
    size_bin = unit.get("bin_2025") or {}
    reduction = unit.get("reduction") or {}
    speed = _speed_block(report.get("speed"))
    measured = speed if (speed or {}).get("status") == "measured" else {}
    memory = measured.get("memory") or {}
    degeneration = report.get("degeneration") or {}
    segmentation = (summary.get("segmentation") or {}).get("method")
    metrics = {}
    for name in METRICS:
        metric = report["metrics"].get(name)
        if metric is not None:
            metrics[name] = {"value": metric.get("value"), "signature": metric.get("signature"),
                             "absent_reason": metric.get("absent_reason"), "ci95": metric.get("ci95")}
    manifest = summary.get("system_manifest") or {}
    return {
        "kind": "reproduced",
        "track": summary["track"],
        "system": summary["system"],
        "testset": testset["name"],
        "testset_hash": testset["content_hash"],
        "testset_version": testset.get("version"),
        "utterances": testset.get("utterances", testset.get("reference_segments")),
        "segmentation": segmentation,
        "lang": lang,
        "lang_pair": f"en-{lang}",
        "metrics": metrics,
        "primary_metric": None,   # set per group: every row of a group ranks by the same metric
        "deltas": {},
        "data_condition": data_condition(summary),
        "verification": verification(summary),
        # Run by contract (harness.evaluation.contract): the submission's run.sh decoded, the harness scored.
        "run_by_contract": summary.get("run_by") == "contract",
        "format": manifest.get("format"),
        "built_by": manifest.get("built_by") if isinstance(manifest.get("built_by"), str)
        and not manifest["built_by"].startswith("/") else None,
        "degeneration": {kind: (value or {}).get("rate") for kind, value in sorted(degeneration.items())
                         if isinstance(value, dict)},
        "size_bytes": size,
        "size_source": size_source,
        "declared_bytes": declared_bytes,
        "declared_same_as": declared.get("same_as") if isinstance(declared.get("same_as"), str) else None,
        "size_flag": None,   # set by build: a declaration more than 1 % below the same model's verified size
        "size_gb": size / GB if isinstance(size, (int, float)) else None,
        "logical_params": unit.get("logical_params", totals.get("logical_params")),
        "reduction_bytes": reduction.get("bytes"),
        "reduction_params": reduction.get("params"),
        "limit_bytes": limit.get("limit_bytes"),
        "complies_2026": limit.get("complies"),
        "bin_2025": size_bin.get("bin"),
        "storage_status": storage.get("status"),
        "speed": speed,
        "rtfx": (measured.get("rtfx") or {}).get("median"),
        "rtfx_spread": (measured.get("rtfx") or {}).get("spread"),
        "batch1_latency_median_seconds": (measured.get("batch1_latency_seconds") or {}).get("median"),
        "speed_contended": measured.get("contended"),
        "speed_comparability_key": measured.get("comparability_key"),
        "peak_rss_bytes": memory.get("peak_rss_bytes"),
        "gpu_peak_bytes": memory.get("gpu_peak_bytes"),
        "created": summary.get("created"),
        "git_commit": ((summary.get("provenance") or {}).get("git") or {}).get("commit"),
        "git_dirty": ((summary.get("provenance") or {}).get("git") or {}).get("dirty"),
        "source": relative,
        "storage": _storage_detail(storage),
    }


def _speed_block(block) -> dict | None:
    """The speed protocol's block as written (status measured or absent), else None (no speed measured)."""
    return block if isinstance(block, dict) and block.get("status") in SPEED_STATUSES else None


def speed_groups(rows: list[dict]) -> dict:
    """A group's speed, kept apart by what it was measured under.

    ``speed_groups``: one entry per comparability key (sorted by title, then key), its ``ranked``
    systems by median RTFx (fastest first; ties in name order) among runs not under contention,
    and its ``contended`` systems (contended, or load not sampled: nothing says the run had the
    machine), in name order and never ranked. ``speed_absent``: [{system, reason}] for the protocol's absent
    blocks (and a measured one without a key, comparable with nothing). ``speed_none``: systems
    whose results file has no protocol block."""
    by_key: dict[str, list[dict]] = {}
    absent, none = [], []
    for row in sorted(rows, key=lambda r: r["system"]):
        speed = row["speed"]
        if speed is None:
            none.append(row["system"])
        elif speed["status"] == "absent" or not row["speed_comparability_key"]:
            reason = ((speed.get("absent_reason") or "no reason given") if speed["status"] == "absent"
                      else "measured without a comparability key: comparable with no other measurement")
            absent.append({"system": row["system"], "reason": reason})
        else:
            by_key.setdefault(row["speed_comparability_key"], []).append(row)
    tables = []
    for key in by_key:
        members = by_key[key]
        ranked = sorted((r for r in members if r["speed_contended"] is False),
                        key=lambda r: (r["rtfx"] is None, -(r["rtfx"] or 0.0), r["system"]))
        comparability = members[0]["speed"].get("comparability") or {}
        tables.append({"comparability": comparability, "comparability_key": key, "title": _speed_title(comparability),
                       "ranked": [r["system"] for r in ranked],
                       "contended": [r["system"] for r in members if r["speed_contended"] is not False]})
    tables.sort(key=lambda t: (t["title"], t["comparability_key"]))  # readable order, and a total one
    return {"speed_groups": tables, "speed_absent": absent, "speed_none": none}


def _speed_title(comparability: dict) -> str:
    known = [key for key, _ in SPEED_FIELDS]
    pairs = [(label, comparability[key]) for key, label in SPEED_FIELDS if key in comparability]
    pairs += [(key, comparability[key]) for key in sorted(comparability) if key not in known]
    title = " · ".join(f"{label} {'—' if value is None else value}" for label, value in pairs)
    return title or "comparability unknown"


def _storage_detail(storage: dict) -> dict:
    """What the detail view shows of a storage verdict: no absolute paths, only what is present."""
    verdicts = storage.get("verdicts") or {}
    detail = {"status": storage.get("status"), "reason": storage.get("reason"), "totals": storage.get("totals"),
              "rule": verdicts.get("rule"), "judged_by": verdicts.get("judged_by"),
              "judged_unit": verdicts.get("judged_unit"), "compliant": verdicts.get("compliant"),
              "units": verdicts.get("units")}
    for key in ("dtypes", "components", "quantization"):   # present when a full storage report was kept
        if storage.get(key):
            detail[key] = storage[key]
    return {key: value for key, value in detail.items() if value is not None}


def group_key(row: dict) -> tuple:
    """What must be equal for two numbers to be ranked together."""
    signatures = tuple((name, (row["metrics"].get(name) or {}).get("signature")) for name in METRICS)
    return (row["track"], row["testset"], row["testset_hash"], row["segmentation"] or "", row["lang"], signatures)


def _group_id(key: tuple) -> str:
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
    return f"{key[0]}/{key[1]}/en-{key[4]}/{digest}"


def flag_declared_sizes(rows: list[dict]) -> None:
    """Mark each row whose declared bytes are more than SIZE_TOLERANCE below the verified size
    of the same model: the row named by its ``same_as`` (import-hyps --same-as), else the row of
    the same system name (itself, when imported with --model), in the same track and language."""
    verified = {}
    for row in rows:
        if row["size_source"] == "verified" and row["size_bytes"] is not None:
            verified.setdefault((row["track"], row["system"], row["lang"]), row["size_bytes"])
    for row in rows:
        if row["declared_bytes"] is None:
            continue
        model = row["declared_same_as"] or row["system"]
        measured = verified.get((row["track"], model, row["lang"]))
        if measured and row["declared_bytes"] < measured * (1 - SIZE_TOLERANCE):
            below = 100 * (measured - row["declared_bytes"]) / measured
            row["size_flag"] = (f"declared {row['declared_bytes']:,} bytes, {below:.1f} % below the verified "
                                f"{measured:,} bytes of {model}")


def pareto_front(points: list[tuple[str, float, float]]) -> set[str]:
    """Names of the (name, size, quality) points no other point beats on both (smaller-or-equal
    size and higher-or-equal quality, one of them strictly); quality is oriented (higher is better)."""
    front = set()
    for name, size, quality in points:
        if not any(s <= size and q >= quality and (s < size or q > quality) for _, s, q in points):
            front.add(name)
    return front


def build(summaries: list[tuple[str, dict]], *, base_system: str = BASE_SYSTEM,
          significance: Callable[[list[dict], str], dict[str, int]] | None = None) -> dict:
    """The leaderboard's data: groups of comparable rows (ranked, with Δ), and the reported rows.

    ``significance``, when given, is called per group with (rows, primary metric) and returns
    a cluster number per system (systems in one cluster are not significantly different);
    it is shown beside the rank. Hook for harness.scoring.significance.rank_clusters.
    """
    buckets: dict[tuple, list[dict]] = {}
    all_rows = []
    for relative, summary in summaries:
        for lang in sorted(summary["languages"]):
            row = _row(relative, summary, lang)
            buckets.setdefault(group_key(row), []).append(row)
            all_rows.append(row)
    flag_declared_sizes(all_rows)
    groups = []
    for key in sorted(buckets, key=lambda k: json.dumps(k)):
        rows = buckets[key]
        names = [row["system"] for row in rows]
        if len(names) != len(set(names)):
            dup = sorted({n for n in names if names.count(n) > 1})[0]
            raise LeaderboardError(f"system {dup!r} has two results files for {_group_id(key)} "
                                   f"({', '.join(sorted(r['source'] for r in rows if r['system'] == dup))})")
        lang = key[4]
        primary = _group_primary(lang, rows)
        base = next((row for row in rows if row["system"] == base_system), None)
        for row in rows:
            row["primary_metric"] = primary
            row["group"] = _group_id(key)
            for name, metric in row["metrics"].items():
                base_value = ((base or {}).get("metrics", {}).get(name) or {}).get("value")
                value = metric["value"]
                # Same group = same signature, so the difference is between comparable numbers.
                row["deltas"][name] = (value - base_value) if value is not None and base_value is not None else None
        # Competition ranking ("1, 2, 2, 4") by the primary metric, best first (harness.scoring.metrics.oriented:
        # a lower TER is better); ties and the unscored in name order.
        rows.sort(key=lambda r: (_value(r, primary) is None, -oriented(primary, _value(r, primary) or 0.0), r["system"]))
        for row in rows:
            value = _value(row, primary)
            row["rank"] = None if value is None else 1 + sum(
                1 for other in rows if _value(other, primary) is not None
                and oriented(primary, _value(other, primary)) > oriented(primary, value))
        clusters = significance(rows, primary) if significance is not None else {}
        for row in rows:
            row["cluster"] = clusters.get(row["system"])
        # The front is drawn through verified sizes only: a declared size is plotted (hollow), never starred.
        points = [(r["system"], r["size_bytes"], oriented(primary, _value(r, primary))) for r in rows
                  if r["size_source"] == "verified" and _value(r, primary) is not None]
        front = pareto_front(points)
        for row in rows:
            row["pareto"] = row["system"] in front
        limits = sorted({r["limit_bytes"] for r in rows if r["limit_bytes"] is not None})
        groups.append({
            "id": _group_id(key), "track": key[0], "testset": key[1], "testset_hash": key[2],
            "segmentation": key[3] or None, "lang": lang, "lang_pair": f"en-{lang}",
            "signatures": {name: sig for name, sig in key[5] if sig is not None},
            "absent": {name: reason for name, reason in sorted(
                {(n, (r["metrics"].get(n) or {}).get("absent_reason")) for r in rows for n in METRICS
                 if (r["metrics"].get(n) or {}).get("value") is None
                 and (r["metrics"].get(n) or {}).get("absent_reason")})},
            "primary_metric": primary, "base_system": base["system"] if base else None,
            "limit_bytes": limits[0] if len(limits) == 1 else None,
            "rows": rows,
            **speed_groups(rows),
        })
    created = sorted(r["created"] for g in groups for r in g["rows"] if isinstance(r.get("created"), str))
    return {"schema": SCHEMA, "schema_version": 1, "generated_from_newest_result": created[-1] if created else None,
            "base_system": base_system, "groups": groups, "reported": reported_rows()}


def _group_primary(lang: str, rows: list[dict]) -> str:
    """COMET where a row has a value (the 2026 primary metric), else chrF++ (chrF for Chinese), else BLEU."""
    for name in ("comet", CHRF_FOR.get(lang, "chrf++"), "bleu"):
        if any(_value(r, name) is not None for r in rows):
            return name
    return "bleu"


def _value(row: dict, name: str):
    return (row["metrics"].get(name) or {}).get("value")


def reported_rows() -> list[dict]:
    """The papers' published numbers, each with its paper, test set and metric settings."""
    rows = []
    for paper, system, lang, metrics, gb, condition in REPORTED:
        # The 2026 limit and 2025 bins of the real 7B tracks (harness.data.tracks.REAL_RULE) on the published GB.
        size_bytes = None if gb is None else round(gb * GB)
        size_bin = None if size_bytes is None else REAL_RULE.bin_of(size_bytes)
        rows.append({
            "kind": "reported", "paper": paper, "source": PAPERS[paper], "system": system,
            "track": "iwslt (published)", "testset": REPORTED_TESTSET, "lang": lang, "lang_pair": f"en-{lang}",
            "metrics": {name: {"value": value, "signature": REPORTED_SETTINGS[paper][name]}
                        for name, value in metrics.items()},
            "data_condition": condition, "verification": "reported in the paper", "size_gb": gb,
            "complies_2026": None if size_bytes is None else REAL_RULE.complies(size_bytes),
            "bin_2025": size_bin.name if size_bin is not None else None,
        })
    return rows


# ---------------------------------------------------------------- formatting

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def _md_text(text: str) -> str:
    """A name from a submission as literal text in Markdown: every punctuation mark that could open
    markup (HTML tags, links, emphasis, table cells) is backslash-escaped (CommonMark)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def _num(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _delta(value) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _bytes(value) -> str:
    return "—" if value is None else f"{value:,}"


def _mib(value) -> str:
    return "—" if value is None else f"{value / 2**20:,.0f} MiB"


def _gb(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _yes(value, yes="✓", no="✗") -> str:
    return "—" if value is None else (yes if value else no)


def _score(metric: dict | None) -> str:
    """A score with its 95 % interval's half width ("45.83 ±1.22"); the bare value where none was stored."""
    metric = metric or {}
    interval = metric.get("ci95")
    if metric.get("value") is None or interval is None:
        return _num(metric.get("value"))
    return f"{_num(metric['value'])} ±{_num(interval['half_width'])}"


def _spread(value) -> str:
    # The protocol's spread is (max - min) / median of the repetitions; shown as a share of the median.
    return "—" if value is None else f"±{100 * value:.1f} %"


def _gpu(memory: dict) -> str:
    if memory.get("gpu_peak_bytes") is not None:
        source = memory.get("gpu_memory_source")
        return _mib(memory["gpu_peak_bytes"]) + (f" ({source})" if source else "")
    reason = memory.get("gpu_absent_reason")
    return "—" + (f" ({reason})" if reason else "")


def _load(load: dict) -> str:
    if not load.get("sampled"):
        reason = load.get("reason")
        return "not sampled" + (f" ({reason})" if reason else "")
    return f"{_pct(load.get('others_cpu_share'))} (max {_pct(load.get('others_cpu_share_max'))})"


def _figure(speed: dict, name: str, key: str = "median"):
    """One of a speed block's figures (rtfx, batch1_latency_seconds, tokens_per_second: median, spread, ...)."""
    return (speed.get(name) or {}).get(key)


def _speed_cells(row: dict) -> list[str]:
    """A measured row's cells of a speed table (SPEED_HEADER), as README.md and the page show them."""
    speed, memory = row["speed"], row["speed"].get("memory") or {}
    return [_md_text(row["system"]), _num(_figure(speed, "rtfx"), 1), _spread(_figure(speed, "rtfx", "spread")),
            _num(_figure(speed, "batch1_latency_seconds"), 3), _num(_figure(speed, "tokens_per_second"), 1),
            _mib(memory.get("peak_rss_bytes")), _gpu(memory), _load(speed.get("load") or {})]


def _metric_names(group: dict) -> list[str]:
    """The metrics with at least one value in the group (an absent one is named below the table)."""
    return [name for name in METRICS if any(_value(r, name) is not None for r in group["rows"])]


def _reported_cells(row: dict) -> list:
    """A reported row's cells in the README's and the page's table: paper, system, pair, BLEU, chrF++ / chrF,
    COMET, COMET model, GB, 2026 limit, 2025 bin, data."""
    chrf = row["metrics"].get("chrf++") or row["metrics"].get("chrf") or {}
    comet = row["metrics"].get("comet") or {}
    return [row["paper"], row["system"], row["lang_pair"], _num((row["metrics"].get("bleu") or {}).get("value")),
            _num(chrf.get("value")), _num(comet.get("value")), comet.get("signature") or "—",
            _gb(row["size_gb"]), _yes(row["complies_2026"]), row["bin_2025"] or "—", row["data_condition"]]


def render_markdown(board: dict) -> str:
    lines = ["# Leaderboard", "",
             "Generated by `python -m harness leaderboard` from `leaderboard/results/` only; do not edit by hand.",
             ""]
    if board["generated_from_newest_result"]:
        lines += [f"Newest results file: {board['generated_from_newest_result']}.", ""]
    lines += ["Each table holds only numbers with the same test set (name + content hash), language pair and "
              "metric signatures; tables are never ranked against each other. Δ = difference from the track's "
              f"uncompressed base (`{board['base_system']}`) in the same table (TER is an edit rate: lower is better, "
              "so a negative Δ TER is a gain). Rank by the table's primary metric "
              "(COMET where present, else chrF++ (DE) / chrF (ZH)). Size = bytes on disk of every file of the model "
              "folder that translates this pair (weights, tokenizer, configs, anything else: harness.systems.storage); limit = the track's 2026 limit (4 GB on the 7B tracks, scaled on mini).", ""]
    if not board["groups"]:
        lines += ["**No results yet.** Run `make eval`, then render again.", ""]
    for group in board["groups"]:
        names = _metric_names(group)
        title = f"## {group['track']} · {group['testset']} · {group['lang_pair']}"
        if group["segmentation"]:
            title += f" · segmented by {group['segmentation']}"
        lines += [title, "", f"Test set hash `{group['testset_hash']}`; group `{group['id']}`; "
                  f"ranked by {LABEL[group['primary_metric']]}.", ""]
        header = ["#", "system", "data", "verified"]
        for name in names:
            header += [LABEL[name], "Δ"]
        header += ["degen.", "size GB", "bytes", "params", "reduction", "2026 limit", "2025 bin"]
        table = []
        for row in group["rows"]:
            rank = "—" if row["rank"] is None else str(row["rank"])
            if row.get("cluster") is not None:
                rank += f" ({row['cluster']})"
            line = [rank, _md_text(row["system"]) + (" ★" if row["pareto"] else ""), row["data_condition"],
                    row["verification"] + (", run by contract" if row["run_by_contract"] else "")
                    + (" ⚑" if row["size_flag"] else "")]
            for name in names:
                line += [_score(row["metrics"].get(name)), _delta(row["deltas"].get(name))]
            declared = " (declared)" if row["size_source"] == "declared" else ""
            line += [_pct(row["degeneration"].get("any")), _gb(row["size_gb"]) + declared, _bytes(row["size_bytes"]) + declared,
                     _bytes(row["logical_params"]), _pct(row["reduction_bytes"]), _yes(row["complies_2026"]),
                     row["bin_2025"] or "—"]
            table.append(line)
        lines += [tabulate(table, headers=header, tablefmt="github", disable_numparse=True), ""]
        lines += [f"⚑ {_md_text(row['system'])}: {_md_text(row['size_flag'])}." for row in group["rows"] if row["size_flag"]]
        lines += [""] if any(row["size_flag"] for row in group["rows"]) else []
        lines += ["Signatures: " + "; ".join(f"{LABEL[n]} `{s}`" for n, s in group["signatures"].items())
                  if group["signatures"] else "Signatures: none", ""]
        for name, reason in group["absent"].items():
            lines += [f"{LABEL[name]} absent: {reason}.", ""]
        lines += _speed_markdown(group)
    if board["groups"]:
        lines += [INTERVAL_NOTE, "", SPEED_NOTE, ""]
    if any(r.get("cluster") is not None for g in board["groups"] for r in g["rows"]):
        lines += ["(n) beside a rank = significance cluster within its table: systems in one cluster are not "
                  "significantly different from its best (paired bootstrap resampling, p >= 0.05; "
                  "harness.scoring.significance).", ""]
    lines += ["★ = on the Pareto front of quality against size in its table (verified sizes only). "
              "(declared) = a size the team declared, not verified by the harness (hypotheses only). "
              f"⚑ = a declared size more than {100 * SIZE_TOLERANCE:g} % below the verified size of the same model. "
              "Run by contract = the submission's own run.sh decoded (a subprocess, a time limit, no network: "
              "harness.evaluation.contract), the harness segmented and scored; its speed is run.sh's wall time only.", "",
              "## Reported in the papers (not reproduced here; not ranked)", "",
              f"Test set: {REPORTED_TESTSET}; each paper's own metric settings; size in decimal GB as published; "
              "2026 limit 4 GB, 2025 bins on the real scale.", ""]
    header = ["paper", "system", "pair", "BLEU", "chrF++ / chrF", "COMET", "COMET model", "GB", "2026 limit",
              "2025 bin", "data"]
    table = [_reported_cells(row) for row in board["reported"]]
    lines += [tabulate(table, headers=header, tablefmt="github", disable_numparse=True), ""]
    lines += [f"- moslem2025: {MOSLEM_2025}", f"- liu2026: {LIU_2026}", ""]
    return "\n".join(lines)


INTERVAL_NOTE = (f"±x beside a score = half width of its 95 % confidence interval (bootstrap resampling of the "
                 f"segments, {BOOTSTRAP_SAMPLES:,} resamples, seed {BOOTSTRAP_SEED}): BLEU, chrF and chrF++ by "
                 "sacreBLEU's own bootstrap (its --confidence), COMET by a bootstrap of segment means on the same "
                 "draws. A score without ± comes from a results file written before intervals were stored.")
SPEED_NOTE = ("Speed is ranked only against speed measured under the same conditions: one speed table per "
              "comparability key (the settings in its title, hashed), ranked by median RTFx (audio seconds / "
              "decoding seconds) over the protocol's repetitions, among runs that had the machine (others' CPU "
              "share below the protocol's threshold). Spread = (max − min) / median of the repetitions; "
              "load = other processes' share of the CPUs during the run. Runs under contention, or whose load "
              "was not sampled, are listed apart and not ranked.")


def _speed_markdown(group: dict) -> list[str]:
    """The speed tables under a quality table: one per comparability key, contended runs apart."""
    rows = {row["system"]: row for row in group["rows"]}
    lines = []
    for table in group["speed_groups"]:
        lines += [f"### Speed: {table['title']}", "",
                  f"Comparability key `{table['comparability_key']}`; ranked by RTFx median.", ""]
        if table["ranked"]:
            cells = [[str(rank), *_speed_cells(rows[name])] for rank, name in enumerate(table["ranked"], 1)]
            lines += [tabulate(cells, headers=["#", *SPEED_HEADER], tablefmt="github", disable_numparse=True), ""]
        if table["contended"]:
            cells = [_speed_cells(rows[name]) for name in table["contended"]]
            lines += ["Measured under contention (not ranked):", "",
                      tabulate(cells, headers=SPEED_HEADER, tablefmt="github", disable_numparse=True), ""]
    if group["speed_absent"]:
        lines += ["Speed absent: " + "; ".join(f"{_md_text(a['system'])} ({a['reason']})" for a in group["speed_absent"])
                  + ".", ""]
    if group["speed_none"]:
        lines += ["No speed measured: " + ", ".join(_md_text(name) for name in group["speed_none"]) + ".", ""]
    return lines


def _csv_row(row: dict) -> dict:
    out = {column: "" for column in CSV_COLUMNS}
    for column in CSV_COLUMNS:
        if column in row and not isinstance(row[column], (dict, list)):
            out[column] = row[column]
    for name in METRICS:
        metric = row["metrics"].get(name) or {}
        out[name] = metric.get("value")
        out[f"{name}_ci_low"] = (metric.get("ci95") or {}).get("low")
        out[f"{name}_ci_high"] = (metric.get("ci95") or {}).get("high")
        out[f"{name}_delta"] = (row.get("deltas") or {}).get(name)
        out[f"{name}_signature"] = metric.get("signature")
    for kind in ("any", "empty", "repetition"):
        out[f"degeneration_{kind}_rate"] = (row.get("degeneration") or {}).get(kind)
    if row["kind"] == "reported":
        out["source"] = row["source"]
    return {key: "" if value is None else (repr(value) if isinstance(value, float) else value)
            for key, value in out.items()}


def render_csv(board: dict) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for group in board["groups"]:
        for row in group["rows"]:
            writer.writerow(_csv_row(row))
    for row in board["reported"]:
        writer.writerow(_csv_row(row))
    return stream.getvalue()


def render_json(board: dict) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _page_environment():
    """Jinja2 over the template shipped in the package (harness/templates), autoescaping HTML: a
    team or system name is text on the page, never markup. The board's JSON keeps the order and
    characters of results.json (sorted keys, UTF-8); |tojson still escapes <, >, & and '."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                                     autoescape=True, keep_trailing_newline=True,
                                     undefined=jinja2.StrictUndefined)
    environment.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}
    return environment


def render_html(board: dict) -> str:
    template = _page_environment().get_template(PAGE_TEMPLATE)
    return template.render(board=board, newest=board["generated_from_newest_result"], metrics=list(METRICS),
                           labels=LABEL, lower_is_better=sorted(LOWER_IS_BETTER),
                           reported=[_reported_cells(row) for row in board["reported"]],
                           reported_testset=REPORTED_TESTSET, papers=PAPERS,
                           speed_header=list(SPEED_HEADER), notes=[INTERVAL_NOTE, SPEED_NOTE])


# ---------------------------------------------------------------- command line

def render(results_root: Path, out: Path, *, base_system: str = BASE_SYSTEM,
           significance: Callable[[list[dict], str], dict[str, int]] | None = None) -> dict:
    """Read the results under ``results_root`` and write README.md, results.csv, results.json and
    index.html under ``out``; returns the board. Everything is built before anything is written,
    so a bad results file leaves the previous pages in place."""
    board = build(read_results(results_root), base_system=base_system, significance=significance)
    pages = {"README.md": render_markdown(board), "results.csv": render_csv(board),
             "results.json": render_json(board), "index.html": render_html(board)}
    for name, text in pages.items():
        atomic_write_text(Path(out) / name, text)
        (Path(out) / name).chmod(0o644)  # published pages: readable by a web server, not only by us
    return board


def default_significance(results_root: Path):
    """harness.scoring.significance.rank_clusters (paired bootstrap over the segments files); imported
    here, when the clusters are wanted (--no-significance skips it)."""
    from harness.scoring.significance import rank_clusters

    return rank_clusters(results_root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness leaderboard", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--base-system", default=BASE_SYSTEM, help="the uncompressed base the Δ column is against")
    parser.add_argument("--no-significance", action="store_true",
                        help="skip the paired-bootstrap rank clusters (harness.scoring.significance)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if not args.results.is_dir():
            print(f"note: no results folder {args.results}; rendering an empty leaderboard", file=sys.stderr)
        significance = None if args.no_significance else default_significance(args.results)
        board = render(args.results, args.out, base_system=args.base_system, significance=significance)
    except (LeaderboardError, OSError, ValueError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    rows = sum(len(group["rows"]) for group in board["groups"])
    print(f"leaderboard: {rows} rows in {len(board['groups'])} groups -> {args.out} "
          f"({time.perf_counter() - started:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
