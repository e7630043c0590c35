"""Test-set layout: writers, loaders, manifests and hashes, bad input, atomic writes, the paper's split, ACL 60/60."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml

from conftest import one_line_error
import harness.data.testsets as ts
from harness.data import tracks
from harness.data.audio import SAMPLE_RATE, decode_audio
from harness.data.testsets import (
    LongFormSet,
    TestSet,
    TestSetError,
    load_acl6060,
    load_testset,
    read_segments_yaml,
    split_talks,
    write_longform_set,
    write_segmented_set,
)

GENERATOR = {"name": "unit-test", "seed": 7, "espeak_ng": "none"}


def sine(seconds: float, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_rows(count: int = 5) -> list[dict]:
    return [{"id": f"utt_{i:03d}", "audio": sine(0.2 + 0.05 * i, 200.0 + 40 * i),
             "en": f"The model translates sentence {i}.", "de": f"Das Modell übersetzt Satz {i}.",
             "zh": f"模型翻译第{i}句。", "pattern": f"p{i % 2}", "voice": "en-us", "speed": 150 + i,
             "pitch": 50.0 + i, "snr_db": None if i % 2 else 10.0}
            for i in range(count)]


def write_rows(folder: Path, rows: list[dict] | None = None, **kwargs) -> dict:
    return write_segmented_set(folder, name=folder.name, version="1.0", domain="talks",
                               rows=make_rows() if rows is None else rows, generator=GENERATOR, **kwargs)


def make_talks() -> list[dict]:
    talks = []
    for t in range(2):
        pieces, segments, cursor = [], [], 0
        for s in range(3):
            gap = np.zeros(int(0.1 * SAMPLE_RATE), dtype=np.float32)
            speech = sine(0.3 + 0.1 * s, 300.0 + 50 * s)
            pieces += [gap, speech]
            cursor += len(gap)
            segments.append((cursor / SAMPLE_RATE, len(speech) / SAMPLE_RATE))
            cursor += len(speech)
        pieces.append(np.zeros(int(0.2 * SAMPLE_RATE), dtype=np.float32))
        talks.append({"talk_id": f"talk_{t + 1:03d}", "audio": np.concatenate(pieces), "segments": segments,
                      "en": [f"Talk {t} sentence {s}." for s in range(3)],
                      "de": [f"Vortrag {t} Satz {s}." for s in range(3)],
                      "zh": [f"演讲{t}第{s}句。" for s in range(3)]})
    return talks


def write_talks(folder: Path, talks: list[dict] | None = None) -> dict:
    return write_longform_set(folder, name=folder.name, version="1.0", domain="talks",
                              talks=make_talks() if talks is None else talks, generator=GENERATOR)


def rehash(folder: Path, relative: str) -> None:
    """Update manifest.json's file hash after an edit, so the check under test is the one that fires."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][relative] = ts._sha256_file(folder / relative)
    (folder / "manifest.json").write_text(json.dumps(manifest))


# ---------------------------------------------------------------- segmented sets


