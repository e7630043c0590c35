"""Speech for the mini world: espeak-ng synthesis, voice pools and noise.

The mini world speaks its English sentences with espeak-ng (formant
synthesis, no model files), in many voices, speeds and pitches, and mixes in
noise for the noisy test set. Everything here is deterministic: the same text
and voice give the same samples in any process, and noise depends only on the
numpy Generator passed in.

Synthesis
    ``espeak-ng --stdout`` writes 22,050 Hz 16-bit mono WAV; the text goes in
    on stdin (no shell, no argument quoting), the samples are resampled to
    16 kHz with soxr "HQ", and leading/trailing silence is trimmed to exactly
    ``MARGIN_SECONDS`` so that callers (long-form talks) control the pauses.
    espeak-ng silently falls back to a default voice for unknown names (for
    example ``en-xx`` or ``en-gb+male3``), so names are checked against the
    installed voice list before synthesis.

Voice pools (a voice is ``<base accent>+<variant>``)
    Train/dev/test voices: 4 base accents x 12 variants = 48 voices.
    Held-out voices (the "accent" test set): 4 other base accents x 8 other
    variants = 32 voices; neither the accent nor the variant occurs in training.

    Base accents (espeak-ng 1.51). Train: en-us (General American), en
    (gmw/en, British), en-gb-x-rp (Received Pronunciation), en-gb-scotland
    (rhotic, monophthongs). Held out: en-us-nyc (non-rhotic American),
    en-gb-x-gbclan (Lancaster: /ʊ/ in "young", /oː/ in "old"), en-gb-x-gbcwmd
    (West Midlands: h-dropping, /ei/ in "teacher", /ʌʊ/ in "old"), en-029
    (Caribbean: /d/ for "th", full final vowels). Each held-out accent has phonetic traits that no
    training accent has (checked with ``espeak-ng --ipa``). British is named
    "en", not "en-gb": in espeak-ng 1.51 "en-gb+m3" silently ignores the
    variant (every en-gb+X gives the same samples), while "en+m3" and
    "gmw/en+m3" apply it; "en-gb+..." is therefore refused.

    Variants were chosen from the variant files' parameters and measurements,
    as listening is not possible here. Per variant, three 10-word sentences
    on en-us at 165 wpm were measured for duration, RMS, peak, clipping and a
    DTW distance of cepstral envelopes to the default voice (and, for female
    variants, to f1). Excluded: novelty and broken-sounding variants (whisper,
    whisperf, croak, grandma, grandpa: flutter 20 or no voicing; Demonic,
    UniRobot, robosoft*, anikaRobot, RicishayMax*: robot/echo effects; zac:
    child-like pitch 240-390 Hz; Tweaky, Jacky, Lee, steph*, kaukovalta,
    travis, shelby, marcelo: formants scaled far from human ranges; Alicia,
    Marco, AnxiousAndy: largest distances and 14-31 % slower speech); all
    Klatt-synthesizer variants (klatt*, adam, benjamin, caleb, david, edward*,
    announcer: buzzy, and caleb/klatt/klatt6 sound identical); variants that
    reach int16 full scale (iven, paul, ed, john, Gene, Mr serious); fast
    (identical to the default voice); Storm (it forces the en-us base). The
    kept variants have speech durations within 5 % of the default voice (m4:
    +6 %), no saturated samples over 24 test utterances each (4 accents x
    pitch 30/70 x 3 sentences), and distances at the low end (male 8-21,
    female 18-23 against f1).
    Train variants: m1 m2 m3 m4 m6 m7 max Mike (male), f1 f2 f4 f5 (female).
    Held-out variants: m5 m8 Alex Nguyen robert (male), f3 Annie belinda (female).

    ``sample_voice`` draws speed 140-190 wpm and pitch 30-70 (espeak's pitch
    scale, 50 = the variant's own pitch, so female variants stay female).

Noise
    ``add_noise`` mixes stationary coloured noise (spectral slope between pink
    and brown, flat below 100 Hz so that the energy is not all inaudible
    rumble) and, when other utterances are given, babble of several
    overlapping talkers, at an SNR measured over the whole utterance. When the
    mix would exceed full scale, speech and noise are scaled down together,
    which keeps the SNR exact instead of clipping.
"""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import soxr
from tqdm import tqdm

