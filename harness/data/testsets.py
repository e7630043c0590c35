"""Test sets on disk and from the hub: layout, manifests, writers, loaders, the ACL 60/60 split.

Two kinds of set live in one folder each (e.g. ``testsets/mini/talks_test/``):

segmented  (gold segmentation, one audio clip per reference)
    ``data.parquet``  one row per utterance; readable by this module and by
                      ``datasets`` (``Dataset.from_parquet`` / ``load_dataset("parquet")``),
                      whose feature metadata is embedded so the audio column shows
                      as ``Audio(decode=False)``: a struct {bytes: FLAC, path: "<id>.flac"}.
    ``manifest.json`` name, version, kind, track, domain, languages, counts, hashes,
                      the sha256 of every file, and the generator's settings.
longform   (IWSLT style: unsegmented talks plus the reference segmentation)
    ``wav/<talk>.wav``   16 kHz mono PCM, one per talk;
    ``segments.yaml``    the gold segmentation as IWSLT ships it: a list of
                         {wav, offset, duration, speaker_id}, one per reference line;
    ``ref.<lang>``       line-aligned references (en, de, zh), one line per segment;
    ``manifest.json``    as above.

Hashes are over the logical content (ids, texts, audio bytes, segments), never over
the Parquet bytes, so a set hashes the same under any pyarrow version; the per-file
sha256 list catches any change on disk. Every write goes to a temporary folder
beside the target and is renamed into place, so a failed write leaves the previous
version intact. Every problem with a set is a one-line ``TestSetError`` naming the file.

The real ACL 60/60 (``ymoslem/ACL-6060`` on the Hugging Face hub) is loaded as in
Moslem, IWSLT 2025 ("Efficient Speech Translation through Model Compression and
Knowledge Distillation"): dev and eval merged (884 utterances), then
``datasets.Dataset.train_test_split(test_size=100, seed=0)``: 784 train, 100 test.
``split_talks`` is that one call, and the mini track's talks set is split with it too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from harness.data.audio import SAMPLE_RATE, AudioError, audio_seconds, decode_audio, encode_flac, write_wav
from harness.errors import HarnessError, one_line
from harness.files import staged_folder

LAYOUT_VERSION = 1
KINDS = ("segmented", "longform")
DEFAULT_LANGUAGES = ("en", "de", "zh")
MANIFEST = "manifest.json"
DATA_FILE = "data.parquet"
SEGMENTS_FILE = "segments.yaml"
WAV_DIR = "wav"

ACL6060_REPO = "ymoslem/ACL-6060"
# Hub splits in the order the paper merges them (load_dataset(..., split="dev+eval")).
ACL6060_SPLITS = ("dev", "eval")
ACL6060_UTTERANCES = 884

# Columns every segmented set has, in file order; the language columns follow "seconds".
_AUDIO_FEATURE = datasets.Audio(sampling_rate=SAMPLE_RATE, decode=False)
_RESERVED = {"id", "audio", "seconds", "domain"}
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# IWSLT segment files round times to 10 ms; allow that much past the end of the audio.
SEGMENT_SLACK_SECONDS = 0.01
# Durations read from an audio header may differ from the stored figure by resampling.
_SECONDS_SLACK_S = 0.01
_PARQUET_ROW_GROUP = 256
# The Arrow types a free metadata column may have (see _meta_kind).
_META_KINDS = ("string", "int64", "float64", "bool")


class TestSetError(HarnessError, ValueError):
    """A test set that cannot be written, read or trusted; one line naming the set or file."""

    __test__ = False  # not a pytest test class, despite the name


def _error(where: object, problem: object) -> TestSetError:
    return TestSetError(one_line(f"{where}: {problem}"))


def _read_text(path: Path) -> str:
    """A UTF-8 text file of a set; a missing or unreadable one is a one-line TestSetError."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise _error(path, "file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise _error(path, f"cannot read ({err})") from err


@dataclass(frozen=True)
class Utterance:
    """One segmented utterance: audio (encoded bytes), transcript, references, metadata."""

    id: str
    seconds: float
    en: str
    targets: dict[str, str]
    audio_bytes: bytes
    source: str
    meta: dict

    def audio(self) -> np.ndarray:
        """Decoded float32 mono 16 kHz samples."""
        try:
            samples, _ = decode_audio(self.audio_bytes, source=self.source)
        except AudioError as err:
            # AudioError's message already starts with our source (set, id, file).
            raise TestSetError(one_line(err)) from err
        return samples


@dataclass(frozen=True)
class TestSet:
    """A segmented test set: utterances in file order, with the manifest that describes them."""

    __test__ = False

    name: str
    version: str
    content_hash: str
    manifest: dict
    utterances: tuple[Utterance, ...]
    folder: Path | None = None  # None for sets that did not come from disk (the hub's ACL 60/60)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.manifest["languages"])

    @property
    def ids(self) -> list[str]:
        return [u.id for u in self.utterances]

    @property
    def audio_seconds(self) -> float:
        return sum(u.seconds for u in self.utterances)

    def reference(self, lang: str) -> list[str]:
        """The texts in ``lang`` ("en" gives the transcripts), in utterance order."""
        if lang == "en":
            return [u.en for u in self.utterances]
        if lang not in self.languages:
            raise _error(f"test set {self.name!r}", f"no {lang!r} references (has {', '.join(self.languages)})")
        return [u.targets[lang] for u in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)


@dataclass(frozen=True)
class LongFormTalk:
    """One unsegmented talk, its gold segments (offset, duration in seconds) and their texts."""

    talk_id: str
    wav_path: Path
    segments: tuple[tuple[float, float], ...]
    references: dict[str, tuple[str, ...]]
    source_text: tuple[str, ...]

    def audio(self) -> np.ndarray:
        try:
            samples, _ = decode_audio(self.wav_path)
        except AudioError as err:
            raise TestSetError(one_line(err)) from err
        return samples


