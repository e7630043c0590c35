"""Sequence-level KD data (harness.stages.distill): dedup and counts, oversampling, the atomic file, the teacher."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest

from harness.inference.decode import DecodeSettings, Hypothesis, decode
from harness.stages import distill as kd
from harness.training.examples import make_examples
from conftest import TINY_TARGETS


def hyp(text: str, finished: bool = True) -> Hypothesis:
    return Hypothesis(text=text, new_tokens=len(text.split()), seconds=0.0, token_ids=(), finished=finished,
                      audio_seconds=1.0, truncated_audio=False)


def rows_of(result: kd.KdSet) -> list[tuple[int, str, str, str]]:
    return [(row.clip, row.lang, row.source, row.target) for row in result.rows]


# --- dedup and counts -------------------------------------------------------------

A, T = kd.AUTHENTIC, kd.TEACHER
NONE_DROPPED = {kind: 0 for kind in kd.DROP_KINDS}

# (case, references, teacher outputs, expected rows as (clip, source, target), duplicates, dropped kind or None)
DEDUP_CASES = [
    ("teacher differs", ["das ist gut"], ["das ist schön"],
     [(0, A, "das ist gut"), (0, T, "das ist schön")], 0, None),
    ("teacher equals the reference", ["das ist gut"], ["das ist gut"], [(0, A, "das ist gut")], 1, None),
    ("only whitespace differs", ["das ist gut"], ["  das\tist  gut \n"], [(0, A, "das ist gut")], 1, None),
    ("case differs: not a duplicate", ["das ist gut"], ["Das ist gut"],
     [(0, A, "das ist gut"), (0, T, "Das ist gut")], 0, None),
    ("punctuation differs: not a duplicate", ["das ist gut"], ["das ist gut."],
     [(0, A, "das ist gut"), (0, T, "das ist gut.")], 0, None),
    ("reference whitespace is normalised too", [" das  ist gut "], ["das ist gut"], [(0, A, "das ist gut")], 1, None),
    ("empty output", ["das ist gut"], [""], [(0, A, "das ist gut")], 0, "empty"),
    ("blank output", ["das ist gut"], [" \n\t "], [(0, A, "das ist gut")], 0, "empty"),
    ("repetition loop", ["das ist gut"], ["ja ja ja ja ja"], [(0, A, "das ist gut")], 0, "repetition"),
    ("cut at max_new_tokens", ["das ist gut"], [hyp("das ist", finished=False)], [(0, A, "das ist gut")], 0,
     "unfinished"),
    ("wrong script", ["das ist gut"], ["这很好"], [(0, A, "das ist gut")], 0, "off_target"),
    ("a finished hypothesis", ["das ist gut"], [hyp("das ist fein")],
     [(0, A, "das ist gut"), (0, T, "das ist fein")], 0, None),
    ("same text on another clip is kept", ["das ist gut", "das ist schön"], ["das ist schön", "das ist gut"],
     [(0, A, "das ist gut"), (0, T, "das ist schön"), (1, A, "das ist schön"), (1, T, "das ist gut")], 0, None),
    ("two clips with the same reference", ["ja", "ja"], ["ja", "nein"],
     [(0, A, "ja"), (1, A, "ja"), (1, T, "nein")], 1, None),
]


@pytest.mark.parametrize("case, references, outputs, expected, duplicates, dropped", DEDUP_CASES,
                         ids=[case[0] for case in DEDUP_CASES])
def test_combine_dedups_and_drops(case, references, outputs, expected, duplicates, dropped):
    ids = [f"u{i}" for i in range(len(references))]
    result = kd.combine(ids, {"de": references}, {"de": outputs})
    assert [(clip, source, target) for clip, _, source, target in rows_of(result)] == expected
    counts = result.counts["languages"]["de"]
    want_dropped = dict(NONE_DROPPED, **({dropped: 1} if dropped else {}))
    assert counts["dropped"] == want_dropped
    assert counts["duplicates"] == duplicates
    assert counts["authentic"] == sum(source == A for _, source, _ in expected) == len(references)
    assert counts["teacher"] == sum(source == T for _, source, _ in expected)
    assert counts["pairs"] == result.counts["pairs"] == len(expected)
    # Every teacher output is accounted for exactly once.
    assert counts["teacher"] + counts["duplicates"] + sum(counts["dropped"].values()) == len(references)
    assert [row.id for row in result.rows] == [ids[clip] for clip, _, _ in expected]


def test_directions_are_deduplicated_separately():
    result = kd.combine(["u0"], {"de": ["ok"], "zh": ["ok"]}, {"de": ["ok"], "zh": ["好的"]})
    assert rows_of(result) == [(0, "de", A, "ok"), (0, "zh", A, "ok"), (0, "zh", T, "好的")]
    assert result.counts["languages"]["de"]["duplicates"] == 1
    assert result.counts["languages"]["zh"]["duplicates"] == 0


def test_counts_reproduce_the_papers_arithmetic():
    """784 utterances: a German teacher that never copies a reference gives 1,568 pairs; a
    Chinese one that reproduces 499 references gives 1,069 (Moslem, IWSLT 2025)."""
    n = 784
    ids = [f"u{i}" for i in range(n)]
    de_refs = [f"satz nummer {i}" for i in range(n)]
    zh_refs = [f"第{i}句" for i in range(n)]
    teacher = {"de": [f"der satz {i}" for i in range(n)],
               "zh": [zh_refs[i] if i < 499 else f"句子{i}" for i in range(n)]}
    result = kd.combine(ids, {"de": de_refs, "zh": zh_refs}, teacher)
    languages = result.counts["languages"]
    assert languages["de"]["pairs"] == 1568 and languages["de"]["duplicates"] == 0
    assert languages["zh"]["pairs"] == 1069 and languages["zh"]["duplicates"] == 499
    assert result.counts["pairs"] == 1568 + 1069 == len(result.rows)


def test_combine_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="2 utterances, 2 references, 1 teacher outputs"):
        kd.combine(["a", "b"], {"de": ["x", "y"]}, {"de": ["x"]})
    with pytest.raises(ValueError, match="no teacher outputs for 'zh'"):
        kd.combine(["a"], {"zh": ["x"]}, {"de": ["x"]})
    with pytest.raises(ValueError, match="empty reference"):
        kd.combine(["a"], {"de": [" "]}, {"de": ["x"]})


# --- examples and oversampling ----------------------------------------------------------

@pytest.fixture()
def rows():
    references = {lang: list(TINY_TARGETS[lang][:3]) for lang in ("de", "zh")}
    outputs = {"de": ["die katze schläft", TINY_TARGETS["de"][1], ""], "zh": ["猫睡觉", "一只狗", "今天天气很好"]}
    return kd.combine(["u0", "u1", "u2"], references, outputs).rows


@pytest.mark.parametrize("factor", [1, 10])
def test_kd_examples_are_the_rows_oversampled(tiny_processor, rows, factor):
    examples = kd.kd_examples(tiny_processor, rows, factor=factor, ids=["u0", "u1", "u2"])
    assert len(examples) == factor * len(rows)
    tokenizer = tiny_processor.tokenizer
    prompts = {lang: make_examples(tiny_processor, ["x"], lang)[0].prompt for lang in ("de", "zh")}
    decoded = Counter((e.clip, e.prompt, tokenizer.decode(list(e.target[:-1]))) for e in examples)
    assert decoded == Counter({(row.clip, prompts[row.lang], row.target): factor for row in rows})


def test_oversampling_factor_must_be_a_positive_integer(tiny_processor, rows):
    assert kd.oversample(["a", "b"], 3) == ["a", "b"] * 3
    for factor in (0, -1, 1.5):
        with pytest.raises(ValueError, match="positive integer"):
            kd.kd_examples(tiny_processor, rows, factor=factor)


def test_kd_examples_check_the_clip_ids(tiny_processor, rows):
    with pytest.raises(ValueError, match="points at clip 1"):
        kd.kd_examples(tiny_processor, rows, ids=["u0", "other", "u2"])
    with pytest.raises(ValueError, match="points at clip 2"):
        kd.kd_examples(tiny_processor, rows, ids=["u0", "u1"])


# --- the file ----------------------------------------------------------------------------

def test_rows_round_trip_through_jsonl(tmp_path, rows):
    path = kd.write_rows(tmp_path / "kd.jsonl", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(rows)
    assert json.loads(lines[0]) == {"clip": 0, "id": "u0", "lang": "de", "target": TINY_TARGETS["de"][0],
                                    "source": "authentic"}
    assert kd.read_rows(path) == rows


def test_write_is_atomic(tmp_path, rows, monkeypatch):
    path = kd.write_rows(tmp_path / "kd.jsonl", rows[:2])
    before = path.read_bytes()

    def fail(_fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        kd.write_rows(path, rows)
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kd.jsonl"]  # no temporary file left


@pytest.mark.parametrize("line, problem", [
    ("{not json", "not JSON"),
    ('{"clip": 0, "id": "u0", "lang": "de", "target": "x"}', "expected the keys"),
    ('{"clip": 0, "id": "u0", "lang": "de", "target": "x", "source": "beam"}', "bad row"),
    ('{"clip": "0", "id": "u0", "lang": "de", "target": "x", "source": "teacher"}', "bad row"),
])
def test_read_rows_names_a_bad_line(tmp_path, line, problem):
    path = tmp_path / "kd.jsonl"
    path.write_text('{"clip": 0, "id": "u0", "lang": "de", "target": "x", "source": "authentic"}\n' + line + "\n")
    with pytest.raises(ValueError, match=f"kd.jsonl:2: {problem}"):
        kd.read_rows(path)


# --- the teacher ----------------------------------------------------------------------------

def test_distill_a_set_with_a_teacher(tiny_base_dir, tiny_clips, tiny_processor, tmp_path):
    from harness.systems.models import load_system
    from harness.files import content_hash

    # The tiny teacher learnt clip i -> TINY_TARGETS[i]; odd clips get other references
    # here, so that its outputs duplicate some references and differ from others.
    def reference(lang, i):
        return TINY_TARGETS[lang][i if i % 2 == 0 else (i + 4) % 12]

    utterances = tuple(SimpleNamespace(id=f"u{i}", audio=(lambda c=clip: c),
                                       targets={lang: reference(lang, i) for lang in ("de", "zh")})
                       for i, clip in enumerate(tiny_clips))
    train_set = SimpleNamespace(name="tiny_train", content_hash="sha256:tiny", utterances=utterances)
    settings = DecodeSettings(max_new_tokens=24, batch_size=8)
    summary = kd.distill_testset(tiny_base_dir, train_set, tmp_path / "kd.jsonl", settings, progress=False,
                                 log=None)

    rows = kd.read_rows(tmp_path / "kd.jsonl")
    assert json.loads(kd.summary_path(tmp_path / "kd.jsonl").read_text()) == summary
    assert summary["teacher"]["languages"]["de"]["content_hash"] == content_hash(tiny_base_dir)
    assert summary["train_set"] == {"name": "tiny_train", "content_hash": "sha256:tiny", "utterances": 8}
    assert summary["decode"]["de"]["settings"]["prompt_style"] == "instruct"
    teacher = load_system(tiny_base_dir, "de")
    for lang in ("de", "zh"):
        counts = summary["counts"]["languages"][lang]
        assert counts["authentic"] == 8
        assert counts["teacher"] + counts["duplicates"] + sum(counts["dropped"].values()) == 8
        mine = [row for row in rows if row.lang == lang]
        assert len(mine) == counts["pairs"]
        # The teacher rows are the greedy hypotheses (whitespace-normalised) of the usable outputs.
        hypotheses = decode(teacher, [u.audio() for u in utterances], lang, settings).hypotheses
        usable = {i: kd.normalise_whitespace(h.text) for i, h in enumerate(hypotheses)
                  if kd.degenerate_kind(h.text, lang, h.finished) is None
                  and kd.normalise_whitespace(h.text) != reference(lang, i)}
        assert {row.clip: row.target for row in mine if row.source == kd.TEACHER} == usable
        assert counts["teacher"] > 0 and counts["duplicates"] > 0  # both branches ran
    examples = kd.kd_examples(tiny_processor, rows, ids=[u.id for u in utterances])
    assert len(examples) == summary["counts"]["pairs"]
