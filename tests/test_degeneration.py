"""Failure kinds per segment: hand-written German and Chinese cases, length bounds, the summary."""

from __future__ import annotations

import pytest

from harness.scoring.degeneration import (
    KINDS,
    LengthBounds,
    flag_segments,
    is_off_target,
    is_repetition,
    is_untranslated,
    length_bounds,
    tokens,
    visible_chars,
)

# (case, lang, hypothesis, source or None, expected flags) -- length is judged separately below.
CASES = [
    ("de fine", "de", "Die Katze schläft auf der Matte.", "The cat sleeps on the mat.", ()),
    ("de empty string", "de", "", None, ("empty",)),
    ("de whitespace and zero-width only", "de", " \t\u200b\u00a0\n", None, ("empty",)),
    ("de word loop", "de", "Das ist ist ist ist gut.", None, ("repetition",)),
    ("de bigram loop", "de", "Vielen Dank, vielen Dank vielen Dank vielen Dank vielen Dank", None, ("repetition",)),
    ("de three repeats is not yet a loop", "de", "Nein, nein, nein, das stimmt nicht.", None, ()),
    ("de ellipsis is not a loop", "de", "Also.... ich weiß nicht!!!!", None, ()),
    ("de long output dominated by one phrase", "de",
     "Und dann sagte er und dann ging er und dann kam sie und dann lachte er und dann und dann und dann Ende",
     None, ("repetition",)),
    ("de natural long sentence", "de",
     "Wir haben das Modell mit vier Bit quantisiert und die Qualität auf dem Testset der Konferenz gemessen, "
     "wobei die Ergebnisse nur leicht schlechter als die des ursprünglichen Modells waren.", None, ()),
    ("de answered in Chinese", "de", "猫在垫子上睡觉。", None, ("off_target",)),
    ("de with Japanese kana", "de", "Die Katze ねこ schläft.", None, ("off_target",)),
    ("de untranslated English", "de", "So today I will talk about pruning.", "So, today I'll talk about pruning",
     ()),
    ("de copied source", "de", "so today i will talk about pruning", "So, today I will talk about pruning.",
     ("untranslated",)),
    ("de short source copied is allowed", "de", "Okay.", "Okay.", ()),
    ("de loop of the copied source", "de", "Hello hello hello hello", "hello hello hello hello",
     ("repetition", "untranslated")),
    ("zh fine", "zh", "猫在垫子上睡觉。", "The cat sleeps on the mat.", ()),
    ("zh empty", "zh", "", None, ("empty",)),
    ("zh character loop", "zh", "我们我们我们我们今天开始。", None, ("repetition",)),
    ("zh single character run", "zh", "好好好好好好", None, ("repetition",)),
    ("zh a number is one token", "zh", "公司有10000名员工。", None, ()),
    ("zh punctuation run is not a loop", "zh", "什么？？？？真的吗！！！！", None, ()),
    ("zh answered in German", "zh", "Die Katze schläft.", None, ("off_target",)),
    ("zh answered in English copying the source", "zh", "The cat sleeps on the mat.",
     "The cat sleeps on the mat.", ("off_target", "untranslated")),
    ("zh with Latin terms is on target", "zh", "我们使用BERT模型。", None, ()),
    ("zh long output dominated by one phrase", "zh", "这是一个测试这是一个测试这是一个问题这是一个测试这是一个答案",
     None, ("repetition",)),
    ("zh digits only", "zh", "2025", None, ("off_target",)),
]


@pytest.mark.parametrize("name,lang,hypothesis,source,expected", CASES, ids=[c[0] for c in CASES])
def test_failure_kinds(name, lang, hypothesis, source, expected):
    report = flag_segments([hypothesis], lang, sources=[source] if source is not None else None)
    assert report.flags == [expected]


@pytest.mark.parametrize("text,expected", [
    ("Die Straße, bitte.", ["die", "strasse", ",", "bitte", "."]),
    ("我们用BERT，有10000个。", ["我", "们", "用", "bert", "，", "有", "10000", "个", "。"]),
    ("Das Wort 猫猫 mitten", ["das", "wort", "猫", "猫", "mitten"]),
])
def test_tokens(text, expected):
    assert tokens(text) == expected


@pytest.mark.parametrize("text,count", [("", 0), ("a b", 2), ("猫。", 2), ("\u200b \u00a0", 0), ("Äpfel\n", 5)])
def test_visible_chars(text, count):
    assert visible_chars(text) == count


