"""Align a system's hypotheses to the reference segments of a long-form test set.

The IWSLT rule (the shared task's official scoring, as the organizers apply it): if a
talk's hypothesis file has as many lines as the talk has reference segments, it is
scored as is; otherwise the hypotheses are re-segmented to the reference segments with
mwerSegmenter (Matusov, Leusch, Bender and Ney, 2005, "Evaluating machine translation
output with automatic sentence segmentation", IWSLT): the talk's hypothesis text is
concatenated and cut into exactly one line per reference segment so that the summed
word error rate against the references is minimal. For Chinese, text is split into
characters first and joined back after.

The alignment itself is mweralign (Matt Post's reimplementation of mwerSegmenter, the
``mweralign`` package): its C++ dynamic programme over the reference segments is called
through its Python class, with untokenized input (its CLI's ``-m none`` and ``-m cj``;
its default SentencePiece tokenizer downloads a model and is never used here). Tokens:

  de   whitespace-separated words, as ``-m none``; lines rejoined with single spaces.
  zh   every character outside Latin-1 (Han, kana, full-width punctuation) is one
       token, as in mweralign's ``CJSegmenter`` (``-m cj``); a run of Latin-1
       characters between spaces ("BERT", "Qwen2-Audio", "95.3%") is one token. Lines
       are joined back without spaces between wide (CJK) characters, as the official
       rule does, but a space the hypothesis had next to a Latin word is kept. Why:
       removing every space would fuse "machine learning" into one word for sacreBLEU's
       zh tokenizer, a penalty the system did not earn, and the as-is path keeps those
       spaces, so both paths would score the same text differently. Unlike
       ``CJSegmenter`` (which glues a whole Latin-1 run, spaces included, into one token)
       a boundary may fall between two Latin words.

Re-segmentation is per talk (never across talks: a talk's words cannot end up in
another talk's segments). Before aligning, each distinct token is renamed to a plain
ASCII id ("t0", "t1", ...): equal tokens stay equal, so the alignment is unchanged, and
text that mweralign's C++ reader would misread can no longer reach it ("###" in a
reference line is its separator between alternative references: the line is read as
alternatives, and with mweralign 1.4.1 that can end in a segmentation fault). Matching is
case-insensitive, as mwerSegmenter's default. The output lines are cut from the
original hypothesis tokens, so they contain exactly the system's words, in order.

An empty reference segment is left out of the alignment and gets an empty line (words
put there would be insertions wherever they went; the C++ reader also drops a trailing
empty line). Everything runs in memory: no files, no network.

API: ``resegment_talk(hypotheses, references, lang) -> Resegmented`` (``lines``, one per
reference segment; ``how``: "as-is", "mweralign", or "empty" for a talk with no
hypothesis text; ``hypothesis_segments``), ``resegment_set(hyps_by_talk, refs_by_talk,
lang) -> {talk_id: Resegmented}`` in the references' talk order, ``set_lines`` (all
lines, parallel to the set's references), ``set_report`` (per-talk stats and counts per
method) and ``references_by_talk`` (from a ``testsets.LongFormSet``).

Bad input: an unknown language is a one-line ``ResegmentError`` (a ValueError); a talk
with no hypotheses (silent: "empty"; absent from the system's output: "missing") gets
one empty line per reference segment and says so in its method, so it is scored as
empty, never dropped. Hypotheses for a talk the references lack are an error.
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
from dataclasses import dataclass
from typing import Iterator

from harness.errors import one_line

# How each talk was treated.
AS_IS = "as-is"          # as many hypotheses as reference segments: scored unchanged
MWERALIGN = "mweralign"  # concatenated and aligned to the reference segments
EMPTY = "empty"          # no hypothesis text at all (a silent talk): all lines empty
MISSING = "missing"      # the talk is absent from the system's output: all lines empty
METHODS = (AS_IS, MWERALIGN, EMPTY, MISSING)

# Target language -> token unit (a plain registry, see DESIGN.md).
UNITS = {"de": "words", "zh": "characters"}

# mweralign's C++ writes two lines to stderr on every call ("loading reference file from
# stream: case sensitive = 0", "AS-WER (automatic segmentation mWER): ..."), with no switch
# to silence them; with one call per talk they would bury a progress bar.
_NATIVE_CHATTER = ("loading reference file from stream", "AS-WER (automatic segmentation mWER)")

# A zh token: a run of Latin-1 characters, or any single character outside Latin-1
# (applied to whitespace-free chunks, so Latin-1 runs never contain spaces).
_ZH_TOKEN = re.compile(r"[\x00-\xff]+|[^\x00-\xff]")


class ResegmentError(ValueError):
    """Input that cannot be re-segmented (unknown language, hypotheses for unknown talks)."""


@dataclass(frozen=True)
class Resegmented:
    """One talk's hypotheses, one line per reference segment, and how they were obtained."""

    lines: tuple[str, ...]
    how: str                # one of METHODS
    hypothesis_segments: int  # lines the system produced for this talk (0 when missing)

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
    """The tokens of ``lines`` concatenated; a line break counts as whitespace."""
    tokens: list[_Token] = []
    for line in lines:
        for chunk in line.split():
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


