"""The organizers' layout (harness.data.iwslt_layout): reader, refusals, writer, the 2026 track's sets."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.data.iwslt_layout import load_organizers_layout, write_organizers_layout
from harness.data.testsets import LongFormSet, TestSetError, load_testset, write_longform_set
from harness.data.tracks import IWSLT2026_SETS, get_track, load_spec
from tests.conftest import one_line_error

REPO = Path(__file__).resolve().parents[1]
RATE = 16_000
# Two talks of a few seconds; texts with XML's special characters so escaping is exercised.
TALKS = {
    "ACL_1": {"seconds": 3.0, "segments": [(0.25, 1.0), (1.5, 1.25)],
              "en": ["Hello & welcome.", "Attention <is> all."],
              "de": ["Hallo & willkommen.", "Aufmerksamkeit <ist> alles."],
              "zh": ["你好，欢迎。", "注意力就是一切。"]},
    "News_1": {"seconds": 2.0, "segments": [(0.1, 1.8)],
               "en": ["Markets rose \"sharply\"."], "de": ["Die Märkte stiegen stark."],
               "zh": ["市场大幅上涨。"]},
}


def _samples(seconds: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.05).astype(np.float32)


def _xml(kind: str, lang: str, docs: dict[str, list[str]]) -> str:
    from xml.sax.saxutils import escape

    body = "".join(f'<doc docid="{talk}" genre="test">\n'
                   + "".join(f'<seg id="{i}">{escape(line)}</seg>\n' for i, line in enumerate(lines, 1))
                   + "</doc>\n" for talk, lines in docs.items())
    attrs = 'srclang="en"' + ("" if kind == "srcset" else f' trglang="{lang}"')
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<mteval>\n<{kind} setid="t" {attrs}>\n{body}</{kind}>\n</mteval>\n'


def make_folder(folder: Path, form: str = "xml", prefix: str = "IWSLT26.test") -> Path:
    """An organizers' folder written by hand (not by the writer under test)."""
    (folder / "wavs").mkdir(parents=True)
    (folder / "FILE_ORDER").write_text("ACL_1\nNews_1.wav\n")
    yaml_lines = []
    for index, (talk, data) in enumerate(TALKS.items()):
        sf.write(folder / "wavs" / f"{talk}.wav", _samples(data["seconds"], index), RATE, subtype="PCM_16")
        yaml_lines += [f"- {{duration: {d:.6f}, offset: {o:.6f}, speaker_id: spk{index}, wav: {talk}.wav}}\n"
                       for o, d in data["segments"]]
    (folder / f"{prefix}.yaml").write_text("".join(yaml_lines))
    for lang in ("de", "zh"):
        for side in ("en", lang):
            name = f"{prefix}.en-{lang}.{side}"
            if form == "xml":
                kind = "srcset" if side == "en" else "refset"
                (folder / f"{name}.xml").write_text(_xml(kind, lang, {t: d[side] for t, d in TALKS.items()}),
                                                    encoding="utf-8")
            else:
                (folder / name).write_text("".join(line + "\n" for d in TALKS.values() for line in d[side]),
                                           encoding="utf-8")
    return folder


def content(longform_set: LongFormSet) -> list[tuple]:
    return [(t.talk_id, t.segments, t.references, t.source_text,
             hashlib.sha256(t.wav_path.read_bytes()).hexdigest()) for t in longform_set.talks]


