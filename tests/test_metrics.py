"""BLEU / chrF / chrF++ / TER and their bootstrap intervals against the sacreBLEU command line, COMET's interval,
the non-scored tags, the registry, and `python -m harness score`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.data.hub import HUB_REVISIONS
from harness.scoring.metrics import (COMET_CI_METHOD, LOWER_IS_BETTER, METRICS, SACREBLEU_CI_METHOD, MetricError, Score,
                             bleu_score, chrf_pp_score, chrf_score, comet_score, oriented, remove_non_scored_tags,
                             score_all, segment_mean_ci, ter_score)

REPO = Path(__file__).resolve().parents[1]
SACREBLEU = Path(sys.executable).parent / "sacrebleu"
WIDTH = 4  # decimals the CLI prints; our values must round to the same digits

# (case name, target language, hypotheses, references)
CASES = [
    ("de single segment", "de", ["Die Katze schläft auf der Matte."], ["Die Katze schläft auf der Matte."]),
    ("de umlauts and sharp s", "de",
     ["Die Strasse ist gross und die Bäume sind grün.", "Über den Fluss führt eine Brücke.",
      "Wir müssen heute Äpfel kaufen."],
     ["Die Straße ist groß, und die Bäume sind grün.", "Über den Fluss führt eine alte Brücke.",
      "Heute müssen wir Äpfel kaufen."]),
    ("de one empty hypothesis", "de", ["", "Der Hund bellt laut.", "Es regnet."],
     ["Das ist ein Test.", "Der Hund bellt.", "Es regnet heute."]),
    ("de all hypotheses empty", "de", ["", ""], ["Guten Morgen.", "Bis morgen."]),
    ("de quotes, numbers, case", "de",
     ["„hallo“, sagte er, „es sind 3,5 % mehr.“", "DAS MODELL HAT 7 MILLIARDEN PARAMETER."],
     ["„Hallo“, sagte er, „es sind 3,5 % mehr.“", "Das Modell hat 7 Milliarden Parameter."]),
    ("de decomposed umlaut", "de", ["Mu\u0308nchen ist scho\u0308n."], ["München ist schön."]),
    ("zh single segment", "zh", ["我们今天讨论语音翻译。"], ["我们今天讨论语音翻译。"]),
    ("zh punctuation", "zh",
     ["他说：“你好！”然后离开了。", "这是《论文》的第三部分，对吗？", "模型很小；但是效果很好。"],
     ["他说：“你好！”，然后就离开了。", "这是《论文》的第三节，对吗？", "模型很小，但效果很好。"]),
    ("zh mixed Latin and digits", "zh",
     ["我们使用BERT模型，准确率为95.3%。", "Qwen2-Audio有70亿个参数。"],
     ["我们使用了 BERT 模型，准确率是95.3%。", "Qwen2-Audio 有 70 亿参数。"]),
    ("zh one empty hypothesis", "zh", ["", "猫在垫子上睡觉。"], ["今天天气很好。", "猫在垫子上睡觉。"]),
    ("zh full-width forms", "zh", ["ＡＢＣ公司的收入增长了１２％。"], ["ABC公司的收入增长了12%。"]),
]
CASE_IDS = [case[0] for case in CASES]


def ter_args(lang: str) -> tuple[str, ...]:
    """The CLI's TER as the IWSLT evaluation runs tercom (-N -s: normalized, case-sensitive), Asian support for zh."""
    return ("-m", "ter", "--ter-normalized", "--ter-case-sensitive", *(("--ter-asian-support",) if lang == "zh" else ()))


def run_cli(tmp_path: Path, hypotheses: list[str], references: list[str], *args: str) -> str:
    hyp_file, ref_file = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp_file.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    ref_file.write_text("".join(r + "\n" for r in references), encoding="utf-8")
    done = subprocess.run([str(SACREBLEU), str(ref_file), "-i", str(hyp_file), "-w", str(WIDTH), *args],
                          capture_output=True, text=True, check=True)
    return done.stdout


def cli_corpus(tmp_path, hypotheses, references, *args) -> dict[str, dict]:
    """{CLI metric name: {"score", "signature"}} from the CLI's JSON output."""
    rows = json.loads(run_cli(tmp_path, hypotheses, references, *args))
    rows = [rows] if isinstance(rows, dict) else rows  # one metric prints an object, several a list
    return {row["name"]: row for row in rows}