def test_segmented_round_trip(tmp_path):
    rows = make_rows()
    manifest = write_rows(tmp_path / "talks_test", rows)
    loaded = load_testset(tmp_path / "talks_test")

    assert isinstance(loaded, TestSet)
    assert loaded.manifest == manifest
    assert (loaded.name, loaded.version, loaded.content_hash) == ("talks_test", "1.0", manifest["content_hash"])
    assert manifest["kind"] == "segmented" and manifest["track"] == "mini" and manifest["domain"] == "talks"
    assert manifest["languages"] == ["en", "de", "zh"] and manifest["utterances"] == len(rows)
    assert manifest["generator"] == GENERATOR and list(manifest["files"]) == ["data.parquet"]
    assert manifest["audio_seconds"] == pytest.approx(sum(len(r["audio"]) for r in rows) / SAMPLE_RATE)
    for key in ("content_hash", "text_hash", "audio_hash"):
        assert manifest[key].startswith("sha256:") and len(manifest[key]) == 7 + 64

    assert loaded.ids == [r["id"] for r in rows]
    assert loaded.reference("en") == [r["en"] for r in rows]
    assert loaded.reference("de") == [r["de"] for r in rows]
    assert loaded.reference("zh") == [r["zh"] for r in rows]
    for utterance, row in zip(loaded.utterances, rows):
        assert utterance.targets == {"de": row["de"], "zh": row["zh"]}
        assert utterance.seconds == len(row["audio"]) / SAMPLE_RATE
        samples = utterance.audio()
        assert samples.dtype == np.float32 and samples.shape == row["audio"].shape
        assert np.max(np.abs(samples - row["audio"])) <= 1 / 32768 + 1e-7  # 16-bit PCM
        assert utterance.meta == {"domain": "talks", "pattern": row["pattern"], "voice": "en-us",
                                  "speed": row["speed"], "pitch": row["pitch"], "snr_db": row["snr_db"]}
    with pytest.raises(TestSetError, match="no 'fr' references"):
        loaded.reference("fr")


def test_same_rows_give_identical_manifest_and_parquet(tmp_path):
    first = write_rows(tmp_path / "a" / "set")
    second = write_rows(tmp_path / "b" / "set")
    assert first == second
    data = (tmp_path / "a" / "set" / "data.parquet").read_bytes()
    assert data == (tmp_path / "b" / "set" / "data.parquet").read_bytes()
    # Rewriting in place replaces the folder and changes nothing.
    assert write_rows(tmp_path / "a" / "set") == first
    assert (tmp_path / "a" / "set" / "data.parquet").read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["set"]


def test_content_hash_ignores_parquet_encoding(tmp_path):
    """The same rows in a differently encoded Parquet file keep their content hash."""
    folder = tmp_path / "set"
    manifest = write_rows(folder)
    table = pq.read_table(folder / "data.parquet")
    pq.write_table(table, folder / "data.parquet", compression="none", row_group_size=2)
    rehash(folder, "data.parquet")
    loaded = load_testset(folder)
    assert loaded.manifest["files"]["data.parquet"] != manifest["files"]["data.parquet"]
    assert loaded.content_hash == manifest["content_hash"]


def test_hashes_follow_text_and_audio(tmp_path):
    base = write_rows(tmp_path / "base")
    rows = make_rows()
    rows[2]["de"] = "Ein anderer Satz."
    text_changed = write_rows(tmp_path / "text", rows)
    rows = make_rows()
    rows[2]["audio"] = sine(0.3, 999.0)
    audio_changed = write_rows(tmp_path / "audio", rows)
    rows = make_rows()
    rows[2]["voice"] = "de"  # metadata is not content
    meta_changed = write_rows(tmp_path / "meta", rows)

    assert text_changed["text_hash"] != base["text_hash"] and text_changed["audio_hash"] == base["audio_hash"]
    assert audio_changed["audio_hash"] != base["audio_hash"] and audio_changed["text_hash"] == base["text_hash"]
    assert len({base["content_hash"], text_changed["content_hash"], audio_changed["content_hash"]}) == 3
    assert meta_changed["content_hash"] == base["content_hash"]


@pytest.mark.parametrize("reader", ["from_parquet", "load_dataset"])
def test_datasets_reads_the_parquet_with_audio_feature(tmp_path, reader):
    rows = make_rows()
    write_rows(tmp_path / "set", rows)
    path = str(tmp_path / "set" / "data.parquet")
    if reader == "from_parquet":
        dataset = datasets.Dataset.from_parquet(path, cache_dir=str(tmp_path / "cache"))
    else:
        dataset = datasets.load_dataset("parquet", data_files=path, split="train", cache_dir=str(tmp_path / "cache"))

    audio_feature = dataset.features["audio"]
    assert isinstance(audio_feature, datasets.Audio) and audio_feature.decode is False
    assert audio_feature.sampling_rate == SAMPLE_RATE
    assert dataset.features["seconds"] == datasets.Value("float64")
    assert dataset.features["speed"] == datasets.Value("int64")
    assert dataset.features["snr_db"] == datasets.Value("float64")
    assert dataset.column_names[:7] == ["id", "audio", "seconds", "en", "de", "zh", "domain"]
    assert dataset["id"] == [r["id"] for r in rows]
    first = dataset[0]["audio"]
    assert first["path"] == "utt_000.flac" and first["bytes"][:4] == b"fLaC"
    samples, info = decode_audio(first["bytes"])
    assert info.original_sample_rate == SAMPLE_RATE
    assert np.max(np.abs(samples - rows[0]["audio"])) <= 1 / 32768 + 1e-7


