"""Build the mini-track sets: sample sentences, assign voices, speak, split, write.

The sets mirror the shared task's data (Moslem, IWSLT 2025; Liu et al., IWSLT 2026):
  general_train / general_test  play CoVoST2 (large, out of domain);
  talks (884) -> talks_train 784 / talks_test 100 by datasets' train_test_split(test_size=100, seed=0),
                                  the paper's rule for ACL 60/60;
  talks_dev                       for pruning, sensitivity and calibration, so nothing is selected on test;
  accent_test                     talks spoken by voices held out of every other set;
  noisy_test                      talks with babble and stationary noise at about 10 dB SNR;
  longform_test                   unsegmented talks (IWSLT 2026 blind-set style) with gold segments.
longform_organizers (not a set of the track) is longform_test copied into the IWSLT organizers'
layout (harness.data.iwslt_layout), so that reader is exercised on generated data.

The build is a pure function of the seed and the sizes: the text corpus is planned
first (fast, no audio), then spoken. Every English sentence occurs in one set only.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np

from harness.data.audio import SAMPLE_RATE
from harness.data.iwslt_layout import write_organizers_layout
from harness.data.testsets import load_testset, split_talks, write_longform_set, write_segmented_set
from testsets.miniworld import grammar, speech

GENERATOR_VERSION = "1.0"
NOISY_SNR_DB = 10.0
LONGFORM_NOISE_FLOOR_SNR_DB = 35.0  # a quiet room, so VAD has something to reject between sentences


@dataclass(frozen=True)
class Sizes:
    """Utterance counts per set; the defaults are the mini track's."""

    general_train: int = 12_000
    general_test: int = 200
    talks: int = 884
    talks_test: int = 100
    talks_dev: int = 200
    accent_test: int = 100
    noisy_test: int = 100
    longform_talks: int = 6
    longform_seconds: tuple[float, float] = (60.0, 170.0)
    longform_pause: tuple[float, float] = (0.4, 1.6)


@dataclass
class PlannedUtterance:
    id: str
    sentence: grammar.Sentence
    voice: speech.Voice


@dataclass
class PlannedSet:
    name: str
    domain: str
    utterances: list[PlannedUtterance] = field(default_factory=list)