def cli_sentences(tmp_path, hypotheses, references, *args) -> tuple[list[float], str]:
    """Sentence-level scores and signature from `-sl -f text` lines: `<NAME>|<signature> = <score> ...`."""
    lines = run_cli(tmp_path, hypotheses, references, "-sl", "-f", "text", *args).splitlines()
    scores = [float(line.split(" = ")[1].split()[0]) for line in lines]
    signature = lines[0].split(" = ")[0].split("|", 1)[1]
    return scores, signature


def rounded(value: float) -> str:
    return f"{value:.{WIDTH}f}"


@pytest.mark.parametrize("name,lang,hyps,refs", CASES, ids=CASE_IDS)
def test_corpus_scores_equal_the_sacrebleu_cli(tmp_path, name, lang, hyps, refs):
    tok = {"de": "13a", "zh": "zh"}[lang]
    cli = cli_corpus(tmp_path, hyps, refs, "-m", "bleu", "chrf", "-tok", tok)
    cli_pp = cli_corpus(tmp_path, hyps, refs, "-m", "chrf", "--chrf-word-order", "2")
    ours = score_all(hyps, refs, lang, ["bleu", "chrf", "chrf++"])

    assert rounded(ours["bleu"].value) == rounded(cli["BLEU"]["score"])
    assert ours["bleu"].signature == cli["BLEU"]["signature"]
    assert f"tok:{tok}" in ours["bleu"].signature
    assert rounded(ours["chrf"].value) == rounded(cli["chrF2"]["score"])
    assert ours["chrf"].signature == cli["chrF2"]["signature"]
    assert "nc:6|nw:0" in ours["chrf"].signature
    assert rounded(ours["chrf++"].value) == rounded(cli_pp["chrF2++"]["score"])
    assert ours["chrf++"].signature == cli_pp["chrF2++"]["signature"]
    assert "nc:6|nw:2" in ours["chrf++"].signature


@pytest.mark.parametrize("name,lang,hyps,refs", CASES, ids=CASE_IDS)
def test_ter_equals_the_sacrebleu_cli_as_tercom_n_s(tmp_path, name, lang, hyps, refs):
    cli = cli_corpus(tmp_path, hyps, refs, *ter_args(lang))["TER"]
    ours = ter_score(hyps, refs, lang)
    assert rounded(ours.value) == rounded(cli["score"])
    assert ours.signature == cli["signature"]
    assert "case:mixed|tok:tercom|norm:yes|punct:yes" in ours.signature
    assert ("asian:yes" if lang == "zh" else "asian:no") in ours.signature
    if len(hyps) > 1:
        cli_scores, signature = cli_sentences(tmp_path, hyps, refs, *ter_args(lang))
        assert [rounded(v) for v in ours.per_segment] == [rounded(v) for v in cli_scores]
        row = cli_confidence(tmp_path, hyps, refs, *ter_args(lang))
        assert rounded(ours.ci95["mean"]) == rounded(row["confidence_mean"])
        assert rounded(ours.ci95["half_width"]) == rounded(row["confidence_var"])
        assert ours.ci95["method"] == SACREBLEU_CI_METHOD


def test_ter_on_a_fixture_and_its_direction():
    # Corpus TER = all edits / all reference tokens; -N splits the final period off ("schlecht ." : 4 + 4
    # tokens), so one substitution is 1 / 8; -s: case counts, "der hund" is two edits of four tokens.
    assert ter_score(["Das ist gut.", "Der Hund bellt."], ["Das ist schlecht.", "Der Hund bellt."], "de").value \
        == pytest.approx(100 * 1 / 8)
    assert ter_score(["der hund bellt."], ["Der Hund bellt."], "de").value == pytest.approx(100 * 2 / 4)
    assert LOWER_IS_BETTER == {"ter"}
    assert oriented("ter", 20.0) > oriented("ter", 30.0) and oriented("bleu", 30.0) > oriented("bleu", 20.0)


@pytest.mark.parametrize("name,lang,hyps,refs", [c for c in CASES if len(c[2]) > 1], ids=[c[0] for c in CASES if len(c[2]) > 1])
def test_per_segment_scores_equal_the_cli_sentence_level(tmp_path, name, lang, hyps, refs):
    tok = {"de": "13a", "zh": "zh"}[lang]
    ours = score_all(hyps, refs, lang, ["bleu", "chrf", "chrf++"])
    for metric, args in (("bleu", ("-m", "bleu", "-tok", tok)), ("chrf", ("-m", "chrf")),
                         ("chrf++", ("-m", "chrf", "--chrf-word-order", "2"))):
        cli_scores, _ = cli_sentences(tmp_path, hyps, refs, *args)
        assert [rounded(v) for v in ours[metric].per_segment] == [rounded(v) for v in cli_scores], metric