@pytest.mark.parametrize("change, message", [
    (lambda rows: rows[1].update(id=rows[0]["id"]), "duplicate id"),
    (lambda rows: rows[1].update(id="a/b"), "id must match"),
    (lambda rows: rows[1].pop("zh"), "missing zh"),
    (lambda rows: rows[1].update(de=""), "'de' text must be a non-empty string"),
    (lambda rows: rows[1].update(en="two\nlines"), "line break"),
    (lambda rows: rows[1].update(audio=np.zeros((2, 10), np.float32)), "1-D float array"),
    (lambda rows: rows[1].update(audio=np.full(10, np.nan, np.float32)), "NaN"),
    (lambda rows: rows[1].update(extra=1), "metadata columns"),
    (lambda rows: rows[1].update(speed="fast"), "column 'speed': needs one value type"),
    (lambda rows: [row.update(tags=[1]) for row in rows], "unsupported value type list"),
    (lambda rows: [row.update(domain="x") for row in rows], "reserved column"),
])
def test_writer_rejects_bad_rows(tmp_path, change, message):
    rows = make_rows()
    change(rows)
    with pytest.raises(TestSetError) as excinfo:
        write_rows(tmp_path / "set", rows)
    one_line_error(excinfo, message)
    assert not (tmp_path / "set").exists()


def test_writer_rejects_bad_header(tmp_path):
    with pytest.raises(TestSetError, match="not JSON-serializable"):
        write_segmented_set(tmp_path / "s", name="s", version="1", domain="talks", rows=make_rows(),
                            generator={"seed": object()})
    with pytest.raises(TestSetError, match="rows must be a non-empty sequence"):
        write_segmented_set(tmp_path / "s", name="s", version="1", domain="talks", rows=[], generator={})
    with pytest.raises(TestSetError, match="version must be a non-empty"):
        write_segmented_set(tmp_path / "s", name="s", version="", domain="talks", rows=make_rows(), generator={})


def test_two_language_set(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "zh"} for row in make_rows()]
    manifest = write_rows(tmp_path / "accent", rows, languages=("en", "de"))
    loaded = load_testset(tmp_path / "accent")
    assert manifest["languages"] == ["en", "de"] and loaded.languages == ("en", "de")
    assert all(set(u.targets) == {"de"} for u in loaded)
    with pytest.raises(TestSetError, match="no 'zh' references"):
        loaded.reference("zh")


# ---------------------------------------------------------------- bad sets on disk


def test_missing_folder_or_manifest(tmp_path):
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "nowhere")
    one_line_error(excinfo, "nowhere", "not found")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "empty")
    one_line_error(excinfo, "manifest.json", "file not found")
    (tmp_path / "empty" / "manifest.json").write_text("{not json")
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "empty")
    one_line_error(excinfo, "manifest.json", "cannot read")


@pytest.mark.parametrize("verify", [True, False])
def test_missing_parquet(tmp_path, verify):
    write_rows(tmp_path / "set")
    (tmp_path / "set" / "data.parquet").unlink()
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set", verify=verify)
    one_line_error(excinfo, str(tmp_path / "set" / "data.parquet"), "not found")