@dataclass(frozen=True)
class LongFormSet:
    """A long-form test set: talks in segments.yaml order."""

    name: str
    version: str
    content_hash: str
    manifest: dict
    talks: tuple[LongFormTalk, ...]
    folder: Path | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.manifest["languages"])

    @property
    def segments_yaml(self) -> Path | None:
        return None if self.folder is None else self.folder / SEGMENTS_FILE

    def reference(self, lang: str) -> list[str]:
        """All reference lines in ``lang`` in segments.yaml order ("en" gives the transcripts)."""
        if lang == "en":
            return [line for talk in self.talks for line in talk.source_text]
        if lang not in self.languages:
            raise _error(f"test set {self.name!r}", f"no {lang!r} references (has {', '.join(self.languages)})")
        return [line for talk in self.talks for line in talk.references[lang]]

    def __len__(self) -> int:
        return len(self.talks)


# ---------------------------------------------------------------- hashing


class _Digest:
    """sha256 over length-prefixed fields, so no two field sequences hash alike."""

    def __init__(self, tag: str) -> None:
        self._sha = hashlib.sha256()
        self.add(tag)

    def add(self, *fields: str | bytes) -> None:
        for field in fields:
            data = field.encode("utf-8") if isinstance(field, str) else bytes(field)
            self._sha.update(len(data).to_bytes(8, "big"))
            self._sha.update(data)

    def value(self) -> str:
        return "sha256:" + self._sha.hexdigest()


def _sha256_file(path: Path) -> str:
    from harness.files import file_sha256

    return "sha256:" + file_sha256(path)


def _time(value: float) -> str:
    # Segment times are stored to the microsecond; hash the same text on write and read.
    return f"{value:.6f}"


class _SegmentedHasher:
    """The three hashes of a segmented set, fed one utterance at a time (the streaming writer's)."""

    def __init__(self, languages: Sequence[str]) -> None:
        self._languages = tuple(languages)
        self._text, self._audio = _Digest("text/1"), _Digest("audio/1")
        self._content = _Digest("content/1:segmented")

    def add(self, utt_id: str, texts: Mapping[str, str], audio_bytes: bytes) -> None:
        self._text.add(utt_id)
        self._audio.add(utt_id, audio_bytes)
        self._content.add(utt_id)
        for lang in self._languages:
            self._text.add(lang, texts[lang])
            self._content.add(lang, texts[lang])
        self._content.add(audio_bytes)

    def hashes(self) -> dict[str, str]:
        return {"content_hash": self._content.value(), "text_hash": self._text.value(),
                "audio_hash": self._audio.value()}


def _segmented_hashes(records: Iterable[tuple[str, dict[str, str], bytes]],
                      languages: Sequence[str]) -> dict[str, str]:
    """records: (id, {lang: text}, audio bytes) in row order."""
    hasher = _SegmentedHasher(languages)
    for utt_id, texts, audio_bytes in records:
        hasher.add(utt_id, texts, audio_bytes)
    return hasher.hashes()


def _longform_hashes(talks: Sequence[tuple[str, bytes, Sequence[tuple[float, float]], dict[str, Sequence[str]]]],
                     languages: Sequence[str]) -> dict[str, str]:
    """talks: (talk id, wav bytes, segments, {lang: lines}) in talk order.

    The segment times go with the audio hash: they change when the speech changes.
    """
    text, audio, content = _Digest("text/1"), _Digest("audio/1"), _Digest("content/1:longform")
    for talk_id, wav_bytes, segments, lines in talks:
        text.add(talk_id)
        audio.add(talk_id, wav_bytes)
        content.add(talk_id, wav_bytes)
        for index, (offset, duration) in enumerate(segments):
            audio.add(_time(offset), _time(duration))
            content.add(_time(offset), _time(duration))
            for lang in languages:
                text.add(lang, lines[lang][index])
                content.add(lang, lines[lang][index])
    return {"content_hash": content.value(), "text_hash": text.value(), "audio_hash": audio.value()}


# ---------------------------------------------------------------- atomic folder writes


