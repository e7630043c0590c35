"""General-domain training corpora read from local copies: CoVoST 2 and Europarl-ST, as seeded samples.

The real-track configs train on general-domain speech besides ACL 60/60: Moslem
(IWSLT 2025) System B adds 100 k CoVoST 2 utterances per direction, Diet-KIT (Liu et
al., IWSLT 2026) "a multilingual CoVoST + Europarl-ST sample". Neither corpus can be
fetched by this harness (CoVoST 2's audio is Common Voice, which is downloaded by hand
after accepting its terms, and no hub is reachable from the build machines), so they
are read from local folders named by environment variables, and a seeded sample of
them is written as a segmented set (``harness.data.testsets``, streamed, FLAC 16 kHz mono):

``COMMON_VOICE_ROOT``
    Common Voice's English release (CoVoST 2 was built on version 4,
    ``cv-corpus-4-2019-12-10/en``; a later English release holds the same clip names):
    the folder holding ``validated.tsv`` and ``clips/`` (its parent, holding ``en/``,
    works too).
``COVOST2_ROOT``
    the folder holding the extracted CoVoST 2 translation files,
    ``covost_v2.en_de.tsv`` and ``covost_v2.en_zh-CN.tsv``.
``EUROPARL_ST_ROOT``
    the Europarl-ST v1.1 release (the folder holding ``en/``), its English recordings
    converted once to a format libsndfile reads (below).

CoVoST 2: Wang, Wu and Pino (2020), "CoVoST 2 and Massively Multilingual Speech-to-Text
Translation" (arXiv:2007.10310). Rows are read as the authors' ``get_covost_splits.py``
(github.com/facebookresearch/covost) and the ``covost2`` loading script of Hugging Face
datasets read them: both TSVs tab-separated with a header, no quoting, backslash as the
escape character; an inner join on ``path`` of Common Voice's ``validated.tsv``
(``path``, ``sentence``: the English transcript) with ``covost_v2.en_<X>.tsv`` (``path``,
``translation``, ``split``); the train split is ``split`` in {"train", "train_covost"}
(CoVoST 2's extended train set), dev and test are "dev" and "test"; the audio is
``clips/<path>``, an MP3 (read by libsndfile >= 1.1, resampled to 16 kHz by soxr
through harness.data.audio). Utterance ids are the clip names without ``.mp3``, as in the
loading script. Row order is ``validated.tsv``'s (pandas' inner merge keeps the left
table's order). Rows with an empty transcript or translation are skipped (a segmented
set needs every text); a clip listed twice keeps its first row.

Europarl-ST: Iranzo-Sánchez et al. (2020), "Europarl-ST: A Multilingual Corpus for
Speech Translation of Parliamentary Debates", ICASSP 2020 (mllp.upv.es/europarl-st).
Layout of the release (as fairseq's and other published readers use it):
``<root>/en/<tgt>/<split>/segments.lst`` (one segment a line: ``<speech id> <start s>
<end s>``), ``segments.en`` and ``segments.<tgt>`` (line-aligned texts), and the whole
speeches, unsegmented, in ``<root>/en/audios/<speech id>.m4a``. Each segment is cut out
of its recording by its times (harness.data.audio.decode_audio_span reads only that span);
utterance ids are ``<speech id>_<line index>``, as fairseq's Europarl-ST reader names
them. libsndfile cannot decode .m4a (AAC), so the recordings are converted once, beside
the originals (``FFMPEG_CONVERT``, run in ``<root>/en/audios``)::

    for f in *.m4a; do ffmpeg -nostdin -loglevel error -i "$f" -ac 1 -ar 16000 "${f%.m4a}.flac"; done

A recording is looked for as .flac, .wav, .ogg, then .mp3; when only the .m4a is there
the loader stops with a one-line error naming the file and that command.

Sources (the configs' ``[data]`` strings, resolved by ``resolve_source``):

``hub:covost2/en_de``, ``hub:covost2/en_zh-CN``
    CoVoST 2 En->De / En->Zh; the set's languages are en and the pair's target.
``hub:europarl-st/en_de``
    Europarl-ST En->De.
``hub:covost2-europarl-st/sample``
    Diet-KIT's general sample, for one model that translates into every target
    language of the build (de and zh): every row must carry a reference in each.
    Europarl-ST has no English->Chinese pair, so when zh (or any target but de) is
    needed the sample is CoVoST 2 alone, its rows joined across the pairs on the clip
    (CoVoST 2 translates the same English clips into every target language), and the
    manifest says Europarl-ST was left out and why. When only de is needed the pool is
    CoVoST 2 En->De followed by Europarl-ST En->De, sampled uniformly over utterances.

The sample: ``numpy.random.default_rng(seed).choice(len(pool), size, replace=False)``,
sorted back into pool order, the same rule as harness.stages.recipe's general sample,
so the same lists, size and seed give the same set on every machine. A stage cache
keys the sample by the sha256 of the list files it read (``CorpusSource.fingerprint``),
not of the clips.

Command line (every problem one line on stderr, exit status 2)::

    python -m harness corpus covost2 --pair en_de --size 100000 --seed 0 --out DIR
    python -m harness corpus europarl-st --pair en_de --size 1000 --out DIR
    python -m harness corpus covost2-europarl-st --langs de zh --size 100000 --out DIR

Roots come from ``--common-voice``, ``--covost``, ``--europarl-st``, else from the
environment variables above.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.data.audio import AudioError, decode_audio, decode_audio_span
from harness.errors import HarnessError, one_line

COMMON_VOICE_ENV = "COMMON_VOICE_ROOT"
COVOST2_ENV = "COVOST2_ROOT"
EUROPARL_ST_ENV = "EUROPARL_ST_ROOT"
ENV_HELP = {
    COMMON_VOICE_ENV: "Common Voice's English folder (validated.tsv + clips/; version 4 for CoVoST 2)",
    COVOST2_ENV: "the folder of the extracted covost_v2.en_<X>.tsv files",
    EUROPARL_ST_ENV: "the Europarl-ST v1.1 folder (en/<tgt>/<split>/segments.*, en/audios/)",
}

# CoVoST 2 En->X pair name -> the harness's language code (the tracks use de and zh).
COVOST2_PAIRS = {"en_de": "de", "en_zh-CN": "zh"}
# get_covost_splits.py's get_v2_split: the train split includes CoVoST 2's extension.
COVOST2_SPLITS = {"train": ("train", "train_covost"), "dev": ("dev",), "test": ("test",)}
# Europarl-ST En->X pairs this harness reads (the only target it shares with the tracks).
EUROPARL_ST_PAIRS = {"en_de": "de"}
# Audio formats libsndfile reads, in the order a converted recording is looked for.
READABLE_AUDIO = (".flac", ".wav", ".ogg", ".mp3")
FFMPEG_CONVERT = ('for f in *.m4a; do ffmpeg -nostdin -loglevel error -i "$f" -ac 1 -ar 16000 '
                  '"${f%.m4a}.flac"; done')

COVOST2 = "covost2"
EUROPARL_ST = "europarl-st"
COMBINED = "covost2-europarl-st"
CORPUS_DATASETS = (COVOST2, EUROPARL_ST, COMBINED)
HUB = "hub:"
CITATIONS = {
    COVOST2: "Wang, Wu and Pino 2020, CoVoST 2 and Massively Multilingual Speech-to-Text Translation",
    EUROPARL_ST: "Iranzo-Sanchez et al. 2020, Europarl-ST, ICASSP",
}


class CorpusError(HarnessError, ValueError):
    """A corpus that cannot be found, read or sampled; one line naming the file or the setting."""


def _error(where: object, problem: object) -> CorpusError:
    return CorpusError(one_line(f"{where}: {problem}"))


# ---------------------------------------------------------------- utterances


@dataclass(frozen=True)
class CorpusUtterance:
    """One utterance of a corpus: where its audio is, its transcript and its references."""

    id: str
    corpus: str                                # "covost2" | "europarl-st"
    en: str
    targets: Mapping[str, str]                 # {"de": ..., "zh": ...}
    path: Path                                 # the clip, or the whole recording (Europarl-ST)
    span: tuple[float, float] | None = None    # (start, end) seconds inside ``path``; None: all of it

    def check_audio(self) -> None:
        """A one-line CorpusError unless ``path`` is a file libsndfile can read (by its suffix)."""
        if self.path.suffix.lower() == ".m4a":
            raise _error(self.path, f"soundfile cannot decode .m4a (AAC); convert the recordings once "
                                    f"beside the originals: cd {self.path.parent} && {FFMPEG_CONVERT}")
        if not self.path.is_file():
            raise _error(self.path, f"audio of utterance {self.id!r} not found")

    def audio(self) -> np.ndarray:
        """Float32 mono 16 kHz samples (harness.data.audio: libsndfile, soxr HQ resampling)."""
        self.check_audio()
        source = f"{self.path} ({self.corpus} utterance {self.id!r})"
        try:
            if self.span is None:
                samples, _ = decode_audio(self.path, source=source)
            else:
                samples, _ = decode_audio_span(self.path, *self.span, source=source)
        except AudioError as err:
            raise CorpusError(one_line(err)) from err
        return samples


def _read_tsv(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CoVoST / Common Voice TSV, read as get_covost_splits.py reads it."""
    try:
        handle = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise _error(path, "no such file") from None
    except OSError as err:
        raise _error(path, f"cannot read ({err.strerror or err})") from None
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        try:
            header = next(reader, None)
            if header is None:
                raise _error(path, "empty file (no header)")
            missing = [c for c in columns if c not in header]
            if missing:
                raise _error(path, f"no column(s) {', '.join(missing)} (header: {', '.join(header)})")
            wanted = [(c, header.index(c)) for c in columns]
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise _error(f"{path} line {reader.line_num}",
                                 f"{len(fields)} fields, the header has {len(header)}")
                yield reader.line_num, {c: fields[i] for c, i in wanted}
        except UnicodeDecodeError as err:
            raise _error(path, f"not UTF-8 ({err.reason})") from None
        except csv.Error as err:
            raise _error(f"{path} line {reader.line_num}", f"malformed TSV ({err})") from None