def test_manifest_naming_a_missing_audio_file(tmp_path):
    write_rows(tmp_path / "set")
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    manifest["files"]["audio/utt_009.flac"] = "sha256:" + "0" * 64
    (tmp_path / "set" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set", verify=False)
    one_line_error(excinfo, "utt_009.flac", "not found")


def test_row_naming_a_missing_audio_file(tmp_path):
    """Rows may point at a file instead of embedding bytes (the datasets convention); it must exist."""
    write_rows(tmp_path / "set")
    path = tmp_path / "set" / "data.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    flac = rows[3]["audio"]["bytes"]
    rows[3]["audio"] = {"bytes": None, "path": "clips/utt_003.flac"}
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)
    rehash(tmp_path / "set", "data.parquet")
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set")
    one_line_error(excinfo, str(tmp_path / "set" / "clips" / "utt_003.flac"), "audio file not found", "utt_003")
    # The file, once there, is used, and hashes as the embedded bytes did.
    (tmp_path / "set" / "clips").mkdir()
    (tmp_path / "set" / "clips" / "utt_003.flac").write_bytes(flac)
    loaded = load_testset(tmp_path / "set")
    assert loaded.utterances[3].audio_bytes == flac and "clips/utt_003.flac" in loaded.utterances[3].source


def test_corrupt_audio_bytes_in_a_row(tmp_path, monkeypatch):
    """A writer that stored garbage: the manifest agrees with the file, the audio does not decode."""
    real = ts.encode_flac
    calls = iter(range(100))
    monkeypatch.setattr(ts, "encode_flac",
                        lambda audio, rate: b"garbage, not FLAC" if next(calls) == 2 else real(audio, rate))
    write_rows(tmp_path / "set")
    monkeypatch.setattr(ts, "encode_flac", real)

    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set")
    one_line_error(excinfo, "data.parquet row 2", "'set'", "utt_002", "corrupt audio")
    loaded = load_testset(tmp_path / "set", verify=False)
    assert loaded.utterances[1].audio().size > 0
    with pytest.raises(TestSetError) as excinfo:
        loaded.utterances[2].audio()
    one_line_error(excinfo, "data.parquet row 2", "'set'", "utt_002", "cannot decode audio")


def test_tampered_parquet_is_a_hash_mismatch(tmp_path):
    write_rows(tmp_path / "set")
    path = tmp_path / "set" / "data.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set")
    one_line_error(excinfo, str(path), "sha256 mismatch")


def test_tampered_manifest_hash_is_caught(tmp_path):
    write_rows(tmp_path / "set")
    manifest_path = tmp_path / "set" / "manifest.json"
    for key in ("text_hash", "audio_hash", "content_hash"):
        manifest = json.loads(manifest_path.read_text())
        good = manifest[key]
        manifest[key] = "sha256:" + "0" * 64
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(TestSetError) as excinfo:
            load_testset(tmp_path / "set")
        one_line_error(excinfo, "manifest.json", f"{key} mismatch")
        load_testset(tmp_path / "set", verify=False)  # without verify the manifest is taken as is
        manifest[key] = good
        manifest_path.write_text(json.dumps(manifest))
    load_testset(tmp_path / "set")


def test_parquet_missing_a_column(tmp_path):
    write_rows(tmp_path / "set")
    path = tmp_path / "set" / "data.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["zh"]), path)
    rehash(tmp_path / "set", "data.parquet")
    with pytest.raises(TestSetError) as excinfo:
        load_testset(tmp_path / "set")
    one_line_error(excinfo, str(path), "missing column 'zh'")


# ---------------------------------------------------------------- atomic writes


