"""harness/resegment.py: the IWSLT rule (as is when the counts match, else mwerSegmenter via mweralign).

The alignment cases are a hand-checked table (tests/data/resegment/cases.json): each
expected split is written out by hand with its error count, and is re-derived here by
an exhaustive search over every split with a plain Levenshtein distance (an
implementation independent of mweralign), which must find it as the unique minimum.
German cases are also checked against mweralign's own command line (``-m none``), and
the pure-Han Chinese ones against ``-m cj -l zh``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness import resegment as rs
from harness.metrics import bleu_score, chrf_score
from harness.resegment import (AS_IS, EMPTY, MISSING, MWERALIGN, Resegmented, ResegmentError, references_by_talk,
                               resegment_set, resegment_talk, set_lines, set_report)

REPO = Path(__file__).resolve().parents[1]
CASES = json.loads((REPO / "tests" / "data" / "resegment" / "cases.json").read_text(encoding="utf-8"))["cases"]
CASE_IDS = [case["name"] for case in CASES]
MWERALIGN_CLI = Path(sys.executable).parent / "mweralign"
_LATIN1 = re.compile(r"[\x00-\xff]+|[^\x00-\xff]")
_WIDE_PAIR = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef] [\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

DE_SENTENCES = ["Die Katze schläft auf dem Sofa.", "Ein Hund läuft im Park.", "Das Wetter ist heute schön.",
                "Wir übersetzen Sprache in Text.", "Das Modell ist sehr klein.", "Sie liest ein langes Buch.",
                "Er trinkt kaltes Wasser.", "Der Zug ist wieder spät.", "Meine Schwester spielt Klavier.",
                "Die Kinder essen Äpfel.", "Unser Lehrer schreibt einen Brief.", "Der alte Mann geht nach Hause."]
ZH_SENTENCES = ["猫在沙发上睡觉。", "一只狗在公园里跑。", "今天天气很好。", "我们把语音翻译成文字。", "这个模型很小。",
                "她在读一本很长的书。", "他喝冷水。", "火车又晚点了。", "我的姐姐弹钢琴。", "孩子们吃苹果。",
                "我们的老师写一封信。", "老人走回家。", "我们使用了 BERT 模型。", "Qwen2-Audio 有 70 亿参数。"]


# ---- an independent oracle for the hand table ----------------------------------------

def oracle_tokens(text: str, lang: str) -> list[str]:
    if lang == "de":
        return text.split()
    return [piece for chunk in text.split() for piece in _LATIN1.findall(chunk)]


def levenshtein(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r.lower() != h.lower())))
        previous = current
    return previous[-1]


def all_splits(tokens: list[str], segments: int):
    for cuts in itertools.combinations_with_replacement(range(len(tokens) + 1), segments - 1):
        bounds = (0, *cuts, len(tokens))
        yield [tokens[bounds[k]:bounds[k + 1]] for k in range(segments)]


# ---- the as-is path ---------------------------------------------------------------------

def test_as_is_when_counts_match():
    hypotheses = ["  Guten Morgen,  zusammen ", "Vielen Dank. Heute sprechen wir", ""]
    references = ["Guten Morgen zusammen.", "Heute sprechen wir.", "Vielen Dank."]
    result = resegment_talk(hypotheses, references, "de")
    # Only the counts decide: misplaced text and odd spacing stay exactly as the system wrote them.
    assert result == Resegmented(lines=tuple(hypotheses), how=AS_IS, hypothesis_segments=3)
    assert result.stats() == {"how": AS_IS, "hypothesis_segments": 3, "reference_segments": 3}
    zh = resegment_talk(["我们 今天", "谢谢"], ["我们今天。", "谢谢。"], "zh")
    assert zh.how == AS_IS and zh.lines == ("我们 今天", "谢谢")


# ---- the hand-checked table -----------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_hand_checked_alignment(case):
    assert len(case["hypotheses"]) != len(case["references"])  # else the as-is path would run
    result = resegment_talk(case["hypotheses"], case["references"], case["lang"])
    assert result.how == MWERALIGN
    assert result.hypothesis_segments == len(case["hypotheses"])
    assert list(result.lines) == case["expected"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_hand_table_is_the_unique_minimum(case):
    """The table's expected split is the only minimum-error split (exhaustive search)."""
    lang = case["lang"]
    refs = [oracle_tokens(r, lang) for r in case["references"]]
    hyp = [t for line in case["hypotheses"] for t in oracle_tokens(line, lang)]
    expected = [oracle_tokens(e, lang) for e in case["expected"]]
    assert [t for line in expected for t in line] == hyp  # the expected lines are the hypothesis, cut
    costs = sorted((sum(levenshtein(r, s) for r, s in zip(refs, split)), split) for split in all_splits(hyp, len(refs)))
    assert costs[0][1] == expected
    assert costs[0][0] < costs[1][0], f"tie: {costs[0]} and {costs[1]}"