def common_voice_folder(root: str | os.PathLike) -> Path:
    """The folder holding validated.tsv and clips/: ``root`` itself, or ``root/en``."""
    root = Path(root)
    if not root.is_dir():
        raise _error(root, f"no such folder ({COMMON_VOICE_ENV}: {ENV_HELP[COMMON_VOICE_ENV]})")
    for folder in (root, root / "en"):
        if (folder / "validated.tsv").is_file():
            return folder
    raise _error(root, "no validated.tsv here or in en/ (Common Voice's English release is needed)")


def covost2_tsv(covost_root: str | os.PathLike, pair: str) -> Path:
    if pair not in COVOST2_PAIRS:
        raise CorpusError(f"CoVoST 2: unknown pair {pair!r} (known: {', '.join(COVOST2_PAIRS)})")
    root = Path(covost_root)
    if not root.is_dir():
        raise _error(root, f"no such folder ({COVOST2_ENV}: {ENV_HELP[COVOST2_ENV]})")
    path = root / f"covost_v2.{pair}.tsv"
    if not path.is_file():
        packed = path.with_name(path.name + ".tar.gz")
        hint = f" (extract {packed.name} first)" if packed.is_file() else ""
        raise _error(path, f"no such file{hint}")
    return path


def covost2_utterances(common_voice: str | os.PathLike, covost_root: str | os.PathLike,
                       pairs: Sequence[str], split: str = "train") -> list[CorpusUtterance]:
    """CoVoST 2 rows of ``split`` with a reference for every pair in ``pairs`` (e.g. en_de, en_zh-CN)."""
    if split not in COVOST2_SPLITS:
        raise CorpusError(f"CoVoST 2: unknown split {split!r} (known: {', '.join(COVOST2_SPLITS)})")
    if not pairs:
        raise CorpusError("CoVoST 2: no pair asked for")
    cv = common_voice_folder(common_voice)
    accepted = COVOST2_SPLITS[split]
    translations: dict[str, dict[str, str]] = {}  # path -> {lang: translation}
    for number, pair in enumerate(pairs):
        lang = COVOST2_PAIRS.get(pair)
        path = covost2_tsv(covost_root, pair)
        found: dict[str, str] = {}
        for _, row in _read_tsv(path, ("path", "translation", "split")):
            if row["split"] in accepted and row["path"] not in found:
                found[row["path"]] = row["translation"].strip()
        if number == 0:
            translations = {clip: {lang: text} for clip, text in found.items()}
        else:  # every pair's reference is needed: keep the clips all of them translate
            translations = {clip: texts | {lang: found[clip]} for clip, texts in translations.items() if clip in found}
    clips = cv / "clips"
    utterances, seen = [], set()
    for _, row in _read_tsv(cv / "validated.tsv", ("path", "sentence")):
        texts = translations.get(row["path"])
        if texts is None or row["path"] in seen:
            continue
        seen.add(row["path"])
        sentence = row["sentence"].strip()
        if not sentence or not all(texts.values()):
            continue
        utterances.append(CorpusUtterance(id=Path(row["path"]).stem, corpus=COVOST2, en=sentence,
                                          targets=dict(texts), path=clips / row["path"]))
    return utterances


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise _error(path, "no such file") from None
    except UnicodeDecodeError as err:
        raise _error(path, f"not UTF-8 ({err.reason})") from None
    except OSError as err:
        raise _error(path, f"cannot read ({err.strerror or err})") from None