class SentencePool:
    """Draws sentences no other set has drawn: every English text is used once."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def draw(self, rng: random.Random, domain: str, count: int) -> list[grammar.Sentence]:
        drawn: list[grammar.Sentence] = []
        attempts = 0
        while len(drawn) < count:
            attempts += 1
            if attempts > 50 * count + 1000:
                raise RuntimeError(f"the {domain} grammar cannot supply {count} new sentences")
            sentence = grammar.sample_sentence(rng, domain)
            if sentence.en not in self.used:
                self.used.add(sentence.en)
                drawn.append(sentence)
        return drawn


def _rng(seed: int, name: str) -> random.Random:
    # A separate stream per set: changing one set's size leaves the voices of the others alone.
    return random.Random(f"miniworld:{seed}:{name}")


def _plan(name: str, domain: str, sentences: list[grammar.Sentence], rng: random.Random,
          pool: tuple[str, ...]) -> PlannedSet:
    return PlannedSet(name, domain, [
        PlannedUtterance(f"{name}_{index:05d}", sentence, speech.sample_voice(rng, pool))
        for index, sentence in enumerate(sentences)
    ])


def plan_corpus(seed: int = 0, sizes: Sizes = Sizes()) -> dict[str, PlannedSet]:
    """The whole text corpus with a voice per utterance, before any audio exists."""
    pool = SentencePool()
    plans: dict[str, PlannedSet] = {}

    # Test sets draw first so that a change in a training-set size never changes a test set.
    def add(name: str, domain: str, count: int, voices: tuple[str, ...]) -> None:
        rng = _rng(seed, name)
        plans[name] = _plan(name, domain, pool.draw(rng, domain, count), rng, voices)

    add("general_test", "general", sizes.general_test, speech.TRAIN_VOICES)
    add("accent_test", "talks", sizes.accent_test, speech.HELDOUT_VOICES)
    add("noisy_test", "talks", sizes.noisy_test, speech.TRAIN_VOICES)
    plans["longform_test"] = _plan_longform(seed, sizes, pool)
    add("talks", "talks", sizes.talks, speech.TRAIN_VOICES)
    add("talks_dev", "talks", sizes.talks_dev, speech.TRAIN_VOICES)
    add("general_train", "general", sizes.general_train, speech.TRAIN_VOICES)
    return _split_talks(plans, sizes)


def _plan_longform(seed: int, sizes: Sizes, pool: SentencePool) -> PlannedSet:
    """Talks of one speaker each; sentence count from the target length at ~4 s per sentence."""
    rng = _rng(seed, "longform_test")
    plan = PlannedSet("longform_test", "talks")
    for talk in range(sizes.longform_talks):
        # One voice per talk: a talk has one speaker.
        voice = speech.sample_voice(rng, speech.TRAIN_VOICES)
        target_seconds = rng.uniform(*sizes.longform_seconds)
        count = max(3, round(target_seconds / 4.5))
        for index, sentence in enumerate(pool.draw(rng, "talks", count)):
            plan.utterances.append(PlannedUtterance(f"talk_{talk + 1:03d}_{index:03d}", sentence, voice))
    return plan


def _split_talks(plans: dict[str, PlannedSet], sizes: Sizes) -> dict[str, PlannedSet]:
    """The 884 talks utterances split exactly as the paper splits ACL 60/60."""
    talks = plans.pop("talks")
    by_id = {u.id: u for u in talks.utterances}
    index = datasets.Dataset.from_dict({"id": [u.id for u in talks.utterances]})
    train, test = split_talks(index, test_size=sizes.talks_test, seed=0)
    plans["talks_train"] = PlannedSet("talks_train", "talks", [by_id[i] for i in train["id"]])
    plans["talks_test"] = PlannedSet("talks_test", "talks", [by_id[i] for i in test["id"]])
    return plans


ORGANIZERS_COPY = "longform_organizers"
ORGANIZERS_PREFIX = "MINI.talks"


def write_organizers_copy(out: Path) -> Path:
    """longform_test (already written under ``out``) again in the organizers' layout, at out/longform_organizers.

    A pure function of longform_test's files (the wavs are copied byte for byte), so it is
    regenerated, never tracked.
    """
    return write_organizers_layout(load_testset(out / "longform_test"), out / ORGANIZERS_COPY,
                                   prefix=ORGANIZERS_PREFIX)


def talks_content(longform_set) -> list[tuple]:
    """What a long-form set says, talk by talk: ids, segments, texts and the wav bytes' sha256."""
    from harness.files import file_sha256

    return [(t.talk_id, t.segments, t.references, t.source_text, file_sha256(t.wav_path)) for t in longform_set.talks]


def organizers_copy_is_current(out: Path) -> bool:
    """Whether out/longform_organizers reads back as exactly out/longform_test."""
    from harness.data.iwslt_layout import load_organizers_layout
    from harness.data.testsets import TestSetError

    try:
        copy = load_organizers_layout(out / ORGANIZERS_COPY)
    except TestSetError:
        return False
    return talks_content(copy) == talks_content(load_testset(out / "longform_test", verify=False))


SEGMENTED_SETS = ("general_train", "general_test", "talks_train", "talks_test", "talks_dev",
                  "accent_test", "noisy_test")


