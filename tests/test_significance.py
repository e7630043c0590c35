"""Paired bootstrap significance and rank clusters (harness.scoring.significance).

Systems are texts against fixed German references: "good" equals the references, "bad"
keeps two words of each, "near" differs from "good" in one segment of sixty (a
difference the test must not call significant), "mid" replaces a third of the segments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.scoring import significance
from harness.scoring.significance import SignificanceError, compare, rank_from_results

REFS = ["die katze schläft auf dem sofa heute", "ein hund läuft im park schnell",
        "das wetter ist heute schön und warm", "wir übersetzen gesprochene sprache in text"] * 15
GOOD = list(REFS)
BAD = [" ".join(r.split()[:2]) + " und so weiter" for r in REFS]
NEAR = ["die katze schläft"] + GOOD[1:]
MID = [r if i % 3 else "etwas ganz anderes" for i, r in enumerate(REFS)]


def by_name(rows):
    return {row["system"]: row for row in rows}


def test_identical_systems_share_cluster_one_with_p_one():
    rows = by_name(compare({"a": (GOOD, REFS), "b": (list(GOOD), REFS)}, "de", "bleu"))
    assert rows["a"]["p_value_vs_best"] == 1.0 and rows["b"]["p_value_vs_best"] == 1.0
    assert rows["a"]["cluster"] == rows["b"]["cluster"] == 1


def test_a_clearly_better_system_is_significant_and_clusters_separately():
    for metric in ("bleu", "chrf", "chrf++"):
        rows = compare({"bad": (BAD, REFS), "good": (GOOD, REFS)}, "de", metric)
        assert [r["system"] for r in rows] == ["good", "bad"]
        assert rows[1]["p_value_vs_best"] < 0.05
        assert (rows[0]["cluster"], rows[1]["cluster"]) == (1, 2)


def test_a_tiny_difference_is_not_significant():
    rows = by_name(compare({"good": (GOOD, REFS), "near": (NEAR, REFS), "bad": (BAD, REFS)}, "de", "bleu"))
    assert rows["near"]["p_value_vs_best"] >= 0.05
    assert rows["good"]["cluster"] == rows["near"]["cluster"] == 1
    assert rows["bad"]["cluster"] == 2


def test_clusters_continue_from_the_best_remaining_system():
    rows = compare({"good": (GOOD, REFS), "mid": (MID, REFS), "bad": (BAD, REFS)}, "de", "bleu")
    assert [(r["system"], r["cluster"]) for r in rows] == [("good", 1), ("mid", 2), ("bad", 3)]
    assert rows[1]["p_value_vs_best"] < 0.05 and rows[2]["p_value_vs_best"] < 0.05
    assert rows[2]["p_value_vs_head"] == 1.0  # the head of its own cluster
    # bad left cluster 2 because it differs significantly from mid, that cluster's head
    assert by_name(compare({"mid": (MID, REFS), "bad": (BAD, REFS)}, "de", "bleu"))["bad"]["p_value_vs_best"] < 0.05


def test_scores_equal_harness_metrics():
    from harness.scoring.metrics import bleu_score, chrf_pp_score

    rows = by_name(compare({"mid": (MID, REFS), "good": (GOOD, REFS)}, "de", "bleu"))
    assert rows["mid"]["score"] == pytest.approx(bleu_score(MID, REFS, "de").value)
    rows = by_name(compare({"mid": (MID, REFS), "good": (GOOD, REFS)}, "de", "chrf++"))
    assert rows["mid"]["score"] == pytest.approx(chrf_pp_score(MID, REFS, "de").value)


def test_deterministic_with_the_seed():
    noisy = [r if i % 7 else " ".join(r.split()[::-1]) for i, r in enumerate(REFS)]
    systems = {"near": (NEAR, REFS), "noisy": (noisy, REFS), "good": (GOOD, REFS)}
    first = compare(systems, "de", "bleu", seed=7)
    assert compare(systems, "de", "bleu", seed=7) == first
    assert 0.0 < by_name(first)["noisy"]["p_value_vs_best"] <= 1.0
    with pytest.raises(SignificanceError, match="seed"):
        compare(systems, "de", "bleu", seed=0)  # sacreBLEU would leave 0 unseeded


def test_comet_paired_bootstrap_on_segment_scores():
    high = [80.0 + (i % 5) for i in range(60)]
    low = [70.0 + (i % 7) for i in range(60)]
    rows = compare({"a": (GOOD, REFS), "b": (BAD, REFS), "c": (GOOD, REFS)}, "de", "comet",
                   segment_scores={"a": high, "b": low, "c": list(high)})
    rows = by_name(rows)
    assert rows["a"]["score"] == pytest.approx(sum(high) / 60)
    assert rows["c"]["p_value_vs_best"] == 1.0 and rows["c"]["cluster"] == 1
    assert rows["b"]["p_value_vs_best"] < 0.05 and rows["b"]["cluster"] == 2
    with pytest.raises(SignificanceError, match="no per-segment scores"):
        compare({"a": (GOOD, REFS), "b": (BAD, REFS)}, "de", "comet")


def test_ter_ranks_the_fewest_edits_first():
    from harness.scoring.metrics import ter_score

    # TER is an edit rate: "good" (no edits) is best although its score is the lowest.
    rows = compare({"bad": (BAD, REFS), "mid": (MID, REFS), "good": (GOOD, REFS)}, "de", "ter")
    assert [(r["system"], r["cluster"]) for r in rows] == [("good", 1), ("mid", 2), ("bad", 3)]
    assert rows[0]["score"] == 0.0 < rows[1]["score"] < rows[2]["score"]
    assert rows[1]["score"] == pytest.approx(ter_score(MID, REFS, "de").value)
    assert rows[1]["p_value_vs_best"] < 0.05 and rows[0]["p_value_vs_best"] == 1.0
    near = by_name(compare({"good": (GOOD, REFS), "near": (NEAR, REFS)}, "de", "ter"))
    assert near["near"]["cluster"] == 1 and near["near"]["p_value_vs_best"] >= 0.05


def test_non_scored_tags_are_not_tested_either():
    # "(Applause)" in a hypothesis or reference is not considered (harness.scoring.metrics.scored_text).
    tagged = [h + " (Applause)" for h in GOOD]
    refs = ["(Laughter) " + r if i % 2 else r for i, r in enumerate(REFS)]
    rows = by_name(compare({"tagged": (tagged, refs), "mid": (MID, refs)}, "de", "bleu"))
    assert rows["tagged"]["score"] == pytest.approx(100.0) and rows["tagged"]["cluster"] == 1


def test_other_references_are_refused():
    with pytest.raises(SignificanceError, match="other references"):
        compare({"a": (GOOD, REFS), "b": (GOOD, REFS[::-1])}, "de", "bleu")


# ---------------------------------------------------------------- from results files

def write_result(root: Path, system: str, hyps, refs=REFS, *, lang="de", testset="tiny", content_hash="sha256:abc",
                 signature=None, comet=None, comet_value=None):
    from harness.scoring.metrics import score_all

    scores = score_all(hyps, refs, lang, ["bleu", "ter"])
    folder = root / "mini" / system
    folder.mkdir(parents=True)
    bleu = scores["bleu"].to_dict()
    if signature is not None:
        bleu["signature"] = signature
    comet_entry = ({"metric": "comet", "value": comet_value, "signature": "comet|model:x|version:2",
                    "absent_reason": None} if comet_value is not None else
                   {"metric": "comet", "value": None, "signature": None, "absent_reason": "no COMET model configured"})
    summary = {"schema": "iwslt-harness/eval", "system": system, "track": "mini",
               "testset": {"name": testset, "content_hash": content_hash},
               "languages": {lang: {"metrics": {"bleu": bleu, "ter": scores["ter"].to_dict(), "comet": comet_entry}}}}
    (folder / f"{testset}.json").write_text(json.dumps(summary), encoding="utf-8")
    rows = []
    for i, (h, r) in enumerate(zip(hyps, refs)):
        seg = {"bleu": scores["bleu"].per_segment[i], "ter": scores["ter"].per_segment[i]}
        if comet is not None:
            seg["comet"] = comet[i]
        rows.append({"id": f"u{i}", "lang": lang, "reference": r, "hypothesis": h, "scores": seg})
    (folder / f"{testset}.segments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_rank_from_results_excludes_mismatches_with_the_reason(tmp_path):
    write_result(tmp_path, "good", GOOD)
    write_result(tmp_path, "near", NEAR)
    write_result(tmp_path, "bad", BAD)
    write_result(tmp_path, "other-refs", GOOD, refs=["x " + r for r in REFS])
    write_result(tmp_path, "other-set", GOOD, content_hash="sha256:def")
    write_result(tmp_path, "other-sig", GOOD, signature="nrefs:1|case:lc|eff:no|tok:intl|smooth:exp|version:2.6.0")
    result = rank_from_results(tmp_path, "mini", "tiny", "de", "bleu")
    assert [(r["system"], r["cluster"]) for r in result["ranking"]] == [("good", 1), ("near", 1), ("bad", 2)]
    reasons = {e["system"]: e["reason"] for e in result["excluded"]}
    assert set(reasons) == {"other-refs", "other-set", "other-sig"}
    assert "references differ" in reasons["other-refs"]
    assert "content hash" in reasons["other-set"]
    assert "signature" in reasons["other-sig"]
    assert result["signature"] == significance.signature("bleu", "de")
    assert result["test"]["n_samples"] == 1000 and result["test"]["seed"] == significance.DEFAULT_SEED
    assert rank_from_results(tmp_path, "mini", "tiny", "de", "bleu") == result  # deterministic
    assert all(r["system"] not in reasons for r in result["ranking"])


def test_rank_from_results_comet_absent_or_present(tmp_path):
    write_result(tmp_path, "good", GOOD)
    write_result(tmp_path, "bad", BAD)
    result = rank_from_results(tmp_path, "mini", "tiny", "de", "comet")
    assert result["ranking"] == [] and "comet" in result["absent_reason"].lower()
    assert all("COMET model" in e["reason"] for e in result["excluded"])

    other = tmp_path / "with-comet"
    write_result(other, "good", GOOD, comet=[85.0 + i % 3 for i in range(60)], comet_value=86.0)
    write_result(other, "bad", BAD, comet=[60.0 + i % 4 for i in range(60)], comet_value=61.5)
    write_result(other, "noseg", GOOD, comet_value=86.0)  # a value without per-segment scores
    result = rank_from_results(other, "mini", "tiny", "de", "comet")
    assert [(r["system"], r["cluster"]) for r in result["ranking"]] == [("good", 1), ("bad", 2)]
    assert result["excluded"] == [{"system": "noseg", "reason": "no per-segment COMET scores in the segments file"}]


def test_rank_from_results_without_results(tmp_path):
    result = rank_from_results(tmp_path, "mini", "tiny", "de", "bleu")
    assert result["ranking"] == [] and "no results" in result["absent_reason"]
    write_result(tmp_path, "good", GOOD)
    assert "no en-zh results" in rank_from_results(tmp_path, "mini", "tiny", "zh", "bleu")["excluded"][0]["reason"]


def test_rank_clusters_is_the_leaderboard_hook(tmp_path):
    write_result(tmp_path, "good", GOOD)
    write_result(tmp_path, "near", NEAR)
    write_result(tmp_path, "bad", BAD)
    rows = [{"system": name, "source": f"mini/{name}/tiny.json", "testset": "tiny", "lang": "de"}
            for name in ("bad", "good", "near")]
    hook = significance.rank_clusters(tmp_path)
    assert hook(rows, "bleu") == {"good": 1, "near": 1, "bad": 2}
    assert hook(rows, "comet") == {}  # no COMET anywhere: no clusters, never made up


def test_rank_from_results_by_ter_lowest_first_and_in_the_best_group(tmp_path):
    write_result(tmp_path, "good", GOOD)
    write_result(tmp_path, "mid", MID)
    write_result(tmp_path, "bad", BAD)
    result = rank_from_results(tmp_path, "mini", "tiny", "de", "ter")
    assert [(r["system"], r["cluster"]) for r in result["ranking"]] == [("good", 1), ("mid", 2), ("bad", 3)]
    assert result["signature"] == significance.signature("ter", "de") and "tok:tercom|norm:yes" in result["signature"]
    # Two groups of one (other content hashes): the one ranked holds the best system, the lowest TER.
    other = tmp_path / "split"
    write_result(other, "bad", BAD, content_hash="sha256:bad")
    write_result(other, "good", GOOD, content_hash="sha256:good")
    split = rank_from_results(other, "mini", "tiny", "de", "ter")
    assert [r["system"] for r in split["ranking"]] == ["good"] and split["content_hash"] == "sha256:good"
    assert rank_from_results(other, "mini", "tiny", "de", "bleu")["content_hash"] == "sha256:good"
