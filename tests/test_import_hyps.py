"""`python -m harness import-hyps` (harness.leaderboard.import_hyps): an external team's hypotheses into results files.

Sets: a tiny segmented set (five synthetic clips, TINY_* texts) and a tiny long-form set
of silent talks with given segments (nothing is decoded here, so the audio only has
to be valid). A model folder is one safetensors file of zeros written by hand.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_DE, TINY_EN, TINY_ZH, make_clip
from harness.leaderboard import import_hyps
from harness.__main__ import main as harness_main
from harness.data.audio import SAMPLE_RATE
from harness.scoring.degeneration import flag_segments
from harness.scoring.significance import rank_from_results
from harness.data.testsets import write_longform_set, write_segmented_set

N = 5


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sets") / "tiny_seg"
    rows = [{"id": f"u{i:02d}", "audio": make_clip(i, 1.0), "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i in range(N)]
    write_segmented_set(folder, name="tiny_seg", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_import_hyps.py"})
    return folder


# Talk a: three segments, talk b: two; references from the TINY texts.
TALKS = {"talk_a": [0, 1, 2], "talk_b": [3, 4]}


@pytest.fixture(scope="module")
def longform(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sets") / "tiny_long"
    talks = []
    for talk, idx in TALKS.items():
        talks.append({"talk_id": talk, "audio": np.zeros(int((2 * len(idx) + 1) * SAMPLE_RATE), np.float32),
                      "segments": [(0.5 + 2 * k, 1.5) for k in range(len(idx))],
                      "en": [TINY_EN[i] for i in idx], "de": [TINY_DE[i] for i in idx], "zh": [TINY_ZH[i] for i in idx]})
    write_longform_set(folder, name="tiny_long", version="1", domain="talks", talks=talks,
                       generator={"name": "tests/test_import_hyps.py"})
    return folder


def write_text(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_model(folder: Path, n: int = 1000) -> int:
    """One BF16 tensor of ``n`` zeros in model.safetensors; returns the file's bytes."""
    header = json.dumps({"model.layers.0.mlp.up_proj.weight": {"dtype": "BF16", "shape": [n],
                                                               "data_offsets": [0, 2 * n]}}).encode()
    folder.mkdir(parents=True, exist_ok=True)
    data = struct.pack("<Q", len(header)) + header + bytes(2 * n)
    (folder / "model.safetensors").write_bytes(data)
    return len(data)


def run(tmp_path, testset_folder, name, hyps, *extra, declared=("1000", "500"), team="teamx", system="sys1"):
    argv = ["import-hyps", "--track", "mini", "--testset", name, "--testset-folder", str(testset_folder),
            "--team", team, "--system", system, "--declared-bytes", declared[0], "--declared-params", declared[1],
            "--results-root", str(tmp_path / "results"), *extra]
    for lang, path in hyps:
        argv += ["--hyps", f"{lang}={path}"]
    return harness_main(argv)


def read_results(tmp_path, name, team="teamx", system="sys1"):
    folder = tmp_path / "results" / "mini" / f"{team}-{system}"
    summary = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (folder / f"{name}.segments.jsonl").read_text(encoding="utf-8").splitlines()]
    return summary, rows


def test_segmented_references_as_hypotheses_score_bleu_100(tmp_path, segmented, capsys):
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    zh = write_text(tmp_path / "hyp.zh", TINY_ZH[:N])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de), ("zh", zh)]) == 0
    summary, rows = read_results(tmp_path, "tiny_seg")
    assert summary["schema"] == "iwslt-harness/eval" and summary["system"] == "teamx-sys1"
    assert summary["team"] == "teamx" and summary["track"] == "mini"
    assert summary["verification"] == "hypotheses only"
    assert summary["declared"] == {"bytes": 1000, "params": 500, "same_as": None} and summary["verified"] is None
    assert summary["size"]["source"] == "declared"
    assert summary["testset"]["name"] == "tiny_seg" and summary["testset"]["content_hash"].startswith("sha256:")
    assert "provenance" in summary and "created" in summary
    assert summary["imported"]["hypotheses"]["de"]["files"][0]["lines"] == N
    for lang in ("de", "zh"):
        metrics = summary["languages"][lang]["metrics"]
        assert metrics["bleu"]["value"] == pytest.approx(100.0)
        assert metrics["bleu"]["signature"].startswith("nrefs:1")
        assert metrics["comet"]["value"] is None and metrics["comet"]["absent_reason"]
    assert len(rows) == 2 * N
    assert {"id", "lang", "source", "reference", "hypothesis", "flags", "scores"} <= set(rows[0])
    assert [r["hypothesis"] for r in rows if r["lang"] == "de"] == list(TINY_DE[:N])
    assert "wrote" in capsys.readouterr().out