def europarl_st_folder(root: str | os.PathLike, pair: str, split: str) -> Path:
    if pair not in EUROPARL_ST_PAIRS:
        raise CorpusError(f"Europarl-ST: unknown pair {pair!r} (known: {', '.join(EUROPARL_ST_PAIRS)})")
    root = Path(root)
    if not root.is_dir():
        raise _error(root, f"no such folder ({EUROPARL_ST_ENV}: {ENV_HELP[EUROPARL_ST_ENV]})")
    source, target = pair.split("_")
    pair_folder = root / source / target
    if not pair_folder.is_dir():
        raise _error(pair_folder, "no such folder (the Europarl-ST release holds <src>/<tgt>/<split>/)")
    folder = pair_folder / split
    if not folder.is_dir():
        known = sorted(p.name for p in pair_folder.iterdir() if p.is_dir())
        raise _error(folder, f"no split {split!r} (has {', '.join(known) or 'none'})")
    return folder


def _recording(audios: Path, speech: str) -> Path:
    """The readable file of a speech, else its .m4a (check_audio explains), else the expected .flac."""
    for suffix in (*READABLE_AUDIO, ".m4a"):
        candidate = audios / f"{speech}{suffix}"
        if candidate.is_file():
            return candidate
    return audios / f"{speech}{READABLE_AUDIO[0]}"