def _write_folder_atomically(folder: str | os.PathLike, fill: Callable[[Path], dict]) -> dict:
    """Run ``fill`` on an empty temporary folder beside ``folder``, then move it into place."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise _error(target, "exists and is not a folder")
    with staged_folder(target) as staging:
        return fill(staging)


def _write_manifest(folder: Path, manifest: dict) -> None:
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- writer checks


def _check_header(name: str, version: str, domain: str, track: str, generator: Mapping,
                  languages: Sequence[str]) -> tuple[str, ...]:
    for label, value in (("name", name), ("version", version), ("domain", domain), ("track", track)):
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise _error(f"test set {name!r}", f"{label} must be a non-empty one-line string, got {value!r}")
    if not isinstance(generator, Mapping):
        raise _error(f"test set {name!r}", f"generator must be a dict, got {type(generator).__name__}")
    try:
        json.dumps(dict(generator), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise _error(f"test set {name!r}", f"generator is not JSON-serializable ({err})") from err
    langs = tuple(languages)
    if not langs or langs[0] != "en" or len(set(langs)) != len(langs) or len(langs) < 2:
        raise _error(f"test set {name!r}", f"languages must start with 'en' and name targets, got {langs!r}")
    for lang in langs:
        if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}", lang):
            raise _error(f"test set {name!r}", f"bad language code {lang!r}")
    return langs


def _check_id(where: str, value: object, what: str = "id") -> str:
    # Ids become file names (<id>.flac, <talk>.wav), so keep them path-safe.
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise _error(where, f"{what} must match {_SAFE_ID.pattern} (letters, digits, . _ -), got {value!r}")
    return value


def _check_text(where: str, lang: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _error(where, f"{lang!r} text must be a non-empty string, got {value!r}")
    if "\n" in value or "\r" in value:
        raise _error(where, f"{lang!r} text contains a line break (references are line-aligned)")
    return value


def _check_samples(where: str, value: object) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.size == 0 \
            or not np.issubdtype(value.dtype, np.floating):
        shape = getattr(value, "shape", None)
        raise _error(where, f"audio must be a non-empty 1-D float array at {SAMPLE_RATE} Hz, "
                            f"got {type(value).__name__} {shape}")
    if not np.isfinite(value).all():
        raise _error(where, "audio contains NaN or inf")
    return value


def _meta_kind(set_name: str, key: str, value: object) -> str | None:
    """The Arrow type name of one metadata value (None for None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int64"
    if isinstance(value, (float, np.floating)):
        return "float64"
    if isinstance(value, str):
        return "string"
    raise _error(f"test set {set_name!r}", f"column {key!r}: unsupported value type "
                                          f"{type(value).__name__} (use str, int, float or bool)")


def _meta_features(set_name: str, rows: Iterable[Mapping], keys: Sequence[str]) -> dict[str, datasets.Value]:
    """An explicit Arrow type per free metadata column, inferred from its values."""
    rows = list(rows)
    features: dict[str, datasets.Value] = {}
    for key in keys:
        kinds = {_meta_kind(set_name, key, row[key]) for row in rows} - {None}
        if kinds == {"int64", "float64"}:
            kinds = {"float64"}
        if len(kinds) != 1:
            found = ", ".join(sorted(kinds)) or "only None"
            raise _error(f"test set {set_name!r}", f"column {key!r}: needs one value type, found {found}")
        features[key] = datasets.Value(kinds.pop())
    return features


def _check_meta_value(where: str, set_name: str, key: str, value: object, feature: datasets.Value) -> None:
    """A later row's metadata value against the column type chosen from the first rows (streaming)."""
    kind = _meta_kind(set_name, key, value)
    if kind is None or kind == feature.dtype or (kind == "int64" and feature.dtype == "float64"):
        return
    raise _error(where, f"column {key!r}: a {kind} value ({value!r}) in a {feature.dtype} column (the type "
                        f"comes from the first {_PARQUET_ROW_GROUP} rows; pass meta_types to set it)")


def _plain(value: object) -> object:
    """numpy scalars to Python ones, so Arrow and JSON see plain values."""
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------- segmented sets


def segmented_features(languages: Sequence[str] = DEFAULT_LANGUAGES,
                       meta: Mapping[str, datasets.Value] | None = None) -> datasets.Features:
    """The explicit schema of data.parquet: id, audio, seconds, <languages>, domain, <meta sorted>."""
    columns: dict[str, object] = {"id": datasets.Value("string"), "audio": _AUDIO_FEATURE,
                                  "seconds": datasets.Value("float64")}
    columns.update({lang: datasets.Value("string") for lang in languages})
    columns["domain"] = datasets.Value("string")
    columns.update(dict(sorted((meta or {}).items())))
    return datasets.Features(columns)


def _row_meta_keys(where: str, row: object, required: set[str]) -> list[str]:
    """The structural checks of one row (a dict with every required key, no reserved names); its metadata keys."""
    if not isinstance(row, Mapping):
        raise _error(where, f"expected a dict, got {type(row).__name__}")
    missing = required - set(row)
    if missing:
        raise _error(where, f"missing {', '.join(sorted(missing))}")
    keys = sorted(set(row) - required)
    clash = sorted(set(keys) & (_RESERVED | set(DEFAULT_LANGUAGES)))
    if clash:
        raise _error(where, f"reserved column name(s) {', '.join(clash)} used as metadata")
    return keys


def write_segmented_set(folder: str | os.PathLike, *, name: str, version: str, domain: str,
                        rows: Iterable[Mapping], generator: Mapping, track: str = "mini",
                        languages: Sequence[str] = DEFAULT_LANGUAGES,
                        meta_types: Mapping[str, str] | None = None) -> dict:
    """Write a segmented set (data.parquet + manifest.json) atomically; returns the manifest.

    rows: {"id", "audio" (float array, 16 kHz mono), "en", "de", "zh", <free metadata>};
    every row must carry the same metadata keys (str, int, float, bool or None values).
    The same rows give the same manifest and byte-identical files.

    ``rows`` may be a list or any iterable (a generator that reads and decodes one
    utterance at a time): each row's audio is FLAC-encoded and hashed as it comes, and
    data.parquet is written one row group (256 rows) at a time, so about one row group
    is held at once (the first one's rows are read ahead, for their metadata types),
    never the whole set's float audio (100 k CoVoST clips would be ~30 GB of it). A list
    and a generator of the same rows give byte-identical files. Metadata column types:
    for a list (or any sequence), inferred from every row as always; for an iterator,
    ``meta_types`` ({column: "string" | "int64" | "float64" | "bool"}) when given, else
    inferred from the first row group, and a later row whose value does not fit is a
    one-line error.
    """
    langs = _check_header(name, version, domain, track, generator, languages)
    where = f"test set {name!r}"
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise _error(where, "rows must be a non-empty sequence (or iterable) of dicts")
    required = {"id", "audio", *langs}
    in_memory = isinstance(rows, Sequence)
    iterator = iter(rows)
    # The first row group is read before anything is written: the metadata columns (and,
    # for an iterator, their types) come from it, and an empty input fails here.
    first = []
    for row in iterator:
        first.append(row)
        if len(first) == _PARQUET_ROW_GROUP:
            break
    if not first:
        raise _error(where, "rows must be a non-empty sequence (or iterable) of dicts")
    meta_keys = _row_meta_keys(f"{where} row 0", first[0], required)
    # The rows the metadata types come from (a sequence: all of them, as it is in memory already; an
    # iterator: its first row group) must have the same columns before their types are inferred.
    typed = rows if in_memory else first
    for index, row in enumerate(typed):
        keys = _row_meta_keys(f"{where} row {index}", row, required)
        if keys != meta_keys:
            raise _error(f"{where} row {index}", f"metadata columns {keys} differ from row 0's {meta_keys}")
    if meta_types is not None:
        if sorted(meta_types) != meta_keys:
            raise _error(where, f"meta_types names {sorted(meta_types)}, the rows have metadata {meta_keys}")
        bad = {key: kind for key, kind in meta_types.items() if kind not in _META_KINDS}
        if bad:
            raise _error(where, f"meta_types: unknown type(s) {bad} (use {', '.join(_META_KINDS)})")
        meta_features = {key: datasets.Value(meta_types[key]) for key in meta_keys}
    else:
        meta_features = _meta_features(name, typed, meta_keys)
    features = segmented_features(langs, meta_features)
    schema = features.arrow_schema

    def checked_rows() -> Iterator[Mapping]:
        seen: set[str] = set()
        for index, row in enumerate(itertools.chain(first, iterator)):
            row_where = f"{where} row {index}"
            keys = _row_meta_keys(row_where, row, required)
            utt_id = _check_id(row_where, row["id"])
            if utt_id in seen:
                raise _error(row_where, f"duplicate id {utt_id!r}")
            seen.add(utt_id)
            for lang in langs:
                _check_text(f"{row_where} (id {utt_id!r})", lang, row[lang])
            _check_samples(f"{row_where} (id {utt_id!r})", row["audio"])
            if keys != meta_keys:
                raise _error(row_where, f"metadata columns {keys} differ from row 0's {meta_keys}")
            for key, feature in meta_features.items():
                _check_meta_value(f"{row_where} (id {utt_id!r})", name, key, row[key], feature)
            yield row

    def fill(temp: Path) -> dict:
        hasher = _SegmentedHasher(langs)
        seconds: list[float] = []  # summed once at the end, in row order, as a list always was
        columns: dict[str, list] = {key: [] for key in features}

        def flush(writer: pq.ParquetWriter) -> None:
            # One Parquet row group per 256 rows: exactly the groups write_table(row_group_size=256)
            # cuts from the whole table, so streaming changes no byte of the file.
            writer.write_table(pa.Table.from_pydict(columns, schema=schema), row_group_size=_PARQUET_ROW_GROUP)
            for values in columns.values():
                values.clear()

        with pq.ParquetWriter(temp / DATA_FILE, schema, compression="zstd") as writer:
            for row in checked_rows():
                flac = encode_flac(row["audio"], SAMPLE_RATE)
                seconds.append(len(row["audio"]) / SAMPLE_RATE)
                columns["id"].append(row["id"])
                columns["audio"].append({"bytes": flac, "path": f"{row['id']}.flac"})
                columns["seconds"].append(seconds[-1])
                for lang in langs:
                    columns[lang].append(row[lang])
                columns["domain"].append(domain)
                for key in meta_features:
                    columns[key].append(_plain(row[key]))
                hasher.add(row["id"], {lang: row[lang] for lang in langs}, flac)
                if len(columns["id"]) == _PARQUET_ROW_GROUP:
                    flush(writer)
            if columns["id"]:
                flush(writer)
        manifest = _manifest(name=name, version=version, kind="segmented", track=track, domain=domain,
                             languages=langs, utterances=len(seconds), audio_seconds=sum(seconds),
                             hashes=hasher.hashes(), files={DATA_FILE: _sha256_file(temp / DATA_FILE)},
                             generator=generator)
        _write_manifest(temp, manifest)
        return manifest

    return _write_folder_atomically(folder, fill)


def _manifest(*, name: str, version: str, kind: str, track: str, domain: str, languages: Sequence[str],
              utterances: int, audio_seconds: float, hashes: dict[str, str], files: dict[str, str],
              generator: Mapping, **extra: object) -> dict:
    manifest = {"layout": LAYOUT_VERSION, "name": name, "version": version, "kind": kind, "track": track,
                "domain": domain, "languages": list(languages), "utterances": utterances,
                "audio_seconds": round(audio_seconds, 6), **hashes, "files": dict(sorted(files.items())),
                "generator": dict(generator), **extra}
    # Round-trip through JSON so the caller gets exactly what load_testset will read.
    return json.loads(json.dumps(manifest))


# ---------------------------------------------------------------- long-form sets


def write_longform_set(folder: str | os.PathLike, *, name: str, version: str, domain: str,
                       talks: Sequence[Mapping], generator: Mapping, track: str = "mini",
                       languages: Sequence[str] = DEFAULT_LANGUAGES) -> dict:
    """Write a long-form set (wav/, segments.yaml, ref.<lang>, manifest.json) atomically.

    talks: {"talk_id", "audio" (float array, 16 kHz mono), "segments": [(offset, duration)],
    "en": [...], "de": [...], "zh": [...]}, one text per segment. Returns the manifest.
    """
    langs = _check_header(name, version, domain, track, generator, languages)
    where = f"test set {name!r}"
    if isinstance(talks, (str, bytes)) or not isinstance(talks, Sequence) or len(talks) == 0:
        raise _error(where, "talks must be a non-empty sequence of dicts")
    prepared = []
    seen: set[str] = set()
    for index, talk in enumerate(talks):
        talk_where = f"{where} talk {index}"
        if not isinstance(talk, Mapping):
            raise _error(talk_where, f"expected a dict, got {type(talk).__name__}")
        missing = {"talk_id", "audio", "segments", *langs} - set(talk)
        if missing:
            raise _error(talk_where, f"missing {', '.join(sorted(missing))}")
        talk_id = _check_id(talk_where, talk["talk_id"], "talk_id")
        if talk_id in seen:
            raise _error(talk_where, f"duplicate talk_id {talk_id!r}")
        seen.add(talk_id)
        talk_where = f"{where} talk {talk_id!r}"
        samples = _check_samples(talk_where, talk["audio"])
        length = len(samples) / SAMPLE_RATE
        segments = _check_segments(talk_where, talk["segments"], length)
        for lang in langs:
            lines = talk[lang]
            if isinstance(lines, str) or not isinstance(lines, Sequence) or len(lines) != len(segments):
                count = len(lines) if isinstance(lines, Sequence) else type(lines).__name__
                raise _error(talk_where, f"{lang!r} needs one text per segment ({len(segments)}), got {count}")
            for line_no, line in enumerate(lines):
                _check_text(f"{talk_where} segment {line_no}", lang, line)
        prepared.append((talk_id, samples, segments, {lang: list(talk[lang]) for lang in langs}))

    def fill(temp: Path) -> dict:
        (temp / WAV_DIR).mkdir()
        entries, records, total = [], [], 0.0
        for talk_id, samples, segments, lines in prepared:
            wav_name = f"{talk_id}.wav"
            write_wav(temp / WAV_DIR / wav_name, samples, SAMPLE_RATE)
            total += len(samples) / SAMPLE_RATE
            records.append((talk_id, (temp / WAV_DIR / wav_name).read_bytes(), segments, lines))
            entries.extend({"wav": wav_name, "offset": offset, "duration": duration, "speaker_id": talk_id}
                           for offset, duration in segments)
        (temp / SEGMENTS_FILE).write_text(segments_yaml_text(entries), encoding="utf-8")
        for lang in langs:
            text = "".join(line + "\n" for _, _, _, lines in prepared for line in lines[lang])
            (temp / f"ref.{lang}").write_text(text, encoding="utf-8")
        files = {str(path.relative_to(temp).as_posix()): _sha256_file(path)
                 for path in sorted(temp.rglob("*")) if path.is_file()}
        manifest = _manifest(name=name, version=version, kind="longform", track=track, domain=domain,
                             languages=langs, utterances=len(entries), audio_seconds=total,
                             hashes=_longform_hashes(records, langs), files=files, generator=generator,
                             talks=len(prepared))
        _write_manifest(temp, manifest)
        return manifest

    return _write_folder_atomically(folder, fill)


def _check_segments(where: str, segments: object, length: float) -> list[tuple[float, float]]:
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence) or len(segments) == 0:
        raise _error(where, "segments must be a non-empty list of (offset, duration)")
    checked: list[tuple[float, float]] = []
    for index, segment in enumerate(segments):
        try:
            offset, duration = (float(_plain(x)) for x in segment)
        except (TypeError, ValueError) as err:
            raise _error(f"{where} segment {index}", f"expected (offset, duration) numbers, got {segment!r}") from err
        # Stored to the microsecond (far below one 16 kHz sample), as written to segments.yaml.
        offset, duration = round(offset, 6), round(duration, 6)
        if not (math.isfinite(offset) and math.isfinite(duration)) or offset < 0 or duration <= 0:
            raise _error(f"{where} segment {index}", f"needs offset >= 0 and duration > 0, "
                                                     f"got ({offset}, {duration})")
        if offset + duration > length + SEGMENT_SLACK_SECONDS:
            raise _error(f"{where} segment {index}", f"ends at {offset + duration:.3f} s, "
                                                     f"beyond the audio ({length:.3f} s)")
        if checked and offset < checked[-1][0]:
            raise _error(f"{where} segment {index}", "offsets must not decrease (segments in talk order)")
        checked.append((offset, duration))
    return checked


