"""Per-segment failure kinds of a system output, computed from text alone (no model).

Compressed speech LLMs fail in recognisable ways: blank outputs and repetition
loops (Liu et al., IWSLT 2026, on noisy sets), answers in the wrong language, an
English transcript instead of a translation, and hallucinated run-ons. The WMT26
compression harness flags only an output/source character ratio; here each
segment gets the name of every failure it shows, so a leaderboard reader sees why
a score fell:

  empty         no visible character (whitespace, control and format characters only)
  repetition    a 1..4-gram repeated back to back at least 4 times ("ja ja ja ja",
                "我们我们我们我们"), or, in an output of at least 20 tokens, one 1..4-gram
                whose occurrences cover more than half of it (a loop with variations)
  off_target    a Chinese output without any Han character; a German output with Han,
                kana or Hangul characters
  untranslated  the output equals the English source (after case folding and removing
                punctuation), for sources of at least 3 words: "OK." may stay "OK."
  length        characters per audio second outside [P1 / 2, P99 x 2] of the test set's
                references (see `LengthBounds`)

An empty output is flagged `empty` only: it is trivially short and in no language.
A kind that cannot be judged (no sources, no durations) has count None in the
summary, with the reason, rather than a count of zero.

Tokens, in both languages: each Han character alone (Chinese is written without
spaces), each run of other letters or digits (a German word; "10000" is one token,
not four zeros in a row), each punctuation mark; compared case-insensitively. An
n-gram made only of punctuation never counts as a repetition ("...." is not a loop).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

KINDS = ("empty", "repetition", "off_target", "untranslated", "length")

MIN_CONSECUTIVE = 4          # the same n-gram back to back this many times is a loop
MAX_NGRAM = 4
LONG_OUTPUT_TOKENS = 20      # the coverage rule only judges outputs at least this long
MAX_NGRAM_COVERAGE = 0.5
UNTRANSLATED_MIN_WORDS = 3
LENGTH_LOW_PERCENTILE, LENGTH_HIGH_PERCENTILE = 1.0, 99.0
LENGTH_FACTOR = 2.0
MIN_REFERENCES_FOR_LENGTH = 10  # fewer references say too little about a test set's speaking rate

# Unified ideographs with extensions A-H and the compatibility blocks.
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U000323af"
_OTHER_CJK = r"\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff"  # kana, Hangul
HAN_RE = re.compile(f"[{_HAN}]")
CJK_RE = re.compile(f"[{_HAN}{_OTHER_CJK}]")
# One Han character, or a run of other word characters (Latin words, numbers), or one punctuation mark.
TOKEN_RE = re.compile(f"[{_HAN}]|[^\\s{_HAN}\\W]+|[^\\w\\s]")
LATIN_LETTER_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


def visible_chars(text: str) -> int:
    """Characters a reader sees: not whitespace (Z*), control or format (C*) characters."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] not in "ZC")


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text.casefold())


def _has_word(gram: tuple[str, ...]) -> bool:
    return any(any(ch.isalnum() for ch in token) for token in gram)


def max_consecutive_repeat(toks: list[str]) -> tuple[int, tuple[str, ...]]:
    """The longest back-to-back run of one 1..4-gram (with a word in it), and that n-gram."""
    best = (0, ())
    for n in range(1, MAX_NGRAM + 1):
        for start in range(len(toks) - n + 1):
            gram = tuple(toks[start:start + n])
            if not _has_word(gram):
                continue
            count = 1
            position = start + n
            while tuple(toks[position:position + n]) == gram:
                count += 1
                position += n
            if count > best[0]:
                best = (count, gram)
    return best


def max_ngram_coverage(toks: list[str]) -> float:
    """The largest share of the tokens covered by the occurrences of one 1..4-gram (with a word in it)."""
    best = 0.0
    for n in range(1, MAX_NGRAM + 1):
        counts: dict[tuple[str, ...], int] = {}
        for start in range(len(toks) - n + 1):
            gram = tuple(toks[start:start + n])
            if _has_word(gram):
                counts[gram] = counts.get(gram, 0) + 1
        if counts:
            best = max(best, max(counts.values()) * n / len(toks))
    return best


def is_repetition(text: str) -> bool:
    toks = tokens(text)
    if max_consecutive_repeat(toks)[0] >= MIN_CONSECUTIVE:
        return True
    return len(toks) >= LONG_OUTPUT_TOKENS and max_ngram_coverage(toks) > MAX_NGRAM_COVERAGE


def is_off_target(text: str, lang: str) -> bool:
    if lang == "zh":
        return HAN_RE.search(text) is None
    return CJK_RE.search(text) is not None


