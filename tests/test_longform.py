"""Long-form evaluation (harness.evaluation.longform): segment -> decode -> resegment -> score, and its place in make eval.

The set: two talks written with harness.data.testsets.write_longform_set. Talk A joins five
committed speech clips (tests/data/mini-base-fixed) with pauses of known length; its gold
segments are the clips and its references their German and Chinese targets. Talk B is
silence with one gold segment: no automatic segmenter finds speech there, so its
hypothesis must be empty, scored against its reference, and reported. The system is
the shipped mini base (quality is not the point here).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import numpy as np
import pytest

from harness.evaluation import longform
from harness.data.audio import SAMPLE_RATE
from harness.inference.decode import DecodeSettings
from harness.data.testsets import load_testset, write_longform_set
from harness.data.tracks import TestSetSpec, get_track
from test_segment import FIXED, TALK_GAPS, TALK_ORDER, build_talk

ORDER = TALK_ORDER[:5]
SETTINGS = DecodeSettings(max_new_tokens=48, batch_size=8)
BASE = FIXED.parents[2] / "models" / "mini-base"


@pytest.fixture(scope="module")
def longform_set(tmp_path_factory):
    fixed = load_testset(FIXED, verify=False)
    utterances = list(fixed.utterances)
    audio, spans = build_talk([u.audio() for u in utterances], ORDER, TALK_GAPS)
    talk_a = {"talk_id": "talk_a", "audio": audio, "segments": [(start, end - start) for start, end in spans],
              **{lang: [utterances[i].en if lang == "en" else utterances[i].targets[lang] for i in ORDER]
                 for lang in ("en", "de", "zh")}}
    talk_b = {"talk_id": "talk_b", "audio": np.zeros(6 * SAMPLE_RATE, np.float32), "segments": [(1.0, 2.0)],
              "en": ["Hello."], "de": ["Hallo."], "zh": ["你好。"]}
    folder = tmp_path_factory.mktemp("longform") / "tiny_longform"
    write_longform_set(folder, name="tiny_longform", version="1", domain="talks", talks=[talk_a, talk_b],
                       generator={"name": "tests/test_longform.py"})
    return load_testset(folder)


@pytest.fixture(scope="module")
def track(longform_set):
    spec = TestSetSpec("tiny_longform", "local", str(longform_set.folder))
    return dataclasses.replace(get_track("mini"), testsets=(spec,))


def run(track, longform_set, tmp_path, method):
    spec = track.testsets[0]
    return longform.evaluate_longform(BASE, track, spec, longform_set, SETTINGS, results_root=tmp_path,
                                      method=method, name="mini-base")


def test_gold_segments_are_realigned_too(track, longform_set, tmp_path):
    summary = run(track, longform_set, tmp_path, "gold")
    assert summary["segmentation"]["method"] == "gold" and summary["segmentation"]["stats"]["segments"] == 6
    for lang in ("de", "zh"):
        report = summary["languages"][lang]
        # As many hypotheses as references, and still realigned: the server always runs mwerSegmenter
        # on the whole set (harness.segmentation.resegment; the harness once scored such talks as they were).
        assert report["resegmentation"]["methods"]["mweralign"] == 2
        assert [t["hypothesis_segments"] for t in report["resegmentation"]["talks"].values()] == [5, 1]
        assert report["metrics"]["bleu"]["value"] is not None and report["metrics"]["bleu"]["signature"]
        assert report["decode_pass"]["decoded_segments"] == 6
        # Speed by the protocol, on the segmentation's first segments (all six here).
        assert report["speed"]["status"] == "measured" and report["speed"]["comparability"]["sample"].endswith(":6")
    # Results files: the summary, and one row per reference segment and direction, in segments.yaml order.
    folder = tmp_path / "mini" / "mini-base"
    assert json.loads((folder / "tiny_longform.gold.json").read_text())["schema"] == longform.LONGFORM_SCHEMA
    rows = [json.loads(line) for line in (folder / "tiny_longform.gold.segments.jsonl").read_text().splitlines()]
    assert [(r["lang"], r["talk"]) for r in rows] == [(lang, talk) for lang in ("de", "zh")
                                                     for talk in ["talk_a"] * 5 + ["talk_b"]]
    assert [r["reference"] for r in rows[:6]] == longform_set.reference("de")


def test_automatic_segmentation_is_realigned_and_a_silent_talk_is_scored_empty(track, longform_set, tmp_path):
    summary = run(track, longform_set, tmp_path, "dac")
    stats = summary["segmentation"]["stats"]
    assert stats["talks_without_segments"] == ["talk_b"]  # silence: no segment, reported
    assert stats["max_seconds"] <= 9.0 and stats["segments"] < 5  # DAC joins clips up to the model's window
    assert stats["references_cut"] == 0
    assert summary["segments"]["talk_b"] == []
    rows = [json.loads(line) for line in
            (tmp_path / "mini" / "mini-base" / "tiny_longform.segments.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    for lang in ("de", "zh"):
        report = summary["languages"][lang]
        # The silent talk adds no lines; the set's lines are aligned as one (the server's rule), so
        # talk_b's reference may receive talk_a's last words, as it would on the server.
        assert report["resegmentation"]["talks_without_hypotheses"] == ["talk_b"]
        assert report["resegmentation"]["methods"]["mweralign"] == 2
        # Realigning moves line boundaries only: the resegmented lines hold the system's text, in order.
        ours = "".join(r["hypothesis"] for r in rows if r["lang"] == lang)
        assert ours and re.sub(r"\s", "", ours) == re.sub(r"\s", "", "".join(report["hypothesis_lines"]))
    assert sum(bool(r["hypothesis"]) for r in rows if r["talk"] == "talk_a") >= 4


def test_make_eval_runs_long_form_sets(track, longform_set, tmp_path, monkeypatch, capsys):
    from harness.evaluation import evaluate
    from harness.systems.models import write_manifest

    system = tmp_path / "build" / "mini" / "mini-base"
    shutil.copytree(BASE, system / "model")
    write_manifest(system, format="hf", languages={"de": "model", "zh": "model"}, prompt="instruct",
                   base_model="models/mini-base", built_by="tests/test_longform.py")
    monkeypatch.setattr(evaluate, "get_track", lambda name: track)
    code = evaluate.main(["--track", "mini", "--build-root", str(tmp_path / "build"), "--results-root",
                          str(tmp_path / "results"), "--batch-size", "8", "--segmentation", "vad"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tiny_longform: 5 segments by vad" in out and "mini-base / tiny_longform / en-de: bleu" in out
    summary = json.loads((tmp_path / "results" / "mini" / "mini-base" / "tiny_longform.vad.json").read_text())
    assert summary["segmentation"]["method"] == "vad" and summary["storage"]["status"]