def test_predicates_directly():
    assert is_repetition("ja Ja ja JA") and not is_repetition("ja ja ja")
    assert is_off_target("Hallo", "zh") and not is_off_target("你好", "zh")
    assert is_untranslated("The cat sleeps.", "the cat sleeps") and not is_untranslated("Die Katze schläft.", "The cat sleeps.")


# ---- length ---------------------------------------------------------------------

def references_at(rates: list[float], seconds: float = 2.0) -> tuple[list[str], list[float]]:
    """References whose visible characters per second are exactly `rates` (German letters)."""
    return ["x" * round(rate * seconds) for rate in rates], [seconds] * len(rates)


def test_length_bounds_are_percentiles_widened_by_two():
    refs, secs = references_at([10.0 + i for i in range(101)])   # 10..110 chars/s, 101 references
    bounds = length_bounds(refs, secs)
    assert bounds == LengthBounds(low=11.0 / 2, high=109.0 * 2, p_low=11.0, p_high=109.0, n_references=101)


def test_length_bounds_ignore_one_outlier_reference():
    refs, secs = references_at([15.0] * 199 + [500.0])
    assert length_bounds(refs, secs).high == pytest.approx(30.0)


def test_length_bounds_need_enough_references_with_a_duration():
    refs, secs = references_at([15.0] * 13)
    secs[:4] = [0.0, 0.0, 0.0, 0.0]
    assert length_bounds(refs, secs) is None
    assert length_bounds(refs[:3] + refs[4:], [1.0] * 3 + secs[4:]) is not None


@pytest.mark.parametrize("lang,hypothesis,seconds,flagged", [
    ("de", "Die Katze schläft auf der Matte.", 2.0, False),       # 27 chars / 2 s: typical
    ("de", "Ja.", 4.0, True),                                      # 0.75 chars/s: truncated
    ("de", "Die Katze schläft auf der Matte und träumt " * 6, 2.0, True),  # run-on: > 100 chars/s
    ("zh", "猫在垫子上睡觉。", 2.0, False),                          # 4 chars/s
    ("zh", "猫。", 3.0, True),                                       # 0.67 chars/s
])
def test_length_flag(lang, hypothesis, seconds, flagged):
    # A test set speaking 12..16 chars/s (German) or 4..6 chars/s (Chinese).
    base = [12.0, 13.0, 14.0, 15.0, 16.0] if lang == "de" else [4.0, 4.5, 5.0, 5.5, 6.0]
    refs, secs = references_at(base * 4)
    report = flag_segments([hypothesis] + refs, lang, references=[refs[0]] + refs,
                           audio_seconds=[seconds] + secs)
    assert ("length" in report.flags[0]) == flagged
    assert all(flags == () or flags == ("off_target",) for flags in report.flags[1:])


def test_empty_output_is_only_empty_not_also_length():
    refs, secs = references_at([14.0] * 20)
    report = flag_segments([""] + refs[1:], "de", references=refs, audio_seconds=secs)
    assert report.flags[0] == ("empty",)


# ---- the report -----------------------------------------------------------------

def test_summary_counts_rates_and_any():
    refs, secs = references_at([14.0] * 20)
    hyps = ["Die Katze schläft."] * 20
    hyps[0] = ""
    hyps[1] = "nein nein nein nein"
    hyps[2] = "猫猫猫猫"                  # repetition and off target: counted once in "any"
    hyps[3] = "x" * 200                   # 100 chars/s against 28 chars/s references
    report = flag_segments(hyps, "de", references=refs, audio_seconds=secs, sources=["Hello there my friend."] * 20)
    summary = report.summary
    assert list(summary) == [*KINDS, "any"]
    assert summary["empty"] == {"count": 1, "rate": 0.05}
    assert summary["repetition"] == {"count": 2, "rate": 0.10}
    assert summary["off_target"] == {"count": 1, "rate": 0.05}
    assert summary["untranslated"] == {"count": 0, "rate": 0.0}
    assert summary["length"]["count"] >= 1 and "length" in report.flags[3]
    assert summary["any"]["count"] == sum(1 for f in report.flags if f)
    assert report.to_dict()["length_bounds"]["n_references"] == 20


def test_kinds_that_cannot_be_judged_have_no_count():
    report = flag_segments(["Hallo Welt.", ""], "de")
    assert report.summary["length"] == {"count": None, "rate": None, "absent_reason": "no audio durations"}
    assert report.summary["untranslated"]["count"] is None
    assert report.summary["empty"] == {"count": 1, "rate": 0.5}
    assert report.length_bounds is None


def test_count_mismatch_raises():
    with pytest.raises(ValueError, match="2 hypotheses but 1 audio_seconds"):
        flag_segments(["a", "b"], "de", audio_seconds=[1.0])
