"""COMET through the separate comet environment, with a tiny COMET checkpoint built offline.

The fixture builds, inside .venv-comet, what a hub COMET model is made of at
miniature scale: an XLM-RoBERTa-style encoder folder (config with hidden size 32
and 2 layers, a Unigram tokenizer trained on a few sentences, saved as an
XLMRobertaTokenizerFast) and a comet RegressionMetric (the wmt22-comet-da model
class) whose hparams name that folder as `pretrained_model`, saved in the layout
`comet.load_from_checkpoint` reads: <dir>/checkpoints/model.ckpt + <dir>/hparams.yaml.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from harness.scoring.metrics import COMET_RUNNER, comet_score, score_all

REPO = Path(__file__).resolve().parents[1]
COMET_VENV = REPO / ".venv-comet"
RUNNER = COMET_RUNNER

BUILD_TINY_COMET = textwrap.dedent('''
    import sys
    from pathlib import Path

    import pytorch_lightning as ptl
    import torch
    import yaml
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast
    from comet.models import RegressionMetric

    out = Path(sys.argv[1])
    encoder_dir = out / "tiny-xlmr"
    encoder_dir.mkdir(parents=True)
    corpus = ["Hello world, this is a test.", "Das ist ein kleiner Test über Käse.", "这是一个测试。我们喜欢猫。",
              "The cat sleeps on the mat.", "Die Katze schläft auf der Matte.", "猫在垫子上睡觉。"]
    # XLM-R's layout: <s>=0, <pad>=1, </s>=2, <unk>=3, pieces, <mask> last.
    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    backend.train_from_iterator(corpus, trainers.UnigramTrainer(
        vocab_size=150, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    backend.add_special_tokens(["<mask>"])
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = XLMRobertaTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                        mask_token="<mask>", model_max_length=128)
    tokenizer.save_pretrained(str(encoder_dir))
    XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=130, pad_token_id=tokenizer.pad_token_id,
                     bos_token_id=0, eos_token_id=2).save_pretrained(str(encoder_dir))

    torch.manual_seed(0)
    model = RegressionMetric(pretrained_model=str(encoder_dir), load_pretrained_weights=False,
                             local_files_only=True, hidden_sizes=[16], dropout=0.0)
    folder = out / "tiny-comet"
    (folder / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": ptl.__version__}, folder / "checkpoints" / "model.ckpt")
    (folder / "hparams.yaml").write_text(yaml.safe_dump(dict(model.hparams)))
    print(folder)
''')

SOURCES = ["The cat sleeps on the mat.", "The cat sleeps on the mat.", "This is a test.", "This is a test."]
REFERENCES = ["Die Katze schläft auf der Matte.", "Die Katze schläft auf der Matte.", "Das ist ein Test.",
              "Das ist ein Test."]
HYPOTHESES = ["Die Katze schläft auf der Matte.", "Hallo Welt, über Käse.", "Das ist ein Test.",
              "Das ist ein Test."]


def comet_environment() -> Path:
    """.venv-comet's python, created with `make comet-env` when missing (idempotent, ~40 s)."""
    python = COMET_VENV / "bin" / "python"
    if not (COMET_VENV / ".installed").exists():
        try:
            done = subprocess.run(["make", "comet-env"], cwd=REPO, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as error:
            pytest.skip(f".venv-comet is missing and `make comet-env` could not run: {error}")
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            pytest.skip(f".venv-comet is missing and `make comet-env` failed: {tail}")
    return python


@pytest.fixture(scope="module")
def comet_python() -> Path:
    return comet_environment()


@pytest.fixture(scope="module")
def tiny_comet(comet_python, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny-comet")
    script = out / "build_tiny_comet.py"
    script.write_text(BUILD_TINY_COMET, encoding="utf-8")
    done = subprocess.run([str(comet_python), str(script), str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def write_segments(path: Path, sources=SOURCES, hypotheses=HYPOTHESES, references=REFERENCES) -> Path:
    path.write_text("".join(json.dumps({"src": s, "mt": h, "ref": r}, ensure_ascii=False) + "\n"
                            for s, h, r in zip(sources, hypotheses, references)), encoding="utf-8")
    return path


def run_runner(python: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(RUNNER), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def runner_output(comet_python, tiny_comet, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("runner")
    segments = write_segments(work / "segs.jsonl")
    out = work / "out" / "scores.json"
    done = run_runner(comet_python, "--model", str(tiny_comet), "--input", str(segments), "--output", str(out),
                      "--gpus", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.json"]  # no temporary file left beside it
    return json.loads(out.read_text(encoding="utf-8"))


def test_runner_output_names_the_model_version_and_checkpoint_hash(runner_output, tiny_comet):
    assert set(runner_output) == {"system_score", "scores", "model", "comet_version", "model_checkpoint_sha256"}
    assert runner_output["model"] == "tiny-comet"
    assert runner_output["comet_version"] == "2.2.7"
    checkpoint = tiny_comet / "checkpoints" / "model.ckpt"
    assert runner_output["model_checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    scores = runner_output["scores"]
    assert len(scores) == len(HYPOTHESES)
    assert runner_output["system_score"] == pytest.approx(sum(scores) / len(scores))


def test_scores_differ_with_the_hypothesis_and_agree_for_equal_segments(runner_output):
    scores = runner_output["scores"]
    assert scores[0] != scores[1]                  # same source and reference, different hypothesis
    assert scores[2] == pytest.approx(scores[3], abs=1e-6)  # identical segments in one batch


def test_comet_score_through_metrics_is_deterministic_and_signed(runner_output, comet_python, tiny_comet,
                                                                 monkeypatch):
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(comet_python))
    scores = score_all(HYPOTHESES, REFERENCES, "de", ["chrf", "comet"], sources=SOURCES,
                       comet_model=str(tiny_comet))
    comet = scores["comet"]
    assert comet.absent_reason is None
    # A second process on the same input gives the same numbers, bit for bit.
    assert comet.per_segment == [100.0 * s for s in runner_output["scores"]]
    assert comet.value == 100.0 * runner_output["system_score"]
    sha = runner_output["model_checkpoint_sha256"]
    assert comet.signature == f"comet|model:tiny-comet|sha256:{sha[:16]}|version:2.2.7"


def test_batch_size_does_not_change_scores(runner_output, comet_python, tiny_comet, monkeypatch):
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(comet_python))
    one_by_one = comet_score(HYPOTHESES, REFERENCES, "de", sources=SOURCES, comet_model=str(tiny_comet),
                             batch_size=1, gpus=0)
    assert one_by_one.per_segment == pytest.approx([100.0 * s for s in runner_output["scores"]], abs=1e-4)


def test_uncached_hub_model_is_absent_with_the_reason(comet_python, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(comet_python))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    score = comet_score(HYPOTHESES, REFERENCES, "de", sources=SOURCES, comet_model="Unbabel/wmt22-comet-da")
    assert score.value is None and score.signature is None
    assert score.absent_reason.startswith("Unbabel/wmt22-comet-da is not in the local cache and the hub is offline")


@pytest.mark.parametrize("lines,message", [
    (['{"src": "a", "mt": "b"}'], ":1: needs string fields src, mt and ref"),
    (["not json"], ":1: not a JSON object"),
    ([], ": no segments"),
])
def test_runner_bad_input_is_one_line_exit_2(comet_python, tmp_path, lines, message):
    segments = tmp_path / "segs.jsonl"
    segments.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "scores.json"
    done = run_runner(comet_python, "--model", "Unbabel/wmt22-comet-da", "--input", str(segments),
                      "--output", str(out))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert message in done.stderr and not out.exists()


def test_runner_rejects_a_folder_that_is_not_a_checkpoint(comet_python, tmp_path):
    segments = write_segments(tmp_path / "segs.jsonl")
    done = run_runner(comet_python, "--model", str(tmp_path), "--input", str(segments),
                      "--output", str(tmp_path / "o.json"))
    assert done.returncode == 2 and "is not a COMET checkpoint" in done.stderr


# ---- absent without the comet environment (no subprocess into it) -----------------

def test_missing_comet_environment_is_absent_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(tmp_path / ".venv-comet" / "bin" / "python"))
    score = comet_score(["Hallo."], ["Hallo."], "de", sources=["Hello."], comet_model="Unbabel/wmt22-comet-da")
    assert score.value is None
    assert score.absent_reason == "COMET environment .venv-comet not found: run make comet-env"


def test_comet_without_sources_is_absent(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_COMET_PYTHON", str(tmp_path / "nowhere"))
    score = comet_score(["Hallo."], ["Hallo."], "de", sources=None, comet_model="Unbabel/wmt22-comet-da")
    assert score.value is None and "source" in score.absent_reason


def test_no_comet_model_is_absent_and_names_the_track():
    score = comet_score(["Hallo."], ["Hallo."], "de", sources=["Hello."], comet_model=None, track="mini")
    assert score.value is None and score.absent_reason == "no COMET model configured for track mini"