def run_cli(tmp_path: Path, references: list[str], hypotheses: list[str], *args: str) -> list[str]:
    ref_file, hyp_file = tmp_path / "ref.txt", tmp_path / "hyp.txt"
    ref_file.write_text("".join(r + "\n" for r in references), encoding="utf-8")
    hyp_file.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
    done = subprocess.run([str(MWERALIGN_CLI), "-r", str(ref_file), "-t", str(hyp_file), *args],
                          capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.splitlines()


def test_agrees_with_the_mweralign_command_line(tmp_path):
    de = [c for c in CASES if c["lang"] == "de"]
    # The CLI's cj tokenizer glues Latin runs and spaces into tokens, so compare on pure Han text,
    # given to it as one line (it joins hypothesis lines with a space, which it would keep as a token).
    zh = [c for c in CASES if c["lang"] == "zh" and all(ord(ch) > 0xFF for line in c["hypotheses"] for ch in line)]
    assert len(de) >= 3 and len(zh) >= 3
    for case in de:
        cli = run_cli(tmp_path, case["references"], case["hypotheses"], "-m", "none")
        cli = [" ".join(line.split()) for line in cli]
        assert cli == list(resegment_talk(case["hypotheses"], case["references"], "de").lines), case["name"]
    for case in zh:
        cli = run_cli(tmp_path, case["references"], ["".join(case["hypotheses"])], "-m", "cj", "-l", "zh")
        assert cli == list(resegment_talk(case["hypotheses"], case["references"], "zh").lines), case["name"]


def test_renaming_tokens_leaves_the_alignment_unchanged():
    """Tokens go to mweralign as ids ("t0", ...); on plain lowercase words that gives its raw result."""
    import mweralign
    rng = random.Random(7)
    vocab = [f"wort{i}" for i in range(40)]
    for _ in range(30):
        refs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(2, 8))]
        words = " ".join(refs).split()
        noisy = [w if rng.random() > 0.25 else rng.choice(vocab) for w in words if rng.random() > 0.1]
        noisy += [rng.choice(vocab) for _ in range(rng.randint(0, 3))]
        cut = sorted(rng.sample(range(len(noisy) + 1), 2))
        hyps = [" ".join(noisy[:cut[0]]), " ".join(noisy[cut[0]:cut[1]]), " ".join(noisy[cut[1]:])]
        if len(refs) == 3 or not noisy:
            continue
        aligner = mweralign.MwerAlign()
        aligner.set_tokenized(False)
        with rs._quiet_native_stderr():
            raw_text = aligner.align("\n".join(refs), " ".join(noisy))
        raw = [" ".join(line.split()) for line in raw_text.split("\n")]
        assert list(resegment_talk(hyps, refs, "de").lines) == raw


# ---- Chinese joining, odd text ---------------------------------------------------------------

def test_chinese_joined_back_without_spaces():
    refs = ["我们今天讨论语音翻译。", "这个模型很小。"]
    result = resegment_talk(["我们 今天 讨论", "语音 翻译 。 这个", "模型 很小 。"], refs, "zh")
    assert list(result.lines) == refs
    assert not any(_WIDE_PAIR.search(line) for line in result.lines)
    # A hypothesis line break between two CJK characters adds no space either.
    assert resegment_talk(["我们今", "天讨论"], ["我们今天讨论"], "zh").lines == ("我们今天讨论",)


def test_mixed_latin_and_chinese_line():
    refs = ["我们使用了 BERT 模型，准确率是95.3%。", "Qwen2-Audio 有 70 亿参数。"]
    result = resegment_talk(["我们使用了 BERT", "模型，准确率是95.3%。Qwen2-Audio 有", "70 亿参数。"], refs, "zh")
    assert list(result.lines) == refs  # spaces beside Latin words kept, none between Han characters
    # Latin words split over hypothesis lines are not fused; Latin glued to Han stays glued.
    fused = resegment_talk(["他喜欢 machine", "learning 也很有趣。用BERT模型"],
                           ["他喜欢 machine learning 也很有趣。用BERT模型"], "zh")
    assert fused.lines == ("他喜欢 machine learning 也很有趣。用BERT模型",)


def test_text_that_would_crash_mweralign_raw():
    # "###" in a reference is mwerSegmenter's separator between alternative references: passed raw,
    # the line is read as alternatives (and "c ### d" among three lines crashes mweralign 1.4.1).
    refs = ["Punkt ### eins", "zwei\tdrei", "vier"]
    result = resegment_talk(["Punkt ### eins zwei", "drei vier"], refs, "de")
    assert result.lines == ("Punkt ### eins", "zwei drei", "vier")