def build(out: Path, seed: int = 0, sizes: Sizes = Sizes(), jobs: int = 2,
          only: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Speak and write every set under `out`; returns the manifests by set name."""
    plans = plan_corpus(seed, sizes)
    wanted = [name for name in (*SEGMENTED_SETS, "longform_test") if only is None or name in only]
    items = [(u.sentence.en, u.voice) for name in wanted for u in plans[name].utterances]
    # One parallel pass over every utterance keeps both cores busy for the whole build.
    audio_list = speech.synthesize_many(items, processes=jobs, progress="speaking")
    audio_iter = iter(audio_list)
    audio = {name: [next(audio_iter) for _ in plans[name].utterances] for name in wanted}

    generator = {"name": "testsets.miniworld", "version": GENERATOR_VERSION, "seed": seed,
                 "sizes": dataclasses.asdict(sizes), "espeak_ng": speech.espeak_version()}
    manifests: dict[str, dict] = {}
    noise_rng = np.random.default_rng([seed, 10])
    babble_source = audio.get("general_train") or audio.get("talks_dev") or []
    for name in wanted:
        plan = plans[name]
        if name == "longform_test":
            talks = _assemble_talks(plan, audio[name], sizes.longform_pause,
                                   np.random.default_rng([seed, 20]))
            manifests[name] = write_longform_set(
                out / name, name=name, version=GENERATOR_VERSION, domain=plan.domain,
                talks=talks, generator=generator | {"noise_floor_snr_db": LONGFORM_NOISE_FLOOR_SNR_DB})
            write_organizers_copy(out)
            continue
        rows = []
        for utterance, samples in zip(plan.utterances, audio[name]):
            extra = {}
            if name == "noisy_test":
                babble = [babble_source[int(i)] for i in noise_rng.integers(0, len(babble_source), 4)]
                samples = speech.add_noise(samples, NOISY_SNR_DB, noise_rng, babble=babble)
                extra["snr_db"] = NOISY_SNR_DB
            rows.append(_row(utterance, samples) | extra)
        manifests[name] = write_segmented_set(
            out / name, name=name, version=GENERATOR_VERSION, domain=plan.domain, rows=rows,
            generator=generator | ({"snr_db": NOISY_SNR_DB} if name == "noisy_test" else {}))
    return manifests


def _row(utterance: PlannedUtterance, samples: np.ndarray) -> dict:
    s = utterance.sentence
    return {"id": utterance.id, "audio": samples, "en": s.en, "de": s.de, "zh": s.zh,
            "pattern": s.pattern, "voice": utterance.voice.name, "speed": utterance.voice.speed,
            "pitch": utterance.voice.pitch}


def _assemble_talks(plan: PlannedSet, audio: list[np.ndarray], pause: tuple[float, float],
                    rng: np.random.Generator) -> list[dict]:
    """Concatenate each talk's sentences with natural pauses; the offsets are the gold segmentation."""
    by_talk: dict[str, list[tuple[PlannedUtterance, np.ndarray]]] = {}
    for utterance, samples in zip(plan.utterances, audio):
        by_talk.setdefault(utterance.id.rsplit("_", 1)[0], []).append((utterance, samples))
    talks = []
    for talk_id, parts in by_talk.items():
        pieces, segments = [], []
        lead_in = _silence(rng, *pause)
        pieces.append(lead_in)
        cursor = len(lead_in)
        for utterance, samples in parts:
            segments.append((cursor / SAMPLE_RATE, len(samples) / SAMPLE_RATE))
            pieces.append(samples)
            cursor += len(samples)
            gap = _silence(rng, *pause)
            pieces.append(gap)
            cursor += len(gap)
        talk_audio = np.concatenate(pieces).astype(np.float32)
        talk_audio = speech.add_noise(talk_audio, LONGFORM_NOISE_FLOOR_SNR_DB, rng)
        talks.append({"talk_id": talk_id, "audio": talk_audio, "segments": segments,
                      "en": [u.sentence.en for u, _ in parts],
                      "de": [u.sentence.de for u, _ in parts],
                      "zh": [u.sentence.zh for u, _ in parts]})
    return talks


def _silence(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    return np.zeros(int(rng.uniform(low, high) * SAMPLE_RATE), dtype=np.float32)
