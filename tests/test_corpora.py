"""Local general-domain corpora (harness.data.corpora: CoVoST 2, Europarl-ST) and the streaming segmented-set writer.

Every corpus here is a small synthetic copy of the real layout, written by the fixtures:
a Common Voice English folder (validated.tsv + MP3 clips written by libsndfile) with the
CoVoST 2 translation TSVs beside it, and a Europarl-ST folder (en/de/<split>/segments.*,
whole recordings in en/audios/).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from conftest import one_line_error
import harness.data.testsets as ts
from harness.data import corpora
from harness.data.audio import SAMPLE_RATE, decode_audio, encode_flac
from harness.data.corpora import CorpusError
from harness.stages.base import StageError
from harness.stages.cache import StageCache
from harness.data.testsets import TestSetError, load_testset, write_segmented_set
from harness.data.tracks import get_track

CV_RATE = 48_000  # Common Voice's MP3 clips are 48 kHz mono
EP_RATE = 44_100

# (clip, sentence, split, de, zh); None: the pair's TSV has no row for the clip.
CLIPS = [
    ("common_voice_en_100", "The cat sleeps.", "train", "Die Katze schläft.", "猫在睡觉。"),
    ("common_voice_en_101", 'He said "hello" twice.', "train_covost", 'Er sagte zweimal "hallo".', "他说了两次你好。"),
    ("common_voice_en_102", "A dog runs.", "dev", "Ein Hund läuft.", "一只狗在跑。"),
    ("common_voice_en_103", "It rains today.", "train", "Heute regnet es.", None),
    ("common_voice_en_104", "We read books.", "test", "Wir lesen Bücher.", "我们读书。"),
    ("common_voice_en_105", "The sun is warm.", "train", "", "太阳很暖和。"),
    ("common_voice_en_106", "Trains are late.", "train", "Züge sind spät.", "火车晚点了。"),
    ("common_voice_en_107", "She plays piano.", "train_covost", "Sie spielt Klavier.", "她弹钢琴。"),
    ("common_voice_en_108", "Birds can fly.", "train", "Vögel können fliegen.", "鸟会飞。"),
]
NOT_VALIDATED = "common_voice_en_999"  # in the CoVoST TSV, not in validated.tsv: dropped by the join


def tone(seconds: float, freq: float, rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("".join("\t".join(r) + "\n" for r in [header, *rows]), encoding="utf-8")


@pytest.fixture
def covost(tmp_path) -> dict[str, str]:
    """A Common Voice English folder (cv/en) and the CoVoST 2 TSVs (covost/), as roots by variable name."""
    cv = tmp_path / "cv" / "en"
    (cv / "clips").mkdir(parents=True)
    validated = []
    for index, (clip, sentence, *_rest) in enumerate(CLIPS):
        sf.write(cv / "clips" / f"{clip}.mp3", tone(0.4 + 0.05 * index, 300 + 40 * index, CV_RATE), CV_RATE,
                 format="MP3")
        validated.append([f"client{index}", f"{clip}.mp3", sentence, "2", "0", "", "", ""])
    _tsv(cv / "validated.tsv",
         ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent"], validated)
    tsvs = tmp_path / "covost"
    tsvs.mkdir()
    for pair, column in (("en_de", 3), ("en_zh-CN", 4)):
        rows = [[f"{c[0]}.mp3", c[1], c[column], f"client{i}", c[2]] for i, c in enumerate(CLIPS)
                if c[column] is not None]
        rows.append([f"{NOT_VALIDATED}.mp3", "Gone.", "Weg.", "x", "train"])
        _tsv(tsvs / f"covost_v2.{pair}.tsv", ["path", "sentence", "translation", "client_id", "split"], rows)
    return {"COMMON_VOICE_ROOT": str(cv.parent), "COVOST2_ROOT": str(tsvs)}


SPEECHES = {"en.20080924.31.3-243": (4.0, "flac", SAMPLE_RATE), "en.20090112.4.3-018": (3.0, "wav", EP_RATE)}
SEGMENTS = [("en.20080924.31.3-243", 0.5, 1.5, "Madam President, thank you.", "Frau Präsidentin, danke."),
            ("en.20080924.31.3-243", 1.75, 3.25, "We vote tomorrow.", "Wir stimmen morgen ab."),
            ("en.20090112.4.3-018", 0.2, 1.1, "Mr President, the report.", "Herr Präsident, der Bericht."),
            ("en.20090112.4.3-018", 1.2, 2.9, "I agree.", "Ich stimme zu.")]


@pytest.fixture
def europarl(tmp_path) -> Path:
    """A Europarl-ST v1.1 folder: en/de/train/segments.{lst,en,de}, whole recordings in en/audios/."""
    root = tmp_path / "europarl-st"
    audios = root / "en" / "audios"
    audios.mkdir(parents=True)
    for index, (speech, (seconds, fmt, rate)) in enumerate(SPEECHES.items()):
        sf.write(audios / f"{speech}.{fmt}", tone(seconds, 250 + 90 * index, rate), rate)
    train = root / "en" / "de" / "train"
    train.mkdir(parents=True)
    (train / "segments.lst").write_text("".join(f"{s} {a:.2f} {b:.2f}\n" for s, a, b, _, _ in SEGMENTS))
    (train / "segments.en").write_text("".join(f"{en}\n" for *_, en, _ in SEGMENTS), encoding="utf-8")
    (train / "segments.de").write_text("".join(f"{de}\n" for *_, de in SEGMENTS), encoding="utf-8")
    return root


# ---------------------------------------------------------------- CoVoST 2


def test_covost2_rows_follow_the_reference_join(covost):
    rows = corpora.covost2_utterances(covost["COMMON_VOICE_ROOT"], covost["COVOST2_ROOT"], ["en_de"], "train")
    # train + train_covost, validated.tsv order; dev/test out; the empty translation and the
    # clip missing from validated.tsv skipped.
    assert [u.id for u in rows] == ["common_voice_en_100", "common_voice_en_101", "common_voice_en_103",
                                    "common_voice_en_106", "common_voice_en_107", "common_voice_en_108"]
    second = rows[1]
    assert second.en == 'He said "hello" twice.' and second.targets == {"de": 'Er sagte zweimal "hallo".'}
    assert second.corpus == "covost2" and second.span is None
    assert second.path == Path(covost["COMMON_VOICE_ROOT"]) / "en" / "clips" / "common_voice_en_101.mp3"
    dev = corpora.covost2_utterances(covost["COMMON_VOICE_ROOT"], covost["COVOST2_ROOT"], ["en_de"], "dev")
    assert [u.id for u in dev] == ["common_voice_en_102"]


def test_covost2_pairs_joined_on_the_clip(covost):
    rows = corpora.covost2_utterances(covost["COMMON_VOICE_ROOT"] + "/en", covost["COVOST2_ROOT"],
                                      ["en_de", "en_zh-CN"], "train")
    # 103 has no zh row; 105 has an empty de translation.
    assert [u.id for u in rows] == ["common_voice_en_100", "common_voice_en_101", "common_voice_en_106",
                                    "common_voice_en_107", "common_voice_en_108"]
    assert rows[0].targets == {"de": "Die Katze schläft.", "zh": "猫在睡觉。"}


def test_mp3_clip_decodes_to_16k_mono(covost):
    utterance = corpora.covost2_utterances(covost["COMMON_VOICE_ROOT"], covost["COVOST2_ROOT"], ["en_de"])[0]
    audio = utterance.audio()
    assert audio.dtype == np.float32 and audio.ndim == 1
    # 0.4 s at 48 kHz, resampled; MP3 adds at most a frame or two of encoder padding.
    assert 0.4 <= len(audio) / SAMPLE_RATE <= 0.4 + 0.1
    reference, info = decode_audio(utterance.path)
    assert info.original_sample_rate == CV_RATE and np.array_equal(audio, reference)


def test_seeded_sample_is_deterministic(covost, tmp_path):
    source = corpora.resolve_source("hub:covost2/en_de", roots=covost)
    assert source.languages == ("en", "de") and source.name == "covost2_en_de"
    pool = source.utterances()
    first, again = source.sample(4, seed=0), source.sample(4, seed=0)
    assert [u.id for u in first] == [u.id for u in again]
    picked = sorted(np.random.default_rng(0).choice(len(pool), 4, replace=False).tolist())
    assert [u.id for u in first] == [pool[i].id for i in picked]
    assert [u.id for u in first] == sorted(u.id for u in first)  # back in pool order
    assert {tuple(u.id for u in source.sample(4, seed=s)) for s in range(6)} != {tuple(u.id for u in first)}

    one = source.write_sample(tmp_path / "one", size=4, seed=0, track="iwslt2026")
    two = source.write_sample(tmp_path / "two", size=4, seed=0, track="iwslt2026")
    assert one == two
    assert (tmp_path / "one" / "data.parquet").read_bytes() == (tmp_path / "two" / "data.parquet").read_bytes()


def test_written_sample_is_a_segmented_set(covost, tmp_path):
    source = corpora.resolve_source("hub:covost2/en_zh-CN", roots=covost)
    manifest = source.write_sample(tmp_path / "set", size=3, seed=1, track="iwslt2026")
    loaded = load_testset(tmp_path / "set")
    assert loaded.languages == ("en", "zh") and len(loaded) == 3 and loaded.name == "covost2_en_zh-CN_train"
    assert manifest["domain"] == "general" and manifest["track"] == "iwslt2026"
    generator = manifest["generator"]
    assert generator["corpora"] == ["covost2"] and generator["size"] == 3 and generator["seed"] == 1
    assert generator["lists"] == source.fingerprint() and "Wang" in generator["citations"][0]
    by_id = {u.id: u for u in source.utterances()}
    for utterance in loaded:
        original = by_id[utterance.id]
        assert utterance.en == original.en and utterance.targets == {"zh": original.targets["zh"]}
        assert utterance.meta["corpus"] == "covost2"
        assert np.max(np.abs(utterance.audio() - original.audio())) <= 1 / 32768 + 1e-7


# ---------------------------------------------------------------- Europarl-ST


def test_europarl_st_segments_are_cut_from_the_recordings(europarl):
    rows = corpora.europarl_st_utterances(europarl, "en_de", "train")
    assert [u.id for u in rows] == ["en.20080924.31.3-243_0", "en.20080924.31.3-243_1",
                                    "en.20090112.4.3-018_2", "en.20090112.4.3-018_3"]
    assert rows[1].en == "We vote tomorrow." and rows[1].targets == {"de": "Wir stimmen morgen ab."}
    assert rows[0].span == (0.5, 1.5) and rows[0].path.suffix == ".flac"
    whole, _ = decode_audio(rows[0].path)
    assert np.array_equal(rows[0].audio(), whole[8000:24000])  # 16 kHz source: an exact cut
    cut = rows[3].audio()  # 44.1 kHz source, resampled
    assert abs(len(cut) / SAMPLE_RATE - 1.7) < 0.01


def test_m4a_only_is_a_one_line_error_with_the_fix(europarl, tmp_path):
    flac = europarl / "en" / "audios" / "en.20080924.31.3-243.flac"
    m4a = flac.with_suffix(".m4a")
    flac.rename(m4a)  # what the release ships: AAC that libsndfile cannot decode
    source = corpora.resolve_source("hub:europarl-st/en_de", roots={"EUROPARL_ST_ROOT": str(europarl)})
    with pytest.raises(CorpusError) as excinfo:
        source.sample(4, seed=0)
    one_line_error(excinfo, str(m4a), ".m4a", "ffmpeg", "-ar 16000", '"${f%.m4a}.flac"')


def test_europarl_st_bad_lists(europarl):
    train = europarl / "en" / "de" / "train"
    (train / "segments.de").write_text("Nur eine Zeile.\n")
    with pytest.raises(CorpusError) as excinfo:
        corpora.europarl_st_utterances(europarl)
    one_line_error(excinfo, "differ in length", "(4, 4, 1 lines)")
    with pytest.raises(CorpusError) as excinfo:
        corpora.europarl_st_utterances(europarl, split="dev")
    one_line_error(excinfo, "no split 'dev'", "has train")


# ---------------------------------------------------------------- the combined sample (Diet-KIT)


def test_combined_sample_needing_zh_is_covost_only(covost, europarl, tmp_path):
    roots = covost | {"EUROPARL_ST_ROOT": str(europarl)}
    source = corpora.resolve_source("hub:covost2-europarl-st/sample", ("de", "zh"), roots)
    assert source.languages == ("en", "de", "zh") and source.europarl_pairs == ()
    assert "no English->zh pair" in source.notes["europarl_st"]
    manifest = source.write_sample(tmp_path / "set", size=5, seed=0)
    assert "Europarl-ST has no" in manifest["generator"]["europarl_st"]
    assert {u.meta["corpus"] for u in load_testset(tmp_path / "set")} == {"covost2"}
    # Europarl-ST is not read, so its variable is not needed.
    assert corpora.resolve_source("hub:covost2-europarl-st/sample", ("de", "zh"), covost).europarl_st is None


def test_combined_sample_for_de_pools_both_corpora(covost, europarl, tmp_path):
    with pytest.raises(CorpusError) as excinfo:
        corpora.resolve_source("hub:covost2-europarl-st/sample", ("de",), covost)
    one_line_error(excinfo, "EUROPARL_ST_ROOT")
    source = corpora.resolve_source("hub:covost2-europarl-st/sample", ("de",),
                                    covost | {"EUROPARL_ST_ROOT": str(europarl)})
    pool = source.utterances()
    assert [u.corpus for u in pool] == ["covost2"] * 6 + ["europarl-st"] * 4
    source.write_sample(tmp_path / "set", size=10, seed=0)
    assert {u.meta["corpus"] for u in load_testset(tmp_path / "set")} == {"covost2", "europarl-st"}


# ---------------------------------------------------------------- bad input


def test_unset_variable_names_it():
    with pytest.raises(CorpusError) as excinfo:
        corpora.resolve_source("hub:covost2/en_de", roots={"COMMON_VOICE_ROOT": "/x"})
    one_line_error(excinfo, "hub:covost2/en_de", "set COVOST2_ROOT")


@pytest.mark.parametrize("source, message", [
    ("hub:covost2/en_fr", "unknown CoVoST 2 pair 'en_fr'"),
    ("hub:europarl-st/en_zh", "unknown Europarl-ST pair"),
    ("hub:covost2-europarl-st/all", "covost2-europarl-st/sample"),
    ("hub:mustc/en_de", "no loader"),
])
def test_unknown_sources(source, message):
    with pytest.raises(CorpusError) as excinfo:
        corpora.resolve_source(source, roots={})
    one_line_error(excinfo, message)


def test_missing_files_and_short_pools(covost, tmp_path):
    source = corpora.resolve_source("hub:covost2/en_de", roots=covost)
    with pytest.raises(CorpusError) as excinfo:
        source.sample(7)
    one_line_error(excinfo, "asked for 7 utterances", "only 6")
    clip = Path(covost["COMMON_VOICE_ROOT"]) / "en" / "clips" / "common_voice_en_106.mp3"
    clip.unlink()
    with pytest.raises(CorpusError) as excinfo:
        source.write_sample(tmp_path / "set", size=6)
    one_line_error(excinfo, str(clip), "not found")
    assert not (tmp_path / "set").exists()
    (Path(covost["COVOST2_ROOT"]) / "covost_v2.en_de.tsv").unlink()
    with pytest.raises(CorpusError) as excinfo:
        source.utterances()
    one_line_error(excinfo, "covost_v2.en_de.tsv", "no such file")
    with pytest.raises(CorpusError) as excinfo:
        corpora.covost2_utterances(tmp_path, covost["COVOST2_ROOT"], ["en_zh-CN"])
    one_line_error(excinfo, "no validated.tsv")


def test_cli(covost, tmp_path, capsys, monkeypatch):
    for name, value in covost.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "cli"
    assert corpora.main(["covost2", "--pair", "en_de", "--size", "2", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and len(load_testset(out)) == 2
    for argv, message in [(["covost2", "--pair", "en_fr"], "unknown CoVoST 2 pair"),
                          (["covost2", "--pair", "en_de", "--size", "99"], "asked for 99 utterances"),
                          (["covost2"], "needs --pair"),
                          (["covost2", "--pair", "en_de", "--covost", str(tmp_path / "none")], "no such folder")]:
        args = argv + ([] if "--size" in argv else ["--size", "2"]) + ["--out", str(tmp_path / "bad")]
        assert corpora.main(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()
    from harness.__main__ import COMMANDS
    assert COMMANDS["corpus"][0] == "harness.data.corpora"


# ---------------------------------------------------------------- the recipe and the plan


def test_recipe_resolves_covost2_into_a_cached_set(covost, tmp_path, monkeypatch):
    from harness.stages import recipe

    cache = StageCache(tmp_path / "cache", log=None)
    track = get_track("mini")
    with pytest.raises(StageError) as excinfo:  # the variables unset: the error names them
        monkeypatch.delenv("COVOST2_ROOT", raising=False)
        recipe.resolve_set("hub:covost2/en_de", track=track, langs=("de", "zh"), cache=cache, log=None,
                           sample=(3, 0))
    one_line_error(excinfo, "COVOST2_ROOT")
    for name, value in covost.items():
        monkeypatch.setenv(name, value)
    config = {"data": {"general": {"de": "hub:covost2/en_de", "zh": "hub:covost2/en_zh-CN"}},
              "qlora": {"general_size": 3, "general_seed": 0}}
    built = recipe.Recipe(track=track, config=config, cache=cache, log=None)
    data = built.dataset("general", "de")
    assert data.testset.languages == ("en", "de") and len(data.testset) == 3
    assert data.input.key == data.testset.content_hash
    expected = [u.id for u in corpora.resolve_source("hub:covost2/en_de", roots=covost).sample(3, 0)]
    assert data.testset.ids == expected
    stage = next((tmp_path / "cache").glob("data-covost2_en_de-*"))
    assert json.loads((stage / "stage.json").read_text())["settings"]["size"] == 3
    again = recipe.resolve_set("hub:covost2/en_de", track=track, langs=("de", "zh"), cache=cache, log=None,
                               sample=(3, 0))
    assert again.testset.content_hash == data.testset.content_hash  # reused from the cache
    assert len(list((tmp_path / "cache").glob("data-covost2_en_de-*"))) == 1
    with pytest.raises(StageError, match="general_size"):
        recipe.resolve_set("hub:covost2/en_de", track=track, langs=("de",), cache=cache, log=None)
    # The converted set already is the seeded general sample: the recipe trains on it, no second copy.
    sample = built.general_sample("de")
    assert sample.path == stage and (sample.path / recipe.SET / "manifest.json").is_file()
    assert not list((tmp_path / "cache").glob("general_sample-*"))


def test_plan_names_the_local_corpora(monkeypatch):
    from harness import plan

    for name in ("COMMON_VOICE_ROOT", "COVOST2_ROOT", "EUROPARL_ST_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for submission in ("modelB", "diet-kit"):
        result = plan.make_plan("iwslt2026", submission, gpus=1, gpu_gib=80)
        general = [s for s in result["stages"] if s["name"] == "data:general"]
        assert general and all("no loader" not in need for s in general for need in s["needs"])
        assert all("$COVOST2_ROOT" in s["needs"][0] and s["disk"] == plan.audio_bytes(100_000) for s in general)
        assert all(any("COVOST2_ROOT" in note and "not set" in note for note in s["notes"]) for s in general)


# ---------------------------------------------------------------- the streaming writer


def sine_rows(count: int) -> list[dict]:
    return [{"id": f"u{i:04d}", "audio": tone(0.05 + 0.01 * (i % 7), 200 + i, SAMPLE_RATE), "en": f"e {i}",
             "de": f"d {i}", "zh": f"中{i}", "k": i % 3, "f": None if i % 5 else 0.5, "s": "x" * (i % 4 + 1),
             "b": bool(i % 2)} for i in range(count)]


def whole_table_parquet(path: Path, rows: list[dict]) -> None:
    """data.parquet as the writer made it before it streamed: one table, write_table(row_group_size=256)."""
    meta = {"k": "int64", "f": "float64", "s": "string", "b": "bool"}
    import datasets

    features = ts.segmented_features(("en", "de", "zh"), {k: datasets.Value(v) for k, v in meta.items()})
    columns = {key: [] for key in features}
    for row in rows:
        columns["id"].append(row["id"])
        columns["audio"].append({"bytes": encode_flac(row["audio"]), "path": f"{row['id']}.flac"})
        columns["seconds"].append(len(row["audio"]) / SAMPLE_RATE)
        for key in ("en", "de", "zh"):
            columns[key].append(row[key])
        columns["domain"].append("general")
        for key in meta:
            columns[key].append(row[key])
    pq.write_table(pa.Table.from_pydict(columns, schema=features.arrow_schema), path, compression="zstd",
                   row_group_size=256)


def test_streaming_writer_is_byte_identical(tmp_path):
    rows = sine_rows(600)  # three row groups: 256, 256, 88
    listed = write_segmented_set(tmp_path / "list", name="s", version="1", domain="general", rows=rows,
                                 generator={"g": 1})
    streamed = write_segmented_set(tmp_path / "gen", name="s", version="1", domain="general",
                                   rows=(row for row in rows), generator={"g": 1})
    assert listed == streamed
    data = (tmp_path / "list" / "data.parquet").read_bytes()
    assert data == (tmp_path / "gen" / "data.parquet").read_bytes()
    assert (tmp_path / "list" / "manifest.json").read_bytes() == (tmp_path / "gen" / "manifest.json").read_bytes()
    whole_table_parquet(tmp_path / "whole.parquet", rows)
    assert data == (tmp_path / "whole.parquet").read_bytes()
    assert listed["files"]["data.parquet"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert pq.ParquetFile(tmp_path / "list" / "data.parquet").metadata.num_row_groups == 3
    loaded = load_testset(tmp_path / "gen")
    assert loaded.content_hash == listed["content_hash"] and len(loaded) == 600


def test_streaming_writer_checks_later_rows(tmp_path):
    def late(change):
        rows = sine_rows(300)
        change(rows[280])
        return (row for row in rows)

    for change, message in [(lambda row: row.update(k=2.5), "column 'k': a float64 value"),
                            (lambda row: row.update(id="u0001"), "duplicate id"),
                            (lambda row: row.pop("s"), "metadata columns"),
                            (lambda row: row.update(de=""), "'de' text must be")]:
        with pytest.raises(TestSetError) as excinfo:
            write_segmented_set(tmp_path / "set", name="s", version="1", domain="general", rows=late(change),
                                generator={})
        one_line_error(excinfo, "row 280", message)
        assert list(tmp_path.iterdir()) == []  # the half-written file went with its temporary folder
    rows = sine_rows(300)
    rows[280]["k"] = 2.5
    manifest = write_segmented_set(tmp_path / "typed", name="s", version="1", domain="general",
                                   rows=iter(rows), generator={},
                                   meta_types={"k": "float64", "f": "float64", "s": "string", "b": "bool"})
    assert load_testset(tmp_path / "typed").utterances[280].meta["k"] == 2.5 and manifest["utterances"] == 300
    with pytest.raises(TestSetError, match="rows must be a non-empty sequence"):
        write_segmented_set(tmp_path / "empty", name="s", version="1", domain="general", rows=iter([]),
                            generator={})


def test_europarl_st_bad_segment_lines(europarl, tmp_path):
    listing = europarl / "en" / "de" / "train" / "segments.lst"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(lines[:3] + ["en.20090112.4.3-018 9.0 9.5"]) + "\n")  # past the 3 s recording
    source = corpora.resolve_source("hub:europarl-st/en_de", roots={"EUROPARL_ST_ROOT": str(europarl)})
    with pytest.raises(CorpusError) as excinfo:
        source.write_sample(tmp_path / "set", size=4)
    one_line_error(excinfo, "en.20090112.4.3-018.wav", "outside the audio")
    assert not (tmp_path / "set").exists()
    listing.write_text("\n".join(lines[:3] + ["en.20090112.4.3-018 2.0"]) + "\n")
    with pytest.raises(CorpusError) as excinfo:
        source.utterances()
    one_line_error(excinfo, "segments.lst line 4", "<speech id> <start> <end>")