def test_matching_is_case_insensitive():
    result = resegment_talk(["DIE KATZE SCHLÄFT. der hund bellt."], ["Die Katze schläft.", "Der Hund bellt."], "de")
    assert result.how == MWERALIGN and result.lines == ("DIE KATZE SCHLÄFT.", "der hund bellt.")


# ---- empty, silent, missing ---------------------------------------------------------------

def test_silent_talk_gets_empty_lines():
    refs = ["Erster Satz.", "Zweiter Satz.", "Dritter Satz."]
    assert resegment_talk([], refs, "de") == Resegmented(lines=("", "", ""), how=EMPTY, hypothesis_segments=0)
    assert resegment_talk(["", "  "], refs, "de") == Resegmented(lines=("", "", ""), how=EMPTY, hypothesis_segments=2)
    assert resegment_talk([], [], "zh") == Resegmented(lines=(), how=AS_IS, hypothesis_segments=0)


def test_empty_reference_segments_get_no_words():
    # An empty reference line is left out of the alignment; the line count still matches.
    assert resegment_talk(["a b c"], ["", "a b", ""], "de").lines == ("", "a b c", "")
    # No reference text at all: the words are kept (scored as insertions), never dropped.
    assert resegment_talk(["a b c"], ["", ""], "de").lines == ("a b c", "")
    with pytest.raises(ResegmentError, match="no reference segments"):
        resegment_talk(["a b"], [], "de")


def test_set_with_a_missing_and_a_silent_talk():
    refs = {"talk_2": ["Eins.", "Zwei."], "talk_1": ["Drei vier.", "Fünf.", "Sechs."],
            "talk_3": ["Sieben."], "talk_4": ["Acht.", "Neun."]}
    hyps = {"talk_1": ["Drei vier. Fünf. Sechs."], "talk_2": ["Eins.", "Zwei."], "talk_4": []}
    result = resegment_set(hyps, refs, "de")
    assert list(result) == ["talk_2", "talk_1", "talk_3", "talk_4"]  # the references' order
    assert result["talk_1"] == Resegmented(("Drei vier.", "Fünf.", "Sechs."), MWERALIGN, 1)
    assert result["talk_2"] == Resegmented(("Eins.", "Zwei."), AS_IS, 2)
    assert result["talk_3"] == Resegmented(("",), MISSING, 0)
    assert result["talk_4"] == Resegmented(("", ""), EMPTY, 0)
    assert set_lines(result) == ["Eins.", "Zwei.", "Drei vier.", "Fünf.", "Sechs.", "", "", ""]
    report = set_report(result)
    assert report["methods"] == {AS_IS: 1, MWERALIGN: 1, EMPTY: 1, MISSING: 1}
    assert report["talks"]["talk_3"] == {"how": MISSING, "hypothesis_segments": 0, "reference_segments": 1}
    assert json.loads(json.dumps(report)) == report


def test_bad_input_is_a_one_line_error():
    for call in (lambda: resegment_talk(["a"], ["a", "b"], "fr"),
                 lambda: resegment_talk(["a"], ["a"], "en"),
                 lambda: resegment_set({}, {"t": ["a"]}, "xx")):
        with pytest.raises(ValueError, match="unknown target language") as err:
            call()
        assert "\n" not in str(err.value)
    with pytest.raises(ResegmentError, match="talks the references do not have: ghost") as err:
        resegment_set({"ghost": ["x"]}, {"talk": ["x"]}, "de")
    assert "\n" not in str(err.value)


def test_references_by_talk_from_a_longform_set():
    from harness.testsets import LongFormSet, LongFormTalk

    def talk(name, de, zh):
        return LongFormTalk(talk_id=name, wav_path=Path(f"{name}.wav"), segments=((0.0, 1.0),) * len(de),
                            references={"de": tuple(de), "zh": tuple(zh)}, source_text=("x",) * len(de))
    longform = LongFormSet(name="mini", version="1", content_hash="0", manifest={"languages": ["en", "de", "zh"]},
                           talks=(talk("b", ["Eins.", "Zwei."], ["一。", "二。"]), talk("a", ["Drei."], ["三。"])))
    assert references_by_talk(longform, "zh") == {"b": ["一。", "二。"], "a": ["三。"]}
    assert list(references_by_talk(longform, "de")) == ["b", "a"]
    with pytest.raises(ResegmentError, match="unknown target language"):
        references_by_talk(longform, "fr")


# ---- determinism, no side effects ----------------------------------------------------------