def europarl_st_utterances(root: str | os.PathLike, pair: str = "en_de", split: str = "train") -> list[CorpusUtterance]:
    """Europarl-ST segments of ``split``: texts from segments.<lang>, audio cut from en/audios/<speech>."""
    folder = europarl_st_folder(root, pair, split)
    source, target = pair.split("_")
    lang = EUROPARL_ST_PAIRS[pair]
    listing = folder / "segments.lst"
    segments = _read_lines(listing)
    sources = _read_lines(folder / f"segments.{source}")
    targets = _read_lines(folder / f"segments.{target}")
    if not (len(segments) == len(sources) == len(targets)):
        raise _error(folder, f"segments.lst, segments.{source} and segments.{target} differ in length "
                             f"({len(segments)}, {len(sources)}, {len(targets)} lines)")
    audios = Path(root) / source / "audios"
    recordings: dict[str, Path] = {}
    utterances = []
    for index, (segment, en, text) in enumerate(zip(segments, sources, targets)):
        fields = segment.split()
        try:
            speech, start, end = fields[0], float(fields[1]), float(fields[2])
            if len(fields) != 3 or not 0 <= start < end:
                raise ValueError
        except (IndexError, ValueError):
            raise _error(f"{listing} line {index + 1}", f"expected '<speech id> <start> <end>' "
                                                        f"with 0 <= start < end, got {segment!r}") from None
        en, text = en.strip(), text.strip()
        if not en or not text:
            continue
        if speech not in recordings:
            recordings[speech] = _recording(audios, speech)
        utterances.append(CorpusUtterance(id=f"{speech}_{index}", corpus=EUROPARL_ST, en=en, targets={lang: text},
                                          path=recordings[speech], span=(start, end)))
    return utterances


# ---------------------------------------------------------------- sampling