def test_failed_segmented_write_keeps_previous_version(tmp_path, monkeypatch):
    folder = tmp_path / "set"
    good = write_rows(folder)
    real = ts.encode_flac
    calls = iter(range(100))

    def failing(audio, rate):
        if next(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(audio, rate)

    monkeypatch.setattr(ts, "encode_flac", failing)
    rows = make_rows()
    rows[0]["en"] = "A new text that must not appear."
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_rows(folder, rows)
    loaded = load_testset(folder)
    assert loaded.manifest == good and loaded.utterances[0].en == make_rows()[0]["en"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    # The writer streams row groups through pq.ParquetWriter (harness.data.testsets.write_segmented_set).
    monkeypatch.setattr(ts.pq.ParquetWriter, "write_table", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        write_rows(tmp_path / "set")
    assert list(tmp_path.iterdir()) == []


def test_failed_longform_write_keeps_previous_version(tmp_path, monkeypatch):
    folder = tmp_path / "long"
    good = write_talks(folder)
    calls = iter(range(100))
    real = ts.write_wav
    monkeypatch.setattr(ts, "write_wav", lambda *a: real(*a) if next(calls) == 0 else (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_talks(folder)
    assert load_testset(folder).manifest == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long"]


def test_target_that_is_a_file(tmp_path):
    (tmp_path / "set").write_text("not a folder")
    with pytest.raises(TestSetError, match="not a folder"):
        write_rows(tmp_path / "set")


# ---------------------------------------------------------------- long-form sets


def test_longform_round_trip(tmp_path):
    talks = make_talks()
    folder = tmp_path / "longform_test"
    manifest = write_talks(folder, talks)
    loaded = load_testset(folder)

    assert isinstance(loaded, LongFormSet) and loaded.manifest == manifest
    assert manifest["kind"] == "longform" and manifest["talks"] == 2 and manifest["utterances"] == 6
    assert sorted(manifest["files"]) == ["ref.de", "ref.en", "ref.zh", "segments.yaml",
                                         "wav/talk_001.wav", "wav/talk_002.wav"]
    assert manifest["audio_seconds"] == pytest.approx(sum(len(t["audio"]) for t in talks) / SAMPLE_RATE)
    assert loaded.segments_yaml == folder / "segments.yaml"
    for talk, given in zip(loaded.talks, talks):
        assert talk.talk_id == given["talk_id"] and talk.wav_path == folder / "wav" / f"{given['talk_id']}.wav"
        assert len(talk.segments) == len(given["segments"])
        for (offset, duration), (given_offset, given_duration) in zip(talk.segments, given["segments"]):
            assert offset == pytest.approx(given_offset, abs=1e-6)
            assert duration == pytest.approx(given_duration, abs=1e-6)
        assert list(talk.source_text) == given["en"]
        assert {k: list(v) for k, v in talk.references.items()} == {"de": given["de"], "zh": given["zh"]}
        samples = talk.audio()
        assert samples.shape == given["audio"].shape
        assert np.max(np.abs(samples - given["audio"])) <= 1 / 32768 + 1e-7
    assert loaded.reference("de") == [line for t in talks for line in t["de"]]
    assert (folder / "ref.zh").read_text(encoding="utf-8").splitlines() == loaded.reference("zh")

    entries = read_segments_yaml(folder / "segments.yaml")
    assert len(entries) == 6
    assert entries[0] == {"wav": "talk_001.wav", "offset": pytest.approx(0.1), "duration": pytest.approx(0.3),
                          "speaker_id": "talk_001"}
    assert all(set(e) == {"wav", "offset", "duration", "speaker_id"} for e in entries)
    # One flow mapping per line, as IWSLT ships segment files.
    assert (folder / "segments.yaml").read_text().splitlines()[0].startswith("- {wav: talk_001.wav, offset: ")
    again = tmp_path / "again" / "longform_test"
    assert write_talks(again, talks) == manifest
    assert all((again / f).read_bytes() == (folder / f).read_bytes() for f in manifest["files"])


def test_read_segments_yaml_accepts_iwslt_files(tmp_path):
    path = tmp_path / "IWSLT.TED.tst2023.en-de.yaml"
    path.write_text("- {duration: 3.72, offset: 12.01, rW: 9, uW: 0, speaker_id: spk.1, wav: ted_1.wav}\n"
                    "- {duration: 2, offset: 16, rW: 5, uW: 0, speaker_id: spk.1, wav: ted_1.wav}\n")
    entries = read_segments_yaml(path)
    assert entries[0]["offset"] == 12.01 and entries[1]["duration"] == 2.0 and isinstance(entries[1]["offset"], float)
    assert entries[0]["rW"] == 9 and entries[0]["speaker_id"] == "spk.1"


@pytest.mark.parametrize("text, message", [
    ("- {wav: a.wav, offset: 1.0}\n", "missing key(s) duration"),
    ("- {wav: a.wav, offset: one, duration: 1.0}\n", "offset must be a finite number"),
    ("- {wav: a.wav, offset: -1.0, duration: 1.0}\n", "offset >= 0"),
    ("- {wav: a.wav, offset: 1.0, duration: 0}\n", "duration > 0"),
    ("- {wav: a.wav, offset: .nan, duration: 1.0}\n", "finite number"),
    ("- {wav: ../a.wav, offset: 1.0, duration: 1.0}\n", "plain file name"),
    ("- {wav: a.wav, offset: true, duration: 1.0}\n", "offset must be a finite number"),
    ("- [1, 2]\n", "expected a mapping"),
    ("wav: a.wav\n", "non-empty YAML list"),
    ("", "non-empty YAML list"),
    ("- {wav: a.wav, offset: [\n", "not valid YAML"),
])
def test_read_segments_yaml_rejects_bad_entries(tmp_path, text, message):
    path = tmp_path / "segments.yaml"
    path.write_text(text)
    with pytest.raises(TestSetError) as excinfo:
        read_segments_yaml(path)
    one_line_error(excinfo, str(path), message)


def _edit_segments(folder: Path, edit) -> None:
    entries = yaml.safe_load((folder / "segments.yaml").read_text())
    edit(entries)
    (folder / "segments.yaml").write_text(ts.segments_yaml_text(entries))
    rehash(folder, "segments.yaml")


def test_segment_beyond_its_wav(tmp_path):
    folder = tmp_path / "long"
    write_talks(folder)
    _edit_segments(folder, lambda entries: entries[2].update(duration=30.0))
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder, verify=False)
    one_line_error(excinfo, str(folder / "segments.yaml"), "ends beyond talk_001.wav")


def test_segment_naming_an_unknown_wav(tmp_path):
    folder = tmp_path / "long"
    write_talks(folder)
    _edit_segments(folder, lambda entries: [e.update(wav="talk_009.wav") for e in entries[3:]])
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder, verify=False)
    one_line_error(excinfo, str(folder / "segments.yaml"), "unknown wav 'talk_009.wav'")


def test_segments_and_references_disagree(tmp_path):
    folder = tmp_path / "long"
    write_talks(folder)
    _edit_segments(folder, lambda entries: entries.pop())
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder)
    one_line_error(excinfo, "ref.en", "has 6 lines but segments.yaml has 5 segments")


def test_interleaved_talks_are_rejected(tmp_path):
    folder = tmp_path / "long"
    write_talks(folder)
    _edit_segments(folder, lambda entries: entries.insert(1, entries.pop(4)))
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder)
    one_line_error(excinfo, "segments.yaml", "not contiguous")


def test_longform_missing_or_tampered_files(tmp_path):
    folder = tmp_path / "long"
    write_talks(folder)
    (folder / "ref.de").write_text((folder / "ref.de").read_text().replace("Satz 1", "Satz 7"))
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder)
    one_line_error(excinfo, str(folder / "ref.de"), "sha256 mismatch")
    assert load_testset(folder, verify=False).talks[0].references["de"][1] == "Vortrag 0 Satz 7."

    write_talks(folder)
    (folder / "wav" / "talk_002.wav").unlink()
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder, verify=False)
    one_line_error(excinfo, str(folder / "wav" / "talk_002.wav"), "not found")

    write_talks(folder)
    (folder / "wav" / "talk_002.wav").write_bytes(b"RIFF not really")
    rehash(folder, "wav/talk_002.wav")
    with pytest.raises(TestSetError) as excinfo:
        load_testset(folder)
    one_line_error(excinfo, "talk_002.wav", "cannot read audio header")


