"""Align a system's long-form output to a test set's reference segments, as the IWSLT 2026 server does.

What the evaluation server does (the rule implemented here, the only one):

- IWSLT 2026 compression track page: "COMET scores will be calculated on the test sets
  through automatic resegmentation of the hypothesis, aligned with the reference
  translation by mwerSegmenter." A submission is one plain UTF-8 file per test set and
  language pair, one sentence per line, with no talk boundaries. "Scoring will be
  case-sensitive and will include punctuation ... Tags such as applause, laughing, etc
  are not considered during the evaluation."
- The offline track page names the metrics (COMET, BLEURT, BLEU, TER, characTER) and points
  at SLT.KIT's scripts/evaluate/Eval.sh (github.com/isl-mt/SLT.KIT): it always runs
  mwerSegmenter (``segmentBasedOnMWER.sh``) on the whole hypothesis file against the set's
  reference XML, whatever the file's line count, then scores (TER with ``tercom -N -s``).

So: all of a set's hypothesis lines (talks concatenated in the set's talk order) are
realigned, in one alignment, to all of the set's reference segments, even when the line
count already equals the segment count. There is no "as is" path and no per-talk alignment:
a file whose lines already match the references one to one is realigned too (a
hypothesis with the right count but words shifted between lines gets its words moved).
Because the alignment runs over the whole set, words can cross a talk boundary: the last
words of one talk can land in the next talk's first segment (or the other way) wherever
that lowers the summed word error rate, exactly as the server's single mwerSegmenter run
allows. The result is sliced back per talk (each talk's reference segments in order) so
per-talk reports still work; a talk's lines are the set's lines at its positions.

The alignment (Matusov, Leusch, Bender and Ney, 2005, "Evaluating machine translation
output with automatic sentence segmentation", IWSLT): the hypothesis text is concatenated
and cut into exactly one line per reference segment so that the summed word error rate
against the references is minimal. It is mweralign (Matt Post's reimplementation of
mwerSegmenter, the ``mweralign`` package): its C++ dynamic programme is called through its
Python class with untokenized input (its CLI's ``-m none`` and ``-m cj``; its default
SentencePiece tokenizer downloads a model and is never used here). Tokens:

  de   whitespace-separated words, as ``-m none``; lines rejoined with single spaces.
  zh   every character outside Latin-1 (Han, kana, full-width punctuation) is one
       token, as in mweralign's ``CJSegmenter`` (``-m cj``); a run of Latin-1
       characters between spaces ("BERT", "Qwen2-Audio", "95.3%") is one token. Lines
       are joined back without spaces between wide (CJK) characters, as the official
       rule does, but a space the hypothesis had next to a Latin word is kept: removing
       every space would fuse "machine learning" into one word for sacreBLEU's zh
       tokenizer, a penalty the system did not earn. Unlike ``CJSegmenter`` (which glues
       a whole Latin-1 run, spaces included, into one token) a boundary may fall between
       two Latin words.

Tags the evaluation does not consider ("(Applause)", "(Lachen)", "（掌声）", ...:
harness.scoring.metrics.remove_non_scored_tags) are removed from both sides before aligning, so a
tag neither pulls words towards it nor leaves a reference segment that is only a tag with
a word that belongs elsewhere (such a segment is empty and gets no words); the metrics
remove them again (harness.scoring.metrics.score_all), which changes nothing the second time.

Before aligning, each distinct token is renamed to a plain ASCII id ("t0", "t1", ...):
equal tokens stay equal, so the alignment is unchanged, and text that mweralign's C++
reader would misread can no longer reach it ("###" in a reference line is its separator
between alternative references: the line is read as alternatives, and with mweralign 1.4.1
that can end in a segmentation fault). Matching is case-insensitive, as mwerSegmenter's
default. The output lines are cut from the original hypothesis tokens, so they contain
exactly the system's words (tags aside), in order.

An empty reference segment is left out of the alignment and gets an empty line (words
put there would be insertions wherever they went; the C++ reader also drops a trailing
empty line). Everything runs in memory: no files, no network.

Cost: mweralign's programme grows with (hypothesis tokens) x (reference tokens), so one
alignment of a whole set costs more than one per talk; measured in tests/test_resegment.py
(a set shaped like the mini long-form set) and tests/bench/test_bench_resegment.py (an
artificial set of 2,000 segments, the size of a real test set).

API:
  resegment_like_server(hypothesis_lines, references_by_talk, lang) -> {talk_id: Resegmented}
      the server's rule on one submission file (the set's lines, talks concatenated);
      ``references_by_talk`` in the set's talk order; each Resegmented has ``lines`` (one per
      reference segment of its talk), ``how`` ("mweralign", or "empty" when the whole
      output has no text) and ``hypothesis_segments`` (None: a submission file has no talk
      boundaries).
  resegment_talks_like_server(hypotheses_by_talk, references_by_talk, lang)
      the same for output kept per talk (the long-form eval's decoded talks, import-hyps'
      per-talk files): concatenated in the set's talk order (a talk without hypotheses adds
      no lines) and aligned as one file; ``hypothesis_segments`` is each talk's own line count.
  set_lines (all lines, parallel to the set's references), set_report (per-talk stats,
  counts per method, talks without hypotheses) and references_by_talk (from a
  ``testsets.LongFormSet``).

Bad input: an unknown language is a one-line ``ResegmentError`` (a ValueError); so are
hypotheses for a talk the references lack, and hypothesis text for a set with no
reference segments. An output without any text gets one empty line per reference segment
(method "empty"), so it is scored as empty, never dropped.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

from harness.errors import HarnessError, one_line
from harness.scoring.metrics import remove_non_scored_tags

# How a talk's lines were obtained.
MWERALIGN = "mweralign"  # cut from the one alignment of the whole set's output
EMPTY = "empty"          # the whole output has no text: every line empty
METHODS = (MWERALIGN, EMPTY)
RULE = ("IWSLT 2026 evaluation server: the whole set's hypothesis lines realigned to all its reference "
        "segments by mwerSegmenter (here mweralign), whatever the line count")

# Target language -> token unit (a plain registry, see DESIGN.md).
UNITS = {"de": "words", "zh": "characters"}

# mweralign's C++ writes two lines to stderr on every call ("loading reference file from
# stream: case sensitive = 0", "AS-WER (automatic segmentation mWER): ..."), with no switch
# to silence them; they would bury a progress bar.
_NATIVE_CHATTER = ("loading reference file from stream", "AS-WER (automatic segmentation mWER)")

# A zh token: a run of Latin-1 characters, or any single character outside Latin-1
# (applied to whitespace-free chunks, so Latin-1 runs never contain spaces).
_ZH_TOKEN = re.compile(r"[\x00-\xff]+|[^\x00-\xff]")


class ResegmentError(HarnessError, ValueError):
    """Input that cannot be re-segmented (unknown language, hypotheses for unknown talks)."""


@dataclass(frozen=True)
class Resegmented:
    """One talk's share of the set's realigned output: one line per reference segment, and how."""

    lines: tuple[str, ...]
    how: str                         # one of METHODS
    hypothesis_segments: int | None  # lines the system produced for this talk; None: not known per talk

    @property
    def reference_segments(self) -> int:
        return len(self.lines)

    def stats(self) -> dict:
        return {"how": self.how, "hypothesis_segments": self.hypothesis_segments,
                "reference_segments": self.reference_segments}


@dataclass(frozen=True)
class _Token:
    text: str
    space_before: bool  # whitespace (or a hypothesis line break) precedes it in the input


def _check_lang(lang: str) -> str:
    if lang not in UNITS:
        raise ResegmentError(one_line(f"resegment: unknown target language {lang!r}; known: {', '.join(UNITS)}"))
    return lang


def _tokenize(lines: Sequence[str], lang: str) -> list[_Token]:
    """The tokens of ``lines`` concatenated, tags removed; a line break counts as whitespace."""
    tokens: list[_Token] = []
    for line in lines:
        for chunk in remove_non_scored_tags(line).split():
            pieces = [chunk] if lang == "de" else _ZH_TOKEN.findall(chunk)
            tokens.extend(_Token(piece, space_before=(k == 0)) for k, piece in enumerate(pieces))
    return tokens


def _wide(char: str) -> bool:
    # Han, kana, Hangul and full-width punctuation are East Asian Wide / Fullwidth.
    return unicodedata.east_asian_width(char) in ("W", "F")


def _join(tokens: Sequence[_Token], lang: str) -> str:
    if lang == "de":
        return " ".join(t.text for t in tokens)
    out: list[str] = []
    for k, token in enumerate(tokens):
        # Chinese is joined back without spaces (the official rule); a space the
        # hypothesis had beside a Latin word is kept (see the module docstring).
        if k and token.space_before and not (_wide(out[-1][-1]) and _wide(token.text[0])):
            out.append(" ")
        out.append(token.text)
    return "".join(out)


def _key(text: str) -> str:
    # mwerSegmenter compares words case-insensitively by default; NFC so that a
    # decomposed umlaut matches the composed one.
    return unicodedata.normalize("NFC", text).lower()


def _import_mweralign():
    # mweralign calls logging.basicConfig(level=INFO) when imported, which would give
    # the whole harness a root handler and INFO level; undo exactly that.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import mweralign
    root.handlers[:] = handlers
    root.setLevel(level)
    return mweralign


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hold file descriptor 2 in an anonymous temporary file; pass on all but mweralign's chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:  # unlinked at once: nothing is left on disk
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                capture.seek(0)
                text = capture.read().decode("utf-8", errors="replace")
                other = [line for line in text.splitlines() if line and not line.startswith(_NATIVE_CHATTER)]
                if other:
                    sys.stderr.write("\n".join(other) + "\n")
    finally:
        os.close(saved)


def _align(hyp_tokens: list[_Token], ref_tokens: list[list[_Token]]) -> list[list[_Token]]:
    """Cut ``hyp_tokens`` into len(ref_tokens) consecutive pieces with mweralign."""
    # Empty reference segments are left out of the alignment and get no words: the C++
    # reader drops a trailing empty line (so line counts would no longer match), and a
    # word placed there would be an insertion wherever it went.
    filled = [i for i, ref in enumerate(ref_tokens) if ref]
    pieces: list[list[_Token]] = [[] for _ in ref_tokens]
    if not filled:
        # Nothing to align to: keep the text (scored as insertions), never drop it.
        pieces[0] = list(hyp_tokens)
        return pieces

    ids: dict[str, str] = {}

    def ident(token: _Token) -> str:
        return ids.setdefault(_key(token.text), f"t{len(ids)}")

    reference = "\n".join(" ".join(ident(t) for t in ref_tokens[i]) for i in filled)
    hyp_ids = [ident(t) for t in hyp_tokens]
    mweralign = _import_mweralign()
    aligner = mweralign.MwerAlign()
    aligner.set_tokenized(False)  # untokenized input: no segment-initial word-piece penalty
    with _quiet_native_stderr():
        result = aligner.align(reference, " ".join(hyp_ids))
    out_lines = [line.split() for line in result.split("\n")]
    if len(out_lines) != len(filled) or [i for line in out_lines for i in line] != hyp_ids:
        raise RuntimeError(one_line(
            f"mweralign returned {len(out_lines)} lines for {len(filled)} reference segments "
            "or changed the hypothesis tokens"))
    start = 0
    for segment, line in zip(filled, out_lines):
        pieces[segment] = hyp_tokens[start:start + len(line)]
        start += len(line)
    return pieces


def resegment_like_server(hypothesis_lines: Sequence[str], references_by_talk: Mapping[str, Sequence[str]],
                          lang: str) -> dict[str, Resegmented]:
    """The server's rule on one submission file: every line of ``hypothesis_lines`` (the set's
    output, talks concatenated in the set's talk order) realigned in one alignment to every
    reference segment of ``references_by_talk`` (in the set's talk order), then sliced back
    per talk. Always realigns, even when the line count equals the segment count.

    Returns ``{talk_id: Resegmented}`` in the references' order, each with exactly as many
    lines as its talk has reference segments; ``hypothesis_segments`` is None (a file has no
    talk boundaries).
    """
    _check_lang(lang)
    hypothesis_lines = list(hypothesis_lines)
    references = [list(refs) for refs in references_by_talk.values()]
    flat_refs = [ref for refs in references for ref in refs]
    hyp_tokens = _tokenize(hypothesis_lines, lang)
    if not hyp_tokens:
        lines, how = [""] * len(flat_refs), EMPTY
    elif not flat_refs:
        raise ResegmentError(one_line(
            f"resegment: {len(hypothesis_lines)} hypothesis lines for a set with no reference segments"))
    else:
        pieces = _align(hyp_tokens, [_tokenize([ref], lang) for ref in flat_refs])
        lines, how = [_join(piece, lang) for piece in pieces], MWERALIGN
    out: dict[str, Resegmented] = {}
    start = 0
    for talk, refs in zip(references_by_talk, references):
        out[talk] = Resegmented(lines=tuple(lines[start:start + len(refs)]), how=how, hypothesis_segments=None)
        start += len(refs)
    return out


def resegment_talks_like_server(hypotheses_by_talk: Mapping[str, Sequence[str]],
                                references_by_talk: Mapping[str, Sequence[str]], lang: str) -> dict[str, Resegmented]:
    """Output kept per talk, scored as the server scores the file it makes: the talks' lines
    concatenated in the order of ``references_by_talk`` (a talk absent from ``hypotheses_by_talk``
    adds no lines, as it would be absent from the file) and given to ``resegment_like_server``.
    Each talk's ``hypothesis_segments`` is its own line count (0 when absent or silent).

    Hypotheses for a talk the references do not have are an error (the wrong test set, most likely).
    """
    _check_lang(lang)
    extra = [talk for talk in hypotheses_by_talk if talk not in references_by_talk]
    if extra:
        shown = ", ".join(map(str, extra[:5])) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise ResegmentError(one_line(f"resegment: hypotheses for talks the references do not have: {shown}"))
    lines = [line for talk in references_by_talk for line in hypotheses_by_talk.get(talk, ())]
    aligned = resegment_like_server(lines, references_by_talk, lang)
    return {talk: replace(result, hypothesis_segments=len(hypotheses_by_talk.get(talk, ())))
            for talk, result in aligned.items()}


def set_lines(resegmented: Mapping[str, Resegmented]) -> list[str]:
    """All lines, talk after talk: parallel to the set's reference lines."""
    return [line for talk in resegmented.values() for line in talk.lines]


def set_report(resegmented: Mapping[str, Resegmented]) -> dict:
    """The rule, per-talk stats, how many talks each method handled and the talks the system
    gave no lines (JSON-ready)."""
    counts = {method: 0 for method in METHODS}
    for talk in resegmented.values():
        counts[talk.how] += 1
    return {"rule": RULE, "talks": {talk: r.stats() for talk, r in resegmented.items()}, "methods": counts,
            "talks_without_hypotheses": [talk for talk, r in resegmented.items() if r.hypothesis_segments == 0]}


def references_by_talk(longform, lang: str) -> dict[str, list[str]]:
    """``{talk_id: reference lines}`` of a ``testsets.LongFormSet`` in segments.yaml order."""
    _check_lang(lang)
    if lang not in longform.languages:
        raise ResegmentError(one_line(
            f"resegment: test set {longform.name!r} has no {lang!r} references (has {', '.join(longform.languages)})"))
    return {talk.talk_id: list(talk.references[lang]) for talk in longform.talks}