def seeded_sample(pool: Sequence, size: int, seed: int, what: str) -> list:
    """``size`` items of ``pool`` by numpy's default_rng(seed), back in pool order (recipe.general_sample's rule)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise CorpusError(f"{what}: the sample size must be a positive integer, got {size!r}")
    if size > len(pool):
        raise CorpusError(f"{what}: asked for {size} utterances, it has only {len(pool)}")
    picked = sorted(np.random.default_rng(seed).choice(len(pool), size, replace=False).tolist())
    return [pool[i] for i in picked]


def _fingerprint(files: Sequence[Path]) -> str:
    from harness.files import file_sha256, listing_sha256

    def digest(path: Path) -> str:
        try:
            return file_sha256(path)
        except OSError as err:
            raise _error(path, f"cannot read ({err.strerror or err})") from None
    return "sha256:" + listing_sha256((path.name, digest(path)) for path in files)


@dataclass(frozen=True)
class CorpusSource:
    """A config's corpus source (``hub:covost2/en_de`` ...) resolved to local folders."""

    source: str
    name: str                                   # the set's name prefix, e.g. "covost2_en_de"
    languages: tuple[str, ...]                  # ("en", "de") ...
    covost_pairs: tuple[str, ...] = ()
    europarl_pairs: tuple[str, ...] = ()
    common_voice: Path | None = None
    covost: Path | None = None
    europarl_st: Path | None = None
    notes: dict = field(default_factory=dict)   # decisions recorded in the manifest (e.g. Europarl-ST left out)

    @property
    def corpora(self) -> tuple[str, ...]:
        return tuple(c for c, used in ((COVOST2, self.covost_pairs), (EUROPARL_ST, self.europarl_pairs)) if used)

    def list_files(self, split: str = "train") -> list[Path]:
        """The text files the pool is read from (the fingerprint's input)."""
        files = []
        if self.covost_pairs:
            files.append(common_voice_folder(self.common_voice) / "validated.tsv")
            files += [covost2_tsv(self.covost, pair) for pair in self.covost_pairs]
        for pair in self.europarl_pairs:
            folder = europarl_st_folder(self.europarl_st, pair, split)
            files += [folder / "segments.lst", *(folder / f"segments.{lang}" for lang in pair.split("_"))]
        return files

    def fingerprint(self, split: str = "train") -> str:
        """sha256 over the list files read (not the audio): what keys a cached sample."""
        return _fingerprint(self.list_files(split))

    def utterances(self, split: str = "train") -> list[CorpusUtterance]:
        """The pool: CoVoST 2 rows (every pair's reference joined on the clip), then Europarl-ST's."""
        pool: list[CorpusUtterance] = []
        if self.covost_pairs:
            pool += covost2_utterances(self.common_voice, self.covost, self.covost_pairs, split)
        for pair in self.europarl_pairs:
            pool += europarl_st_utterances(self.europarl_st, pair, split)
        return pool

    def sample(self, size: int, seed: int = 0, split: str = "train") -> list[CorpusUtterance]:
        """The seeded sample; every sampled utterance's audio file is checked before anything is decoded."""
        pool = self.utterances(split)
        picked = seeded_sample(pool, size, seed, f"{self.source} ({split} split)")
        for utterance in picked:
            utterance.check_audio()
        return picked

    def write_sample(self, folder: str | os.PathLike, *, size: int, seed: int = 0, split: str = "train",
                     track: str = "iwslt2026", name: str | None = None, lists: str | None = None,
                     log: Callable[[str], None] | None = None) -> dict:
        """Write the seeded sample as a segmented set (streamed: one utterance decoded at a time).

        ``lists``: the split's ``fingerprint``, when the caller has it already (hashing
        Common Voice's validated.tsv takes a while).
        """
        from harness.data.testsets import write_segmented_set

        picked = self.sample(size, seed, split)
        targets = self.languages[1:]

        def rows() -> Iterator[dict]:
            for count, utterance in enumerate(picked, start=1):
                yield {"id": utterance.id, "audio": utterance.audio(), "en": utterance.en,
                       **{lang: utterance.targets[lang] for lang in targets}, "corpus": utterance.corpus}
                if log is not None and (count % 1000 == 0 or count == len(picked)):
                    log(f"{self.source}: {count}/{len(picked)} utterances written")

        generator = {"source": self.source, "corpora": list(self.corpora),
                     "citations": [CITATIONS[c] for c in self.corpora],
                     "pairs": list(self.covost_pairs) + [f"europarl-st:{p}" for p in self.europarl_pairs],
                     "split": split, "size": size, "seed": seed, "lists": lists or self.fingerprint(split),
                     "sample_rule": "numpy default_rng(seed).choice(pool, size, replace=False), pool order",
                     "built_by": "stage:data", **self.notes}
        return write_segmented_set(folder, name=name or f"{self.name}_{split}", version="1", domain="general",
                                   rows=rows(), generator=generator, track=track, languages=self.languages,
                                   meta_types={"corpus": "string"})