def test_longform_writer_rejects_bad_talks(tmp_path):
    talks = make_talks()
    talks[1]["segments"][2] = (1.0, 5.0)
    with pytest.raises(TestSetError) as excinfo:
        write_talks(tmp_path / "long", talks)
    one_line_error(excinfo, "talk 'talk_002' segment 2", "beyond the audio")
    talks = make_talks()
    talks[0]["de"] = talks[0]["de"][:2]
    with pytest.raises(TestSetError, match="needs one text per segment"):
        write_talks(tmp_path / "long", talks)
    assert not (tmp_path / "long").exists()


# ---------------------------------------------------------------- the paper's split


def test_split_talks_is_train_test_split_with_the_papers_settings():
    dataset = datasets.Dataset.from_dict({"id": [f"talk_{i:04d}" for i in range(884)]})
    train, test = split_talks(dataset)
    assert (len(train), len(test)) == (784, 100)
    assert set(train["id"]).isdisjoint(test["id"]) and set(train["id"]) | set(test["id"]) == set(dataset["id"])
    again_train, again_test = split_talks(dataset)
    assert again_train["id"] == train["id"] and again_test["id"] == test["id"]
    direct = dataset.train_test_split(test_size=100, seed=0)
    assert train["id"] == direct["train"]["id"] and test["id"] == direct["test"]["id"]
    assert split_talks(dataset, seed=1)[1]["id"] != test["id"]
    with pytest.raises(TestSetError, match="test_size 100"):
        split_talks(dataset.select(range(50)))