def long_talk(lang: str, segments: int, seed: int, sentences: int = 1) -> tuple[list[str], list[str]]:
    """A talk of ``segments`` references (``sentences`` each) and a noisy hypothesis re-cut into other lines."""
    rng = random.Random(seed)
    pool = DE_SENTENCES if lang == "de" else ZH_SENTENCES
    sep = " " if lang == "de" else ""
    refs = [sep.join(rng.choice(pool) for _ in range(sentences)) for _ in range(segments)]
    tokens = [t for r in refs for t in oracle_tokens(r, lang)]
    noisy = [t if rng.random() > 0.1 else rng.choice(tokens) for t in tokens if rng.random() > 0.05]
    lines, start = [], 0
    while start < len(noisy):
        step = rng.randint(3, 40 * sentences)
        lines.append(sep.join(noisy[start:start + step]))
        start += step
    return lines, refs


def test_deterministic():
    for lang in ("de", "zh"):
        hyps, refs = long_talk(lang, 40, seed=3)
        first = resegment_talk(hyps, refs, lang)
        assert first.how == MWERALIGN and len(first.lines) == 40
        assert all(resegment_talk(hyps, refs, lang) == first for _ in range(3))


def test_no_files_no_download_no_chatter(tmp_path, monkeypatch, capfd):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("resegment tried to download something")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = set(os.listdir(Path.cwd()))
    for lang in ("de", "zh"):
        hyps, refs = long_talk(lang, 10, seed=1)
        assert resegment_talk(hyps, refs, lang).how == MWERALIGN
    assert list(scratch.iterdir()) == []
    assert set(os.listdir(Path.cwd())) == before
    err = capfd.readouterr().err
    assert "AS-WER" not in err and "loading reference" not in err


def test_other_stderr_output_passes_through(capfd):
    with rs._quiet_native_stderr():
        os.write(2, b"AS-WER (automatic segmentation mWER): 12.5\nsomething else\n")
    assert capfd.readouterr().err == "something else\n"


def test_importing_mweralign_leaves_logging_alone():
    # mweralign calls logging.basicConfig on import; in a fresh process, nothing may remain of it.
    code = ("import logging; from harness.resegment import resegment_talk; "
            "resegment_talk(['a b'], ['a', 'b', 'c'], 'de'); "
            "root = logging.getLogger(); print(len(root.handlers), root.level)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.stdout.split() == ["0", str(30)]
    assert done.stderr == ""


# ---- scoring: perfect text, other boundaries ------------------------------------------------

@pytest.mark.parametrize("lang", ["de", "zh"])
def test_perfect_hypotheses_score_100(lang):
    rng = random.Random(11)
    pool = DE_SENTENCES if lang == "de" else ZH_SENTENCES
    refs = {f"talk_{k}": rng.sample(pool, rng.randint(3, 8)) for k in range(5)}
    hyps = {}
    for talk, lines in refs.items():
        # The talk's text cut at other places, into another number of lines: German between
        # words, Chinese between two CJK characters (inside words too), so the text is unchanged.
        text = (" " if lang == "de" else "").join(lines)
        if lang == "de":
            places = [k for k, ch in enumerate(text) if ch == " "]
        else:
            places = [k for k in range(1, len(text)) if rs._wide(text[k - 1]) and rs._wide(text[k])]
        cuts = sorted(rng.sample(places, len(lines) + 1))
        hyps[talk] = [text[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(text)])]
    result = resegment_set(hyps, refs, lang)
    assert {r.how for r in result.values()} == {MWERALIGN}
    flat_refs = [line for lines in refs.values() for line in lines]
    lines = set_lines(result)
    bleu, chrf = bleu_score(lines, flat_refs, lang), chrf_score(lines, flat_refs, lang)
    print(f"\n{lang}: BLEU {bleu.value:.4f} chrF {chrf.value:.4f} over {len(flat_refs)} segments in {len(refs)} talks")
    # Exactly 100: the same text has exactly one zero-error split, and it gives the reference lines byte for byte.
    assert lines == flat_refs
    assert bleu.value == pytest.approx(100.0) and chrf.value == pytest.approx(100.0)


# ---- speed (measured, not asserted) -----------------------------------------------------------

def test_time_of_a_100_segment_talk():
    # About the size of a real talk's 100 segments: 3 sentences each (~17 German words, ~30 Chinese characters).
    for lang in ("de", "zh"):
        hyps, refs = long_talk(lang, 100, seed=5, sentences=3)
        tokens = sum(len(oracle_tokens(h, lang)) for h in hyps)
        start = time.perf_counter()
        result = resegment_talk(hyps, refs, lang)
        seconds = time.perf_counter() - start
        assert len(result.lines) == 100
        print(f"\n{lang}: resegmenting {len(hyps)} hypothesis lines ({tokens} tokens) to 100 segments: {seconds:.3f} s")