# ---------------------------------------------------------------- sources of the configs


def is_corpus_source(source: str) -> bool:
    """True for the configs' ``hub:`` sources this module reads (CoVoST 2, Europarl-ST, their sample)."""
    return source.startswith(HUB) and source[len(HUB):].partition("/")[0] in CORPUS_DATASETS


def required_env(source: str, langs: Sequence[str] = ("de", "zh")) -> tuple[str, ...]:
    """The environment variables a source reads (raises CorpusError for an unknown source)."""
    _, covost_pairs, europarl_pairs, _ = _parse(source, langs)
    return _env_names(covost_pairs, europarl_pairs)


def _env_names(covost_pairs: Sequence[str], europarl_pairs: Sequence[str]) -> tuple[str, ...]:
    return ((COMMON_VOICE_ENV, COVOST2_ENV) if covost_pairs else ()) + ((EUROPARL_ST_ENV,) if europarl_pairs else ())


def _parse(source: str, langs: Sequence[str]) -> tuple[str, tuple[str, ...], tuple[str, ...], dict]:
    """(dataset, CoVoST 2 pairs, Europarl-ST pairs, notes) of a source; the decisions of the docstring."""
    if not source.startswith(HUB):
        raise CorpusError(f"{source}: not a hub: source")
    dataset, _, part = source[len(HUB):].partition("/")
    if dataset == COVOST2:
        if part not in COVOST2_PAIRS:
            raise CorpusError(f"{source}: unknown CoVoST 2 pair {part!r} (known: {', '.join(COVOST2_PAIRS)})")
        return dataset, (part,), (), {}
    if dataset == EUROPARL_ST:
        if part not in EUROPARL_ST_PAIRS:
            raise CorpusError(f"{source}: unknown Europarl-ST pair {part!r} (known: {', '.join(EUROPARL_ST_PAIRS)})")
        return dataset, (), (part,), {}
    if dataset == COMBINED:
        if part != "sample":
            raise CorpusError(f"{source}: the combined source is {HUB}{COMBINED}/sample")
        by_lang = {lang: pair for pair, lang in COVOST2_PAIRS.items()}
        unknown = [lang for lang in langs if lang not in by_lang]
        if not langs or unknown:
            raise CorpusError(f"{source}: CoVoST 2 has no English->{', '.join(unknown) or '?'} pair here "
                              f"(known targets: {', '.join(by_lang)})")
        covost = tuple(by_lang[lang] for lang in langs)
        europarl_langs = set(EUROPARL_ST_PAIRS.values())
        if set(langs) <= europarl_langs:
            europarl = tuple(p for p, lang in EUROPARL_ST_PAIRS.items() if lang in langs)
            return dataset, covost, europarl, {}
        missing = sorted(set(langs) - europarl_langs)
        note = (f"left out: every row needs a reference in {', '.join(langs)} and Europarl-ST has no "
                f"English->{', '.join(missing)} pair, so the sample is CoVoST 2 alone")
        return dataset, covost, (), {"europarl_st": note}
    raise CorpusError(f"{source}: no loader for {dataset!r} (known: {', '.join(CORPUS_DATASETS)})")


def describe_source(source: str, langs: Sequence[str] = ("de", "zh")) -> str:
    """What a source reads, in words, without touching the disk (for harness.plan)."""
    _, covost_pairs, europarl_pairs, notes = _parse(source, langs)
    parts = ([f"CoVoST 2 {'+'.join(covost_pairs)}"] if covost_pairs else []) + \
            ([f"Europarl-ST {'+'.join(europarl_pairs)}"] if europarl_pairs else [])
    where = " + ".join(f"${name}" for name in _env_names(covost_pairs, europarl_pairs))
    left_out = "; Europarl-ST left out: no en->zh pair" if "europarl_st" in notes else ""
    return f"local {' + '.join(parts)} (train{left_out}) under {where}"


