"""Paired significance tests between systems on one test set, and rank clusters.

Test. Paired bootstrap resampling (Koehn 2004, "Statistical significance tests for
machine translation evaluation", EMNLP) exactly as sacreBLEU implements it
(``sacrebleu.significance.PairedTest`` with ``test_type="bs"``, its ``--paired-bs``;
Post 2018 for sacreBLEU): the segments of the test set are drawn with replacement
``n_samples`` times (default 1000), the same draws for both systems, each draw is
scored from the segments' sufficient statistics (corpus BLEU, chrF, chrF++, TER; never an
average of sentence scores), and the p-value is the share of draws whose centred
absolute difference exceeds the observed one, (c + 1) / (n + 1). The metric objects
carry exactly the settings of harness.scoring.metrics (13a or zh tokenizer for BLEU;
chrF: character order 6, no word n-grams; chrF++: word order 2; TER as tercom -N -s),
and the segments are read through harness.scoring.metrics.scored_text (one line, non-scored
tags removed), so the scores are the ones the leaderboard shows. The seed is fixed (default 12345, sacreBLEU's own) and
recorded, so the same files always give the same p-values.

One exception to sacreBLEU's numbers: when two systems score exactly the same,
sacreBLEU's strict ">" counts no draw and gives p = 1/(n+1), which would call two
identical outputs significantly different. An observed difference of 0 is no
evidence of any difference (P(|D| >= 0) = 1), so the p-value is 1 there.

COMET. COMET scores are not corpus statistics but means of segment scores; the paired
bootstrap on them (as COMET's own ``comet-compare`` does: resample segments, compare
the means) uses the same draws (same seed, same numpy generator call as sacreBLEU's)
and the same p-value. It needs the per-segment COMET scores of the segments files;
without them, COMET is reported absent with the reason, never estimated.

Clusters (the WMT-style clustering against the best): systems are sorted by score, best
first (TER, an edit rate, lowest first: harness.scoring.metrics.oriented);
the best system forms cluster 1 together with every system whose difference from it
is not significant (p >= ``alpha``, default 0.05); of the systems left, the best starts
cluster 2 with every remaining system not significantly different from it, and so on.
``p_value_vs_best`` is always against the test set's best system; ``p_value_vs_head``
against the head of the system's own cluster (the test that decided its cluster).

Which systems are compared (``rank_from_results``): only systems scored on the same
test-set content (hash), against the same references, with the same metric signature
(the official scoring rule in papers.md scores every system against one reference
with one setting; a number under another tokenizer or version is another number).
The largest such group is ranked; every other system is listed as excluded with the
reason, never ranked.

API:
  compare(systems: {name: (hypotheses, references)}, lang, metric, *, segment_scores=None,
          n_samples=1000, seed=12345, alpha=0.05) -> [{system, score, p_value_vs_best,
          p_value_vs_head, cluster}] (best first)
  rank_from_results(results_root, track, testset, lang, metric, ...) -> {..., "ranking": [...],
          "excluded": [{system, reason}], "absent_reason"}
  rank_clusters(results_root, ...) -> fn(rows, metric) -> {system: cluster}: the hook
          harness.leaderboard.render.build takes (rows name their summary file in ``source``)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sacrebleu.significance import PairedTest

# The bootstrap's seed handling and draws are harness.scoring.metrics' (its confidence intervals use the same).
from harness.scoring.metrics import (BLEU_TOKENIZERS, BOOTSTRAP_SAMPLES as DEFAULT_SAMPLES, BOOTSTRAP_SEED as DEFAULT_SEED,
                             METRIC_NAMES as METRICS, MetricError, bootstrap_indices, corpus_metric, oriented,
                             sacrebleu_seed, scored_text)

from harness.errors import HarnessError

ALPHA = 0.05


class SignificanceError(HarnessError, ValueError):
    """Inputs no paired test can be run on; the message is one line."""


def sacrebleu_metric(metric: str, lang: str):
    """harness.scoring.metrics.corpus_metric's object (so signatures match the results files); a SignificanceError otherwise."""
    try:
        return corpus_metric(metric, lang)
    except MetricError as error:
        if lang not in BLEU_TOKENIZERS:  # the language is checked first, and its message is the same here
            raise SignificanceError(str(error)) from None
        raise SignificanceError(f"no sacreBLEU paired test for metric {metric!r}; known: {', '.join(METRICS)}") from None


def signature(metric: str, lang: str) -> str:
    """The signature harness.scoring.metrics writes for ``metric`` (without the test's seed and resamples)."""
    metric_object = sacrebleu_metric(metric, lang)
    # sacreBLEU knows the number of references only after scoring once (one reference here, as always).
    metric_object.corpus_score(["a"], [["a"]])
    return metric_object.get_signature().format()