def test_segmented_length_flag_is_judged_from_the_durations_as_make_eval_does(tmp_path_factory, tmp_path):
    # make eval (harness.evaluation.evaluate) judges the length kind from every utterance's audio seconds; an
    # import must judge it alike, not report it unjudged ("no audio durations").
    n = len(TINY_DE)  # at least the 10 references the length bounds need
    folder = tmp_path_factory.mktemp("sets") / "tiny_seg_all"
    rows = [{"id": f"u{i:02d}", "audio": make_clip(i, 1.0), "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i in range(n)]
    write_segmented_set(folder, name="tiny_seg_all", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_import_hyps.py"})
    run_on = " ".join(TINY_DE)  # every sentence in one second of audio: far beyond the set's speaking rate
    de = write_text(tmp_path / "hyp.de", [*TINY_DE[:-1], run_on])
    assert run(tmp_path, folder, "tiny_seg_all", [("de", de)]) == 0
    summary, rows = read_results(tmp_path, "tiny_seg_all")
    degeneration = summary["languages"]["de"]["degeneration"]
    assert degeneration["length"] == {"count": 1, "rate": 1 / n}
    assert [r["flags"] for r in rows] == [[]] * (n - 1) + [["length"]]
    as_eval = flag_segments([r["hypothesis"] for r in rows], "de", references=[r["reference"] for r in rows],
                            audio_seconds=[r["audio_seconds"] for r in rows], sources=[r["source"] for r in rows])
    assert degeneration == as_eval.summary


def test_line_count_mismatch_is_one_line_exit_2_and_writes_nothing(tmp_path, segmented, capsys):
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N - 1])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and f"{N - 1} lines" in err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("problem, expected", [
    ("negative", "must not be negative"),
    ("unreadable", "not UTF-8"),
    ("missing", "no such file"),
    ("lang", "target language"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, segmented, capsys, problem, expected):
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    declared, hyps = ("1000", "500"), [("de", de)]
    if problem == "negative":
        declared = ("-5", "500")
    elif problem == "unreadable":
        de.write_bytes(b"ok\n\xff\xfe\n" * 2 + b"x\n")
    elif problem == "missing":
        hyps = [("de", tmp_path / "nope.de")]
    elif problem == "lang":
        hyps = [("fr", de)]
    assert run(tmp_path, segmented, "tiny_seg", hyps, declared=declared) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and expected in err
    assert not (tmp_path / "results").exists()


def test_long_form_per_talk_hypotheses_are_resegmented_and_scored(tmp_path, longform):
    hyps = tmp_path / "hyps_de"
    # talk_a unsegmented (one line for three references), talk_b as many lines as references:
    # the server realigns both, in one alignment of the set's lines (harness.segmentation.resegment).
    write_text(hyps / "talk_a.txt", [" ".join(TINY_DE[i] for i in TALKS["talk_a"])])
    write_text(hyps / "talk_b.de", [TINY_DE[i] for i in TALKS["talk_b"]])
    assert run(tmp_path, longform, "tiny_long", [("de", hyps)]) == 0
    summary, rows = read_results(tmp_path, "tiny_long")
    assert summary["schema"] == "iwslt-harness/eval-longform"
    report = summary["languages"]["de"]
    talks = report["resegmentation"]["talks"]
    assert [(t["how"], t["hypothesis_segments"]) for t in talks.values()] == [("mweralign", 1), ("mweralign", 2)]
    assert report["hypothesis_lines"] == [" ".join(TINY_DE[i] for i in TALKS["talk_a"]), TINY_DE[3], TINY_DE[4]]
    assert report["metrics"]["bleu"]["value"] == pytest.approx(100.0)
    assert [r["hypothesis"] for r in rows] == [TINY_DE[i] for i in range(5)]
    assert [r["talk"] for r in rows] == ["talk_a"] * 3 + ["talk_b"] * 2


def test_long_form_talk_files_and_missing_talks(tmp_path, longform):
    a = write_text(tmp_path / "talk_a", [TINY_ZH[0] + TINY_ZH[1], TINY_ZH[2]])  # two lines for three references
    assert run(tmp_path, longform, "tiny_long", [("zh", a)]) == 0
    summary, rows = read_results(tmp_path, "tiny_long")
    resegmentation = summary["languages"]["zh"]["resegmentation"]
    # A talk without a file adds no lines to the set's; the one alignment gives its segments nothing here.
    assert resegmentation["talks_without_hypotheses"] == ["talk_b"]
    assert resegmentation["talks"]["talk_b"] == {"how": "mweralign", "hypothesis_segments": 0,
                                                 "reference_segments": 2}
    assert [r["hypothesis"] for r in rows][:3] == list(TINY_ZH[:3]) and rows[3]["hypothesis"] == ""


def test_long_form_unknown_talk_id_is_refused(tmp_path, longform, capsys):
    hyps = tmp_path / "hyps"
    write_text(hyps / "talk_a.txt", ["x"])
    write_text(hyps / "talk_zz.txt", ["y"])
    assert run(tmp_path, longform, "tiny_long", [("de", hyps)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown talk id 'talk_zz.txt'" in err and "\n" not in err
    assert not (tmp_path / "results").exists()


def test_model_folder_verifies_the_size_and_flags_a_wrong_declaration(tmp_path, segmented, capsys):
    model = tmp_path / "model"
    size = write_model(model)
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--model", str(model),
               declared=(str(size), "1000")) == 0
    summary, _ = read_results(tmp_path, "tiny_seg")
    assert summary["verification"] == "size verified"
    assert summary["verified"]["bytes"] == size and summary["verified"]["params"] == 1000
    assert summary["size"] == {"bytes": size, "params": 1000, "source": "verified"}
    assert summary["size_flags"] == []
    assert summary["storage"]["status"] in ("compliant", "no_verdict", "over_limit")

    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--model", str(model),
               declared=(str(size // 10), "1000"), system="small") == 0
    summary, _ = read_results(tmp_path, "tiny_seg", system="small")
    assert len(summary["size_flags"]) == 1 and "declared bytes" in summary["size_flags"][0]
    assert summary["size"]["bytes"] == size  # the verified size replaces the declared one
    assert "flag: declared bytes" in capsys.readouterr().out


def test_an_invalid_model_folder_is_refused(tmp_path, segmented, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x80\x02}q\x00.")  # a pickle: never unpickled, refused
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--model", str(model)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --model") and "\n" not in err
    assert not (tmp_path / "results").exists()


def test_imported_systems_rank_where_the_leaderboard_looks(tmp_path, segmented):
    good = write_text(tmp_path / "good.de", TINY_DE[:N])
    poor = write_text(tmp_path / "poor.de", ["das ist es"] * N)
    assert run(tmp_path, segmented, "tiny_seg", [("de", good)], team="alpha") == 0
    assert run(tmp_path, segmented, "tiny_seg", [("de", poor)], team="beta") == 0
    assert sorted(p.name for p in (tmp_path / "results" / "mini").iterdir()) == ["alpha-sys1", "beta-sys1"]
    ranked = rank_from_results(tmp_path / "results", "mini", "tiny_seg", "de", "bleu")
    assert [r["system"] for r in ranked["ranking"]] == ["alpha-sys1", "beta-sys1"]
    assert ranked["excluded"] == [] and ranked["ranking"][0]["verification"] == "hypotheses only"


def test_never_overwrites_a_built_systems_results(tmp_path, segmented, capsys):
    folder = tmp_path / "results" / "mini" / "teamx-sys1"
    folder.mkdir(parents=True)
    (folder / "tiny_seg.json").write_text(json.dumps({"schema": "iwslt-harness/eval", "system": "teamx-sys1"}))
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)]) == 2
    assert "not imported" in capsys.readouterr().err
    assert json.loads((folder / "tiny_seg.json").read_text())["system"] == "teamx-sys1"


def test_read_lines_keeps_empty_hypotheses(tmp_path):
    path = tmp_path / "h.txt"
    path.write_bytes(b"a\r\n\nb\n")
    assert import_hyps.read_lines(path, allow_empty=False) == ["a", "", "b"]
    path.write_bytes(b"")
    assert import_hyps.read_lines(path, allow_empty=True) == []


def test_declared_sizes_are_shown_as_declared_and_checked_against_the_same_models_verified_size(tmp_path, segmented):
    from harness.leaderboard.render import build, read_results as read_board_results, render_markdown

    model = tmp_path / "model"
    size = write_model(model)
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    # The same model, verified once (--model), then declared by two other rows.
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--model", str(model),
               declared=(str(size), "1000"), system="full") == 0
    low, close = int(size * 0.98), int(size * 0.995)
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--same-as", "teamx-full",
               declared=(str(low), "1000"), system="low") == 0
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], "--same-as", "teamx-full",
               declared=(str(close), "1000"), system="close") == 0
    # Without --same-as: no verified row of that name, so nothing to check against.
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], declared=("10", "1000"), system="tiny") == 0
    board = build(read_board_results(tmp_path / "results"))
    rows = {row["system"]: row for group in board["groups"] for row in group["rows"]}
    assert rows["teamx-full"]["size_source"] == "verified" and rows["teamx-full"]["size_flag"] is None
    assert rows["teamx-low"]["size_source"] == "declared" and rows["teamx-low"]["size_bytes"] == low
    assert rows["teamx-low"]["size_flag"] == f"declared {low:,} bytes, 2.0 % below the verified {size:,} bytes of teamx-full"
    assert rows["teamx-close"]["size_flag"] is None  # 0.5 % below: within the tolerance
    assert rows["teamx-tiny"]["size_flag"] is None and rows["teamx-tiny"]["size_bytes"] == 10
    # Equal scores: the declared 10 bytes would take the front; only verified sizes are on it.
    assert {name for name, row in rows.items() if row["pareto"]} == {"teamx-full"}
    markdown = render_markdown(board)
    assert f"{low:,} (declared)" in markdown and f"⚑ teamx-low: declared {low:,} bytes, 2.0 % below" in markdown
    assert "hypotheses only ⚑" in markdown


def test_names_are_any_printable_text_and_never_a_path(tmp_path, segmented, capsys):
    de = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    assert run(tmp_path, segmented, "tiny_seg", [("de", de)], team="KIT & NAIST", system="../../etc") == 0
    folders = [p.name for p in (tmp_path / "results" / "mini").iterdir()]
    assert len(folders) == 1 and "/" not in folders[0] and not folders[0].startswith(".")
    summary = json.loads(next((tmp_path / "results" / "mini").glob("*/tiny_seg.json")).read_text(encoding="utf-8"))
    assert summary["system"] == "KIT & NAIST-../../etc" and summary["team"] == "KIT & NAIST"
    assert import_hyps.folder_name("a b") != import_hyps.folder_name("a_b")
    for bad in ("line\nbreak", " padded", "x" * 101, "bidi\u202eoverride"):
        assert run(tmp_path, segmented, "tiny_seg", [("de", de)], team=bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: --team") and "\n" not in err
