"""`python -m harness export` (harness.leaderboard.export) and its round trip through `import-hyps --layout`.

The system is the shipped mini base (models/mini-base), evaluated for real by `make eval`'s
command (no speed pass) on a tiny track of two sets built here: a segmented set of six
committed speech clips (tests/data/mini-base-fixed) and a long-form set of three talks (two
of three clips each, joined with pauses, and one silent talk with one reference segment),
segmented by the default SHAS-style DAC, so the system's own segments do not match the
reference segments. Its results are exported, the export is imported as another system, and
every set and direction must score exactly as the eval did, from byte-identical hypotheses.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.leaderboard import export, import_hyps
from harness.evaluation import evaluate
from harness.__main__ import main as harness_main
from harness.data.audio import SAMPLE_RATE
from harness.systems.models import write_manifest
from harness.data.testsets import load_testset, write_longform_set, write_segmented_set
from harness.data.tracks import TestSetSpec as SetSpec, get_track
from test_segment import FIXED, TALK_GAPS, build_talk

BASE = FIXED.parents[2] / "models" / "mini-base"
SEGMENTED = range(6)                            # mini-base-fixed's first six clips
TALKS = {"talk_a": (6, 7, 8), "talk_b": (9, 10, 11)}   # general_test clips: the base translates them
SETS = ("tiny_seg", "tiny_long")
LANGS = ("de", "zh")
TEAM = "KIT"
MODEL = {lang: f"KIT_IWSLT26_ModelCompression_en-{lang}_constrained_primary" for lang in LANGS}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(track, results root, tmp folder): the tiny track's sets, and the base's eval of both."""
    tmp = tmp_path_factory.mktemp("export")
    fixed = load_testset(FIXED, verify=False)
    utterances = list(fixed.utterances)
    rows = [{"id": utterances[i].id, "audio": utterances[i].audio(), "en": utterances[i].en,
             **{lang: utterances[i].targets[lang] for lang in LANGS}} for i in SEGMENTED]
    write_segmented_set(tmp / "sets" / "tiny_seg", name="tiny_seg", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_export.py"})
    talks = []
    for talk_id, order in TALKS.items():
        audio, spans = build_talk([u.audio() for u in utterances], order, TALK_GAPS)
        talks.append({"talk_id": talk_id, "audio": audio, "segments": [(a, z - a) for a, z in spans],
                      **{lang: [utterances[i].en if lang == "en" else utterances[i].targets[lang] for i in order]
                         for lang in ("en", *LANGS)}})
    talks.append({"talk_id": "talk_c", "audio": np.zeros(4 * SAMPLE_RATE, np.float32), "segments": [(1.0, 2.0)],
                  "en": ["Hello."], "de": ["Hallo."], "zh": ["你好。"]})
    write_longform_set(tmp / "sets" / "tiny_long", name="tiny_long", version="1", domain="talks", talks=talks,
                       generator={"name": "tests/test_export.py"})
    track = dataclasses.replace(get_track("mini"), testsets=tuple(
        SetSpec(name, "local", str(tmp / "sets" / name)) for name in SETS))

    system = tmp / "build" / "mini" / "baseline"
    shutil.copytree(BASE, system / "model")
    write_manifest(system, format="hf", languages={lang: "model" for lang in LANGS}, prompt="instruct",
                   base_model="models/mini-base", built_by="tests/test_export.py")
    with pytest.MonkeyPatch.context() as patch:
        for module in (evaluate, export, import_hyps):
            patch.setattr(module, "get_track", lambda name: track)
        code = evaluate.main(["--track", "mini", "--build-root", str(tmp / "build"), "--results-root",
                              str(tmp / "results"), "--batch-size", "8", "--no-speed"])
        assert code == 0
        yield track, tmp / "results", tmp


def summary_of(root: Path, system: str, name: str) -> dict:
    return json.loads((root / "mini" / system / f"{name}.json").read_text(encoding="utf-8"))


def rows_of(root: Path, system: str, name: str) -> list[dict]:
    text = (root / "mini" / system / f"{name}.segments.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def run_export(root: Path, out: Path, *extra: str, system: str = "baseline") -> int:
    return harness_main(["export", "--track", "mini", "--system", system, "--team", TEAM, "--out", str(out),
                         "--results-root", str(root), *extra])


def run_import(root: Path, layout: Path, system: str = "roundtrip", *extra: str) -> int:
    return harness_main(["import-hyps", "--track", "mini", "--layout", str(layout), "--team", TEAM,
                         "--system", system, "--declared-bytes", "18000000", "--declared-params", "9000000",
                         "--results-root", str(root), *extra])


def one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture(scope="module")
def exported(world):
    track, root, tmp = world
    out = tmp / "submission"
    assert run_export(root, out) == 0
    return out


def test_export_writes_one_file_per_set_and_direction_with_a_manifest(world, exported):
    track, root, _ = world
    assert sorted(p.name for p in exported.iterdir()) == sorted([*MODEL.values(), "manifest.json"])
    manifest = json.loads((exported / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema"] == export.SCHEMA and manifest["track"] == "mini" and manifest["system"] == "baseline"
    assert manifest["models"] == {f"en-{lang}": MODEL[lang] for lang in LANGS}
    assert manifest["newlines_replaced"] == 0
    commits = {summary_of(root, "baseline", name)["provenance"]["git"]["commit"] for name in SETS}
    assert manifest["git_commits"] == sorted(commits) and all(len(c) == 40 for c in commits)
    entries = {(f["testset"], f["direction"]): f for f in manifest["files"]}
    assert sorted(entries) == sorted((name, f"en-{lang}") for name in SETS for lang in LANGS)
    for name in SETS:
        summary = summary_of(root, "baseline", name)
        for lang in LANGS:
            entry = entries[(name, f"en-{lang}")]
            data = (exported / MODEL[lang] / f"{name}.txt").read_bytes()
            if name == "tiny_seg":
                hypotheses = [r["hypothesis"] for r in rows_of(root, "baseline", name) if r["lang"] == lang]
                assert len(hypotheses) == len(SEGMENTED)
            else:
                # The system's own segments, not the lines resegmented to the references.
                hypotheses = summary["languages"][lang]["hypothesis_lines"]
                talks = summary["languages"][lang]["resegmentation"]["talks"]
                assert len(hypotheses) == sum(t["hypothesis_segments"] for t in talks.values())
                assert len(hypotheses) != sum(t["reference_segments"] for t in talks.values())
            assert data == "".join(h + "\n" for h in hypotheses).encode("utf-8")
            assert entry["lines"] == len(hypotheses) == data.count(b"\n")
            assert entry["content_hash"] == summary["testset"]["content_hash"]
            assert entry["git"]["commit"] in commits and entry["model"] == MODEL[lang]


def test_round_trip_scores_equal_the_eval_for_every_set_and_direction(world, exported, capsys):
    _, root, _ = world
    assert run_import(root, exported) == 0
    figures = []
    for name in SETS:
        before, after = summary_of(root, "baseline", name), summary_of(root, "KIT-roundtrip", name)
        assert after["imported"]["layout"]["models"] == {f"en-{lang}": MODEL[lang] for lang in LANGS}
        assert after["verification"] == "hypotheses only"
        old_rows, new_rows = rows_of(root, "baseline", name), rows_of(root, "KIT-roundtrip", name)
        assert len(old_rows) == len(new_rows)
        for lang in LANGS:
            old, new = before["languages"][lang], after["languages"][lang]
            for metric, score in old["metrics"].items():
                assert new["metrics"][metric]["value"] == score["value"], (name, lang, metric)
                assert new["metrics"][metric]["signature"] == score["signature"]
            assert new["degeneration"] == old["degeneration"]
            olds = [r for r in old_rows if r["lang"] == lang]
            news = [r for r in new_rows if r["lang"] == lang]
            # Byte-identical hypotheses: the scored lines, and a long-form set's own segments.
            assert [r["hypothesis"].encode() for r in news] == [r["hypothesis"].encode() for r in olds]
            assert [r["scores"] for r in news] == [r["scores"] for r in olds]
            if name == "tiny_long":
                assert new["hypothesis_lines"] == old["hypothesis_lines"]
            figures.append((name, lang, len(news), old["metrics"]["bleu"]["value"], new["metrics"]["bleu"]["value"]))
    print(figures)  # the round trip's figures, for the report (pytest -s)
    assert len(figures) == len(SETS) * len(LANGS)


def test_an_imported_layout_exports_to_the_same_files(world, exported, tmp_path):
    _, root, _ = world
    if not (root / "mini" / "KIT-roundtrip").is_dir():
        assert run_import(root, exported) == 0
    again = tmp_path / "again"
    assert run_export(root, again, system="KIT-roundtrip") == 0
    for lang in LANGS:
        for name in SETS:
            assert (again / MODEL[lang] / f"{name}.txt").read_bytes() == (exported / MODEL[lang] / f"{name}.txt").read_bytes()


def test_a_line_break_inside_a_hypothesis_becomes_a_space_and_is_counted(world, tmp_path):
    _, root, _ = world
    copy = tmp_path / "results"
    shutil.copytree(root / "mini" / "baseline", copy / "mini" / "broken")
    seg = copy / "mini" / "broken" / "tiny_seg.segments.jsonl"
    rows = [json.loads(line) for line in seg.read_text(encoding="utf-8").splitlines()]
    rows[0]["hypothesis"] = "eins\nzwei\r\ndrei"
    seg.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    long = copy / "mini" / "broken" / "tiny_long.json"
    summary = json.loads(long.read_text(encoding="utf-8"))
    summary["languages"]["zh"]["hypothesis_lines"][0] += "\u2028尾"
    long.write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    assert run_export(copy, out, system="broken") == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["newlines_replaced"] == 2
    de = (out / MODEL["de"] / "tiny_seg.txt").read_text(encoding="utf-8")
    assert de.splitlines()[0] == "eins zwei drei" and len(de.splitlines()) == len(SEGMENTED)
    zh = (out / MODEL["zh"] / "tiny_long.txt").read_text(encoding="utf-8")
    assert len(zh.splitlines()) == len(summary["languages"]["zh"]["hypothesis_lines"])
    entry = next(f for f in manifest["files"] if f["testset"] == "tiny_long" and f["direction"] == "en-zh")
    assert entry["newlines_replaced"] == 1


# ---------------------------------------------------------------- refusals: one line, exit 2, nothing written

def test_missing_results_name_make_eval(world, tmp_path, capsys):
    _, root, _ = world
    partial = tmp_path / "results"
    (partial / "mini" / "baseline").mkdir(parents=True)
    for suffix in (".json", ".segments.jsonl"):
        shutil.copy(root / "mini" / "baseline" / f"tiny_seg{suffix}", partial / "mini" / "baseline")
    assert run_export(partial, tmp_path / "out") == 2
    one_line_error(capsys, "tiny_long.json", "make eval SUB=baseline TESTSET=tiny_long", "--testset")
    assert not (tmp_path / "out").exists()
    # Naming the sets it has exports those.
    assert run_export(partial, tmp_path / "out", "--testset", "tiny_seg") == 0
    assert sorted(p.name for p in (tmp_path / "out" / MODEL["de"]).iterdir()) == ["tiny_seg.txt"]


def test_results_without_the_systems_own_long_form_segments_are_refused(world, tmp_path, capsys):
    _, root, _ = world
    copy = tmp_path / "results"
    shutil.copytree(root / "mini" / "baseline", copy / "mini" / "baseline")
    long = copy / "mini" / "baseline" / "tiny_long.json"
    summary = json.loads(long.read_text(encoding="utf-8"))
    del summary["languages"]["de"]["hypothesis_lines"]
    long.write_text(json.dumps(summary), encoding="utf-8")
    assert run_export(copy, tmp_path / "out") == 2
    one_line_error(capsys, "hypothesis_lines", "make eval SUB=baseline")
    assert not (tmp_path / "out").exists()


def test_an_export_never_overwrites_unless_forced_and_only_an_export(world, exported, tmp_path, capsys):
    _, root, _ = world
    before = {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()}
    assert run_export(root, exported) == 2
    one_line_error(capsys, "not empty", "--force")
    assert {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()} == before
    assert run_export(root, exported, "--force") == 0
    assert {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()} == before
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert run_export(root, other, "--force") == 2
    one_line_error(capsys, "only an earlier export")
    assert (other / "notes.txt").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def layout_copy(exported: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "layout"
    shutil.copytree(exported, copy)
    return copy


@pytest.mark.parametrize("problem, fragments", [
    ("line count", ("lines but test set tiny_seg has 6 segments",)),
    ("unknown set", ("nope.txt", "not a test set file", "tiny_seg, tiny_long")),
    ("not utf-8", ("tiny_long.txt:2: not UTF-8 (byte 0xff)",)),
    ("stray file", ("readme.md", "not a model folder")),
    ("two models", ("a second model for en-de",)),
])
def test_a_bad_layout_is_one_line_exit_2_and_writes_nothing(world, exported, tmp_path, capsys, problem, fragments):
    _, root, _ = world
    layout = layout_copy(exported, tmp_path)
    de = layout / MODEL["de"]
    if problem == "line count":
        lines = (de / "tiny_seg.txt").read_text(encoding="utf-8").splitlines()
        (de / "tiny_seg.txt").write_text("".join(line + "\n" for line in lines[:-1]), encoding="utf-8")
    elif problem == "unknown set":
        (de / "nope.txt").write_text("x\n", encoding="utf-8")
    elif problem == "not utf-8":
        (de / "tiny_long.txt").write_bytes(b"gut\n\xff schlecht\n")
    elif problem == "stray file":
        (layout / "readme.md").write_text("hi\n")
    elif problem == "two models":
        shutil.copytree(de, layout / MODEL["de"].replace("primary", "contrastive"))
    assert run_import(root, layout, "bad") == 2
    one_line_error(capsys, *fragments)
    assert not (root / "mini" / "KIT-bad").exists()