SAMPLE_RATE = 16_000
MARGIN_SECONDS = 0.05
# Samples at or below this int16 magnitude count as silence when trimming
# (about -54 dBFS; espeak-ng writes exact zeros between utterance and edges).
_SILENCE_INT16 = 64

SPEED_RANGE = (140, 190)
PITCH_RANGE = (30, 70)

TRAIN_ACCENTS: tuple[str, ...] = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland")
HELDOUT_ACCENTS: tuple[str, ...] = ("en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
TRAIN_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m6", "m7", "max", "Mike", "f1", "f2", "f4", "f5",
)
HELDOUT_VARIANTS: tuple[str, ...] = ("m5", "m8", "Alex", "Nguyen", "robert", "f3", "Annie", "belinda")

TRAIN_VOICES: tuple[str, ...] = tuple(f"{a}+{v}" for a in TRAIN_ACCENTS for v in TRAIN_VARIANTS)
HELDOUT_VOICES: tuple[str, ...] = tuple(f"{a}+{v}" for a in HELDOUT_ACCENTS for v in HELDOUT_VARIANTS)


class SpeechError(RuntimeError):
    """espeak-ng is missing, failed, or produced no speech; one-line message."""


@dataclass(frozen=True)
class Voice:
    name: str  # espeak-ng voice with variant, e.g. "en-us+m3"
    speed: int  # words per minute (espeak-ng -s)
    pitch: int  # 0-99 (espeak-ng -p), 50 = the variant's own pitch

    def __post_init__(self) -> None:
        if not self.name or any(ch.isspace() for ch in self.name):
            raise ValueError(f"voice name must be non-empty without spaces, got {self.name!r}")
        if not 80 <= self.speed <= 450:
            raise ValueError(f"voice speed must be 80-450 words per minute, got {self.speed}")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"voice pitch must be 0-99, got {self.pitch}")


def sample_voice(rng: random.Random, pool: tuple[str, ...]) -> Voice:
    """Draw a voice from ``pool`` with speed and pitch, using only ``rng``."""
    if not pool:
        raise ValueError("voice pool is empty")
    name = pool[rng.randrange(len(pool))]
    speed = rng.randint(*SPEED_RANGE)
    pitch = rng.randint(*PITCH_RANGE)
    return Voice(name=name, speed=speed, pitch=pitch)


def _espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise SpeechError("espeak-ng not found on PATH (install it: apt-get install espeak-ng)")
    return path