def _normalised_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def is_untranslated(text: str, source: str) -> bool:
    words = _normalised_words(source)
    if len(words) < UNTRANSLATED_MIN_WORDS or not LATIN_LETTER_RE.search(text) or CJK_RE.search(text):
        return False
    return _normalised_words(text) == words


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class LengthBounds:
    """The plausible characters-per-second range of a test set, from its references.

    [P1 / 2, P99 x 2]: the 1st and 99th percentiles rather than the extremes, so one
    misaligned reference does not widen the range, and a factor of two beyond them,
    so a terse but correct translation or a fast speaker is not flagged; outputs a
    factor of two outside what nearly every reference does are truncated or run on.
    """

    low: float
    high: float
    p_low: float
    p_high: float
    n_references: int


def length_bounds(references: list[str], audio_seconds: list[float]) -> LengthBounds | None:
    """Bounds from the references with a positive duration; None when fewer than 10 have one."""
    rates = sorted(visible_chars(ref) / seconds for ref, seconds in zip(references, audio_seconds)
                   if seconds and seconds > 0)
    if len(rates) < MIN_REFERENCES_FOR_LENGTH:
        return None
    p_low = _percentile(rates, LENGTH_LOW_PERCENTILE)
    p_high = _percentile(rates, LENGTH_HIGH_PERCENTILE)
    return LengthBounds(low=p_low / LENGTH_FACTOR, high=p_high * LENGTH_FACTOR, p_low=p_low, p_high=p_high,
                        n_references=len(rates))


@dataclass(frozen=True)
class DegenerationReport:
    flags: list[tuple[str, ...]]          # per segment, the kinds it shows, in KINDS order
    summary: dict[str, dict]              # kind (and "any") -> {"count", "rate"}
    length_bounds: LengthBounds | None    # None: the length kind was not judged
    length_absent_reason: str | None

    def to_dict(self) -> dict:
        bounds = None
        if self.length_bounds is not None:
            b = self.length_bounds
            bounds = {"low_chars_per_s": b.low, "high_chars_per_s": b.high, "p1": b.p_low, "p99": b.p_high,
                      "n_references": b.n_references}
        return {"summary": self.summary, "length_bounds": bounds, "length_absent_reason": self.length_absent_reason}


def flag_segments(hypotheses: list[str], lang: str, *, references: list[str] | None = None,
                  audio_seconds: list[float] | None = None, sources: list[str | None] | None = None,
                  bounds: LengthBounds | None = None) -> DegenerationReport:
    """Flag every hypothesis. `bounds` defaults to `length_bounds(references, audio_seconds)`."""
    n = len(hypotheses)
    for name, values in (("references", references), ("audio_seconds", audio_seconds), ("sources", sources)):
        if values is not None and len(values) != n:
            raise ValueError(f"{n} hypotheses but {len(values)} {name}: counts must match")

    absent_reason = None
    if bounds is None:
        if audio_seconds is None:
            absent_reason = "no audio durations"
        elif references is None:
            absent_reason = "no references to take the test set's speaking rate from"
        else:
            bounds = length_bounds(references, audio_seconds)
            if bounds is None:
                absent_reason = f"fewer than {MIN_REFERENCES_FOR_LENGTH} references with an audio duration"

    flags: list[tuple[str, ...]] = []
    for i, hypothesis in enumerate(hypotheses):
        kinds = set()
        if visible_chars(hypothesis) == 0:
            kinds.add("empty")
        else:
            if is_repetition(hypothesis):
                kinds.add("repetition")
            if is_off_target(hypothesis, lang):
                kinds.add("off_target")
            if sources is not None and sources[i] and is_untranslated(hypothesis, sources[i]):
                kinds.add("untranslated")
            seconds = audio_seconds[i] if audio_seconds is not None else None
            if bounds is not None and seconds and seconds > 0:
                rate = visible_chars(hypothesis) / seconds
                if rate < bounds.low or rate > bounds.high:
                    kinds.add("length")
        flags.append(tuple(kind for kind in KINDS if kind in kinds))

    # A kind that could not be judged has no count: zero would claim it was checked.
    unjudged = {"length": absent_reason} if bounds is None else {}
    if sources is None:
        unjudged["untranslated"] = "no source text"
    summary = {}
    for kind in (*KINDS, "any"):
        if kind in unjudged:
            summary[kind] = {"count": None, "rate": None, "absent_reason": unjudged[kind]}
            continue
        count = sum(1 for f in flags if (f if kind == "any" else kind in f))
        summary[kind] = {"count": count, "rate": count / n if n else 0.0}
    return DegenerationReport(flags=flags, summary=summary, length_bounds=bounds, length_absent_reason=absent_reason)