def segments_yaml_text(entries: Sequence[Mapping]) -> str:
    """IWSLT's segments.yaml layout: one flow mapping per line."""
    lines = []
    for entry in entries:
        body = yaml.safe_dump(dict(entry), default_flow_style=True, sort_keys=False, width=1 << 30,
                              allow_unicode=True).strip()
        lines.append(f"- {body}\n")
    return "".join(lines)


def read_segments_yaml(path: str | os.PathLike) -> list[dict]:
    """Read an IWSLT segment file: a YAML list of {wav, offset, duration, speaker_id?, ...}.

    Returns the entries in file order with offset and duration as floats; any other
    keys (speaker_id, IWSLT's rW/uW) are kept as they are.
    """
    path = Path(path)
    text = _read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _error(path, f"not valid YAML ({err})") from err
    if not isinstance(data, list) or not data:
        raise _error(path, "expected a non-empty YAML list of segments")
    entries = []
    for index, entry in enumerate(data):
        where = f"{path} segment {index + 1}"
        if not isinstance(entry, dict):
            raise _error(where, f"expected a mapping, got {type(entry).__name__}")
        missing = {"wav", "offset", "duration"} - set(entry)
        if missing:
            raise _error(where, f"missing key(s) {', '.join(sorted(missing))}")
        wav = entry["wav"]
        if not isinstance(wav, str) or not wav or Path(wav).name != wav or wav in (".", ".."):
            raise _error(where, f"wav must be a plain file name, got {wav!r}")
        numbers = {}
        for key in ("offset", "duration"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _error(where, f"{key} must be a finite number, got {value!r}")
            numbers[key] = float(value)
        if numbers["offset"] < 0 or numbers["duration"] <= 0:
            raise _error(where, f"needs offset >= 0 and duration > 0, got offset {numbers['offset']} "
                                f"duration {numbers['duration']}")
        if "speaker_id" in entry and not isinstance(entry["speaker_id"], (str, int)):
            raise _error(where, f"speaker_id must be a string, got {entry['speaker_id']!r}")
        entries.append({**entry, **numbers})
    return entries


# ---------------------------------------------------------------- loading


def load_testset(folder: str | os.PathLike, *, verify: bool = True) -> TestSet | LongFormSet:
    """Load a set written by write_segmented_set / write_longform_set.

    verify=True also checks every file's sha256 against the manifest, recomputes the
    content, text and audio hashes and the counts, and reads every audio header.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if manifest["kind"] == "segmented":
        return _load_segmented(folder, manifest, verify)
    return _load_longform(folder, manifest, verify)


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise _error(folder, "test set folder not found")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise _error(path, "file not found") from err
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _error(path, f"cannot read ({err})") from err
    if not isinstance(manifest, dict):
        raise _error(path, "expected a JSON object")
    required = ("name", "version", "kind", "languages", "utterances", "audio_seconds", "content_hash",
                "text_hash", "audio_hash", "files")
    missing = [key for key in required if key not in manifest]
    if missing:
        raise _error(path, f"missing key(s) {', '.join(missing)}")
    if manifest["kind"] not in KINDS:
        raise _error(path, f"kind must be one of {', '.join(KINDS)}, got {manifest['kind']!r}")
    languages = manifest["languages"]
    if not isinstance(languages, list) or not languages or languages[0] != "en" \
            or not all(isinstance(lang, str) for lang in languages):
        raise _error(path, f"languages must be a list starting with 'en', got {languages!r}")
    if not isinstance(manifest["files"], dict):
        raise _error(path, "files must be a mapping of relative path to sha256")
    return manifest


def _check_files(folder: Path, manifest: dict, verify: bool, needed: Sequence[str]) -> None:
    """Every file the manifest names must exist (and match its hash when verifying)."""
    files = manifest["files"]
    for relative in needed:
        if relative not in files:
            raise _error(folder / MANIFEST, f"does not list {relative}")
    for relative, expected in sorted(files.items()):
        path = folder / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise _error(folder / MANIFEST, f"file path {relative!r} must stay inside the set folder")
        if not path.is_file():
            raise _error(path, "file not found (named by manifest.json)")
        if verify:
            actual = _sha256_file(path)
            if actual != expected:
                raise _error(path, f"sha256 mismatch: manifest.json says {expected}, file has {actual}")


def _compare_manifest(folder: Path, manifest: dict, hashes: dict[str, str], utterances: int,
                      seconds: float) -> None:
    for key, value in hashes.items():
        if manifest[key] != value:
            raise _error(folder / MANIFEST, f"{key} mismatch: manifest says {manifest[key]}, content gives {value}")
    if manifest["utterances"] != utterances:
        raise _error(folder / MANIFEST, f"says {manifest['utterances']} utterances, data has {utterances}")
    if abs(float(manifest["audio_seconds"]) - seconds) > 1e-3:
        raise _error(folder / MANIFEST, f"says {manifest['audio_seconds']} s of audio, data has {seconds:.6f} s")


def _load_segmented(folder: Path, manifest: dict, verify: bool) -> TestSet:
    _check_files(folder, manifest, verify, [DATA_FILE])
    path = folder / DATA_FILE
    languages = manifest["languages"]
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise _error(path, f"cannot read Parquet ({err})") from err
    schema = table.schema
    for column in ("id", "audio", "seconds", *languages):
        if column not in schema.names:
            raise _error(path, f"missing column {column!r}")
    audio_type = schema.field("audio").type
    if not (pa.types.is_struct(audio_type) and {audio_type.field(i).name for i in range(audio_type.num_fields)}
            >= {"bytes", "path"}):
        raise _error(path, f"column 'audio' must be a struct {{bytes, path}}, got {audio_type}")
    text_columns = ("id", *languages)
    for column in text_columns:
        if not (pa.types.is_string(schema.field(column).type) or pa.types.is_large_string(schema.field(column).type)):
            raise _error(path, f"column {column!r} must be a string column, got {schema.field(column).type}")
    meta_columns = [c for c in schema.names if c not in {"id", "audio", "seconds", *languages}]

    name = manifest["name"]
    utterances = []
    seen: set[str] = set()
    for index, row in enumerate(table.to_pylist()):
        utt_id = row["id"]
        row_where = f"{path} row {index}"
        if not isinstance(utt_id, str) or not utt_id:
            raise _error(row_where, f"id must be a non-empty string, got {utt_id!r}")
        if utt_id in seen:
            raise _error(row_where, f"duplicate id {utt_id!r}")
        seen.add(utt_id)
        for lang in languages:
            if not isinstance(row[lang], str):
                raise _error(row_where, f"id {utt_id!r}: {lang!r} text is missing")
        seconds = row["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise _error(row_where, f"id {utt_id!r}: seconds must be a positive number, got {seconds!r}")
        audio_bytes, source = _row_audio(folder, row_where, utt_id, name, row["audio"])
        if verify:
            _check_header_seconds(audio_bytes, source, float(seconds))
        utterances.append(Utterance(
            id=utt_id, seconds=float(seconds), en=row["en"],
            targets={lang: row[lang] for lang in languages[1:]}, audio_bytes=audio_bytes, source=source,
            meta={column: row[column] for column in meta_columns}))
    if not utterances:
        raise _error(path, "contains no rows")
    if verify:
        records = [(u.id, {"en": u.en, **u.targets}, u.audio_bytes) for u in utterances]
        _compare_manifest(folder, manifest, _segmented_hashes(records, languages), len(utterances),
                          sum(u.seconds for u in utterances))
    return TestSet(name=name, version=str(manifest["version"]), content_hash=manifest["content_hash"],
                   manifest=manifest, utterances=tuple(utterances), folder=folder)


def _row_audio(folder: Path, row_where: str, utt_id: str, set_name: str, audio: object) -> tuple[bytes, str]:
    """The encoded audio of a row: embedded bytes, or a file named by its path (the datasets convention)."""
    if not isinstance(audio, dict):
        raise _error(row_where, f"id {utt_id!r}: audio is missing")
    if audio.get("bytes"):
        return bytes(audio["bytes"]), f"{row_where} (test set {set_name!r}, id {utt_id!r})"
    relative = audio.get("path")
    if not isinstance(relative, str) or not relative:
        raise _error(row_where, f"id {utt_id!r}: audio has neither bytes nor a path")
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise _error(row_where, f"id {utt_id!r}: audio path {relative!r} must stay inside the set folder")
    file = folder / relative
    try:
        data = file.read_bytes()
    except FileNotFoundError as err:
        raise _error(file, f"audio file not found (row {row_where.rsplit(' ', 1)[-1]}, id {utt_id!r})") from err
    except OSError as err:
        raise _error(file, f"cannot read audio file ({err})") from err
    return data, f"{file} (test set {set_name!r}, id {utt_id!r})"


def _check_header_seconds(audio_bytes: bytes, source: str, seconds: float) -> None:
    try:
        actual = audio_seconds(audio_bytes)
    except AudioError as err:
        # audio_seconds names in-memory data "<bytes>"; say which row it was.
        raise _error(source, f"corrupt audio: {str(err).split(': ', 1)[-1]}") from err
    if abs(actual - seconds) > _SECONDS_SLACK_S:
        raise _error(source, f"audio lasts {actual:.3f} s but the row says {seconds:.3f} s")


def _load_longform(folder: Path, manifest: dict, verify: bool) -> LongFormSet:
    languages = manifest["languages"]
    references = [f"ref.{lang}" for lang in languages]
    _check_files(folder, manifest, verify, [SEGMENTS_FILE, *references])
    segments_path = folder / SEGMENTS_FILE
    entries = read_segments_yaml(segments_path)

    order: list[str] = []
    by_wav: dict[str, list[tuple[float, float]]] = {}
    for index, entry in enumerate(entries):
        wav = entry["wav"]
        if wav not in by_wav:
            order.append(wav)
            by_wav[wav] = []
        elif order[-1] != wav:
            # References are line-aligned in file order; a talk split in two would misalign them.
            raise _error(segments_path, f"segment {index + 1}: segments of {wav} are not contiguous")
        by_wav[wav].append((entry["offset"], entry["duration"]))

    lines: dict[str, list[str]] = {}
    for lang in languages:
        ref_path = folder / f"ref.{lang}"
        text = _read_text(ref_path)
        lines[lang] = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
        if len(lines[lang]) != len(entries):
            raise _error(ref_path, f"has {len(lines[lang])} lines but {SEGMENTS_FILE} has {len(entries)} segments")

    talks, records, total, start = [], [], 0.0, 0
    for wav in order:
        wav_path = folder / WAV_DIR / wav
        if verify and f"{WAV_DIR}/{wav}" not in manifest["files"]:
            raise _error(folder / MANIFEST, f"does not list {WAV_DIR}/{wav} (named by {SEGMENTS_FILE})")
        if not wav_path.is_file():
            raise _error(segments_path, f"names unknown wav {wav!r} ({wav_path} not found)")
        try:
            length = audio_seconds(wav_path)
        except AudioError as err:
            raise TestSetError(one_line(err)) from err
        segments = by_wav[wav]
        for offset, duration in segments:
            if offset + duration > length + SEGMENT_SLACK_SECONDS:
                raise _error(segments_path, f"segment at offset {offset} (duration {duration}) ends beyond "
                                            f"{wav} ({length:.3f} s)")
        count = len(segments)
        talk_lines = {lang: tuple(lines[lang][start:start + count]) for lang in languages}
        start += count
        talks.append(LongFormTalk(talk_id=Path(wav).stem, wav_path=wav_path, segments=tuple(segments),
                                  references={lang: talk_lines[lang] for lang in languages[1:]},
                                  source_text=talk_lines["en"]))
        total += length
        if verify:
            records.append((Path(wav).stem, wav_path.read_bytes(), segments, talk_lines))
    if verify:
        _compare_manifest(folder, manifest, _longform_hashes(records, languages), len(entries), total)
    return LongFormSet(name=manifest["name"], version=str(manifest["version"]),
                       content_hash=manifest["content_hash"], manifest=manifest, talks=tuple(talks),
                       folder=folder)


# ---------------------------------------------------------------- the paper's split and ACL 60/60


def split_talks(dataset: datasets.Dataset, test_size: int = 100,
                seed: int = 0) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(train, test) exactly as Moslem (IWSLT 2025) splits ACL 60/60: train_test_split(test_size=100, seed=0).

    The rows come back in the order datasets gives them (shuffled), as in the paper.
    """
    if isinstance(test_size, int) and not 0 < test_size < len(dataset):
        raise TestSetError(f"split_talks: test_size {test_size} needs more than {test_size} rows, "
                           f"got {len(dataset)}")
    split = dataset.train_test_split(test_size=test_size, seed=seed)
    return split["train"], split["test"]


def merge_acl6060_splits(splits: Mapping[str, datasets.Dataset]) -> datasets.Dataset:
    """dev then eval as one dataset, like load_dataset(..., split="dev+eval"), with a "split" column.

    The audio column is cast to Audio(decode=False): the encoded bytes are kept and
    decoded by harness.data.audio (no torchcodec). Neither the cast nor the added column
    changes the row order, so train_test_split picks the paper's rows.
    """
    missing = [name for name in ACL6060_SPLITS if name not in splits]
    if missing:
        raise TestSetError(f"{ACL6060_REPO}: missing split(s) {', '.join(missing)} (has {', '.join(splits)})")
    parts = []
    for name in ACL6060_SPLITS:
        part = splits[name]
        if "audio" not in part.column_names:
            raise TestSetError(f"{ACL6060_REPO} split {name!r}: no 'audio' column (has {', '.join(part.column_names)})")
        part = part.cast_column("audio", datasets.Audio(decode=False))
        parts.append(part.add_column("split", [name] * len(part)))
    return datasets.concatenate_datasets(parts)


def acl6060_testsets(merged: datasets.Dataset, lang: str | Sequence[str], *, version: str = "main",
                     track: str = "iwslt2026", test_size: int = 100, seed: int = 0) -> dict[str, TestSet]:
    """Split the merged ACL 60/60 with split_talks and convert both parts to TestSets.

    Columns used (as on the hub): index, audio {bytes, path}, text_en, text_<lang>, and
    split (added by merge_acl6060_splits). Utterance ids are "<split>_<index>", since
    each hub split numbers its rows from 0.
    """
    targets = (lang,) if isinstance(lang, str) else tuple(lang)
    for column in ("audio", "text_en", *(f"text_{t}" for t in targets), "split"):
        if column not in merged.column_names:
            langs = sorted(c[len("text_"):] for c in merged.column_names if c.startswith("text_"))
            raise TestSetError(f"{ACL6060_REPO}: no column {column!r} (languages: {', '.join(langs) or 'none'})")
    if "en" in targets:
        raise TestSetError(f"{ACL6060_REPO}: lang is the target language (e.g. de, zh), not 'en'")
    if not isinstance(merged.features["audio"], datasets.Audio) or merged.features["audio"].decode:
        merged = merged.cast_column("audio", datasets.Audio(decode=False))
    train, test = split_talks(merged, test_size=test_size, seed=seed)
    generator = {"source": "huggingface hub", "dataset": ACL6060_REPO, "revision": version,
                 "splits": "+".join(ACL6060_SPLITS), "rows": len(merged),
                 "split_rule": f"train_test_split(test_size={test_size}, seed={seed})",
                 "citation": "Moslem, IWSLT 2025"}
    return {part: _dataset_to_testset(data, name=f"acl6060_{'-'.join(targets)}_{part}", targets=targets,
                                      version=version,
                                      track=track, generator=generator | {"part": part})
            for part, data in (("train", train), ("test", test))}


def _dataset_to_testset(dataset: datasets.Dataset, *, name: str, targets: Sequence[str], version: str, track: str,
                        generator: dict) -> TestSet:
    languages = ["en", *targets]
    utterances, records = [], []
    for position, row in enumerate(dataset):
        index = row.get("index", position)
        utt_id = f"{row['split']}_{index}"
        where = f"{ACL6060_REPO} {row['split']} index {index}"
        audio = row["audio"]
        if not isinstance(audio, dict):
            raise TestSetError(f"{where}: audio is missing")
        if audio.get("bytes"):
            audio_bytes = bytes(audio["bytes"])
        elif audio.get("path"):
            try:
                audio_bytes = Path(audio["path"]).read_bytes()
            except OSError as err:
                raise _error(audio["path"], f"cannot read audio for {where} ({err})") from err
        else:
            raise TestSetError(f"{where}: audio has neither bytes nor a path")
        source = f"{where} (test set {name!r}, id {utt_id!r})"
        try:
            seconds = audio_seconds(audio_bytes)
        except AudioError as err:
            raise _error(source, f"corrupt audio: {str(err).split(': ', 1)[-1]}") from err
        texts = {"en": row["text_en"] or ""} | {t: row[f"text_{t}"] or "" for t in targets}
        meta = {"split": row["split"], "index": index, "domain": "talks"}
        utterances.append(Utterance(id=utt_id, seconds=seconds, en=texts["en"],
                                    targets={t: texts[t] for t in targets},
                                    audio_bytes=audio_bytes, source=source, meta=meta))
        records.append((utt_id, texts, audio_bytes))
    ids = [u.id for u in utterances]
    if len(set(ids)) != len(ids):
        raise TestSetError(f"{ACL6060_REPO}: utterance ids are not unique (split + index repeats)")
    total = sum(u.seconds for u in utterances)
    manifest = _manifest(name=name, version=version, kind="segmented", track=track, domain="talks",
                         languages=languages, utterances=len(utterances), audio_seconds=total,
                         hashes=_segmented_hashes(records, languages), files={}, generator=generator)
    return TestSet(name=name, version=version, content_hash=manifest["content_hash"], manifest=manifest,
                   utterances=tuple(utterances), folder=None)


def _load_acl6060_hub(cache_dir: str | os.PathLike | None, revision: str | None) -> datasets.DatasetDict:
    """The hub download, nothing else; the dataset is plain Parquet, so no remote code ever runs."""
    try:
        return datasets.load_dataset(ACL6060_REPO, cache_dir=None if cache_dir is None else str(cache_dir),
                                     revision=revision)
    except Exception as err:  # noqa: BLE001 - every failure here means "no ACL 60/60", said in one line
        raise TestSetError(one_line(
            f"{ACL6060_REPO}: cannot load from the Hugging Face hub (unreachable, offline, or not in the "
            f"cache {cache_dir or 'default'}): {type(err).__name__}: {err}")) from err


def load_acl6060(lang: str | Sequence[str], cache_dir: str | os.PathLike | None = None, revision: str | None = None, *,
                 track: str = "iwslt2026") -> dict[str, TestSet]:
    """The real ACL 60/60 for EN->``lang`` (one target or several): dev+eval (884 utterances) -> {"train": 784, "test": 100}.

    ``revision`` defaults to the commit pinned in harness.data.hub.HUB_REVISIONS; the hub's moving
    "main" is never read. Raises TestSetError (one line) when no commit is pinned, or the hub is
    unreachable and nothing is cached.
    """
    from harness.data.hub import UnpinnedError, pinned_revision

    try:
        revision = pinned_revision(ACL6060_REPO, revision)
    except UnpinnedError as error:
        raise TestSetError(one_line(error)) from None
    merged = merge_acl6060_splits(_load_acl6060_hub(cache_dir, revision))
    return acl6060_testsets(merged, lang, version=revision, track=track)
