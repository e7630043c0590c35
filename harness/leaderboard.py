"""`python -m harness.leaderboard`: render leaderboard/ from results files only.

Reads every results summary under ``--results`` (``<track>/<system>/<testset>.json``,
schemas ``iwslt-harness/eval`` and ``iwslt-harness/eval-longform``, written by
harness.evaluate / harness.longform) and writes, atomically, to ``--out``:

  README.md     Markdown tables (tabulate), one per comparable group, each followed by its speed
                tables (one per speed comparability key)
  results.csv   one row per (system, test set, language pair), reproduced and reported
  results.json  the same rows, the groups and their signatures
  index.html    one self-contained page (inline CSS and JS, no network): a sortable table
                per group, filters by track / test set / language pair, a Pareto plot of
                quality against size with the track's size limit drawn, and a detail view
                per system (its storage verdict: totals, units, dtypes/quantization)

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
  size bin, scaled per track by harness.tracks / harness.storage; constrained (in-domain
  talks data only) vs unconstrained data conditions.
- Every score with its 95 % bootstrap confidence interval where its results file has one
  (harness.metrics: sacreBLEU's bootstrap, 1,000 resamples, seed 12345; COMET: bootstrap of
  segment means on the same draws), shown as "value ±half width"; a file written before the
  intervals existed shows the bare value, never an invented interval.
- Speed only beside comparable speed: the speed protocol's block (harness.speed) names what
  a figure depends on (hardware, device, backend, dtype, batch size, processes, threads,
  sample) and hashes it into a comparability key; each group's speed is one table per key,
  ranked by median RTFx among runs not under contention (CPU load by others below the
  protocol's threshold); contended or unsampled runs are listed below, never ranked.
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
import html
import io
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tabulate import tabulate

from harness.errors import one_line
from harness.metrics import (BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, CHRF_FOR, METRIC_LABEL as LABEL,
                             METRIC_NAMES as METRICS)
from harness.results import EVAL_SCHEMA, LONGFORM_SCHEMA, RESULTS_ROOT, atomic_write_text
from harness.tracks import BASE_SYSTEM, GB, REAL_RULE, REPO

DEFAULT_RESULTS = RESULTS_ROOT
DEFAULT_OUT = REPO / "leaderboard"
SCHEMA = "iwslt-harness/leaderboard"
RESULT_SCHEMAS = (EVAL_SCHEMA, LONGFORM_SCHEMA)

# The data condition of the known submissions, used only when a system manifest does not
# declare one (papers.md; the task's 2025 rules: constrained = only ACL 60/60 talks data).
KNOWN_CONDITIONS = {
    "baseline": "n/a",
    "modelA": "constrained",           # Moslem 2025 System A: ACL 60/60 (+ its own KD outputs) only
    "modelB": "unconstrained",         # System B adds 100 k CoVoST2 utterances (general domain)
    "diet-kit": "unconstrained",       # Liu et al. 2026: CoVoST + Europarl-ST fine-tuning
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
    "data_condition", "verification",
    *[f"{m}{suffix}" for m in METRICS for suffix in ("", "_ci_low", "_ci_high", "_delta", "_signature")],
    "primary_metric", "degeneration_any_rate", "degeneration_empty_rate", "degeneration_repetition_rate",
    "size_bytes", "size_gb", "logical_params", "reduction_bytes", "reduction_params", "limit_bytes",
    "complies_2026", "bin_2025", "storage_status", "rtfx", "rtfx_spread", "batch1_latency_median_seconds",
    "speed_contended", "speed_comparability_key", "peak_rss_bytes", "gpu_peak_bytes", "created", "source",
)
# The speed protocol's block (harness.speed) has one of these statuses; any other block (or none)
# predates the protocol and is "no speed measured": its single figure names no comparability.
SPEED_STATUSES = ("measured", "absent")
# What a speed figure depends on, as the speed table's title names it (in this order; others after).
SPEED_FIELDS = (("hardware", "hardware"), ("device", "device"), ("backend", "backend"), ("dtype", "dtype"),
                ("batch_size", "batch size"), ("processes", "processes"), ("torch_threads", "torch threads"),
                ("sample", "sample"))
SPEED_HEADER = ("system", "RTFx median", "spread", "batch-1 latency median (s)", "tokens/s median", "peak RSS",
                "GPU peak", "load (others' CPU)")


class LeaderboardError(ValueError):
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
    if not isinstance(summary, dict):
        raise LeaderboardError(f"{relative}: a results file must hold a JSON object")
    if summary.get("schema") not in RESULT_SCHEMAS:
        raise LeaderboardError(f"{relative}: unknown schema {summary.get('schema')!r} "
                               f"(expected one of {', '.join(RESULT_SCHEMAS)})")
    for key, kind in (("system", str), ("track", str), ("testset", dict), ("languages", dict)):
        if not isinstance(summary.get(key), kind):
            raise LeaderboardError(f"{relative}: missing or malformed {key!r}")
    testset = summary["testset"]
    if not isinstance(testset.get("name"), str) or not isinstance(testset.get("content_hash"), str):
        raise LeaderboardError(f"{relative}: testset needs a name and a content_hash")
    for lang, report in summary["languages"].items():
        if not isinstance(report, dict) or not isinstance(report.get("metrics"), dict):
            raise LeaderboardError(f"{relative}: language {lang!r} has no metrics")
        for name, metric in report["metrics"].items():
            if not isinstance(metric, dict) or "value" not in metric:
                raise LeaderboardError(f"{relative}: metric {name!r} of {lang!r} has no value")
            value = metric["value"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise LeaderboardError(f"{relative}: metric {name!r} of {lang!r} is not a number: {value!r}")
            interval = metric.get("ci95")
            if interval is not None and not (isinstance(interval, dict) and all(
                    _is_number(interval.get(key)) for key in ("half_width", "low", "high"))):
                raise LeaderboardError(f"{relative}: metric {name!r} of {lang!r} has a malformed ci95")


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
    """The storage unit that translates ``lang`` (harness.storage judges per language unit)."""
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
        "format": manifest.get("format"),
        "built_by": manifest.get("built_by") if isinstance(manifest.get("built_by"), str)
        and not manifest["built_by"].startswith("/") else None,
        "degeneration": {kind: (value or {}).get("rate") for kind, value in sorted(degeneration.items())
                         if isinstance(value, dict)},
        "size_bytes": size,
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


def pareto_front(points: list[tuple[str, float, float]]) -> set[str]:
    """Names of the (name, size, quality) points no other point beats on both (smaller-or-equal
    size and higher-or-equal quality, one of them strictly)."""
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
    it is shown beside the rank. Hook for harness.significance.rank_clusters.
    """
    buckets: dict[tuple, list[dict]] = {}
    for relative, summary in summaries:
        for lang in sorted(summary["languages"]):
            row = _row(relative, summary, lang)
            buckets.setdefault(group_key(row), []).append(row)
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
        # Competition ranking ("1, 2, 2, 4") by the primary metric; ties and the unscored in name order.
        rows.sort(key=lambda r: (_value(r, primary) is None, -(_value(r, primary) or 0.0), r["system"]))
        for row in rows:
            value = _value(row, primary)
            row["rank"] = None if value is None else 1 + sum(
                1 for other in rows if _value(other, primary) is not None and _value(other, primary) > value)
        clusters = significance(rows, primary) if significance is not None else {}
        for row in rows:
            row["cluster"] = clusters.get(row["system"])
        points = [(r["system"], r["size_bytes"], _value(r, primary)) for r in rows
                  if r["size_bytes"] is not None and _value(r, primary) is not None]
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
        # The 2026 limit and 2025 bins of the real 7B tracks (harness.tracks.REAL_RULE) on the published GB.
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
    return [row["system"], _num(_figure(speed, "rtfx"), 1), _spread(_figure(speed, "rtfx", "spread")),
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
             "Generated by `python -m harness.leaderboard` from `leaderboard/results/` only; do not edit by hand.",
             ""]
    if board["generated_from_newest_result"]:
        lines += [f"Newest results file: {board['generated_from_newest_result']}.", ""]
    lines += ["Each table holds only numbers with the same test set (name + content hash), language pair and "
              "metric signatures; tables are never ranked against each other. Δ = difference from the track's "
              f"uncompressed base (`{board['base_system']}`) in the same table. Rank by the table's primary metric "
              "(COMET where present, else chrF++ (DE) / chrF (ZH)). Size = bytes on disk of every file of the model "
              "folder that translates this pair (weights, tokenizer, configs, anything else: harness.storage); limit = the track's 2026 limit (4 GB on the 7B tracks, scaled on mini).", ""]
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
            line = [rank, row["system"] + (" ★" if row["pareto"] else ""), row["data_condition"], row["verification"]]
            for name in names:
                line += [_score(row["metrics"].get(name)), _delta(row["deltas"].get(name))]
            line += [_pct(row["degeneration"].get("any")), _gb(row["size_gb"]), _bytes(row["size_bytes"]),
                     _bytes(row["logical_params"]), _pct(row["reduction_bytes"]), _yes(row["complies_2026"]),
                     row["bin_2025"] or "—"]
            table.append(line)
        lines += [tabulate(table, headers=header, tablefmt="github", disable_numparse=True), ""]
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
                  "harness.significance).", ""]
    lines += ["★ = on the Pareto front of quality against size in its table.", "",
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
        lines += ["Speed absent: " + "; ".join(f"{a['system']} ({a['reason']})" for a in group["speed_absent"])
                  + ".", ""]
    if group["speed_none"]:
        lines += ["No speed measured: " + ", ".join(group["speed_none"]) + ".", ""]
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


def render_html(board: dict) -> str:
    # The data travels inside the page; "</" is escaped so no value can close the script element.
    data = json.dumps(board, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    reported = ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in _reported_cells(row)) + "</tr>"
                for row in board["reported"]]
    newest = board["generated_from_newest_result"]
    stamp = f"Newest results file: {html.escape(newest)}." if newest else ""
    empty = "" if board["groups"] else '<p class="empty" id="no-results">No results yet: run <code>make eval</code>, then render again.</p>'
    return (_PAGE.replace("@@DATA@@", data).replace("@@REPORTED@@", "\n".join(reported))
            .replace("@@STAMP@@", stamp).replace("@@EMPTY@@", empty)
            .replace("@@MOSLEM@@", html.escape(MOSLEM_2025)).replace("@@LIU@@", html.escape(LIU_2026))
            .replace("@@REPORTED_TESTSET@@", html.escape(REPORTED_TESTSET))
            .replace("@@SPEED_HEADER@@", json.dumps(list(SPEED_HEADER), ensure_ascii=False))
            .replace("@@NOTES@@", f"<p>{html.escape(INTERVAL_NOTE)}</p>\n<p>{html.escape(SPEED_NOTE)}</p>"))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IWSLT Model Compression leaderboard</title>