# ---------------------------------------------------------------- ACL 60/60


ACL_LANGS = ("en", "ar", "de", "fa", "fr", "ja", "nl", "pt", "ru", "tr", "zh")


def _wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def fake_acl6060(dev: int = 468, eval_: int = 416) -> datasets.DatasetDict:
    """Shaped like ymoslem/ACL-6060: splits dev and eval, columns index, audio, text_<lang>."""
    features = datasets.Features({"index": datasets.Value("int64"), "audio": datasets.Audio(sampling_rate=16000),
                                  **{f"text_{lang}": datasets.Value("string") for lang in ACL_LANGS}})
    splits = {}
    for split, count in (("dev", dev), ("eval", eval_)):
        columns = {"index": list(range(count)),
                   "audio": [{"bytes": _wav_bytes(sine(0.01 + 0.001 * (i % 7), 100.0 + i)), "path": f"{i}.wav"}
                             for i in range(count)]}
        for lang in ACL_LANGS:
            columns[f"text_{lang}"] = [f"{split} {i} in {lang}" for i in range(count)]
        # Built from Arrow, as the hub's Parquet arrives: encoding through datasets would need torchcodec.
        splits[split] = datasets.Dataset(pa.Table.from_pydict(columns, schema=features.arrow_schema))
    return datasets.DatasetDict(splits)


@pytest.fixture(scope="module")
def acl_hub() -> datasets.DatasetDict:
    return fake_acl6060()


def test_merge_equals_loading_dev_plus_eval(tmp_path, acl_hub):
    """Merging the two splits gives the rows of load_dataset(..., split="dev+eval"), the paper's call."""
    files = {}
    for split, data in acl_hub.items():
        files[split] = str(tmp_path / f"{split}.parquet")
        data.select_columns(["index", "text_en"]).to_parquet(files[split])
    paper = datasets.load_dataset("parquet", data_files=files, split="dev+eval", cache_dir=str(tmp_path / "cache"))
    merged = ts.merge_acl6060_splits(acl_hub)
    assert len(merged) == ts.ACL6060_UTTERANCES
    assert merged["text_en"] == paper["text_en"] and merged["index"] == paper["index"]
    assert merged["split"] == ["dev"] * 468 + ["eval"] * 416
    assert merged.features["audio"].decode is False


PINNED = "0123456789abcdef0123456789abcdef01234567"   # a commit id's shape; the hub is faked