@pytest.mark.parametrize("form", ["xml", "text"])
def test_reader_gives_talks_segments_references_and_sources(tmp_path, form):
    loaded = load_organizers_layout(make_folder(tmp_path / "set", form))
    assert isinstance(loaded, LongFormSet) and loaded.name == "set"
    assert [t.talk_id for t in loaded.talks] == ["ACL_1", "News_1"]
    assert loaded.languages == ("en", "de", "zh") and len(loaded) == 2
    for talk in loaded.talks:
        expected = TALKS[talk.talk_id]
        assert talk.segments == tuple(expected["segments"])
        assert talk.source_text == tuple(expected["en"])
        assert talk.references == {"de": tuple(expected["de"]), "zh": tuple(expected["zh"])}
        assert abs(len(talk.audio()) / RATE - expected["seconds"]) < 1e-3
    assert loaded.reference("de") == [line for d in TALKS.values() for line in d["de"]]
    assert loaded.version == loaded.content_hash and loaded.content_hash.startswith("sha256:")
    assert loaded.manifest["utterances"] == 3 and abs(loaded.manifest["audio_seconds"] - 5.0) < 1e-3
    suffix = ".xml" if form == "xml" else ""
    assert set(loaded.manifest["files"]) == {"FILE_ORDER", "IWSLT26.test.yaml", "wavs/ACL_1.wav", "wavs/News_1.wav",
                                             *(f"IWSLT26.test.en-{lang}.{side}{suffix}"
                                               for lang in ("de", "zh") for side in ("en", lang))}


def test_xml_and_plain_text_read_alike_and_a_changed_copy_is_another_set(tmp_path):
    xml = load_organizers_layout(make_folder(tmp_path / "a", "xml"))
    text = load_organizers_layout(make_folder(tmp_path / "b", "text"))
    assert content(xml) == content(text)
    again = load_organizers_layout(make_folder(tmp_path / "c", "xml"))
    assert again.content_hash == xml.content_hash
    ref = tmp_path / "c" / "IWSLT26.test.en-de.de.xml"
    ref.write_text(ref.read_text().replace("alles", "Alles"))
    assert load_organizers_layout(tmp_path / "c").content_hash != xml.content_hash


def test_languages_pick_directions(tmp_path):
    folder = make_folder(tmp_path / "set")
    only_de = load_organizers_layout(folder, ("de",))
    assert only_de.languages == ("en", "de") and set(only_de.talks[0].references) == {"de"}
    assert not any(".zh" in name for name in only_de.manifest["files"])
    # Without any English file the source is absent, unless "en" is asked for.
    for name in ("IWSLT26.test.en-de.en.xml", "IWSLT26.test.en-zh.en.xml"):
        (folder / name).unlink()
    assert load_organizers_layout(folder).languages == ("de", "zh")
    with pytest.raises(TestSetError) as excinfo:
        load_organizers_layout(folder, ("en", "de"))
    one_line_error(excinfo, "no English source")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