def resolve_source(source: str, langs: Sequence[str] = ("de", "zh"),
                   roots: Mapping[str, str] | None = None) -> CorpusSource:
    """A config's corpus source resolved to local folders from ``roots`` (default: the environment).

    ``langs``: the target languages every row must carry (only the combined sample uses
    it; a pair's source has its pair's target). A variable the source needs and that is
    unset is a one-line CorpusError naming it and what it must point at.
    """
    roots = os.environ if roots is None else roots
    dataset, covost_pairs, europarl_pairs, notes = _parse(source, langs)
    needed = _env_names(covost_pairs, europarl_pairs)
    unset = [name for name in needed if not roots.get(name)]
    if unset:
        raise CorpusError(f"{source}: read from local files; set " + "; ".join(
            f"{name} to {ENV_HELP[name]}" for name in unset))
    targets = tuple(COVOST2_PAIRS[p] for p in covost_pairs) or tuple(EUROPARL_ST_PAIRS[p] for p in europarl_pairs)
    if dataset == COMBINED:
        name = f"{COMBINED}_{'-'.join(targets)}"
    else:
        name = f"{dataset}_{(covost_pairs or europarl_pairs)[0]}"

    def root(variable: str) -> Path | None:
        return Path(roots[variable]).expanduser() if variable in needed else None

    return CorpusSource(source=source, name=name, languages=("en", *targets), covost_pairs=covost_pairs,
                        europarl_pairs=europarl_pairs, common_voice=root(COMMON_VOICE_ENV),
                        covost=root(COVOST2_ENV), europarl_st=root(EUROPARL_ST_ENV), notes=notes)


def sample_settings(config: Mapping) -> tuple[int, int] | None:
    """(general_size, general_seed) of the one config table that sets general_size, else None.

    A corpus source is converted as the seeded sample its recipe trains on ([qlora] in
    modelB's configs, [lora] in diet-kit's); two tables with different sizes are an error.
    """
    found = {(int(table["general_size"]), int(table.get("general_seed", 0)))
             for table in config.values() if isinstance(table, Mapping) and "general_size" in table}
    if len(found) > 1:
        raise CorpusError(f"the config sets general_size/general_seed differently in several tables: {sorted(found)}")
    return found.pop() if found else None


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness corpus",
                                     description="write a seeded sample of CoVoST 2 / Europarl-ST as a segmented set")
    parser.add_argument("corpus", choices=CORPUS_DATASETS)
    parser.add_argument("--pair", help=f"covost2: {', '.join(COVOST2_PAIRS)}; europarl-st: "
                                       f"{', '.join(EUROPARL_ST_PAIRS)}")
    parser.add_argument("--langs", nargs="+", default=["de", "zh"],
                        help="covost2-europarl-st: the target languages every row carries (default: de zh)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, required=True, help="utterances to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="the segmented set folder to write")
    parser.add_argument("--name", help="the set's name (default: <corpus>_<pair>_<split>)")
    parser.add_argument("--track", default="iwslt2026", help="recorded in the manifest")
    parser.add_argument("--common-voice", help=f"default: ${COMMON_VOICE_ENV}")
    parser.add_argument("--covost", help=f"default: ${COVOST2_ENV}")
    parser.add_argument("--europarl-st", help=f"default: ${EUROPARL_ST_ENV}")
    args = parser.parse_args(argv)
    from harness.data.testsets import TestSetError

    # Flags win over the environment.
    roots = {name: os.environ[name] for name in ENV_HELP if os.environ.get(name)}
    roots |= {name: value for name, value in ((COMMON_VOICE_ENV, args.common_voice), (COVOST2_ENV, args.covost),
                                              (EUROPARL_ST_ENV, args.europarl_st)) if value}
    if args.corpus == COMBINED:
        source = f"{HUB}{COMBINED}/sample"
    elif not args.pair:
        print(f"error: {args.corpus} needs --pair", file=sys.stderr)
        return 2
    else:
        source = f"{HUB}{args.corpus}/{args.pair}"
    try:
        corpus = resolve_source(source, args.langs, roots)
        manifest = corpus.write_sample(args.out, size=args.size, seed=args.seed, split=args.split,
                                       track=args.track, name=args.name,
                                       log=lambda line: print(line, file=sys.stderr))
    except (CorpusError, TestSetError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {manifest['utterances']} utterances, {manifest['audio_seconds'] / 3600:.2f} h, "
          f"languages {', '.join(manifest['languages'])}, content {manifest['content_hash']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