MULTI = [c for c in CASES if len(c[2]) > 1]


def cli_confidence(tmp_path, hyps, refs, *args) -> dict | None:
    """The CLI's `--confidence` row of one metric under its default seed; None where sacreBLEU 2.6.0's
    own interval crashes (statistics.mean of a Python 0.0 among float32 draw scores, chrF only)."""
    env = {k: v for k, v in os.environ.items() if k != "SACREBLEU_SEED"}
    hyp_file, ref_file = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp_file.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    ref_file.write_text("".join(r + "\n" for r in refs), encoding="utf-8")
    done = subprocess.run([str(SACREBLEU), str(ref_file), "-i", str(hyp_file), "-w", str(WIDTH), "--confidence",
                           *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        assert "don't know how to coerce float and float32" in done.stderr, done.stderr[-500:]
        return None
    return json.loads(done.stdout)


@pytest.mark.parametrize("name,lang,hyps,refs", MULTI, ids=[c[0] for c in MULTI])
def test_confidence_intervals_equal_the_cli_confidence(tmp_path, name, lang, hyps, refs):
    # The golden numbers are sacreBLEU's own `--confidence` (1,000 resamples, its default seed 12345).
    tok = {"de": "13a", "zh": "zh"}[lang]
    ours = score_all(hyps, refs, lang, ["bleu", "chrf", "chrf++"])
    compared = 0
    for metric, args in (("bleu", ("-m", "bleu", "-tok", tok)), ("chrf", ("-m", "chrf")),
                         ("chrf++", ("-m", "chrf", "--chrf-word-order", "2"))):
        ci = ours[metric].ci95
        assert (ci["n_samples"], ci["seed"], ci["method"]) == (1000, 12345, SACREBLEU_CI_METHOD)
        assert ci["low"] == ci["mean"] - ci["half_width"] and ci["high"] == ci["mean"] + ci["half_width"]
        assert ours[metric].to_dict()["ci95"] == ci
        row = cli_confidence(tmp_path, hyps, refs, *args)
        if row is None:
            assert metric != "bleu" and ci["half_width"] > 0  # ours is computed where the CLI's crashes
            continue
        # the interval is computed beside the score: the stored signature stays the one without bs/seed
        assert ours[metric].signature == row["signature"].replace("|bs:1000|seed:12345", ""), metric
        if "confidence_mean" not in row:  # the CLI prints no interval for a mean of 0 (every draw scores 0)
            assert ci["mean"] == ci["half_width"] == 0.0, metric
            continue
        assert rounded(ci["mean"]) == rounded(row["confidence_mean"]), metric
        assert rounded(ci["half_width"]) == rounded(row["confidence_var"]), metric
        compared += 1
    assert compared >= 1 or name == "de all hypotheses empty"


def test_the_interval_ignores_a_caller_seed_and_leaves_it_alone(monkeypatch):
    hyps, refs = CASES[1][2], CASES[1][3]
    expected = score_all(hyps, refs, "de", ["bleu"])["bleu"].ci95
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    assert score_all(hyps, refs, "de", ["bleu"])["bleu"].ci95 == expected
    assert os.environ["SACREBLEU_SEED"] == "7"


def independent_mean_ci(scores: list[float]) -> tuple[float, float]:
    """Mean and half width of the 95 % interval of bootstrap means, written out with numpy alone:
    the draw sacreBLEU makes (default_rng(12345).choice), and its 25th / 975th of 1,000 sorted means
    (index n // 40 from either end) as numpy percentiles."""
    x = np.asarray(scores, dtype=np.float64)
    draws = np.random.default_rng(12345).choice(x.size, size=(1000, x.size), replace=True)
    means = x[draws].mean(axis=1)
    low, high = np.percentile(means, 2.5, method="higher"), np.percentile(means, 97.5, method="lower")
    return float(means.mean()), float((high - low) / 2)


SYNTHETIC_COMET = [round(100 * float(v), 6) for v in np.random.default_rng(3).uniform(0.2, 0.95, size=40)]


def test_segment_mean_interval_equals_an_independent_bootstrap():
    ci = segment_mean_ci(SYNTHETIC_COMET)
    mean, half = independent_mean_ci(SYNTHETIC_COMET)
    assert ci["mean"] == pytest.approx(mean, abs=1e-9) and ci["half_width"] == pytest.approx(half, abs=1e-9)
    assert (ci["low"], ci["high"]) == (ci["mean"] - ci["half_width"], ci["mean"] + ci["half_width"])
    assert (ci["n_samples"], ci["seed"], ci["method"]) == (1000, 12345, COMET_CI_METHOD)
    assert 0 < ci["half_width"] < 10 and ci["low"] < float(np.mean(SYNTHETIC_COMET)) < ci["high"]
    assert segment_mean_ci([50.0] * 7)["half_width"] == 0.0  # no spread, no interval width


FAKE_COMET_PYTHON = """#!{python}
# Stands in for .venv-comet's python: ignores the runner script, answers its --output with fixed scores.
import json, sys
args = sys.argv[2:]
scores = {scores!r}
out = {{"scores": scores, "system_score": sum(scores) / len(scores), "model": "fake/comet", "comet_version": "0"}}
open(args[args.index("--output") + 1], "w").write(json.dumps(out))
"""


def test_comet_score_carries_the_segment_mean_interval(tmp_path, monkeypatch):
    raw = [v / 100 for v in SYNTHETIC_COMET]
    fake = tmp_path / "python"
    fake.write_text(FAKE_COMET_PYTHON.format(python=sys.executable, scores=raw))
    fake.chmod(0o755)
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(fake))
    monkeypatch.setitem(HUB_REVISIONS, "fake/comet", "0" * 40)   # a hub id is only read at a pinned commit
    n = len(raw)
    score = comet_score(["h"] * n, ["r"] * n, "de", sources=["s"] * n, comet_model="fake/comet")
    assert score.present and score.signature == "comet|model:fake/comet|version:0"
    mean, half = independent_mean_ci(score.per_segment)
    assert score.ci95["mean"] == pytest.approx(mean, abs=1e-9)
    assert score.ci95["half_width"] == pytest.approx(half, abs=1e-9)
    assert score.ci95 == segment_mean_ci(score.per_segment) and score.to_dict()["ci95"] == score.ci95


def test_perfect_and_empty_outputs_are_the_extremes():
    refs = ["Die Katze schläft.", "Der Hund bellt."]
    perfect = score_all(refs, refs, "de", ["bleu", "chrf", "chrf++"])
    empty = score_all(["", ""], refs, "de", ["bleu", "chrf", "chrf++"])
    for name in ("bleu", "chrf", "chrf++"):
        assert perfect[name].value == pytest.approx(100.0)
        assert empty[name].value == 0.0
        assert perfect[name].per_segment == pytest.approx([100.0, 100.0])


def test_a_line_break_inside_a_segment_scores_as_a_space():
    # The CLI reads one segment per line; in memory a newline must not split or glue words.
    with_break = bleu_score(["Die Katze\nschläft."], ["Die Katze schläft."], "de")
    with_space = bleu_score(["Die Katze schläft."], ["Die Katze schläft."], "de")
    assert with_break.value == with_space.value == pytest.approx(100.0)


@pytest.mark.parametrize("fn", [bleu_score, chrf_score, chrf_pp_score])
def test_count_mismatch_is_a_one_line_metric_error(fn):
    with pytest.raises(MetricError) as error:
        fn(["a", "b"], ["a"], "de")
    assert "\n" not in str(error.value) and "2 hypotheses but 1 references" in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("hyps,refs,lang,metrics,message", [
    ([], [], "de", ["bleu"], "no segments"),
    (["a"], ["a"], "fr", ["bleu"], "no BLEU tokenizer for target language 'fr'"),
    (["a"], ["a"], "de", ["meteor"], "unknown metric 'meteor'"),
    (["a"], ["a", "b"], "zh", ["chrf"], "1 hypotheses but 2 references"),
])
def test_score_all_rejects_bad_input(hyps, refs, lang, metrics, message):
    with pytest.raises(MetricError, match=message):
        score_all(hyps, refs, lang, metrics)


def test_registry_and_score_all_order():
    assert list(METRICS) == ["bleu", "chrf", "chrf++", "ter", "comet"]
    scores = score_all(["Hallo Welt."], ["Hallo Welt!"], "de", ["chrf++", "bleu"])
    assert list(scores) == ["chrf++", "bleu"]
    assert all(isinstance(s, Score) and s.metric == name and s.absent_reason is None for name, s in scores.items())


def test_comet_without_a_model_is_absent_with_the_reason_not_a_number():
    scores = score_all(["Hallo."], ["Hallo."], "de", ["chrf", "comet"], sources=["Hello."], track="mini")
    comet = scores["comet"]
    assert comet.value is None and comet.signature is None and comet.per_segment is None and comet.ci95 is None
    assert comet.to_dict()["ci95"] is None  # no interval made up for an absent metric
    assert comet.absent_reason == "no COMET model configured for track mini"
    assert scores["chrf"].value == pytest.approx(100.0)


# ---- python -m harness score ----------------------------------------------------

def segment(i: int, lang: str = "de", **override) -> dict:
    texts = {"de": (f"Das ist Satz Nummer {i}.", f"Das ist der Satz Nummer {i}."),
             "zh": (f"这是第{i}句。", f"这是第{i}个句子。")}[lang]
    row = {"id": f"seg{i:03d}", "lang": lang, "audio_seconds": 2.0 + 0.1 * i, "reference": texts[1],
           "hypothesis": texts[0], "source": f"This is sentence number {i}.", "decode_seconds": 0.05,
           "new_tokens": 9}
    row.update(override)
    return row


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_score(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "score", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_score_command_recomputes_the_metrics(tmp_path):
    rows = [segment(i) for i in range(12)] + [segment(i, "zh") for i in range(12)]
    rows[3]["hypothesis"] = "ja ja ja ja ja ja"
    rows[5]["hypothesis"] = ""
    segments = write_jsonl(tmp_path / "system.segments.jsonl", rows)
    out = tmp_path / "out" / "scores.json"
    done = run_score(str(segments), "--lang", "de", "--metrics", "bleu,chrf++,comet", "--json", str(out),
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    de = [r for r in rows if r["lang"] == "de"]
    expected = score_all([r["hypothesis"] for r in de], [r["reference"] for r in de], "de", ["bleu", "chrf++"])
    assert result["n_segments"] == 12
    assert list(result["scores"]) == ["bleu", "chrf++", "comet"]
    for name in ("bleu", "chrf++"):
        assert result["scores"][name]["value"] == expected[name].value
        assert result["scores"][name]["signature"] == expected[name].signature
        assert result["scores"][name]["signature"] in done.stdout
    assert result["scores"]["comet"]["value"] is None
    assert "pass --comet-model" in result["scores"]["comet"]["absent_reason"]
    assert result["segments"][3]["flags"] == ["repetition"]
    assert result["segments"][5]["flags"] == ["empty"]
    assert result["degeneration"]["summary"]["any"]["count"] == 2
    assert [s["bleu"] for s in result["segments"]] == expected["bleu"].per_segment
    assert f"{expected['bleu'].value:.2f}" in done.stdout


def test_score_command_alternative_hypotheses_file(tmp_path):
    rows = [segment(i, "zh") for i in range(3)]
    segments = write_jsonl(tmp_path / "s.jsonl", rows)
    hyps = tmp_path / "hyp.zh"
    hyps.write_text("".join(r["reference"] + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "o.json"
    done = run_score(str(segments), "--lang", "zh", "--metrics", "bleu", "--hypotheses", str(hyps),
                     "--json", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["scores"]["bleu"]["value"] == pytest.approx(100.0)


BAD_INPUTS = [
    # (name, file bytes or None for a missing file, expected message fragment)
    ("missing file", None, "no such file"),
    ("empty file", b"", "empty file"),
    ("blank lines only", b"\n\n", "empty file"),
    ("not JSON", (json.dumps(segment(1)) + "\n{not json\n").encode(), ":2: not JSON"),
    ("not an object", b"[1, 2]\n", ":1: not a JSON object"),
    ("lacks hypothesis", (json.dumps({k: v for k, v in segment(1).items() if k != "hypothesis"}) + "\n").encode(),
     ":1: lacks field(s) hypothesis"),
    ("wrong type", (json.dumps(segment(1, audio_seconds="2s")) + "\n").encode(), ":1: field audio_seconds is str"),
    ("non-UTF-8", (json.dumps(segment(1)) + "\n").encode() + b'{"id": "x", "hypothesis": "\xe4"}\n',
     ":2: not UTF-8 (byte 0xe4"),
    ("duplicate id", (json.dumps(segment(1)) + "\n" + json.dumps(segment(1)) + "\n").encode(), "duplicate id 'seg001'"),
    ("other language only", (json.dumps(segment(1, "zh")) + "\n").encode(), "no segments for --lang de (the file has zh)"),
]


@pytest.mark.parametrize("name,content,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_score_command_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, name, content, message):
    segments = tmp_path / "in.jsonl"
    if content is not None:
        segments.write_bytes(content)
    out = tmp_path / "out.json"
    done = run_score(str(segments), "--lang", "de", "--metrics", "bleu", "--json", str(out), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert message in done.stderr
    if content is not None and name != "missing file":
        assert str(segments) in done.stderr
    assert not out.exists() and done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.jsonl"] if content is not None else [])


def test_score_command_count_mismatch_is_exit_2(tmp_path):
    segments = write_jsonl(tmp_path / "s.jsonl", [segment(i) for i in range(3)])
    hyps = tmp_path / "hyp.de"
    hyps.write_text("eins\nzwei\n", encoding="utf-8")
    out = tmp_path / "o.json"
    done = run_score(str(segments), "--lang", "de", "--hypotheses", str(hyps), "--json", str(out), cwd=tmp_path)
    assert done.returncode == 2 and "2 hypotheses but 3 references" in done.stderr
    assert done.stderr.count("\n") == 1 and not out.exists()


def test_score_command_keeps_an_existing_output_on_bad_input(tmp_path):
    out = tmp_path / "o.json"
    out.write_text('{"old": true}\n')
    done = run_score(str(tmp_path / "missing.jsonl"), "--lang", "de", "--json", str(out), cwd=tmp_path)
    assert done.returncode == 2 and out.read_text() == '{"old": true}\n'


def test_score_is_a_registered_command():
    from harness.__main__ import COMMANDS
    assert COMMANDS["score"][0] == "harness.scoring.score"


# ---- tags the evaluation does not consider ------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Danke. (Applause) Weiter.", "Danke. Weiter."),
    ("(Laughter) (Applause)", ""),
    ("[Laughter] Ja.", "Ja."),
    ("(LAUGHS) (Music) (Cheering)", ""),
    ("Vielen Dank. (Applaus)", "Vielen Dank."),
    ("(Lachen) Und dann (Gelächter) ging er.", "Und dann ging er."),
    ("谢谢（掌声）我们继续。", "谢谢我们继续。"),
    ("谢谢。(掌声)", "谢谢。"),
    ("（笑声）（音乐）好的。(笑声)", "好的。"),
    ("Wir waren in den (USA).", "Wir waren in den (USA)."),        # not a tag: translation
    ("Das (Musik ist laut) ist gut.", "Das (Musik ist laut) ist gut."),  # bracketed text that only starts with one
    ("  no tag,  odd spacing ", "  no tag,  odd spacing "),       # a line without a tag is left alone
])
def test_non_scored_tags_are_removed(text, expected):
    assert remove_non_scored_tags(text) == expected


def test_tags_are_removed_from_both_sides_before_every_score():
    refs = ["Vielen Dank. (Applaus)", "(Lachen) Wir waren in den (USA).", "（掌声）"]
    hyps = ["(Applause) Vielen Dank.", "Wir waren in den (USA). [Laughter]", ""]
    clean_refs = ["Vielen Dank.", "Wir waren in den (USA).", ""]
    clean_hyps = ["Vielen Dank.", "Wir waren in den (USA).", ""]
    scores = score_all(hyps, refs, "de", ["bleu", "chrf", "chrf++", "ter"])
    clean = score_all(clean_hyps, clean_refs, "de", ["bleu", "chrf", "chrf++", "ter"])
    assert {n: s.value for n, s in scores.items()} == {n: s.value for n, s in clean.items()}
    assert scores["bleu"].value == pytest.approx(100.0) and scores["ter"].value == 0.0
    assert scores["chrf"].per_segment == clean["chrf"].per_segment
    # "(USA)" stays, on both sides: dropped from one, it costs.
    assert bleu_score(["Wir waren in den."], ["Wir waren in den (USA)."], "de").value < 100
