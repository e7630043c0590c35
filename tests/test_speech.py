"""testsets.miniworld.speech: voice pools, espeak-ng synthesis, noise at a given SNR."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from testsets.miniworld.speech import (
    HELDOUT_VOICES,
    MARGIN_SECONDS,
    SAMPLE_RATE,
    TRAIN_VOICES,
    SpeechError,
    Voice,
    add_noise,
    espeak_version,
    sample_voice,
    synthesize,
    synthesize_many,
)

REPO = Path(__file__).resolve().parents[1]
SENTENCE = "the young teacher gives the old book to the happy student near the river"


def split(name: str) -> tuple[str, str]:
    base, _, variant = name.partition("+")
    return base, variant


# ---------------------------------------------------------------- voice pools


def test_pools_are_disjoint_in_voice_accent_and_variant():
    assert len(set(TRAIN_VOICES)) == len(TRAIN_VOICES) >= 40
    assert len(set(HELDOUT_VOICES)) == len(HELDOUT_VOICES) >= 20
    assert not set(TRAIN_VOICES) & set(HELDOUT_VOICES)
    train_bases = {split(v)[0] for v in TRAIN_VOICES}
    heldout_bases = {split(v)[0] for v in HELDOUT_VOICES}
    train_variants = {split(v)[1] for v in TRAIN_VOICES}
    heldout_variants = {split(v)[1] for v in HELDOUT_VOICES}
    assert not train_bases & heldout_bases
    assert not train_variants & heldout_variants
    assert all(variant for variant in train_variants | heldout_variants)


def test_sample_voice_is_deterministic_for_a_seed_and_in_range():
    first = [sample_voice(random.Random(7), TRAIN_VOICES) for _ in range(3)]
    random.seed(12345)  # the global generator must not matter
    rng_a, rng_b = random.Random(7), random.Random(7)
    seq_a = [sample_voice(rng_a, TRAIN_VOICES) for _ in range(200)]
    seq_b = [sample_voice(rng_b, TRAIN_VOICES) for _ in range(200)]
    assert seq_a == seq_b
    assert first == [seq_a[0]] * 3
    assert all(v.name in TRAIN_VOICES for v in seq_a)
    assert all(140 <= v.speed <= 190 and 30 <= v.pitch <= 70 for v in seq_a)
    assert len({v.name for v in seq_a}) > 20  # it really spreads over the pool
    assert seq_a != [sample_voice(random.Random(8), TRAIN_VOICES) for _ in range(200)]


@pytest.mark.parametrize(
    "name, speed, pitch",
    [("", 160, 50), ("en us", 160, 50), ("en-us+m3", 20, 50), ("en-us+m3", 160, 100), ("en-us+m3", 160, -1)],
)
def test_voice_rejects_bad_values(name, speed, pitch):
    with pytest.raises(ValueError):
        Voice(name, speed, pitch)


# ---------------------------------------------------------------- synthesis


@pytest.mark.espeak
def test_espeak_version():
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", espeak_version())


@pytest.mark.espeak
def test_synthesize_format_duration_and_margins():
    voice = Voice("en-us+m3", 160, 50)
    audio = synthesize(SENTENCE, voice)
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / SAMPLE_RATE
    words = len(SENTENCE.split())
    nominal = words * 60 / voice.speed
    assert 0.6 * nominal < seconds < 1.5 * nominal, (seconds, nominal)
    assert np.sqrt(np.mean(audio**2)) > 0.02
    assert np.max(np.abs(audio)) <= 1.0
    # Silence was trimmed to the fixed margin at both ends.
    loud = np.flatnonzero(np.abs(audio) > 64 / 32768)
    margin = MARGIN_SECONDS * SAMPLE_RATE
    assert abs(loud[0] - margin) < 0.005 * SAMPLE_RATE
    assert abs((len(audio) - 1 - loud[-1]) - margin) < 0.005 * SAMPLE_RATE


@pytest.mark.espeak
def test_synthesize_speed_changes_duration():
    slow = synthesize(SENTENCE, Voice("en+f1", 140, 50))
    fast = synthesize(SENTENCE, Voice("en+f1", 190, 50))
    assert len(fast) < 0.85 * len(slow)


@pytest.mark.espeak
def test_synthesize_is_deterministic_within_and_across_processes():
    voice = Voice("en-gb-scotland+f4", 173, 41)
    first, second = synthesize(SENTENCE, voice), synthesize(SENTENCE, voice)
    assert first.tobytes() == second.tobytes()
    code = (
        "import hashlib; from testsets.miniworld.speech import Voice, synthesize;"
        f"a = synthesize({SENTENCE!r}, Voice('en-gb-scotland+f4', 173, 41));"
        "print(hashlib.sha256(a.tobytes()).hexdigest())"
    )
    there = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert there.stdout.strip() == hashlib.sha256(first.tobytes()).hexdigest()


@pytest.mark.espeak
def test_every_pool_voice_speaks_and_each_variant_is_really_applied():
    """espeak-ng falls back silently on bad names; distinct audio per variant proves it did not."""
    for pool in (TRAIN_VOICES, HELDOUT_VOICES):
        audio = synthesize_many([("hello world", Voice(name, 165, 50)) for name in pool])
        digests: dict[str, set[str]] = {}
        for name, samples in zip(pool, audio):
            assert np.sqrt(np.mean(samples**2)) > 0.02, name
            assert 0.4 < len(samples) / SAMPLE_RATE < 1.5, name
            digests.setdefault(split(name)[0], set()).add(hashlib.sha256(samples.tobytes()).hexdigest())
        for base, variants in digests.items():
            expected = sum(1 for name in pool if split(name)[0] == base)
            assert len(variants) == expected, f"{base}: some variants give identical audio"


@pytest.mark.espeak
@pytest.mark.parametrize(
    "name, message",
    [
        ("en-xx+m3", "no voice 'en-xx'"),
        ("en-us+male3", "no variant 'male3'"),
        ("en-gb+m3", "ignores the variant"),
        ("en-us+mb-en1", "no variant"),
    ],
)
def test_unknown_or_broken_voice_names_are_refused(name, message):
    with pytest.raises(SpeechError, match=re.escape(message)):
        synthesize("hello", Voice(name, 160, 50))


@pytest.mark.espeak
def test_synthesize_refuses_empty_text():
    with pytest.raises(SpeechError, match="empty text"):
        synthesize("  \n ", Voice("en-us+m1", 160, 50))


@pytest.mark.espeak
def test_synthesize_many_keeps_input_order(capsys):
    rng = random.Random(0)
    items = [(f"number {i} is {'odd' if i % 2 else 'even'}", sample_voice(rng, TRAIN_VOICES)) for i in range(12)]
    parallel = synthesize_many(items, processes=2, progress="speaking")
    serial = [synthesize(text, voice) for text, voice in items]
    assert len(parallel) == len(items)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(parallel, serial))
    assert "speaking" in capsys.readouterr().err
    assert synthesize_many([], processes=2) == []
    with pytest.raises(ValueError):
        synthesize_many(items, processes=0)


# ---------------------------------------------------------------- noise


def speech_like(seconds: float, seed: int, f0: float = 120.0) -> np.ndarray:
    """Harmonics of f0 under a 4 Hz syllable envelope, with pauses: a stand-in for speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6.28)), 0, None) ** 2
    return (0.1 * voiced * envelope).astype(np.float32)