def resegment_talk(hypotheses: Sequence[str], references: Sequence[str], lang: str) -> Resegmented:
    """One talk: ``hypotheses`` as they are when the counts match, else aligned to ``references``.

    Always returns exactly ``len(references)`` lines (possibly empty).
    """
    _check_lang(lang)
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) == len(references):
        return Resegmented(lines=tuple(hypotheses), how=AS_IS, hypothesis_segments=len(hypotheses))
    hyp_tokens = _tokenize(hypotheses, lang)
    if not hyp_tokens:
        return Resegmented(lines=("",) * len(references), how=EMPTY, hypothesis_segments=len(hypotheses))
    if not references:
        raise ResegmentError(one_line(
            f"resegment: {len(hypotheses)} hypothesis lines for a talk with no reference segments"))
    pieces = _align(hyp_tokens, [_tokenize([ref], lang) for ref in references])
    return Resegmented(lines=tuple(_join(piece, lang) for piece in pieces), how=MWERALIGN,
                       hypothesis_segments=len(hypotheses))


def resegment_set(hyps_by_talk: Mapping[str, Sequence[str]], refs_by_talk: Mapping[str, Sequence[str]],
                  lang: str) -> dict[str, Resegmented]:
    """Every talk of a test set, in the order of ``refs_by_talk`` (segments.yaml order).

    A talk missing from ``hyps_by_talk`` gets empty lines (method "missing"); hypotheses
    for a talk the references do not have are an error (the wrong test set, most likely).
    """
    _check_lang(lang)
    extra = [talk for talk in hyps_by_talk if talk not in refs_by_talk]
    if extra:
        shown = ", ".join(map(str, extra[:5])) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise ResegmentError(one_line(f"resegment: hypotheses for talks the references do not have: {shown}"))
    out: dict[str, Resegmented] = {}
    for talk, references in refs_by_talk.items():
        if talk not in hyps_by_talk:
            out[talk] = Resegmented(lines=("",) * len(references), how=MISSING, hypothesis_segments=0)
        else:
            out[talk] = resegment_talk(hyps_by_talk[talk], references, lang)
    return out


def set_lines(resegmented: Mapping[str, Resegmented]) -> list[str]:
    """All lines, talk after talk: parallel to the set's reference lines."""
    return [line for talk in resegmented.values() for line in talk.lines]


def set_report(resegmented: Mapping[str, Resegmented]) -> dict:
    """Per-talk stats and how many talks each method handled (JSON-ready)."""
    counts = {method: 0 for method in METHODS}
    for talk in resegmented.values():
        counts[talk.how] += 1
    return {"talks": {talk: r.stats() for talk, r in resegmented.items()}, "methods": counts}


def references_by_talk(longform, lang: str) -> dict[str, list[str]]:
    """``{talk_id: reference lines}`` of a ``testsets.LongFormSet`` in segments.yaml order."""
    _check_lang(lang)
    if lang not in longform.languages:
        raise ResegmentError(one_line(
            f"resegment: test set {longform.name!r} has no {lang!r} references (has {', '.join(longform.languages)})"))
    return {talk.talk_id: list(talk.references[lang]) for talk in longform.talks}
