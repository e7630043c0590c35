"""The mini-track build: set sizes, disjointness, split rule, voices, determinism, end to end."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest

from harness.data.audio import SAMPLE_RATE
from harness.data.testsets import LongFormSet, TestSet, load_testset
from testsets.miniworld import speech
from testsets.miniworld.build import SEGMENTED_SETS, Sizes, plan_corpus

REPO = Path(__file__).resolve().parents[1]
TINY = Sizes(general_train=12, general_test=4, talks=14, talks_test=4, talks_dev=4, accent_test=3,
             noisy_test=3, longform_talks=2, longform_seconds=(8.0, 12.0))


@pytest.fixture(scope="module")
def corpus():
    return plan_corpus(seed=0)


def test_full_size_plan_has_the_issue_sizes(corpus):
    sizes = {name: len(plan.utterances) for name, plan in corpus.items()}
    assert sizes["general_train"] >= 10_000
    assert sizes["general_test"] == 200
    assert sizes["talks_train"] == 784
    assert sizes["talks_test"] == 100
    assert 150 <= sizes["talks_dev"] <= 250
    assert sizes["accent_test"] == 100
    assert sizes["noisy_test"] == 100
    talks = {u.id.rsplit("_", 1)[0] for u in corpus["longform_test"].utterances}
    assert len(talks) >= 5


def test_no_sentence_is_in_two_sets(corpus):
    owner: dict[str, str] = {}
    for name, plan in corpus.items():
        for utterance in plan.utterances:
            assert utterance.sentence.en not in owner, (name, owner.get(utterance.sentence.en))
            owner[utterance.sentence.en] = name
    ids = [u.id for plan in corpus.values() for u in plan.utterances]
    assert len(ids) == len(set(ids))


def test_domains_and_voice_pools(corpus):
    for name, plan in corpus.items():
        expected_domain = "general" if name.startswith("general") else "talks"
        assert {u.sentence.domain for u in plan.utterances} == {expected_domain}, name
        pool = speech.HELDOUT_VOICES if name == "accent_test" else speech.TRAIN_VOICES
        assert {u.voice.name for u in plan.utterances} <= set(pool), name
    # The accent set must actually use several unseen voices, not one.
    assert len({u.voice.name for u in corpus["accent_test"].utterances}) >= 5


def test_talks_split_is_the_papers_rule(corpus):
    """784/100 by datasets' train_test_split(test_size=100, seed=0) over the 884 talks utterances."""
    talks_ids = sorted(u.id for name in ("talks_train", "talks_test") for u in corpus[name].utterances)
    assert len(talks_ids) == 884
    split = datasets.Dataset.from_dict({"id": talks_ids}).train_test_split(test_size=100, seed=0)
    assert [u.id for u in corpus["talks_test"].utterances] == split["test"]["id"]
    assert [u.id for u in corpus["talks_train"].utterances] == split["train"]["id"]


def test_longform_talks_have_one_speaker_each(corpus):
    voices: dict[str, set] = {}
    for u in corpus["longform_test"].utterances:
        voices.setdefault(u.id.rsplit("_", 1)[0], set()).add(u.voice)
    assert all(len(v) == 1 for v in voices.values())


def _plan_digest(seed: int) -> str:
    plans = plan_corpus(seed=seed, sizes=Sizes(general_train=300))
    payload = [(u.id, u.sentence.en, u.sentence.de, u.sentence.zh, u.voice.name, u.voice.speed, u.voice.pitch)
               for plan in plans.values() for u in plan.utterances]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def test_plan_is_deterministic_across_processes():
    code = "from tests.test_miniworld_build import _plan_digest; print(_plan_digest(0))"
    digests = {
        subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                       env=os.environ | {"PYTHONHASHSEED": hash_seed}).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert digests == {_plan_digest(0)}
    assert _plan_digest(1) != _plan_digest(0)


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "testsets.miniworld", "--out", str(out), "--sizes",
         json.dumps({k: v for k, v in TINY.__dict__.items()}), *extra],
        cwd=REPO, capture_output=True, text=True)


@pytest.mark.espeak
def test_tiny_build_end_to_end_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    result = _cli(first)
    assert result.returncode == 0, result.stderr
    assert _cli(second).returncode == 0
    assert _files(first) == _files(second)

    for name in SEGMENTED_SETS:
        testset = load_testset(first / name)
        assert isinstance(testset, TestSet)
        for utterance in testset.utterances:
            samples = utterance.audio()
            assert samples.dtype == np.float32 and samples.ndim == 1
            assert abs(len(samples) / SAMPLE_RATE - utterance.seconds) < 0.01
            assert np.abs(samples).max() > 0.01
            assert set(utterance.targets) == {"de", "zh"}
    longform = load_testset(first / "longform_test")
    assert isinstance(longform, LongFormSet) and len(longform.talks) == 2

    again = _cli(first)
    assert again.returncode == 0 and "up to date" in again.stdout


@pytest.mark.espeak
def test_cli_reports_a_changed_text_against_previous_manifests(tmp_path):
    assert _cli(tmp_path).returncode == 0
    manifest_path = tmp_path / "talks_test" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["text_hash"] = "sha256:" + "0" * 64  # as if an older generator had written other text
    manifest_path.write_text(json.dumps(manifest))
    result = _cli(tmp_path)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error:") and "talks_test" in last_line