def measured_snr(clean: np.ndarray, mixed: np.ndarray) -> float:
    """SNR of a mix, allowing for a global gain: project the mix onto the clean speech."""
    clean64, mixed64 = clean.astype(np.float64), mixed.astype(np.float64)
    gain = np.dot(mixed64, clean64) / np.dot(clean64, clean64)
    noise = mixed64 - gain * clean64
    return 10 * np.log10(np.sum((gain * clean64) ** 2) / np.sum(noise**2))


BABBLE = [speech_like(1.3 + 0.4 * i, seed=100 + i, f0=95 + 23 * i) for i in range(8)]


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("with_babble", [False, True], ids=["stationary", "babble"])
def test_add_noise_hits_the_requested_snr(snr_db, with_babble):
    clean = speech_like(3.0, seed=1)
    mixed = add_noise(clean, snr_db, np.random.default_rng(5), babble=BABBLE if with_babble else ())
    assert mixed.dtype == np.float32 and mixed.shape == clean.shape
    assert np.max(np.abs(mixed)) <= 1.0
    assert measured_snr(clean, mixed) == pytest.approx(snr_db, abs=0.5)
    if np.max(np.abs(mixed)) < 0.99:  # not rescaled: the noise is exactly mixed - clean
        noise = mixed.astype(np.float64) - clean
        direct = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
        assert direct == pytest.approx(snr_db, abs=0.05)


def test_add_noise_scales_loud_mixes_instead_of_clipping():
    clean = speech_like(2.0, seed=2) * 9.0  # peaks near full scale
    mixed = add_noise(clean, 0.0, np.random.default_rng(1), babble=BABBLE)
    assert np.max(np.abs(mixed)) <= 1.0
    assert measured_snr(clean, mixed) == pytest.approx(0.0, abs=0.5)


def test_add_noise_is_deterministic_for_a_seed():
    clean = speech_like(2.0, seed=3)
    a = add_noise(clean, 5.0, np.random.default_rng(42), babble=BABBLE)
    b = add_noise(clean, 5.0, np.random.default_rng(42), babble=BABBLE)
    c = add_noise(clean, 5.0, np.random.default_rng(43), babble=BABBLE)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_add_noise_babble_adds_talker_structure():
    """Babble noise is not stationary like coloured noise: its short-time power varies more."""
    clean = speech_like(3.0, seed=4)

    def power_spread(noise: np.ndarray) -> float:
        frames = noise[: len(noise) // 400 * 400].reshape(-1, 400)
        return float(np.std(np.log(np.mean(frames**2, axis=1))))

    plain = add_noise(clean, 0.0, np.random.default_rng(9)) - clean
    babbly = add_noise(clean, 0.0, np.random.default_rng(9), babble=BABBLE[:1]) - clean
    assert power_spread(babbly) > power_spread(plain)


@pytest.mark.parametrize(
    "speech_in, snr, babble",
    [
        (np.zeros(100, np.float32), 10.0, ()),
        (np.zeros(0, np.float32), 10.0, ()),
        (np.ones((10, 2), np.float32), 10.0, ()),
        (np.ones(100, np.float32), float("nan"), ()),
        (np.ones(100, np.float32), 10.0, [np.zeros(50, np.float32)]),
    ],
    ids=["silent", "empty", "2-D", "nan-snr", "silent-babble"],
)
def test_add_noise_rejects_bad_input(speech_in, snr, babble):
    with pytest.raises(ValueError):
        add_noise(speech_in, snr, np.random.default_rng(0), babble=babble)


@pytest.mark.espeak
def test_add_noise_on_real_speech_with_real_babble():
    items = [(SENTENCE, Voice("en-us+m3", 165, 50))] + [
        (f"talker number {i} says something else entirely", Voice(TRAIN_VOICES[5 * i], 170, 45)) for i in range(5)
    ]
    clean, *babble = synthesize_many(items)
    mixed = add_noise(clean, 3.0, np.random.default_rng(0), babble=babble)
    assert np.max(np.abs(mixed)) <= 1.0
    assert measured_snr(clean, mixed) == pytest.approx(3.0, abs=0.5)