<style>
:root { --ink:#1d2330; --muted:#5b6475; --line:#dde2ea; --bg:#f6f7fa; --card:#fff; --accent:#2f6fde;
        --good:#1a7f4b; --bad:#b3261e; --hi:#eef4ff; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--ink); background:var(--bg); }
header { padding:24px 32px 8px; }
h1 { margin:0 0 4px; font-size:24px; }
h2 { font-size:18px; margin:0 0 4px; }
.muted, .sig { color:var(--muted); font-size:13px; }
.sig code { background:#f0f2f6; padding:1px 4px; border-radius:4px; word-break:break-all; }
main { padding:8px 32px 32px; display:grid; grid-template-columns:minmax(0,1fr) 360px; gap:24px; }
@media (max-width:1100px) { main { grid-template-columns:1fr; } }
.filters { display:flex; gap:16px; flex-wrap:wrap; margin:12px 0; }
.filters label { font-size:13px; color:var(--muted); display:flex; flex-direction:column; gap:2px; }
select { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px; background:#fff; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-bottom:20px;
        box-shadow:0 1px 2px rgba(20,30,50,.04); }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13.5px; font-variant-numeric:tabular-nums; }
th, td { padding:6px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:nth-child(-n+4), td:nth-child(-n+4) { text-align:left; }
th { position:sticky; top:0; background:#fafbfd; cursor:pointer; user-select:none; font-weight:600; }
th.sorted-asc::after { content:" ▲"; font-size:10px; } th.sorted-desc::after { content:" ▼"; font-size:10px; }
tbody tr { cursor:pointer; } tbody tr:hover { background:var(--hi); } tbody tr.selected { background:#dde9ff; }
.pos { color:var(--good); } .neg { color:var(--bad); }
.ok { color:var(--good); font-weight:600; } .no { color:var(--bad); font-weight:600; }
.tag { display:inline-block; padding:0 6px; border-radius:10px; font-size:12px; background:#eef0f4; }
.tag.recipe { background:#e3f4ea; } .tag.size { background:#fff3d6; }
svg { width:100%; height:auto; display:block; }
svg text { font:11px system-ui,sans-serif; fill:var(--muted); }
#detail { position:sticky; top:16px; align-self:start; }
#detail dl { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; font-size:13px; margin:8px 0; }
#detail dt { color:var(--muted); } #detail dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
#detail h3 { font-size:14px; margin:14px 0 4px; }
table.speed th { cursor:default; } table.speed td:nth-child(n+3) { text-align:right; }
tbody.contended td { color:var(--muted); } tbody.contended tr.note td { font-style:italic; text-align:left; }
h3.speed-title { font-size:14px; margin:16px 0 2px; }
.notes p { margin:0 0 8px; }
.reported, .notes { margin:0 32px 32px; }
.empty { font-size:16px; padding:24px; background:#fff; border:1px dashed var(--line); border-radius:10px; }
</style>
</head>
<body>
<header>
<h1>IWSLT Model Compression — leaderboard</h1>
<div class="muted">Rendered from results files only. Numbers are ranked only within a group of identical test set
(name + content hash), language pair and metric signatures. Δ = difference from the track's uncompressed base.
★ = on the Pareto front of quality against size; (n) beside a rank = significance cluster (paired bootstrap,
p &ge; 0.05 within the cluster); ±x = half width of a score's 95 % bootstrap interval. Speed is in its own
tables under each group, one per measurement setting. Click a column to sort, a row for its details. @@STAMP@@</div>
<div class="filters">
<label>Track <select id="filter-track"></select></label>
<label>Test set <select id="filter-testset"></select></label>
<label>Language pair <select id="filter-lang"></select></label>
</div>
@@EMPTY@@
</header>
<main>
<section id="groups"><noscript>This page draws its tables with JavaScript; the same numbers are in README.md,
results.csv and results.json beside it.</noscript></section>
<aside id="detail" class="card"><h2>Details</h2><p class="muted">Click a row to see its size breakdown
(storage verdict), signatures, degeneration and speed.</p></aside>
</main>
<section class="notes card muted" id="notes">
@@NOTES@@
</section>
<section class="reported card" id="reported">
<h2>Reported in the papers (not reproduced here; never ranked with the tables above)</h2>
<p class="muted">Test set: @@REPORTED_TESTSET@@; each paper's own metric settings; size in decimal GB as published;
2026 limit 4 GB, 2025 bins on the real scale.</p>
<div class="scroll"><table id="reported-table">
<thead><tr><th>paper</th><th>system</th><th>pair</th><th>BLEU</th><th>chrF++ / chrF</th><th>COMET</th>
<th>COMET model</th><th>GB</th><th>2026 limit</th><th>2025 bin</th><th>data</th></tr></thead>
<tbody>
@@REPORTED@@
</tbody></table></div>
<p class="muted">moslem2025: @@MOSLEM@@<br>liu2026: @@LIU@@</p>
</section>
<script type="application/json" id="leaderboard-data">@@DATA@@</script>
<script>
(function () {
  "use strict";
  var board = JSON.parse(document.getElementById("leaderboard-data").textContent);
  var LABEL = {"bleu": "BLEU", "chrf": "chrF", "chrf++": "chrF++", "comet": "COMET"};
  var METRICS = ["bleu", "chrf", "chrf++", "comet"];
  var groupsEl = document.getElementById("groups"), detailEl = document.getElementById("detail");
  // The view is addressable: #track=..&testset=..&lang=..&sort=<column>&dir=asc|desc&detail=<system>
  // (shareable links, and how the browser test drives the page without a driver).
  var hash = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("="); if (i > 0) hash[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
  });
  var filters = {track: document.getElementById("filter-track"), testset: document.getElementById("filter-testset"),
                 lang: document.getElementById("filter-lang")};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function svgEl(tag, attrs, text) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function num(v, d) { return v === null || v === undefined ? "—" : v.toFixed(d === undefined ? 2 : d); }
  function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + " %"; }
  function big(v) { return v === null || v === undefined ? "—" : v.toLocaleString("en-US"); }
  function gb(v) { return v === null || v === undefined ? "—" : Number(v.toPrecision(4)).toString(); }
  function mib(v) { return v === null || v === undefined ? "—" : Math.round(v / 1048576).toLocaleString("en-US") + " MiB"; }
  function metric(row, m) { var x = row.metrics[m]; return x ? x.value : null; }
  // A score with its interval's half width, as README.md shows it; the bare value where none was stored.
  function score(row, m) {
    var x = row.metrics[m] || {};
    return num(x.value) + (x.value !== null && x.value !== undefined && x.ci95 ? " ±" + num(x.ci95.half_width) : "");
  }

  // The speed tables' columns and cells, as README.md shows them (leaderboard.SPEED_HEADER, _speed_cells).
  var SPEED_HEADER = @@SPEED_HEADER@@;
  function figure(s, name, key) { var v = (s[name] || {})[key || "median"]; return v === undefined ? null : v; }
  function spread(v) { return v === null || v === undefined ? "—" : "±" + (100 * v).toFixed(1) + " %"; }
  function gpu(m) {
    if (m.gpu_peak_bytes !== null && m.gpu_peak_bytes !== undefined) return mib(m.gpu_peak_bytes) + (m.gpu_memory_source ? " (" + m.gpu_memory_source + ")" : "");
    return "—" + (m.gpu_absent_reason ? " (" + m.gpu_absent_reason + ")" : "");
  }
  function load(l) {
    if (!l.sampled) return "not sampled" + (l.reason ? " (" + l.reason + ")" : "");
    return pct(l.others_cpu_share) + " (max " + pct(l.others_cpu_share_max) + ")";
  }
  function speedCells(r) {
    var s = r.speed, m = s.memory || {};
    return [r.system, num(figure(s, "rtfx"), 1), spread(figure(s, "rtfx", "spread")), num(figure(s, "batch1_latency_seconds"), 3),
            num(figure(s, "tokens_per_second"), 1), mib(m.peak_rss_bytes), gpu(m), load(s.load || {})];
  }

  function options(select, values, labels) {
    select.appendChild(el("option", {value: ""}, "all"));
    values.forEach(function (v) { select.appendChild(el("option", {value: v}, labels ? labels[v] : v)); });
  }
  function uniq(list) { return list.filter(function (v, i) { return list.indexOf(v) === i; }).sort(); }
  var testsetLabel = {};
  board.groups.forEach(function (g) { testsetLabel[g.testset + "@" + g.testset_hash] = g.testset + " (" + g.testset_hash.slice(7, 15) + ")"; });
  options(filters.track, uniq(board.groups.map(function (g) { return g.track; })));
  options(filters.testset, uniq(board.groups.map(function (g) { return g.testset + "@" + g.testset_hash; })), testsetLabel);
  options(filters.lang, uniq(board.groups.map(function (g) { return g.lang_pair; })));

  function columns(group) {
    var cols = [
      {key: "rank", label: "#", get: function (r) { return r.rank; },
       show: function (r) { return (r.rank === null ? "—" : String(r.rank)) + (r.cluster !== null && r.cluster !== undefined ? " (" + r.cluster + ")" : ""); }},
      {key: "system", label: "system", get: function (r) { return r.system; }, show: function (r) { return r.system + (r.pareto ? " ★" : ""); }},
      {key: "data", label: "data", get: function (r) { return r.data_condition; }},
      {key: "verified", label: "verified", get: function (r) { return r.verification; }, tag: true}];
    METRICS.forEach(function (m) {
      if (!group.rows.some(function (r) { return metric(r, m) !== null && metric(r, m) !== undefined; })) return;
      cols.push({key: m, label: LABEL[m], get: function (r) { return metric(r, m); }, show: function (r) { return score(r, m); }});
      cols.push({key: m + "-delta", label: "Δ " + LABEL[m], get: function (r) { return r.deltas[m]; }, delta: true,
                 show: function (r) { var d = r.deltas[m]; return d === null || d === undefined ? "—" : (d >= 0 ? "+" : "") + d.toFixed(2); }});
    });
    cols.push({key: "degen", label: "degen.", get: function (r) { return r.degeneration.any; }, show: function (r) { return pct(r.degeneration.any); }});
    cols.push({key: "gb", label: "size GB", get: function (r) { return r.size_gb; }, show: function (r) { return gb(r.size_gb); }});
    cols.push({key: "bytes", label: "bytes", get: function (r) { return r.size_bytes; }, show: function (r) { return big(r.size_bytes); }});
    cols.push({key: "params", label: "params", get: function (r) { return r.logical_params; }, show: function (r) { return big(r.logical_params); }});
    cols.push({key: "red", label: "reduction", get: function (r) { return r.reduction_bytes; }, show: function (r) { return pct(r.reduction_bytes); }});
    cols.push({key: "limit", label: "2026 limit", get: function (r) { return r.complies_2026; }, verdict: true,
               show: function (r) { return r.complies_2026 === null || r.complies_2026 === undefined ? "—" : (r.complies_2026 ? "✓" : "✗"); }});
    cols.push({key: "bin", label: "2025 bin", get: function (r) { return r.bin_2025; }, show: function (r) { return r.bin_2025 || "—"; }});
    return cols;
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a) < String(b) ? -1 : 1;
  }

  function drawTable(group, card) {
    var cols = columns(group), state = {col: 0, dir: 1};
    cols.forEach(function (c, i) { if (c.key === hash.sort) { state.col = i; state.dir = hash.dir === "asc" ? 1 : -1; } });
    var table = el("table", {"class": "board", "data-group": group.id});
    var thead = el("thead"), tr = el("tr"), tbody = el("tbody");
    cols.forEach(function (c, i) {
      var th = el("th", {scope: "col"}, c.label);
      th.addEventListener("click", function () {
        state.dir = state.col === i ? -state.dir : (c.key === "rank" || c.key === "system" ? 1 : -1);
        state.col = i; fill();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr); table.appendChild(thead); table.appendChild(tbody);
    function fill() {
      var rows = group.rows.slice().sort(function (a, b) {
        var c = cols[state.col];
        var av = c.get(a), bv = c.get(b);
        if (av === null || av === undefined) return (bv === null || bv === undefined) ? compare(a.system, b.system) : 1;
        if (bv === null || bv === undefined) return -1;
        return state.dir * compare(av, bv) || compare(a.system, b.system);
      });
      Array.prototype.forEach.call(thead.querySelectorAll("th"), function (th, i) {
        th.className = i === state.col ? (state.dir > 0 ? "sorted-asc" : "sorted-desc") : "";
      });
      tbody.textContent = "";
      rows.forEach(function (r) {
        var row = el("tr");
        cols.forEach(function (c) {
          var text = c.show ? c.show(r) : (c.get(r) === null ? "—" : String(c.get(r)));
          var td = el("td");
          if (c.tag) { td.appendChild(el("span", {"class": "tag " + (r.verification.indexOf("recipe") >= 0 ? "recipe" : r.verification.indexOf("size") >= 0 ? "size" : "")}, text)); }
          else td.textContent = text;
          if (c.delta && typeof c.get(r) === "number" && c.get(r) !== 0) td.className = c.get(r) > 0 ? "pos" : "neg";
          if (c.verdict && r.complies_2026 !== null && r.complies_2026 !== undefined) td.className = r.complies_2026 ? "ok" : "no";
          row.appendChild(td);
        });
        row.addEventListener("click", function () {
          Array.prototype.forEach.call(document.querySelectorAll("tr.selected"), function (x) { x.classList.remove("selected"); });
          row.classList.add("selected"); showDetail(group, r);
        });
        tbody.appendChild(row);
      });
    }
    fill();
    var wrap = el("div", {"class": "scroll"}); wrap.appendChild(table); card.appendChild(wrap);
  }

  // One table per comparability key, in the order build() ranked them; contended runs in their own
  // tbody below, never sorted with the ranked ones (the speed tables have no sorting at all).
  function drawSpeed(group, card) {
    var byName = {};
    group.rows.forEach(function (r) { byName[r.system] = r; });
    function line(tbody, r, first) {
      var row = el("tr");
      [first].concat(speedCells(r)).forEach(function (c) { row.appendChild(el("td", {}, c)); });
      row.addEventListener("click", function () { showDetail(group, r); });
      tbody.appendChild(row);
    }
    group.speed_groups.forEach(function (sg) {
      card.appendChild(el("h3", {"class": "speed-title"}, "Speed: " + sg.title));
      card.appendChild(el("div", {"class": "muted"}, "Comparability key " + sg.comparability_key + "; ranked by RTFx median."));
      var table = el("table", {"class": "speed", "data-speed-key": sg.comparability_key}), thead = el("thead"), tr = el("tr");
      ["#"].concat(SPEED_HEADER).forEach(function (h) { tr.appendChild(el("th", {scope: "col"}, h)); });
      thead.appendChild(tr); table.appendChild(thead);
      var ranked = el("tbody", {"class": "ranked"});
      sg.ranked.forEach(function (name, i) { line(ranked, byName[name], String(i + 1)); });
      table.appendChild(ranked);
      if (sg.contended.length) {
        var contended = el("tbody", {"class": "contended"}), note = el("tr", {"class": "note"});
        note.appendChild(el("td", {colspan: SPEED_HEADER.length + 1}, "measured under contention — not ranked"));
        contended.appendChild(note);
        sg.contended.forEach(function (name) { line(contended, byName[name], "—"); });
        table.appendChild(contended);
      }
      var wrap = el("div", {"class": "scroll"}); wrap.appendChild(table); card.appendChild(wrap);
    });
    if (group.speed_absent.length) card.appendChild(el("div", {"class": "muted speed-absent"}, "Speed absent: " +
      group.speed_absent.map(function (a) { return a.system + " (" + a.reason + ")"; }).join("; ") + "."));
    if (group.speed_none.length) card.appendChild(el("div", {"class": "muted speed-none"}, "No speed measured: " + group.speed_none.join(", ") + "."));
  }

  function speedDetail(group, r) {
    detailEl.appendChild(el("h3", {}, "Speed"));
    var s = r.speed;
    if (!s) { detailEl.appendChild(el("p", {"class": "muted"}, "No speed measured.")); return; }
    if (s.status === "absent") { detailEl.appendChild(el("p", {"class": "muted"}, "Absent: " + (s.absent_reason || "no reason given"))); return; }
    var rt = s.rtfx || {}, l = s.load || {}, m = s.memory || {}, lat = figure(s, "batch1_latency_seconds");
    var table = group.speed_groups.filter(function (sg) { return sg.comparability_key === s.comparability_key; })[0];
    if (table) detailEl.appendChild(el("div", {"class": "muted"}, table.title));
    detailEl.appendChild(dl([["RTFx median", num(rt.median, 1)], ["RTFx spread", spread(rt.spread)],
      ["RTFx runs", (rt.runs || []).map(function (v) { return num(v, 1); }).join(", ")],
      ["batch-1 latency median", lat === null ? null : num(lat, 3) + " s"], ["tokens/s median", num(figure(s, "tokens_per_second"), 1)],
      ["peak RSS", mib(m.peak_rss_bytes)], ["GPU peak", gpu(m)], ["load (others' CPU)", load(l)],
      ["load average, 1 min max", l.loadavg_1min_max === undefined ? undefined : num(l.loadavg_1min_max)],
      ["contended", s.contended === false ? "no" : s.contended === true ? "yes — not ranked" : "unknown (load not sampled) — not ranked"],
      ["comparability key", s.comparability_key], ["measured", s.measured],
      ["protocol", s.protocol ? s.protocol.name + " v" + s.protocol.version : undefined]]));
  }

  function drawPlot(group, card) {
    var m = group.primary_metric;
    var pts = group.rows.filter(function (r) { return r.size_bytes !== null && r.size_bytes !== undefined && metric(r, m) !== null; });
    if (!pts.length) { card.appendChild(el("p", {"class": "muted"}, "No plot: no row of this group has a verified size.")); return; }
    var W = 640, H = 300, L = 56, R = 16, T = 16, B = 40;
    var xs = pts.map(function (r) { return r.size_bytes; }), ys = pts.map(function (r) { return metric(r, m); });
    if (group.limit_bytes) xs.push(group.limit_bytes);
    var x0 = 0, x1 = Math.max.apply(null, xs) * 1.08;
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys), pad = Math.max((y1 - y0) * 0.15, 1);
    y0 -= pad; y1 += pad;
    function X(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }
    var svg = svgEl("svg", {viewBox: "0 0 " + W + " " + H, "class": "pareto", role: "img",
                            "aria-label": LABEL[m] + " against size"});
    svg.appendChild(svgEl("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa3b2"}));
    svg.appendChild(svgEl("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa3b2"}));
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
      svg.appendChild(svgEl("text", {x: L - 6, y: Y(yv) + 4, "text-anchor": "end"}, yv.toFixed(1)));
      svg.appendChild(svgEl("line", {x1: L, y1: Y(yv), x2: W - R, y2: Y(yv), stroke: "#eef0f4"}));
      svg.appendChild(svgEl("text", {x: X(xv), y: H - B + 16, "text-anchor": "middle"}, gb(xv / 1e9) + " GB"));
    }
    svg.appendChild(svgEl("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle"}, "size on disk (decimal GB)"));
    svg.appendChild(svgEl("text", {x: 12, y: (T + H - B) / 2, transform: "rotate(-90 12 " + (T + H - B) / 2 + ")",
                                   "text-anchor": "middle"}, LABEL[m]));
    if (group.limit_bytes) {
      svg.appendChild(svgEl("line", {"class": "limit", x1: X(group.limit_bytes), y1: T, x2: X(group.limit_bytes), y2: H - B,
                                     stroke: "#b3261e", "stroke-dasharray": "5 4", "stroke-width": 1.5}));
      svg.appendChild(svgEl("text", {x: X(group.limit_bytes) + 4, y: T + 10, style: "fill:#b3261e"}, "2026 limit"));
    }
    var front = pts.filter(function (r) { return r.pareto; }).sort(function (a, b) { return a.size_bytes - b.size_bytes; });
    if (front.length > 1) {
      svg.appendChild(svgEl("polyline", {points: front.map(function (r) { return X(r.size_bytes) + "," + Y(metric(r, m)); }).join(" "),
                                         fill: "none", stroke: "#2f6fde", "stroke-width": 1.5, opacity: 0.6}));
    }
    pts.forEach(function (r) {
      var c = svgEl("circle", {cx: X(r.size_bytes), cy: Y(metric(r, m)), r: r.pareto ? 6 : 4.5,
                               fill: r.pareto ? "#2f6fde" : "#9aa3b2", stroke: "#fff", "stroke-width": 1.5});
      c.appendChild(svgEl("title", {}, r.system + ": " + LABEL[m] + " " + num(metric(r, m)) + ", " + gb(r.size_gb) + " GB"));
      c.style.cursor = "pointer";
      c.addEventListener("click", function () { showDetail(group, r); });
      svg.appendChild(c);
      svg.appendChild(svgEl("text", {x: X(r.size_bytes) + 8, y: Y(metric(r, m)) - 6}, r.system));
    });
    card.appendChild(svg);
  }

  function dl(pairs) {
    var d = el("dl");
    pairs.forEach(function (p) { if (p[1] === undefined) return; d.appendChild(el("dt", {}, p[0])); d.appendChild(el("dd", {}, p[1] === null ? "—" : String(p[1]))); });
    return d;
  }

  function showDetail(group, r) {
    detailEl.textContent = "";
    detailEl.appendChild(el("h2", {}, r.system));
    detailEl.appendChild(el("div", {"class": "muted"}, group.track + " · " + group.testset + " · " + group.lang_pair + " · " + r.source));
    detailEl.appendChild(el("h3", {}, "Scores"));
    var pairs = [];
    METRICS.forEach(function (m) {
      if (!(m in r.metrics)) return;
      var ci = r.metrics[m].ci95, d = r.deltas[m];
      pairs.push([LABEL[m], score(r, m) + (ci && metric(r, m) !== null ? " [" + num(ci.low) + ", " + num(ci.high) + "]" : "") +
                 (d !== null && d !== undefined ? " (Δ " + (d >= 0 ? "+" : "") + d.toFixed(2) + ")" : "")]);
    });
    detailEl.appendChild(dl(pairs));
    var s = r.storage || {};
    detailEl.appendChild(el("h3", {}, "Size (storage verdict)"));
    var t = s.totals || {};
    detailEl.appendChild(dl([["status", s.status || "no storage verdict"], ["weight file bytes", big(t.weight_file_bytes)],
      ["GB", gb(t.gb)], ["GiB", t.gib === undefined ? undefined : gb(t.gib)], ["header bytes", big(t.header_bytes)],
      ["tensor bytes", big(t.tensor_bytes)], ["stored elements", big(t.stored_elements)],
      ["logical params", big(t.logical_params)], ["bits / weight", t.bits_per_weight === undefined ? undefined : num(t.bits_per_weight)],
      ["torch.save bytes", t.torch_save_bytes === undefined ? undefined : big(t.torch_save_bytes)],
      ["judged unit", s.judged_unit], ["limit (bytes)", s.rule ? big(s.rule.limit_bytes) : undefined]]));
    if (s.reason) detailEl.appendChild(el("p", {"class": "muted"}, s.reason));
    if (s.units) {
      detailEl.appendChild(el("h3", {}, "Units"));
      Object.keys(s.units).sort().forEach(function (u) {
        var x = s.units[u];
        detailEl.appendChild(dl([[u + " size", big(x.size_bytes)], [u + " params", big(x.logical_params)],
          [u + " 2026 limit", x.limit_2026 ? (x.limit_2026.complies ? "✓ margin " : "✗ over by ") + big(Math.abs(x.limit_2026.margin_bytes)) : "—"],
          [u + " 2025 bin", x.bin_2025 ? (x.bin_2025.bin || "none") : "—"],
          [u + " reduction", x.reduction ? pct(x.reduction.bytes) + " bytes, " + pct(x.reduction.params) + " params" : "—"],
          [u + " files", (x.files || []).join(", ")]]));
      });
    }
    ["dtypes", "components"].forEach(function (k) {
      if (!s[k]) return;
      detailEl.appendChild(el("h3", {}, k));
      detailEl.appendChild(dl(Object.keys(s[k]).sort().map(function (n) { var v = s[k][n]; return [n, big(v.bytes !== undefined ? v.bytes : null) + " B"]; })));
    });
    if (s.quantization && s.quantization.schemes) {
      detailEl.appendChild(el("h3", {}, "quantization"));
      detailEl.appendChild(dl(Object.keys(s.quantization.schemes).sort().map(function (n) { var v = s.quantization.schemes[n]; return [n, big(v.bytes !== undefined ? v.bytes : null) + " B, " + (v.quantized_modules || 0) + " modules"]; })));
    }
    detailEl.appendChild(el("h3", {}, "System"));
    detailEl.appendChild(dl([["data condition", r.data_condition], ["verification", r.verification], ["format", r.format],
      ["built by", r.built_by], ["created", r.created], ["git commit", r.git_commit ? r.git_commit.slice(0, 12) : null]]));
    speedDetail(group, r);
    detailEl.appendChild(el("h3", {}, "Degeneration"));
    detailEl.appendChild(dl(Object.keys(r.degeneration).sort().map(function (k) { return [k, pct(r.degeneration[k])]; })));
  }

  function render() {
    groupsEl.textContent = "";
    var shown = board.groups.filter(function (g) {
      return (!filters.track.value || g.track === filters.track.value) &&
             (!filters.testset.value || g.testset + "@" + g.testset_hash === filters.testset.value) &&
             (!filters.lang.value || g.lang_pair === filters.lang.value);
    });
    if (!shown.length) groupsEl.appendChild(el("p", {"class": "empty"}, board.groups.length ? "No group matches these filters." : "No results yet."));
    shown.forEach(function (g) {
      var card = el("div", {"class": "card", id: "group-" + g.id.replace(/[^A-Za-z0-9_-]/g, "-")});
      card.appendChild(el("h2", {}, g.track + " · " + g.testset + " · " + g.lang_pair + (g.segmentation ? " · segmented by " + g.segmentation : "")));
      card.appendChild(el("div", {"class": "muted"}, "test set hash " + g.testset_hash + " · ranked by " + LABEL[g.primary_metric] +
                                                    (g.base_system ? " · Δ against " + g.base_system : " · no base in this group: no Δ")));
      drawTable(g, card);
      var sig = el("div", {"class": "sig"});
      Object.keys(g.signatures).sort().forEach(function (m) { sig.appendChild(document.createTextNode(LABEL[m] + " ")); sig.appendChild(el("code", {}, g.signatures[m])); sig.appendChild(document.createTextNode("  ")); });
      Object.keys(g.absent).sort().forEach(function (m) { sig.appendChild(el("div", {}, LABEL[m] + " absent: " + g.absent[m])); });
      card.appendChild(sig);
      drawSpeed(g, card);
      drawPlot(g, card);
      groupsEl.appendChild(card);
    });
  }
  Object.keys(filters).forEach(function (k) {
    if (hash[k] !== undefined) filters[k].value = hash[k];
    filters[k].addEventListener("change", render);
  });
  render();
  if (hash.detail) {
    var first = board.groups.filter(function (g) { return document.querySelector('[data-group="' + g.id + '"]'); })
      .map(function (g) { return [g, g.rows.filter(function (r) { return r.system === hash.detail; })[0]]; })
      .filter(function (pair) { return pair[1]; })[0];
    if (first) showDetail(first[0], first[1]);
  }
})();
</script>
</body>
</html>
"""


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
    """harness.significance.rank_clusters (paired bootstrap over the segments files); imported
    here, when the clusters are wanted (--no-significance skips it)."""
    from harness.significance import rank_clusters

    return rank_clusters(results_root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.leaderboard", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--base-system", default=BASE_SYSTEM, help="the uncompressed base the Δ column is against")
    parser.add_argument("--no-significance", action="store_true",
                        help="skip the paired-bootstrap rank clusters (harness.significance)")
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