P = "IWSLT26.test"
REFUSALS = {
    "no FILE_ORDER": (lambda f: (f / "FILE_ORDER").unlink(), None, ["FILE_ORDER", "file not found"]),
    "listed wav absent": (lambda f: (f / "wavs" / "News_1.wav").unlink(), None,
                          ["FILE_ORDER line 2", "wavs/News_1.wav not found"]),
    "talk listed twice": (lambda f: (f / "FILE_ORDER").write_text("ACL_1\nNews_1\nACL_1.wav\n"), None,
                          ["FILE_ORDER line 3", "listed twice"]),
    "yaml wav not in FILE_ORDER": (lambda f: _edit(f / f"{P}.yaml", "wav: News_1.wav", "wav: Other_1.wav"), None,
                                   [f"{P}.yaml segment 3", "'Other_1.wav' is not in FILE_ORDER"]),
    "segment outside the audio": (lambda f: _edit(f / f"{P}.yaml", "offset: 0.100000", "offset: 1.100000"), None,
                                  [f"{P}.yaml (News_1.wav segment 1)", "beyond the audio (2.000 s)"]),
    "unsafe yaml": (lambda f: (f / f"{P}.yaml").write_text(
        "- !!python/object/apply:os.system ['touch pwned']\n"), None, [f"{P}.yaml", "not valid YAML"]),
    "no yaml": (lambda f: (f / f"{P}.yaml").unlink(), None, ["no segment file"]),
    "seg count differs": (lambda f: _edit(f / f"{P}.en-de.de.xml", '<seg id="2">Aufmerksamkeit &lt;ist&gt; alles.</seg>\n',
                                          ""), None, [f"{P}.en-de.de.xml", "doc ACL_1: 1 segs but the yaml has 2"]),
    "doc missing": (lambda f: _edit(f / f"{P}.en-zh.zh.xml", 'docid="News_1"', 'docid="News_2"'), None,
                    [f"{P}.en-zh.zh.xml", "no <doc docid='News_1'>"]),
    "malformed XML": (lambda f: _edit(f / f"{P}.en-de.de.xml", "</doc>", "</dok>"), None,
                      [f"{P}.en-de.de.xml line", "malformed XML"]),
    "doctype refused": (lambda f: _edit(f / f"{P}.en-de.de.xml", "<mteval>",
                                        '<!DOCTYPE mteval SYSTEM "file:///etc/passwd">\n<mteval>'), None,
                        [f"{P}.en-de.de.xml line 2", "<!DOCTYPE refused"]),
    "entity refused": (lambda f: _edit(f / f"{P}.en-zh.en.xml", "<mteval>",
                                       '<!ENTITY lol "lol&lol;&lol;">\n<mteval>'), None,
                       [f"{P}.en-zh.en.xml line 2", "<!ENTITY refused"]),
    "no reference for a language": (lambda f: None, ("fr",), ["no fr reference", f"{P}.en-fr.fr.xml"]),
    "English sources differ": (lambda f: _edit(f / f"{P}.en-zh.en.xml", "Hello", "Hallo"), None,
                               [f"{P}.en-zh.en.xml", "talk ACL_1: English source differs"]),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_are_one_line_and_name_file_and_place(tmp_path, case):
    change, languages, fragments = REFUSALS[case]
    folder = make_folder(tmp_path / "set")
    change(folder)
    with pytest.raises(TestSetError) as excinfo:
        load_organizers_layout(folder, languages)
    one_line_error(excinfo, *fragments)
    assert not (folder / "pwned").exists() and not Path("pwned").exists()


def test_plain_text_line_count_is_checked(tmp_path):
    folder = make_folder(tmp_path / "set", "text")
    _edit(folder / f"{P}.en-de.de", "Die Märkte stiegen stark.\n", "")
    with pytest.raises(TestSetError) as excinfo:
        load_organizers_layout(folder)
    one_line_error(excinfo, f"{P}.en-de.de", "has 2 lines but the yaml has 3 segments")


def test_a_refusal_through_the_cli_is_one_line_and_exit_2(tmp_path):
    folder = make_folder(tmp_path / "set")
    (folder / "FILE_ORDER").unlink()
    env = os.environ | {"IWSLT2026_ACL": str(folder), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "harness", "longform", "--track", "iwslt2026",
                             "--testset", "iwslt2026_acl"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FILE_ORDER" in lines[0] and "Traceback" not in result.stderr


@pytest.fixture
def native(tmp_path) -> LongFormSet:
    talks = [{"talk_id": talk, "audio": _samples(data["seconds"], index), "segments": data["segments"],
              **{lang: data[lang] for lang in ("en", "de", "zh")}} for index, (talk, data) in enumerate(TALKS.items())]
    write_longform_set(tmp_path / "native", name="native", version="1", domain="talks", talks=talks,
                       generator={"name": "test"})
    return load_testset(tmp_path / "native")


def test_write_then_read_round_trip_equals_the_source_set(tmp_path, native):
    first = write_organizers_layout(native, tmp_path / "org", prefix="IWSLT26.ACL")
    loaded = load_organizers_layout(first)
    assert content(loaded) == content(native)
    assert loaded.reference("en") == native.reference("en") and loaded.languages == native.languages
    assert sorted(p.name for p in first.iterdir()) == [
        "FILE_ORDER", "IWSLT26.ACL.en-de.de.xml", "IWSLT26.ACL.en-de.en.xml", "IWSLT26.ACL.en-zh.en.xml",
        "IWSLT26.ACL.en-zh.zh.xml", "IWSLT26.ACL.yaml", "wavs"]
    assert (first / "IWSLT26.ACL.yaml").read_text().splitlines()[0] == \
        "- {duration: 1.000000, offset: 0.250000, speaker_id: ACL_1, wav: ACL_1.wav}"
    # Deterministic: a second write gives the same bytes, so the same content hash.
    second = write_organizers_layout(native, tmp_path / "org2", prefix="IWSLT26.ACL")
    assert load_organizers_layout(second).content_hash == loaded.content_hash


def test_a_failed_write_leaves_the_previous_folder(tmp_path, native):
    folder = write_organizers_layout(native, tmp_path / "org")
    before = load_organizers_layout(folder).content_hash
    broken = dataclasses.replace(native, talks=(dataclasses.replace(native.talks[0], wav_path=tmp_path / "gone.wav"),))
    with pytest.raises(OSError):
        write_organizers_layout(broken, folder)
    assert load_organizers_layout(folder).content_hash == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_the_2026_track_lists_the_official_sets_and_acl6060():
    track = get_track("iwslt2026")
    official = [spec for spec in track.testsets if spec.source == "iwslt-layout"]
    assert len(official) == 6 == len(IWSLT2026_SETS)
    assert sum("de" in spec.languages for spec in official) == 6
    assert sum("zh" in spec.languages for spec in official) == 5
    assert {spec.location for spec in official} == {
        "IWSLT2026_ACL", "IWSLT2026_TVSERIES", "IWSLT2026_CALLCENTER", "IWSLT2026_YOUTUBE", "IWSLT2026_BUSINESS",
        "IWSLT2026_ACCENT"}
    assert next(s for s in official if s.location == "IWSLT2026_ACCENT").languages == ("de",)
    assert [s.name for s in track.testsets if s.source == "acl6060"] == ["acl6060_test"]
    assert [s.name for s in get_track("iwslt2025").testsets] == ["acl6060_test"]


def test_load_spec_reads_the_folder_its_variable_names(tmp_path, monkeypatch):
    spec = next(s for s in IWSLT2026_SETS if s.location == "IWSLT2026_ACCENT")
    monkeypatch.delenv("IWSLT2026_ACCENT", raising=False)
    with pytest.raises(TestSetError) as excinfo:
        load_spec(spec)
    one_line_error(excinfo, "iwslt2026_accent", "IWSLT2026_ACCENT is not set")
    monkeypatch.setenv("IWSLT2026_ACCENT", str(tmp_path / "nowhere"))
    with pytest.raises(TestSetError) as excinfo:
        load_spec(spec)
    one_line_error(excinfo, "IWSLT2026_ACCENT is", "not a folder")
    monkeypatch.setenv("IWSLT2026_ACCENT", str(make_folder(tmp_path / "accent")))
    loaded = load_spec(spec)
    # The folder holds en-zh too; the spec's languages pick the directions.
    assert loaded.name == "iwslt2026_accent" and loaded.languages == ("en", "de")


# ---------------------------------------------------------------- the mini track's copy

MINI = REPO / "testsets" / "mini"


def _assert_copy_equals_native(out: Path) -> None:
    native = load_testset(out / "longform_test")
    copy = load_organizers_layout(out / "longform_organizers")
    assert [t.talk_id for t in copy.talks] == [t.talk_id for t in native.talks]
    assert content(copy) == content(native)
    assert copy.reference("en") == native.reference("en")
    for lang in ("de", "zh"):
        assert copy.reference(lang) == native.reference(lang)


@pytest.mark.espeak
def test_make_data_writes_the_mini_longform_set_in_the_organizers_layout(tmp_path):
    from testsets.miniworld.build import Sizes, build, organizers_copy_is_current

    sizes = Sizes(longform_talks=2, longform_seconds=(8.0, 12.0))
    build(tmp_path, sizes=sizes, jobs=1, only=("longform_test",))
    _assert_copy_equals_native(tmp_path)
    assert organizers_copy_is_current(tmp_path)
    _edit(tmp_path / "longform_organizers" / "MINI.talks.en-de.de.xml", "<seg id=\"1\">", "<seg id=\"1\">x")
    assert not organizers_copy_is_current(tmp_path)


@pytest.mark.skipif(not (MINI / "longform_organizers" / "FILE_ORDER").is_file(),
                    reason="testsets/mini/longform_organizers: run make data")
def test_the_generated_mini_copy_equals_longform_test():
    _assert_copy_equals_native(MINI)