def test_load_acl6060_converts_the_papers_split(monkeypatch, acl_hub):
    calls = []
    monkeypatch.setitem(tracks.HUB_REVISIONS, "ymoslem/ACL-6060", PINNED)

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return acl_hub

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    parts = load_acl6060("de", cache_dir="/cache", revision="f" * 40)
    assert calls == [("ymoslem/ACL-6060", {"cache_dir": "/cache", "revision": "f" * 40})]  # no remote code
    train, test = parts["train"], parts["test"]
    assert (len(train), len(test)) == (784, 100)

    # The same rows as the paper's code: dev+eval, train_test_split(test_size=100, seed=0).
    paper = datasets.concatenate_datasets([acl_hub["dev"], acl_hub["eval"]]).remove_columns("audio")
    paper = paper.train_test_split(test_size=100, seed=0)
    assert test.reference("en") == paper["test"]["text_en"] and test.reference("de") == paper["test"]["text_de"]
    assert train.reference("en") == paper["train"]["text_en"]
    assert set(train.ids).isdisjoint(test.ids) and len(set(train.ids) | set(test.ids)) == 884

    first = test.utterances[0]
    split, index = first.id.split("_")
    assert first.meta == {"split": split, "index": int(index), "domain": "talks"}
    assert first.en == f"{split} {index} in en" and first.targets == {"de": f"{split} {index} in de"}
    expected = sine(0.01 + 0.001 * (int(index) % 7), 100.0 + int(index))
    assert first.seconds == pytest.approx(len(expected) / SAMPLE_RATE)
    assert np.max(np.abs(first.audio() - expected)) <= 1 / 32768 + 1e-7

    assert test.name == "acl6060_de_test" and test.version == "f" * 40
    assert test.manifest["languages"] == ["en", "de"] and test.manifest["utterances"] == 100
    assert test.manifest["generator"]["dataset"] == "ymoslem/ACL-6060" and test.folder is None
    assert load_acl6060("de", revision="f" * 40)["test"].content_hash == test.content_hash
    zh = load_acl6060("zh")["test"]   # no revision: the pinned one, never main
    assert calls[-1][1]["revision"] == PINNED and zh.version == PINNED
    assert zh.ids == test.ids and zh.reference("zh") == paper["test"]["text_zh"]
    assert zh.content_hash != test.content_hash
    both = load_acl6060(("de", "zh"))["test"]  # what eval loads: one set, both directions
    assert both.name == "acl6060_de-zh_test" and both.ids == test.ids
    assert both.reference("de") == test.reference("de") and both.reference("zh") == zh.reference("zh")
    with pytest.raises(TestSetError, match="no column 'text_xx'"):
        load_acl6060("xx")


def test_load_acl6060_without_the_hub(monkeypatch):
    def unreachable(path, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)\nretry later")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    monkeypatch.setitem(tracks.HUB_REVISIONS, "ymoslem/ACL-6060", PINNED)
    with pytest.raises(TestSetError) as excinfo:
        load_acl6060("de")
    one_line_error(excinfo, "ymoslem/ACL-6060", "Hugging Face hub", "ConnectionError")


@pytest.mark.parametrize("revision, says", [(None, "no pinned commit"), ("main", "not a 40-hex commit id"),
                                            ("v1.0", "not a 40-hex commit id")])
def test_load_acl6060_never_reads_a_moving_revision(monkeypatch, revision, says):
    """The hub's main (or a tag) moves: without a commit id nothing is fetched."""
    def must_not_be_called(path, **kwargs):
        raise AssertionError("the hub was called without a pinned commit")

    monkeypatch.setattr(datasets, "load_dataset", must_not_be_called)
    monkeypatch.setitem(tracks.HUB_REVISIONS, "ymoslem/ACL-6060", None)
    with pytest.raises(TestSetError) as excinfo:
        load_acl6060("de", revision=revision)
    one_line_error(excinfo, "ymoslem/ACL-6060", says)
