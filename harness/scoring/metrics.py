"""Translation metrics with their exact settings: BLEU, chrF, chrF++, TER and COMET.

BLEU (Papineni et al. 2002) is computed as sacreBLEU does it (Post 2018, "A Call
for Clarity in Reporting BLEU Scores"): detokenized text, the metric's own
tokenizer (13a for German, zh for Chinese, as the IWSLT task scores), and a
signature string that names every setting, so two numbers are only compared
when their signatures match. chrF (Popović 2015) uses character n-grams up to 6
and no word n-grams; chrF++ (Popović 2017) adds word uni- and bigrams. TER (Snover
et al. 2006, "A Study of Translation Edit Rate with Targeted Human Annotation") is
sacreBLEU's reimplementation of tercom with the settings of the IWSLT evaluation
(SLT.KIT's scripts/evaluate/Eval.sh, which the offline track's page points at, runs
``tercom -N -s``: normalized, case-sensitive): ``TER(normalized=True,
case_sensitive=True)``, with ``asian_support=True`` for Chinese (CJK characters split
as tercom's normalization cannot). TER is an edit rate: lower is better
(``LOWER_IS_BETTER``; ``oriented`` turns any score so that higher is better, which is
what ranking code compares). All four come from the sacrebleu package itself and equal
its command line on the same files (tests/test_metrics.py checks this).

Tags the evaluation does not consider. The IWSLT 2026 compression track page: "Scoring
will be case-sensitive and will include punctuation ... Tags such as applause, laughing,
etc are not considered during the evaluation." ``remove_non_scored_tags`` removes an
explicit list of such tags (``NON_SCORED_TAGS``: audience and sound events in English,
German and Chinese, in half- or full-width round or square brackets, any case) from
hypotheses and references before every score: every metric reads its text through
``scored_text`` (make eval, the long-form eval, import-hyps, ``python -m harness score``
and the significance tests all score through here), and the long-form alignment removes
them before aligning (harness.segmentation.resegment). Other bracketed text ("(USA)") is kept: it is
translation, scored with its punctuation.

COMET (Rei et al. 2020, "COMET: A Neural Framework for MT Evaluation"; Rei et al.
2022 for wmt22-comet-da, the 2026 task's primary metric) needs unbabel-comet,
whose pins (transformers<5, numpy<2) clash with the model stack, so it runs in a
separate environment (.venv-comet, `make comet-env`) through
harness/scoring/comet_runner.py, fed a JSONL file. This process never imports comet.
COMET values are reported x100 (as the task's papers do); the per-segment scores
too.

Every present score carries its 95 % confidence interval (``ci95``), from bootstrap
resampling of the test set's segments (Koehn 2004, "Statistical significance tests for
machine translation evaluation"). BLEU, chrF, chrF++ and TER: sacreBLEU's own bootstrap, the
steps of its ``corpus_score(..., n_bootstrap=1000)`` (``--confidence``): 1,000 resamples,
each scored from the segments' summed statistics, seed 12345 (sacreBLEU's default
``SACREBLEU_SEED``); the interval is sacreBLEU's "μ = mean ± ci", the mean of the draws'
scores and half the distance between the 2.5th and 97.5th percentile draws
(sacrebleu.significance.estimate_ci). COMET, a mean of segment scores: the same draws
(the very numpy call sacreBLEU makes) on the segment scores, the mean of each draw, and
the same percentile rule. The same files give the same interval every time.

A metric that cannot be computed is a Score with value None and the reason,
never a made-up number; its interval is None too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.significance import _bootstrap_resample, estimate_ci

from harness import REPO
from harness.scoring.degeneration import DegenerationReport, flag_segments
from harness.data.tracks import is_hub_id
from harness.data.hub import UnpinnedError, pinned_revision
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.data.tracks import Track

COMET_RUNNER = Path(__file__).with_name("comet_runner.py")
DEFAULT_COMET_PYTHON = REPO / ".venv-comet" / "bin" / "python"
COMET_RUNNER_BAD_INPUT = 2  # the runner's exit code for a model or input it cannot use; its stderr says why

# The IWSLT task scores German with sacreBLEU's default 13a tokenizer and Chinese
# with its zh tokenizer (Moslem 2025; organizers' evaluation scripts).
BLEU_TOKENIZERS = {"de": "13a", "zh": "zh"}

# Every metric by name, in reporting order (the registry METRICS below has these keys);
# all but COMET are sacreBLEU's corpus metrics (corpus_metric).
SACREBLEU_METRICS = ("bleu", "chrf", "chrf++", "ter")
METRIC_NAMES = SACREBLEU_METRICS + ("comet",)
METRIC_LABEL = {"bleu": "BLEU", "chrf": "chrF", "chrf++": "chrF++", "ter": "TER", "comet": "COMET"}
# TER counts edits: a lower score is a better one. Every other metric here: higher is better.
LOWER_IS_BETTER = frozenset({"ter"})
# The chrF variant a paper reports per direction beside BLEU (Moslem 2025: chrF++ for
# German, plain chrF for Chinese).
CHRF_FOR = {"de": "chrf++", "zh": "chrf"}

# The bootstrap's settings: sacreBLEU's defaults (its --confidence-n and SACREBLEU_SEED), for the
# confidence intervals here and the paired tests of harness.scoring.significance alike.
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 12345
SACREBLEU_CI_METHOD = "sacreBLEU bootstrap resampling (sacrebleu.significance.estimate_ci)"
COMET_CI_METHOD = "bootstrap of segment means (same draws as sacreBLEU)"

# sacreBLEU reads its seed from the environment; the lock keeps two threads of this
# process from seeing each other's value while one bootstrap runs.
_SEED_LOCK = threading.Lock()


class MetricError(HarnessError, ValueError):
    """Inputs no metric can be computed on (counts differ, unknown language)."""


@dataclass(frozen=True)
class Score:
    """One metric on one system output. `value` is None exactly when `absent_reason` says why."""

    metric: str
    value: float | None
    signature: str | None
    absent_reason: str | None = None
    per_segment: list[float] | None = None
    ci95: dict | None = None  # the bootstrap interval (confidence_interval's dict); None when absent

    @property
    def present(self) -> bool:
        return self.value is not None

    def to_dict(self, with_segments: bool = False) -> dict:
        row = {"metric": self.metric, "value": self.value, "signature": self.signature,
               "absent_reason": self.absent_reason, "ci95": self.ci95}
        if with_segments:
            row["per_segment"] = self.per_segment
        return row


def absent(metric: str, reason: str) -> Score:
    return Score(metric=metric, value=None, signature=None, absent_reason=reason, per_segment=None, ci95=None)


def oriented(name: str, value: float) -> float:
    """``value`` of metric ``name`` turned so that higher is better (TER negated): what ranking compares."""
    return -value if name in LOWER_IS_BETTER else value


def single_line(text: str) -> str:
    # sacreBLEU's command line reads one segment per line (universal newlines), so a
    # line break inside a segment is scored as a space; do the same in memory.
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


# ---- tags the evaluation does not consider ------------------------------------

# "Tags such as applause, laughing, etc are not considered during the evaluation" (IWSLT 2026
# compression track page). An explicit list, as TED-style transcripts and their German and
# Chinese translations write audience and sound events; never any bracketed text.
NON_SCORED_TAGS = ("applause", "laughter", "laughs", "laughing", "music", "cheering",
                   "applaus", "beifall", "lachen", "gelächter", "musik", "jubel",
                   "掌声", "笑声", "音乐", "欢呼")
_ONE_TAG = (r"[(\[（［]\s*(?:" + "|".join(map(re.escape, NON_SCORED_TAGS)) + r")\s*[)\]）］]")
# A run of tags with the white space around it (so "(Laughter) (Applause)" goes as one).
_TAG_RUN = re.compile(r"\s*(?:" + _ONE_TAG + r"\s*)+", re.IGNORECASE)


def remove_non_scored_tags(text: str) -> str:
    """``text`` without the tags the evaluation does not consider ((Applause), [Laughter], (Lachen),
    （掌声）, ... : ``NON_SCORED_TAGS`` in round or square, half- or full-width brackets, any case).

    A tag that stood between spaces leaves one space, one glued to its neighbours ("谢谢（掌声）我们")
    leaves none; a line with a tag is stripped at its ends. A line without one is returned unchanged.
    """
    if not _TAG_RUN.search(text):
        return text
    return _TAG_RUN.sub(lambda match: " " if any(c.isspace() for c in match.group()) else "", text).strip()


def scored_text(text: str) -> str:
    """What every metric reads of a segment: one line (``single_line``) without non-scored tags."""
    return remove_non_scored_tags(single_line(text))


def _check_pair(hypotheses: list[str], references: list[str]) -> tuple[list[str], list[str]]:
    if len(hypotheses) != len(references):
        raise MetricError(f"{len(hypotheses)} hypotheses but {len(references)} references: counts must match")
    if not references:
        raise MetricError("no segments to score")
    return [scored_text(h) for h in hypotheses], [scored_text(r) for r in references]


def _bleu_tokenizer(lang: str) -> str:
    try:
        return BLEU_TOKENIZERS[lang]
    except KeyError:
        raise MetricError(f"no BLEU tokenizer for target language {lang!r}; known: {', '.join(BLEU_TOKENIZERS)}") from None


def corpus_metric(name: str, lang: str, *, sentence: bool = False) -> BLEU | CHRF | TER:
    """The sacreBLEU metric object of ``name`` (bleu, chrf, chrf++, ter) with this harness's settings.

    BLEU: the task's tokenizer for ``lang``; ``sentence=True`` adds effective order, as
    sacrebleu.sentence_bleu does. chrF: character order 6, no word n-grams; chrF++: word
    order 2. TER: as ``tercom -N -s`` (normalized, case-sensitive), Asian support for
    Chinese. Every metric checks the language as BLEU does, so an unknown language fails
    alike everywhere (MetricError, before an unknown name).
    """
    tokenize = _bleu_tokenizer(lang)
    if name == "bleu":
        return BLEU(tokenize=tokenize, effective_order=True) if sentence else BLEU(tokenize=tokenize)
    if name == "chrf":
        return CHRF(char_order=6, word_order=0)
    if name == "chrf++":
        return CHRF(char_order=6, word_order=2)
    if name == "ter":
        return TER(normalized=True, case_sensitive=True, asian_support=(lang == "zh"))
    raise MetricError(f"no sacreBLEU metric {name!r}; known: {', '.join(SACREBLEU_METRICS)}")


# ---- bootstrap confidence intervals ------------------------------------------

@contextmanager
def sacrebleu_seed(seed: int) -> Iterator[None]:
    """SACREBLEU_SEED set to ``seed`` while the block runs (sacreBLEU's bootstrap reads it there)."""
    with _SEED_LOCK:
        before = os.environ.get("SACREBLEU_SEED")
        os.environ["SACREBLEU_SEED"] = str(seed)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("SACREBLEU_SEED", None)
            else:
                os.environ["SACREBLEU_SEED"] = before


def bootstrap_indices(n_segments: int, n_samples: int, seed: int) -> np.ndarray:
    # The very call sacreBLEU's bootstrap (_bootstrap_resample, _paired_bs_test) makes, so a
    # mean of segment scores (COMET) is resampled with the same draws as BLEU and chrF.
    return np.random.default_rng(seed).choice(n_segments, size=(n_samples, n_segments), replace=True)


def confidence_interval(mean: float, half_width: float, method: str) -> dict:
    """The stored form of a 95 % interval, sacreBLEU's "μ = mean ± half_width"."""
    mean, half_width = float(mean), float(half_width)
    return {"mean": mean, "half_width": half_width, "low": mean - half_width, "high": mean + half_width,
            "n_samples": BOOTSTRAP_SAMPLES, "seed": BOOTSTRAP_SEED, "method": method}


def sacrebleu_ci(name: str, lang: str, hypotheses: list[str], references: list[str]) -> dict:
    """sacreBLEU's own bootstrap interval of corpus metric ``name`` (its ``--confidence``).

    The steps of ``corpus_score(..., n_bootstrap=1000)``: the segments' statistics, sacreBLEU's
    resampling (``_bootstrap_resample``: seeded draws, each draw scored from summed statistics),
    and the percentile rule, here ``sacrebleu.significance.estimate_ci`` on the draws' scores as
    float64. Not corpus_score itself: its ``Score.estimate_ci`` averages with statistics.mean,
    which raises TypeError when a chrF draw scores exactly 0 (a Python float among numpy
    float32s; sacreBLEU 2.6.0's CLI crashes there too), e.g. a draw of only empty hypotheses.
    """
    # A metric object of its own, so the bootstrap never touches the one whose signature is
    # stored (an object that ran corpus_score(n_bootstrap=...) signs bs:1000|seed:12345, and the
    # leaderboard groups rows by the stored signature).
    metric_object = corpus_metric(name, lang)
    stats = metric_object._extract_corpus_statistics(hypotheses, [references])
    with sacrebleu_seed(BOOTSTRAP_SEED):
        _, resampled = _bootstrap_resample(stats, metric_object, BOOTSTRAP_SAMPLES)
    mean, half_width = estimate_ci(np.array([float(draw.score) for draw in resampled], dtype=np.float64))
    return confidence_interval(mean, half_width, SACREBLEU_CI_METHOD)


def segment_mean_ci(per_segment: Sequence[float]) -> dict:
    """The bootstrap interval of a mean of segment scores (COMET): sacreBLEU's draws and percentiles."""
    scores = np.asarray(per_segment, dtype=np.float64)
    means = scores[bootstrap_indices(scores.size, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED)].mean(axis=1)
    mean, half_width = estimate_ci(means)
    return confidence_interval(mean, half_width, COMET_CI_METHOD)


def _sacrebleu_score(name: str, lang: str, hypotheses: list[str], references: list[str]) -> Score:
    corpus_object, sentence_object = corpus_metric(name, lang), corpus_metric(name, lang, sentence=True)
    hyps, refs = _check_pair(hypotheses, references)
    corpus = corpus_object.corpus_score(hyps, [refs])
    # Per-segment scores are sentence-level scores (BLEU with effective order, as
    # sacrebleu.sentence_bleu does); the system value is always the corpus score.
    per_segment = [sentence_object.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
    return Score(metric=name, value=float(corpus.score), signature=corpus_object.get_signature().format(),
                 absent_reason=None, per_segment=per_segment, ci95=sacrebleu_ci(name, lang, hyps, refs))


def bleu_score(hypotheses: list[str], references: list[str], lang: str, *,
               sources: list[str] | None = None, comet_model: str | None = None, track: str | None = None) -> Score:
    return _sacrebleu_score("bleu", lang, hypotheses, references)


def chrf_score(hypotheses: list[str], references: list[str], lang: str, *,
               sources: list[str] | None = None, comet_model: str | None = None, track: str | None = None) -> Score:
    return _sacrebleu_score("chrf", lang, hypotheses, references)


def chrf_pp_score(hypotheses: list[str], references: list[str], lang: str, *,
                  sources: list[str] | None = None, comet_model: str | None = None, track: str | None = None) -> Score:
    return _sacrebleu_score("chrf++", lang, hypotheses, references)


def ter_score(hypotheses: list[str], references: list[str], lang: str, *,
              sources: list[str] | None = None, comet_model: str | None = None, track: str | None = None) -> Score:
    return _sacrebleu_score("ter", lang, hypotheses, references)


# ---- COMET ------------------------------------------------------------------

def comet_python() -> Path:
    """The comet environment's interpreter: $HARNESS_COMET_PYTHON, else <repo>/.venv-comet/bin/python."""
    configured = os.environ.get("HARNESS_COMET_PYTHON")
    return Path(configured) if configured else DEFAULT_COMET_PYTHON


def comet_score(hypotheses: list[str], references: list[str], lang: str, *,
                sources: list[str] | None = None, comet_model: str | None = None, track: str | None = None,
                batch_size: int | None = None, gpus: int | None = None, timeout_s: float | None = None) -> Score:
    """COMET through harness/scoring/comet_runner.py in the comet environment.

    Absent (value None, with the reason) when no model is configured, the comet
    environment is missing, the model is not available offline, or the segments
    have no source text (every COMET estimator reads the source).
    """
    hyps, refs = _check_pair(hypotheses, references)
    if comet_model is None:
        where = f" for track {track}" if track else ""
        return absent("comet", f"no COMET model configured{where}")
    if sources is None or any(s is None for s in sources):
        return absent("comet", "COMET needs the source text of every segment and the segments have none")
    if len(sources) != len(hyps):
        raise MetricError(f"{len(sources)} sources but {len(hyps)} hypotheses: counts must match")
    command_model = ["--model", comet_model]
    if is_hub_id(comet_model):
        # The hub's main moves: a hub COMET model is read at its pinned commit, or not at all.
        try:
            command_model += ["--revision", pinned_revision(comet_model)]
        except UnpinnedError as error:
            return absent("comet", str(error))
    python = comet_python()
    if not python.exists():
        shown = python.parent.parent.name if python.parent.name == "bin" else str(python)
        return absent("comet", f"COMET environment {shown} not found: run make comet-env")

    with tempfile.TemporaryDirectory(prefix="harness-comet-") as work:
        segments = Path(work) / "segments.jsonl"
        output = Path(work) / "scores.json"
        with open(segments, "w", encoding="utf-8") as stream:
            for src, mt, ref in zip(sources, hyps, refs):
                stream.write(json.dumps({"src": single_line(src), "mt": mt, "ref": ref}, ensure_ascii=False) + "\n")
        command = [str(python), str(COMET_RUNNER), *command_model, "--input", str(segments),
                   "--output", str(output)]
        if batch_size is not None:
            command += ["--batch-size", str(batch_size)]
        if gpus is not None:
            command += ["--gpus", str(gpus)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return absent("comet", f"COMET runner did not finish within {timeout_s:g} s")
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1].strip() if lines else "(no message)"
            if done.returncode == COMET_RUNNER_BAD_INPUT:
                return absent("comet", last.removeprefix("error: "))
            return absent("comet", f"COMET runner failed (exit {done.returncode}): {last}")
        result = json.loads(output.read_text(encoding="utf-8"))

    per_segment = [100.0 * float(s) for s in result["scores"]]
    if len(per_segment) != len(hyps):
        raise MetricError(f"COMET runner returned {len(per_segment)} scores for {len(hyps)} segments")
    return Score(metric="comet", value=100.0 * float(result["system_score"]), signature=comet_signature(result),
                 absent_reason=None, per_segment=per_segment, ci95=segment_mean_ci(per_segment))


def comet_signature(result: dict) -> str:
    """`comet|model:<id>|rev:<commit>|version:<unbabel-comet>`, or the checkpoint's hash for a local checkpoint.

    A hub id names its weights; a local path does not (the same path can hold other
    weights tomorrow), so a local checkpoint is named by its folder and its SHA-256.
    """
    parts = ["comet", f"model:{result['model']}"]
    if result.get("model_revision"):
        parts.append(f"rev:{result['model_revision'][:12]}")
    if result.get("model_checkpoint_sha256"):
        parts.append(f"sha256:{result['model_checkpoint_sha256'][:16]}")
    parts.append(f"version:{result['comet_version']}")
    return "|".join(parts)


# ---- the registry -------------------------------------------------------------

MetricFn = Callable[..., Score]

# name -> fn(hypotheses, references, lang, *, sources, comet_model, track) -> Score, in METRIC_NAMES order
METRICS: dict[str, MetricFn] = dict(zip(METRIC_NAMES, (bleu_score, chrf_score, chrf_pp_score, ter_score,
                                                        comet_score)))


def score_all(hypotheses: list[str], references: list[str], lang: str, metrics: list[str] | tuple[str, ...], *,
              sources: list[str] | None = None, comet_model: str | None = None,
              track: str | None = None) -> dict[str, Score]:
    """Every metric in `metrics` on one system output, in that order."""
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise MetricError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    _check_pair(hypotheses, references)
    _bleu_tokenizer(lang)
    return {name: METRICS[name](hypotheses, references, lang, sources=sources, comet_model=comet_model,
                                track=track)
            for name in metrics}


def score_output(track: Track, lang: str, hypotheses: list[str], references: list[str], *,
                 sources: list[str] | None, audio_seconds: list[float] | None = None,
                 ) -> tuple[dict[str, Score], DegenerationReport]:
    """The scoring step of one system output on one direction, as make eval, the long-form eval
    and import-hyps all do it: the track's metrics (``score_all``, with its COMET model) and the
    degeneration flags (harness.scoring.degeneration; the length kind is judged only with ``audio_seconds``)."""
    scores = score_all(hypotheses, references, lang, list(track.metrics), sources=sources,
                       comet_model=track.comet_model, track=track.name)
    degeneration = flag_segments(hypotheses, lang, references=references, audio_seconds=audio_seconds,
                                 sources=sources)
    return scores, degeneration


def segment_scores(scores: dict[str, Score], index: int) -> dict[str, float]:
    """Segment ``index``'s score under every metric that has per-segment scores (a results row's ``scores``)."""
    return {name: score.per_segment[index] for name, score in scores.items() if score.per_segment}


def score_rows(track: Track, lang: str, rows: list[dict]) -> tuple[dict, object]:
    """Score the rows' hypotheses against their references (harness.scoring.metrics.score_output, the length
    kind judged from each row's audio seconds) and put each row's flags and scores into it:
    (scores, the degeneration report)."""
    scores, degeneration = score_output(track, lang, [r["hypothesis"] for r in rows], [r["reference"] for r in rows],
                                        sources=[r["source"] for r in rows],
                                        audio_seconds=[r["audio_seconds"] for r in rows])
    for index, (row, flags) in enumerate(zip(rows, degeneration.flags)):
        row["flags"] = list(flags)
        row["scores"] = segment_scores(scores, index)
    return scores, degeneration