@functools.lru_cache(maxsize=1)
def _version_line() -> str:
    result = subprocess.run(
        [_espeak_binary(), "--version"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SpeechError(f"espeak-ng --version failed: {' '.join(result.stderr.split())}")
    return result.stdout.strip()


def espeak_version() -> str:
    """The installed espeak-ng version, e.g. "1.51"."""
    match = re.search(r"text-to-speech:\s*(\S+)", _version_line())
    if match is None:
        raise SpeechError(f"cannot parse espeak-ng version from {_version_line()!r}")
    return match.group(1)


@functools.lru_cache(maxsize=1)
def _installed_voices() -> tuple[frozenset[str], frozenset[str]]:
    """(base voice names, variant names) that this espeak-ng really has."""
    result = subprocess.run(
        [_espeak_binary(), "--voices"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SpeechError(f"espeak-ng --voices failed: {' '.join(result.stderr.split())}")
    bases: set[str] = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        # Columns: Pty Language Age/Gender VoiceName File [Other Languages];
        # MBROLA voices (mb/...) need data files that are not installed.
        if len(fields) >= 5 and not fields[4].startswith("mb/"):
            bases.add(fields[1])
            bases.add(fields[4])
            # "Other Languages" entries such as "(en 2)" are names too.
            bases.update(re.findall(r"\((\S+) \d+\)", " ".join(fields[5:])))
    match = re.search(r"Data at:\s*(.+)$", _version_line())
    if match is None:
        raise SpeechError(f"cannot find espeak-ng data path in {_version_line()!r}")
    variant_dir = os.path.join(match.group(1).strip(), "voices", "!v")
    variants = frozenset(os.listdir(variant_dir)) if os.path.isdir(variant_dir) else frozenset()
    return frozenset(bases), variants


# Base names with which espeak-ng 1.51 silently drops the variant, and the
# name that works instead.
_VARIANT_DROPPING_BASES = {"en-gb": "en"}


def _check_voice_name(name: str) -> None:
    bases, variants = _installed_voices()
    base, _, variant = name.partition("+")
    if variant and base in _VARIANT_DROPPING_BASES:
        raise SpeechError(
            f"espeak-ng ignores the variant in {name!r}; "
            f"use {_VARIANT_DROPPING_BASES[base] + '+' + variant!r} instead"
        )
    if base not in bases:
        raise SpeechError(f"espeak-ng has no voice {base!r} (in {name!r}); see espeak-ng --voices")
    if variant and variant not in variants:
        raise SpeechError(f"espeak-ng has no variant {variant!r} (in {name!r}); see espeak-ng --voices=variant")


def _parse_wav(data: bytes, what: str) -> tuple[np.ndarray, int]:
    """int16 samples and rate from espeak-ng's streamed WAV.

    The streamed header carries placeholder sizes (0x7ffff000), so the data
    chunk is taken to run to the end of the output instead of trusting them.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError(f"{what}: espeak-ng did not write a WAV stream ({len(data)} bytes)")
    offset = 12
    rate = channels = bits = None
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        body = offset + 8
        if chunk_id == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise SpeechError(
                    f"{what}: unexpected espeak-ng format (format {fmt}, {channels} channels, {bits} bit)"
                )
        elif chunk_id == b"data":
            if rate is None:
                raise SpeechError(f"{what}: espeak-ng WAV has data before its fmt chunk")
            payload = data[body : len(data) - (len(data) - body) % 2]
            return np.frombuffer(payload, dtype="<i2"), rate
        offset = body + size + (size & 1)
    raise SpeechError(f"{what}: espeak-ng WAV has no data chunk")


def _trim_to_margin(samples: np.ndarray, rate: int, what: str) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE_INT16)
    if loud.size == 0:
        raise SpeechError(f"{what}: espeak-ng produced no audible speech")
    margin = int(round(MARGIN_SECONDS * rate))
    first, last = int(loud[0]), int(loud[-1]) + 1
    start, end = max(0, first - margin), min(len(samples), last + margin)
    # Pad with zeros where espeak-ng's own silence is shorter than the margin.
    return np.concatenate([
        np.zeros(margin - (first - start), dtype=np.int16),
        samples[start:end],
        np.zeros(margin - (end - last), dtype=np.int16),
    ])


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """Speak ``text`` with ``voice``: float32 mono 16 kHz, silence trimmed to the margin."""
    clean = " ".join(text.split())
    what = f"{voice.name} {clean[:40]!r}"
    if not clean:
        raise SpeechError(f"{voice.name}: nothing to say (empty text)")
    _check_voice_name(voice.name)
    command = [
        _espeak_binary(), "--stdout", "-b", "1",  # -b 1: the input is UTF-8
        "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch),
    ]
    result = subprocess.run(command, input=clean.encode("utf-8"), capture_output=True, check=False)
    if result.returncode != 0:
        message = " ".join(result.stderr.decode("utf-8", "replace").split())
        raise SpeechError(f"{what}: espeak-ng exited with {result.returncode}: {message}")
    samples, rate = _parse_wav(result.stdout, what)
    trimmed = _trim_to_margin(samples, rate, what)
    audio = trimmed.astype(np.float32) / np.float32(32768.0)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(np.clip(audio, -1.0, 1.0), dtype=np.float32)


def _synthesize_item(item: tuple[str, Voice]) -> np.ndarray:
    text, voice = item
    return synthesize(text, voice)


def synthesize_many(
    items: Sequence[tuple[str, Voice]], processes: int = 2, progress: str | None = None
) -> list[np.ndarray]:
    """Synthesize many (text, voice) pairs with ``processes`` concurrent espeak-ng runs.

    Results are in input order. Each item runs its own espeak-ng process, so
    threads are enough to keep that many CPUs busy (the Python side is only
    parsing and soxr, which releases the GIL), without forking the caller.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    bar = tqdm(total=len(items), desc=progress, unit="utt", disable=progress is None)
    results: list[np.ndarray] = []
    try:
        if processes == 1:
            for item in items:
                results.append(_synthesize_item(item))
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=processes) as pool:
                for audio in pool.map(_synthesize_item, items):
                    results.append(audio)
                    bar.update(1)
    finally:
        bar.close()
    return results


def _coloured_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary noise with a spectral slope between pink (1/f) and brown (1/f^2)."""
    exponent = rng.uniform(1.0, 2.0)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, d=1.0 / SAMPLE_RATE)
    # Flat below 100 Hz: otherwise a brown slope puts nearly all the power in
    # rumble that masks no speech, and the requested SNR would be meaningless.
    gain = np.maximum(freqs, 100.0) ** (-exponent / 2.0)
    gain[0] = 0.0
    return np.fft.irfft(spectrum * gain, n=length)


def _babble(length: int, babble: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several other utterances, each looped from a random offset, at equal level, summed."""
    talkers = min(len(babble), int(rng.integers(3, 7)))
    chosen = rng.choice(len(babble), size=talkers, replace=False)
    mix = np.zeros(length)
    for index in chosen:
        source = np.asarray(babble[int(index)], dtype=np.float64)
        if source.ndim != 1 or source.size == 0:
            raise ValueError(f"babble utterance {int(index)} must be a non-empty 1-D array")
        power = np.mean(source**2)
        if power <= 0:
            raise ValueError(f"babble utterance {int(index)} is silent")
        start = int(rng.integers(source.size))
        looped = np.resize(np.roll(source, -start), length)
        mix += looped / np.sqrt(power)
    return mix


def add_noise(
    speech: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    babble: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """Mix noise into ``speech`` at ``snr_db`` (power ratio over the whole utterance).

    The noise is coloured stationary noise, plus babble made from ``babble``
    (other utterances) when given; its share of the noise power is drawn from
    ``rng``. If the mix would exceed [-1, 1], speech and noise are scaled down
    together, so the SNR is unchanged.
    """
    clean = np.asarray(speech, dtype=np.float64)
    if clean.ndim != 1 or clean.size < 2:
        raise ValueError(f"speech must be a 1-D array of at least 2 samples, got shape {clean.shape}")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    speech_power = np.mean(clean**2)
    if speech_power <= 0:
        raise ValueError("speech is silent: an SNR is undefined")

    stationary = _coloured_noise(clean.size, rng)
    noise = stationary / np.sqrt(np.mean(stationary**2))
    if len(babble) > 0:
        talkers = _babble(clean.size, babble, rng)
        talkers /= np.sqrt(np.mean(talkers**2))
        share = rng.uniform(0.4, 0.8)
        noise = np.sqrt(1.0 - share) * noise + np.sqrt(share) * talkers
    # Rescale the final sum: the two parts are not exactly uncorrelated.
    noise *= np.sqrt(speech_power / 10.0 ** (snr_db / 10.0) / np.mean(noise**2))

    mix = clean + noise
    peak = np.max(np.abs(mix))
    if peak > 0.99:
        mix *= 0.99 / peak
    return mix.astype(np.float32)