def _check_seed(seed: int, n_samples: int) -> None:
    # sacreBLEU treats a seed of 0 as "no seed" (`self._seed if self._seed else None`),
    # which would make the test non-deterministic; refuse it rather than surprise.
    if isinstance(seed, bool) or not isinstance(seed, int) or seed <= 0:
        raise SignificanceError(f"seed must be a positive integer (sacreBLEU ignores 0), got {seed!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise SignificanceError(f"n_samples must be a positive integer, got {n_samples!r}")


def _paired_sacrebleu(head: tuple[str, list[str]], others: list[tuple[str, list[str]]], references: list[str],
                      metric: str, lang: str, n_samples: int, seed: int) -> dict[str, float]:
    """{system: p-value vs head} from sacreBLEU's PairedTest."""
    metric_object = sacrebleu_metric(metric, lang)
    with sacrebleu_seed(seed):
        test = PairedTest([head] + others, {metric: metric_object}, references=[references], test_type="bs",
                          n_samples=n_samples, n_jobs=1)
        _, table = test()
    (results,) = [column for key, column in table.items() if key != "System"]
    # No observed difference is no evidence of one (see the module docstring).
    return {name: 1.0 if result.score == results[0].score else float(result.p_value)
            for (name, _), result in zip(others, results[1:])}


def paired_bootstrap_means(head: Sequence[float], other: Sequence[float], n_samples: int = DEFAULT_SAMPLES,
                           seed: int = DEFAULT_SEED) -> float:
    """p-value of the difference of two systems' mean segment scores (COMET), sacreBLEU's statistic on means."""
    a, b = np.asarray(head, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise SignificanceError(f"per-segment scores differ in count ({a.size} and {b.size}) or are empty")
    observed = abs(a.mean() - b.mean())
    if observed == 0:
        return 1.0
    idxs = bootstrap_indices(a.size, n_samples, seed)
    sample_diffs = np.abs(a[idxs].mean(axis=1) - b[idxs].mean(axis=1))
    centred = sample_diffs - sample_diffs.mean()
    return float((np.sum(centred > observed) + 1) / (n_samples + 1))


def compare(systems: Mapping[str, tuple[Sequence[str], Sequence[str]]], lang: str, metric: str, *,
            segment_scores: Mapping[str, Sequence[float]] | None = None, n_samples: int = DEFAULT_SAMPLES,
            seed: int = DEFAULT_SEED, alpha: float = ALPHA) -> list[dict]:
    """Score, p-value against the best and rank cluster of every system, best first.

    ``systems``: {name: (hypotheses, references)}, every system with the same references
    (a ``SignificanceError`` otherwise: the caller excludes mismatches before). For
    ``metric="comet"``, ``segment_scores`` gives each system's per-segment COMET scores
    (x100, as harness.scoring.metrics reports them); hypotheses and references then only fix
    the segment count.
    """
    _check_seed(seed, n_samples)
    if metric not in METRICS:
        raise SignificanceError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if not systems:
        return []
    names = list(systems)
    references = [scored_text(r) for r in systems[names[0]][1]]
    if not references:
        raise SignificanceError("no segments to compare")
    hypotheses: dict[str, list[str]] = {}
    for name in names:
        hyps, refs = systems[name]
        if [scored_text(r) for r in refs] != references:
            raise SignificanceError(f"system {name!r} has other references than {names[0]!r}: not comparable")
        if len(hyps) != len(references):
            raise SignificanceError(f"system {name!r}: {len(hyps)} hypotheses but {len(references)} references")
        hypotheses[name] = [scored_text(h) for h in hyps]

    if metric == "comet":
        if segment_scores is None or any(segment_scores.get(name) is None for name in names):
            missing = [name for name in names if not segment_scores or segment_scores.get(name) is None]
            raise SignificanceError(f"COMET: no per-segment scores for {', '.join(missing)}; COMET cannot be tested")
        for name in names:
            if len(segment_scores[name]) != len(references):
                raise SignificanceError(f"COMET: system {name!r} has {len(segment_scores[name])} segment scores "
                                        f"for {len(references)} segments")
        scores = {name: float(np.mean(segment_scores[name])) for name in names}
    else:
        metric_object = sacrebleu_metric(metric, lang)
        scores = {name: float(metric_object.corpus_score(hypotheses[name], [references]).score) for name in names}

    # Best first (lowest TER first); equal scores in name order, so the ranking never depends on dict order.
    order = sorted(names, key=lambda name: (-oriented(metric, scores[name]), name))
    rows = {name: {"system": name, "score": scores[name], "p_value_vs_best": None, "p_value_vs_head": None,
                   "cluster": None} for name in names}

    def test(head: str, others: list[str]) -> dict[str, float]:
        if not others:
            return {}
        if metric == "comet":
            return {o: paired_bootstrap_means(segment_scores[head], segment_scores[o], n_samples, seed) for o in others}
        return _paired_sacrebleu((head, hypotheses[head]), [(o, hypotheses[o]) for o in others],
                                 references, metric, lang, n_samples, seed)

    remaining = list(order)
    cluster = 0
    while remaining:
        cluster += 1
        head, rest = remaining[0], remaining[1:]
        p_values = test(head, rest)
        rows[head].update(cluster=cluster, p_value_vs_head=1.0)
        kept = []
        for name in rest:
            if p_values[name] >= alpha:
                rows[name].update(cluster=cluster, p_value_vs_head=p_values[name])
            else:
                kept.append(name)
        if cluster == 1:
            rows[head]["p_value_vs_best"] = 1.0
            for name in rest:
                rows[name]["p_value_vs_best"] = p_values[name]
        remaining = kept
    return [rows[name] for name in order]


# ---------------------------------------------------------------- from results files

def _read_system(summary_path: Path, testset: str, lang: str, metric: str) -> dict:
    """One system's entry for ranking, or {"reason": ...} when it cannot be ranked."""
    system = summary_path.parent.name
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {"system": system, "reason": f"{summary_path.name}: unreadable summary ({error})"}
    if not isinstance(summary, dict):
        return {"system": system, "reason": f"{summary_path.name}: not a results summary"}
    system = str(summary.get("system") or system)
    info = summary.get("testset") or {}
    if info.get("name") not in (None, testset):
        return {"system": system, "reason": f"summary is for test set {info.get('name')!r}, not {testset!r}"}
    report = (summary.get("languages") or {}).get(lang)
    if report is None:
        return {"system": system, "reason": f"no en-{lang} results"}
    entry = (report.get("metrics") or {}).get(metric)
    if entry is None:
        return {"system": system, "reason": f"no {metric} in the en-{lang} results"}
    if entry.get("value") is None:
        return {"system": system, "reason": f"{metric} absent: {entry.get('absent_reason') or 'no reason given'}"}
    segments_path = summary_path.with_name(summary_path.name[:-len(".json")] + ".segments.jsonl")
    hyps, refs, seg_scores = [], [], []
    try:
        with open(segments_path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if row.get("lang") != lang:
                    continue
                if not isinstance(row.get("hypothesis"), str) or not isinstance(row.get("reference"), str):
                    return {"system": system, "reason": f"{segments_path.name}:{number}: no hypothesis or reference"}
                hyps.append(row["hypothesis"])
                refs.append(row["reference"])
                seg_scores.append((row.get("scores") or {}).get(metric))
    except OSError as error:
        return {"system": system, "reason": f"{segments_path.name}: unreadable ({error.strerror or error})"}
    except ValueError:
        return {"system": system, "reason": f"{segments_path.name}: not JSON lines"}
    if not refs:
        return {"system": system, "reason": f"{segments_path.name}: no en-{lang} segments"}
    if metric == "comet" and any(s is None for s in seg_scores):
        return {"system": system, "reason": "no per-segment COMET scores in the segments file"}
    return {"system": system, "summary": summary_path, "hyps": hyps, "refs": refs,
            "segment_scores": seg_scores if metric == "comet" else None,
            "content_hash": info.get("content_hash"), "signature": entry.get("signature"),
            "value": entry.get("value"), "verification": summary.get("verification")}


def _refs_hash(refs: list[str]) -> str:
    return hashlib.sha256(json.dumps(refs, ensure_ascii=False).encode()).hexdigest()[:16]


def rank_from_results(results_root: str | os.PathLike, track: str, testset: str, lang: str, metric: str, *,
                      n_samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED, alpha: float = ALPHA,
                      systems: Sequence[str] | None = None) -> dict:
    """Rank the systems of ``<results_root>/<track>/*/<testset>.json`` on one direction and metric.

    Only the largest group of systems sharing test-set content hash, references and
    metric signature is ranked (ties: the group holding the best-scoring system);
    every other system is in ``excluded`` with the reason. ``absent_reason`` says why
    nothing is ranked (no results, or COMET without per-segment scores anywhere).
    """
    _check_seed(seed, n_samples)
    if metric not in METRICS:
        raise SignificanceError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    folder = Path(results_root) / track
    paths = sorted(folder.glob(f"*/{testset}.json"))
    if systems is not None:
        paths = [p for p in paths if p.parent.name in set(systems)]
    out = {"track": track, "testset": testset, "lang": lang, "metric": metric, "signature": None,
           "content_hash": None, "test": {"method": "paired bootstrap resampling (Koehn 2004)",
                                          "implementation": "sacrebleu.significance.PairedTest (bs)"
                                          if metric != "comet" else "paired bootstrap on segment means",
                                          "n_samples": n_samples, "seed": seed, "alpha": alpha},
           "ranking": [], "excluded": [], "absent_reason": None}
    entries = [_read_system(path, testset, lang, metric) for path in paths]
    return _rank_entries(entries, out, lang, metric, n_samples, seed, alpha,
                         f"no results for {testset} under {folder}")


def _rank_entries(entries: list[dict], out: dict, lang: str, metric: str, n_samples: int, seed: int, alpha: float,
                  nothing: str) -> dict:
    testset = out["testset"]
    usable = [e for e in entries if "reason" not in e]
    out["excluded"] = [{"system": e["system"], "reason": e["reason"]} for e in entries if "reason" in e]
    if not usable:
        out["absent_reason"] = (f"no system has usable {metric} results for {testset} en-{lang}" if entries
                                else nothing)
        return out

    def key(e: dict) -> tuple:
        return (e["content_hash"], _refs_hash(e["refs"]), e["signature"])

    groups: dict[tuple, list[dict]] = {}
    for e in usable:
        groups.setdefault(key(e), []).append(e)
    chosen_key = max(groups, key=lambda k: (len(groups[k]), max(oriented(metric, float(e["value"])) for e in groups[k])))
    chosen = groups[chosen_key]
    content_hash, refs_hash, sig = chosen_key
    for e in usable:
        if key(e) == chosen_key:
            continue
        if e["content_hash"] != content_hash:
            reason = f"test-set content hash {e['content_hash']} differs from the ranked systems' {content_hash}"
        elif _refs_hash(e["refs"]) != refs_hash:
            n = len(chosen[0]["refs"])
            differing = (sum(a != b for a, b in zip(e["refs"], chosen[0]["refs"])) + abs(len(e["refs"]) - n))
            reason = (f"references differ from the ranked systems' ({len(e['refs'])} segments against {n}, "
                      f"{differing} differ)")
        else:
            reason = f"{metric} signature {e['signature']!r} differs from the ranked systems' {sig!r}"
        out["excluded"].append({"system": e["system"], "reason": reason})
    out["excluded"].sort(key=lambda x: x["system"])
    out["signature"], out["content_hash"] = sig, content_hash
    if metric != "comet":
        # The test recomputes the scores with this sacreBLEU; say so when its settings string differs.
        now = signature(metric, lang)
        out["test"]["recomputed_signature"] = now
        if now != sig:
            out["test"]["note"] = f"stored signature {sig!r}, recomputed under {now!r}"
    ranking = compare({e["system"]: (e["hyps"], e["refs"]) for e in chosen}, lang, metric,
                      segment_scores={e["system"]: e["segment_scores"] for e in chosen} if metric == "comet" else None,
                      n_samples=n_samples, seed=seed, alpha=alpha)
    by_name = {e["system"]: e for e in chosen}
    for row in ranking:
        row["verification"] = by_name[row["system"]]["verification"]
    out["ranking"] = ranking
    return out


def rank_clusters(results_root: str | os.PathLike, *, n_samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED,
                  alpha: float = ALPHA):
    """The leaderboard's hook (harness.leaderboard.render.build's ``significance``): rows, metric -> {system: cluster}.

    Each row names its summary (``source``, relative to ``results_root``), test set and
    language; the rows of one leaderboard group are ranked as ``rank_from_results`` ranks
    them (same references, hash and signature), and a system that cannot be tested
    (no per-segment COMET scores, other references) gets no cluster.
    """
    _check_seed(seed, n_samples)
    root = Path(results_root)

    def clusters(rows: list[dict], metric: str) -> dict[str, int]:
        if not rows or metric not in METRICS:
            return {}
        lang, testset = rows[0]["lang"], rows[0]["testset"]
        entries = [_read_system(root / row["source"], testset, lang, metric) for row in rows]
        out = {"testset": testset, "ranking": [], "excluded": [], "absent_reason": None, "test": {}}
        ranked = _rank_entries(entries, out, lang, metric, n_samples, seed, alpha, "no rows")
        return {row["system"]: row["cluster"] for row in ranked["ranking"]}

    return clusters
