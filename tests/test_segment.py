"""Segmentation of long-form talks (harness.segmentation.segment): SHAS-style DAC over silero-vad, VAD-only, fixed, gold.

silero-vad does not take synthetic tones for speech (conftest.make_clip scores below 0.25), so
the talks here are the committed espeak-ng clips of tests/data/mini-base-fixed laid end to end
with silences of known length: every pause position is known. The algorithms themselves are
checked on hand-made probability arrays, where the expected cut is exact.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import yaml

from conftest import one_line_error
import harness.segmentation.segment as seg
from harness.data.audio import SAMPLE_RATE, AudioError, decode_audio, write_wav
from harness.segmentation.segment import (
    FRAME_SECONDS,
    WINDOW_SAMPLES,
    Segment,
    SegmentError,
    SegmentSettings,
    check_segments,
    cut,
    read_segment_file,
    segment_audio,
    segment_file,
    segment_probabilities,
    segment_set,
    segment_set_methods,
    segment_talk,
    settings_for_track,
    speech_probabilities,
)
from harness.data.testsets import LongFormSet, LongFormTalk, load_testset, segments_yaml_text, write_longform_set

ROOT = Path(__file__).resolve().parents[1]
FIXED = ROOT / "tests" / "data" / "mini-base-fixed"
LONGFORM = ROOT / "testsets" / "mini" / "longform_test"
MINI = SegmentSettings(max_seconds=9.0, min_seconds=1.0)


# ---------------------------------------------------------------- talks with known pauses


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    """The 36 committed speech clips (1.5-6 s each), 16 kHz mono."""
    return [u.audio() for u in load_testset(FIXED, verify=False)]


def build_talk(clips, order, gaps, lead=1.0, tail=1.0):
    """Clips ``order`` separated by ``gaps`` seconds of silence: (audio, [(start, end)] of each clip)."""
    pieces = [np.zeros(int(lead * SAMPLE_RATE), np.float32)]
    spans, cursor = [], len(pieces[0])
    for i, index in enumerate(order):
        clip = clips[index]
        spans.append((cursor / SAMPLE_RATE, (cursor + len(clip)) / SAMPLE_RATE))
        pieces.append(clip)
        cursor += len(clip)
        silence = np.zeros(int((gaps[i] if i < len(order) - 1 else tail) * SAMPLE_RATE), np.float32)
        pieces.append(silence)
        cursor += len(silence)
    return np.concatenate(pieces), spans


TALK_ORDER = (12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25)  # talks_* and accent_* clips, 2.2-6 s
TALK_GAPS = (0.8, 1.5, 0.6, 1.2, 2.0, 0.7, 1.0, 0.9, 1.6, 0.6, 1.1, 0.8, 1.3)


@pytest.fixture(scope="module")
def talk(clips):
    audio, spans = build_talk(clips, TALK_ORDER, TALK_GAPS)
    return audio, spans, speech_probabilities(audio)


def boundaries_inside(segments, spans, tolerance=0.25):
    """Segment boundaries that fall inside a clip (more than ``tolerance`` from its ends)."""
    return [(s, b) for s in segments for b in (s.offset, s.end)
            if any(a + tolerance < b < z - tolerance for a, z in spans)]


def covered(segments, spans):
    """Every clip's midpoint lies in some segment."""
    return all(any(s.offset <= (a + z) / 2 <= s.end for s in segments) for a, z in spans)


def check_lengths(segments, settings):
    assert segments == sorted(segments)
    for a, b in zip(segments, segments[1:]):
        assert a.end <= b.offset + 1e-9, (a, b)
    for s in segments:
        assert settings.min_seconds - 1e-6 <= s.duration <= settings.max_seconds + 1e-6, s


# ---------------------------------------------------------------- silero-vad probabilities


def test_silero_marks_the_clips_as_speech_and_the_gaps_as_silence(talk):
    audio, spans, probs = talk
    assert probs.size == math.ceil(audio.size / WINDOW_SAMPLES)
    frame_mid = (np.arange(probs.size) + 0.5) * FRAME_SECONDS
    in_clip = np.zeros(probs.size, bool)
    for a, z in spans:
        in_clip |= (frame_mid > a + 0.1) & (frame_mid < z - 0.1)
    in_gap = ~np.zeros(probs.size, bool)
    for a, z in spans:
        in_gap &= (frame_mid < a - 0.15) | (frame_mid > z + 0.25)  # silero decays for a few frames
    assert (probs[in_clip] > 0.5).mean() > 0.85
    assert (probs[in_gap] > 0.5).mean() == 0.0


def test_synthetic_tones_are_not_speech_to_silero():
    # Why the talks here are made of the committed speech clips and not conftest.make_clip tones.
    from conftest import make_clip

    tones = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), make_clip(1, 3.0), make_clip(3, 3.0)])
    assert speech_probabilities(tones).max() < 0.5


def test_probabilities_are_deterministic_and_leave_torch_threads_alone(talk):
    import torch

    audio, _, probs = talk
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        again = speech_probabilities(audio[: 20 * SAMPLE_RATE])
        assert torch.get_num_threads() == 2  # silero_vad's import sets 1 for the process; we undo it
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(again, probs[: again.size])  # 20 s = 625 whole windows
    assert segment_talk(audio, "dac", MINI) == segment_talk(audio, "dac", MINI)


def test_stream_gives_the_same_probabilities_however_it_is_fed(talk):
    audio, _, probs = talk
    stream = seg.SpeechProbabilities()
    cursor = 0
    for size in (1, 511, 512, 513, 7_000, 100_000):
        stream.feed(audio[cursor:cursor + size])
        cursor += size
    stream.feed(audio[cursor:])
    np.testing.assert_array_equal(stream.finish(), probs)


# ---------------------------------------------------------------- DAC on hand-made probabilities


def frames(*runs):
    """Probabilities from (value, frame count) runs."""
    return np.concatenate([np.full(count, value, float) for value, count in runs])


def on_frames(probs, method="dac", **settings):
    """segment_probabilities on whole frames, returned as (start frame, stop frame) pairs."""
    samples = probs.size * WINDOW_SAMPLES
    out = segment_probabilities(probs, samples, method, SegmentSettings(**settings))
    return [(round(s.offset / FRAME_SECONDS), round(s.end / FRAME_SECONDS)) for s in out]


def f2s(count):
    return count * FRAME_SECONDS


DAC_CASES = [
    # (name, probabilities, settings, expected (start, stop) frames)
    ("short talk: one segment, trimmed", frames((0.0, 20), (0.9, 100), (0.1, 5), (0.9, 100), (0.0, 30)),
     dict(max_seconds=f2s(300), min_seconds=f2s(10)), [(20, 225)]),
    ("too long: split at the deepest pause", frames((0.9, 100), (0.2, 10), (0.9, 100), (0.02, 20), (0.9, 100)),
     dict(max_seconds=f2s(250), min_seconds=f2s(10)), [(0, 210), (230, 330)]),
    ("recursive: every pause used when needed", frames((0.9, 100), (0.2, 10), (0.9, 100), (0.02, 20), (0.9, 100)),
     dict(max_seconds=f2s(150), min_seconds=f2s(10)), [(0, 100), (110, 210), (230, 330)]),
    ("a pause too near the edge is no candidate",
     frames((0.9, 20), (0.0, 10), (0.9, 150), (0.3, 10), (0.9, 150)),
     dict(max_seconds=f2s(300), min_seconds=f2s(40)), [(0, 180), (190, 340)]),
    ("a split leaving a half under min after trimming is skipped",
     frames((0.9, 10), (0.0, 60), (0.9, 250), (0.3, 10), (0.9, 100)),
     dict(max_seconds=f2s(350), min_seconds=f2s(40)), [(0, 320), (330, 430)]),
    ("no pause at all: cut in the middle, halves within max", frames((0.9, 400)),
     dict(max_seconds=f2s(150), min_seconds=f2s(10))),
    ("silence only: nothing", frames((0.1, 500)), dict(max_seconds=f2s(100), min_seconds=f2s(10)), []),
    ("speech shorter than min: dropped", frames((0.0, 50), (0.9, 20), (0.0, 50)),
     dict(max_seconds=f2s(100), min_seconds=f2s(30)), []),
]


@pytest.mark.parametrize("name,probs,settings,expected", [c if len(c) == 4 else (*c, None) for c in DAC_CASES],
                         ids=[c[0] for c in DAC_CASES])
def test_dac_on_known_probabilities(name, probs, settings, expected):
    got = on_frames(probs, "dac", **settings)
    if expected is not None:
        assert got == expected
    else:  # a 400-frame speech run under a 150-frame max: 4 pieces, each within [min, max]
        max_f = round(settings["max_seconds"] / FRAME_SECONDS)
        assert all(10 <= b - a <= max_f for a, b in got) and len(got) >= 3
        assert got[0][0] == 0 and got[-1][1] == 400


def test_smoothing_keeps_dac_out_of_in_word_dips():
    # silero's probability dips to ~0.04 for a frame inside words and sits at ~0.05 in a real pause
    # (measured on the mini long-form talks); the raw minimum (SHAS's rule on its own classifier)
    # would cut the word, the 0.2 s average cuts the pause.
    probs = frames((0.99, 100), (0.04, 1), (0.99, 99), (0.055, 10), (0.99, 100))
    settings = dict(max_seconds=f2s(250), min_seconds=f2s(10))
    assert on_frames(probs, "dac", split_smoothing_seconds=0.0, **settings) == [(0, 100), (101, 310)]
    assert on_frames(probs, "dac", **settings) == [(0, 200), (210, 310)]


def test_dac_start_regions_cuts_every_pause_first():
    probs = frames((0.9, 60), (0.1, 20), (0.9, 60), (0.1, 5), (0.9, 60))
    settings = dict(max_seconds=f2s(300), min_seconds=f2s(10), min_pause_seconds=f2s(10))
    assert on_frames(probs, "dac", **settings) == [(0, 205)]
    assert on_frames(probs, "dac", dac_start="regions", **settings) == [(0, 60), (80, 205)]


def random_probs(rng, count):
    """Alternating speech/pause runs of random lengths with noisy values, like a VAD's output."""
    out, speech = [], bool(rng.integers(2))
    while sum(map(len, out)) < count:
        length = int(rng.integers(1, 400 if speech else 80))
        base = rng.uniform(0.6, 1.0, length) if speech else rng.uniform(0.0, 0.45, length)
        if speech and length > 5:
            base[rng.integers(length)] = rng.uniform(0, 0.1)  # an in-word dip
        out.append(base)
        speech = not speech
    return np.concatenate(out)[:count]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("method", ["dac", "vad", "fixed"])
def test_every_method_keeps_its_length_limits_on_random_probabilities(seed, method):
    rng = np.random.default_rng(seed)
    probs = random_probs(rng, int(rng.integers(200, 20_000)))
    samples = probs.size * WINDOW_SAMPLES - int(rng.integers(0, WINDOW_SAMPLES))
    max_s = float(rng.choice([2.0, 5.0, 9.0, 18.0, 30.0]))
    settings = SegmentSettings(max_seconds=max_s, min_seconds=float(rng.choice([0.0, 0.2, max_s / 3])),
                               dac_start=str(rng.choice(["talk", "regions"])))
    got = segment_probabilities(probs, samples, method, settings)
    check_lengths(got, settings)
    assert all(s.end <= samples / SAMPLE_RATE + 2e-6 for s in got)  # times are rounded to 1 us
    if method == "dac":  # trimmed: starts and ends on a speech frame (VAD-only's even splits need not)
        speech = probs > settings.threshold
        for s in got:
            assert speech[round(s.offset / FRAME_SECONDS)]
            assert speech[math.ceil(s.end / FRAME_SECONDS - 1e-6) - 1]


# ---------------------------------------------------------------- VAD-only and fixed windows


def test_vad_only_regions_bridge_short_gaps_split_long_ones_evenly_and_drop_short_ones():
    probs = frames((0.0, 10), (0.9, 100), (0.1, 5), (0.9, 100), (0.0, 40), (0.9, 700), (0.0, 40), (0.9, 20),
                   (0.0, 10))
    got = on_frames(probs, "vad", max_seconds=f2s(300), min_seconds=f2s(30), min_pause_seconds=f2s(10))
    # 10-215 is one region (the 5-frame gap is bridged); 255-955 (700 frames) -> 3 even parts; 20 frames dropped
    assert got == [(10, 215), (255, 488), (488, 721), (721, 955)]


def test_fixed_windows_consecutive_tail_shared_and_silent_windows_dropped():
    speech = frames((0.9, 2000))
    total = 2000 * WINDOW_SAMPLES  # 64 s
    settings = SegmentSettings(max_seconds=9.0, min_seconds=1.0)
    got = segment_probabilities(speech, total, "fixed", settings)
    assert [(s.offset, s.duration) for s in got] == [(9.0 * i, 9.0) for i in range(7)] + [(63.0, 1.0)]
    # A tail under min shares the last window: 63.5 s -> ..., 54 + 4.75 + 4.75
    samples = int(63.5 * SAMPLE_RATE)
    got = segment_probabilities(speech[: math.ceil(samples / WINDOW_SAMPLES)], samples, "fixed", settings)
    assert [(s.offset, s.duration) for s in got[-2:]] == [(54.0, 4.75), (58.75, 4.75)]
    # Windows 9-18 s and 18-27 s are silent (frame midpoints 9.01-26.99 s): both dropped.
    silent_middle = frames((0.9, 281), (0.0, 563), (0.9, 1156))
    got = segment_probabilities(silent_middle, total, "fixed", settings)
    assert [s.offset for s in got] == [0.0, 27.0, 36.0, 45.0, 54.0, 63.0]


# ---------------------------------------------------------------- on real speech with known pauses


def test_dac_cuts_only_in_pauses_and_packs_up_to_max(talk):
    audio, spans, probs = talk
    got = segment_probabilities(probs, audio.size, "dac", MINI)
    check_lengths(got, MINI)
    assert boundaries_inside(got, spans) == []
    assert covered(got, spans)
    assert len(got) < len(spans)  # clips 2.2-6 s under a 9 s max: DAC joins neighbours
    assert max(s.duration for s in got) > 7.0
    # The whole talk in one piece when max allows it.
    whole = SegmentSettings(max_seconds=audio.size / SAMPLE_RATE, min_seconds=1.0)
    one = segment_probabilities(probs, audio.size, "dac", whole)
    assert len(one) == 1 and one[0].offset == pytest.approx(spans[0][0], abs=0.1)
    assert one[0].end == pytest.approx(spans[-1][1], abs=0.2)


@pytest.mark.parametrize("max_s,min_s", [(4.0, 1.0), (6.0, 2.0), (9.0, 0.5), (14.0, 3.0), (30.0, 1.0)])
def test_dac_respects_max_and_min_on_speech(talk, max_s, min_s):
    audio, spans, probs = talk
    settings = SegmentSettings(max_seconds=max_s, min_seconds=min_s)
    got = segment_probabilities(probs, audio.size, "dac", settings)
    check_lengths(got, settings)
    if max_s >= 6.5:  # every clip fits: cuts only in pauses, and nothing is lost
        assert boundaries_inside(got, spans) == [] and covered(got, spans)


def test_vad_only_finds_each_clip_and_fixed_windows_ignore_pauses(talk):
    audio, spans, probs = talk
    vad = segment_probabilities(probs, audio.size, "vad", MINI)
    assert len(vad) == len(spans) and boundaries_inside(vad, spans) == []
    for s, (a, z) in zip(vad, spans):
        assert s.offset == pytest.approx(a, abs=0.15) and s.end == pytest.approx(z, abs=0.3)
    fixed = segment_probabilities(probs, audio.size, "fixed", MINI)
    assert [s.offset for s in fixed] == [9.0 * i for i in range(len(fixed))]
    assert boundaries_inside(fixed, spans)  # windows know nothing of pauses


def test_result_reports_dropped_speech_and_cut_references(talk):
    audio, spans, probs = talk
    result = segment_audio(audio, "vad", SegmentSettings(max_seconds=9.0, min_seconds=4.0))
    # Clips under 4 s are dropped whole; their speech frames are the dropped share.
    speech = np.flatnonzero(probs > 0.5)
    kept = [i for i in speech if any(s.offset <= (i + 0.5) * FRAME_SECONDS < s.end for s in result.segments)]
    assert result.speech_frames == speech.size
    assert result.dropped_speech_frames == speech.size - len(kept)
    assert 0.3 < result.dropped_speech_share < 0.8
    references = [(a, z - a) for a, z in spans]
    assert seg.references_cut([Segment(0.0, spans[1][0] + 1.0)], references) == 1
    assert seg.references_cut(result.segments, references) == 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", ["dac", "vad", "fixed"])
def test_silence_and_faint_noise_give_no_segments_not_an_error(method, tmp_path):
    silence = np.zeros(20 * SAMPLE_RATE, np.float32)
    assert segment_talk(silence, method, MINI) == []
    noise = (0.01 * np.random.default_rng(0).standard_normal(10 * SAMPLE_RATE)).astype(np.float32)
    assert segment_talk(noise, method, MINI) == []
    write_wav(tmp_path / "silent.wav", silence)
    result = segment_file(tmp_path / "silent.wav", method, MINI)
    assert result.segments == () and result.note == "no speech found: no segments"
    assert result.speech_frames == 0 and result.dropped_speech_share is None


def test_stereo_8khz_audio_is_converted_and_reported(talk, tmp_path):
    audio, spans, probs = talk
    mono16 = audio[: 40 * SAMPLE_RATE]
    stereo8 = soxr.resample(np.stack([mono16, 0.5 * mono16], axis=1), SAMPLE_RATE, 8000)
    sf.write(tmp_path / "talk.wav", stereo8, 8000, subtype="PCM_16")

    from_file = segment_file(tmp_path / "talk.wav", "vad", MINI, block_seconds=3.3)
    assert from_file.conversion == "2 channels mixed to mono; resampled 8000 Hz -> 16000 Hz"
    assert from_file.seconds == pytest.approx(40.0, abs=1e-3)
    in_memory = segment_audio(stereo8, "vad", MINI, sample_rate=8000)
    assert in_memory.conversion == from_file.conversion
    reference = segment_talk(mono16, "vad", MINI)
    for got in (from_file.segments, in_memory.segments):
        assert len(got) == len(reference)
        for a, b in zip(got, reference):
            assert a.offset == pytest.approx(b.offset, abs=0.1) and a.end == pytest.approx(b.end, abs=0.1)
    assert segment_audio(np.stack([mono16] * 2, axis=1), "vad", MINI).conversion == "2 channels mixed to mono"
    assert segment_audio(mono16, "vad", MINI).conversion is None

    longform = LongFormSet(name="odd", version="1", content_hash="-", manifest={"languages": ["en"]}, folder=tmp_path,
                           talks=(LongFormTalk("talk", tmp_path / "talk.wav", ((1.0, 2.0),), {}, ("x",)),))
    stats = segment_set(longform, "vad", MINI, progress=False).stats()
    assert stats["conversions"] == ["talk: 2 channels mixed to mono; resampled 8000 Hz -> 16000 Hz"]


@pytest.mark.parametrize("segments,fragment", [
    ([(-1.0, 2.0)], "negative offset"),
    ([(1.0, -2.0)], "duration must be positive"),
    ([(1.0, 0.0)], "duration must be positive"),
    ([(1.0, 2.0), (8.0, 5.0)], "segment 2: offset 8.0 + duration 5.0 ends at 13.000 s, beyond the audio (10.000 s)"),
    ([("a", 1.0)], "expected (offset, duration) numbers"),
    ([(float("nan"), 1.0)], "must be finite"),
])
def test_segments_that_do_not_fit_their_audio_are_one_line_errors(segments, fragment):
    with pytest.raises(SegmentError) as excinfo:
        check_segments(segments, 10.0, "talk.wav")
    one_line_error(excinfo, "talk.wav", fragment)
    probs = np.zeros(math.ceil(10 * SAMPLE_RATE / WINDOW_SAMPLES))
    with pytest.raises(SegmentError):
        segment_probabilities(probs, 10 * SAMPLE_RATE, "gold", MINI, gold=segments)


def test_a_segment_file_that_does_not_match_its_audio_is_a_one_line_error(tmp_path):
    write_wav(tmp_path / "wav" / "talk.wav", np.zeros(5 * SAMPLE_RATE, np.float32))
    path = tmp_path / "segments.yaml"
    good = [{"wav": "talk.wav", "offset": 0.5, "duration": 2.0},
            {"wav": "talk.wav", "offset": 3.0, "duration": 2.005}]  # 5 ms past the end: IWSLT rounding
    path.write_text(yaml.safe_dump(good))
    assert read_segment_file(path) == {"talk.wav": [Segment(0.5, 2.0), Segment(3.0, 2.005)]}
    for entries, fragment in (([{"wav": "talk.wav", "offset": 4.0, "duration": 2.0}], "beyond the audio (5.000 s)"),
                              ([{"wav": "talk.wav", "offset": 7.0, "duration": 1.0}], "beyond the audio"),
                              ([{"wav": "talk.wav", "offset": 1.0, "duration": -1.0}], "duration > 0"),
                              ([{"wav": "other.wav", "offset": 1.0, "duration": 1.0}], "file not found")):
        path.write_text(yaml.safe_dump(entries))
        with pytest.raises(SegmentError) as excinfo:
            read_segment_file(path)
        one_line_error(excinfo, str(path), fragment)
    with pytest.raises(SegmentError) as excinfo:
        segment_file(tmp_path / "wav" / "talk.wav", "gold", MINI, gold=[(4.5, 1.0)])
    one_line_error(excinfo, "talk.wav", "beyond the audio")


def test_unreadable_audio_and_bad_arrays_are_one_line_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio\n")
    for name, fragment in (("empty.wav", "empty file"), ("text.wav", "cannot read audio header"),
                           ("missing.wav", "file not found")):
        with pytest.raises(AudioError) as excinfo:
            segment_file(tmp_path / name)
        one_line_error(excinfo, name, fragment)
    for array, fragment in ((np.zeros((2, 16000), np.float32), "pass (frames, channels)"),
                            (np.zeros(0, np.float32), "no audio samples"),
                            (np.array([0.0, np.nan], np.float32), "non-finite"),
                            (np.zeros((2, 2, 2), np.float32), "got shape")):
        with pytest.raises(SegmentError) as excinfo:
            segment_talk(array)
        one_line_error(excinfo, "<array>", fragment)
    with pytest.raises(SegmentError) as excinfo:
        segment_talk(np.zeros(16000, np.float32), "shas")
    one_line_error(excinfo, "unknown segmentation method 'shas'")


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(max_seconds=1.0, min_seconds=1.0), "at least twice min_seconds"),
    (dict(threshold=0.0), "threshold must be in (0, 1)"),
    (dict(dac_start="middle"), "dac_start"),
    (dict(max_seconds=float("nan")), "finite number"),
    (dict(min_seconds=-1.0), "must be >= 0"),
])
def test_bad_settings_are_one_line_errors(kwargs, fragment):
    with pytest.raises(SegmentError) as excinfo:
        SegmentSettings(**kwargs)
    one_line_error(excinfo, fragment)


# ---------------------------------------------------------------- long files in bounded memory


def test_a_ten_minute_file_read_in_small_blocks_matches_the_in_memory_run(clips, tmp_path):
    rng = np.random.default_rng(1)
    order = [int(i) for i in rng.integers(0, len(clips), 200)]
    gaps = [float(g) for g in rng.uniform(0.3, 2.5, 200)]
    audio, _ = build_talk(clips, order, gaps)
    audio = audio[: 600 * SAMPLE_RATE]
    assert audio.size == 600 * SAMPLE_RATE
    write_wav(tmp_path / "long.wav", audio)
    del audio

    # Reading: peak Python-side memory stays near one block (5 s = 0.3 MB as float32), while the
    # decoded file would be 38 MB.
    tracemalloc.start()
    total = sum(block.size for block in seg.iter_file_audio(tmp_path / "long.wav", block_seconds=5.0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 600 * SAMPLE_RATE and peak < 3_000_000

    began = time.perf_counter()
    file_probs, info = seg.file_speech_probabilities(tmp_path / "long.wav", block_seconds=7.3)
    file_seconds = time.perf_counter() - began
    memory_probs = speech_probabilities(decode_audio(tmp_path / "long.wav")[0])
    np.testing.assert_array_equal(file_probs, memory_probs)
    assert info.seconds == 600.0 and not info.resampled and not info.downmixed
    for method in ("dac", "vad", "fixed"):
        a = segment_probabilities(file_probs, 600 * SAMPLE_RATE, method, MINI)
        assert a == segment_probabilities(memory_probs, 600 * SAMPLE_RATE, method, MINI)
        check_lengths(a, MINI)
    print(f"\nsilero-vad over a 600 s file in 7.3 s blocks: {file_seconds:.1f} s "
          f"({600 / file_seconds:.0f}x real time, one CPU thread)")


# ---------------------------------------------------------------- sets, results, cutting, tracks


@pytest.fixture(scope="module")
def small_set(clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sets") / "longform_small"
    talks = []
    for t, (order, gaps) in enumerate((((12, 13, 14, 15), (0.8, 1.4, 0.6)), ((16, 17, 18), (1.0, 0.7)))):
        audio, spans = build_talk(clips, order, gaps)
        segments = [(round(a, 6), round(z - a, 6)) for a, z in spans]
        talks.append({"talk_id": f"talk_{t + 1:03d}", "audio": audio, "segments": segments,
                      "en": [f"s{i}" for i in order], "de": [f"d{i}" for i in order], "zh": [f"z{i}" for i in order]})
    write_longform_set(folder, name="longform_small", version="1.0", domain="talks", talks=talks,
                       generator={"name": "test_segment"})
    return load_testset(folder)


def test_segment_set_results_stats_and_yaml(small_set, tmp_path):
    results = segment_set_methods(small_set, ("dac", "vad", "fixed", "gold"), MINI, progress=False)
    gold = results["gold"]
    assert [list(t.segments) for t in gold.talks] == [[Segment(*p) for p in t.segments] for t in small_set.talks]
    stats = {method: r.stats() for method, r in results.items()}
    assert stats["gold"]["segments"] == 7 and stats["gold"]["references_cut"] == 0
    assert stats["vad"]["segments"] == 7 and stats["vad"]["references_cut"] == 0
    assert stats["dac"]["segments"] < 7 and stats["dac"]["references_cut"] == 0
    for s in stats.values():
        assert s["talks"] == 2 and s["references"] == 7 and s["conversions"] == [] and s["notes"] == []
        assert s["min_seconds"] <= s["mean_seconds"] <= s["max_seconds"] <= 9.0
        assert s["audio_seconds"] == pytest.approx(sum(sf.info(t.wav_path).duration for t in small_set.talks))
    for method in ("dac", "vad", "fixed"):
        assert stats[method]["dropped_speech_share"] == 0.0
    assert 0.0 <= stats["gold"]["dropped_speech_share"] < 0.05  # gold edges vs the VAD's, a frame or two

    as_dict = json.loads(json.dumps(results["dac"].as_dict()))
    assert as_dict["settings"]["max_seconds"] == 9.0 and as_dict["vad"].startswith("silero-vad ")
    assert len(as_dict["talks"]) == 2 and as_dict["stats"]["segments"] == stats["dac"]["segments"]
    entries = results["dac"].yaml_entries()
    (tmp_path / "wav").symlink_to(small_set.folder / "wav")
    (tmp_path / "segments.yaml").write_text(segments_yaml_text(entries))
    reread = read_segment_file(tmp_path / "segments.yaml")
    assert reread == {Path(t.source).name: list(t.segments) for t in results["dac"].talks}
    # segment_set alone gives what the shared run gave.
    assert segment_set(small_set, "dac", MINI, progress=False).talks == results["dac"].talks


def test_cut_and_file_segments_give_the_named_samples(small_set):
    talk = small_set.talks[0]
    audio = talk.audio()
    segments = segment_talk(audio, "dac", MINI)
    pieces = cut(audio, segments)
    assert [p.size for p in pieces] == [round(s.duration * SAMPLE_RATE) for s in segments]
    for piece, s in zip(pieces, segments):
        np.testing.assert_array_equal(piece, audio[round(s.offset * SAMPLE_RATE):][: piece.size])
    from_file = list(seg.iter_file_segments(talk.wav_path, segments))
    for a, b in zip(from_file, pieces):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(SegmentError) as excinfo:
        cut(audio, [Segment(0.0, audio.size / SAMPLE_RATE + 1.0)])
    one_line_error(excinfo, "cut", "beyond the audio")


def test_track_settings_cap_max_at_the_model_window():
    from harness.data.tracks import get_track

    config = json.loads((ROOT / "models" / "mini-base" / "processor_config.json").read_text())
    window = float(config["feature_extractor"]["chunk_length"])
    assert seg.audio_window_seconds(get_track("mini")) == window == 9.0
    assert settings_for_track("mini").max_seconds == 9.0
    assert settings_for_track("iwslt2026").max_seconds == seg.SHAS_MAX_SECONDS == 18.0
    assert settings_for_track("mini", min_seconds=2.0).min_seconds == 2.0


def test_command_line(small_set, tmp_path, capsys):
    out_json, out_yaml = tmp_path / "r.json", tmp_path / "s.yaml"
    assert seg.main([str(small_set.folder), "--method", "all", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "max_seconds=9.0" in printed and all(f"\n{m} " in printed for m in ("dac", "vad", "fixed", "gold"))
    assert [r["method"] for r in json.loads(out_json.read_text())] == ["dac", "vad", "fixed", "gold"]
    assert seg.main([str(small_set.folder), "--method", "vad", "--yaml", str(out_yaml)]) == 0
    assert len(yaml.safe_load(out_yaml.read_text())) == 7
    capsys.readouterr()
    assert seg.main([str(tmp_path / "missing"), "--method", "dac"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# ---------------------------------------------------------------- measured on the mini long-form set


@pytest.mark.skipif(not (LONGFORM / "segments.yaml").is_file(), reason="testsets/mini/longform_test: run make data")
def test_measure_on_the_mini_longform_set():
    """Prints (does not judge) each method against gold on the mini track's long-form talks."""
    longform = load_testset(LONGFORM, verify=False)
    settings = settings_for_track("mini")
    results = segment_set_methods(longform, seg.METHOD_NAMES, settings, progress=False)
    print(f"\n{longform.name}: {len(longform)} talks, {results['gold'].stats()['audio_seconds']:.0f} s; {settings}")
    print(seg.SUMMARY_HEADER + "  (wall: the shared VAD pass + the method's own time)")
    for result in results.values():
        print(seg._summary_line(result.stats()) + f"  (VAD {result.extra['vad_seconds']:.2f} s + "
              f"{1000 * result.extra['method_seconds']:.1f} ms)")
        assert result.stats()["max_seconds"] <= settings.max_seconds + 1e-6 or result.method == "gold"
    # SHAS's own rule (split at the raw minimum) on silero's probabilities, for comparison.
    raw = segment_set(longform, "dac", replace(settings, split_smoothing_seconds=0.0), progress=False)
    print(seg._summary_line({**raw.stats(), "method": "dac/0"}) + "  (split_smoothing_seconds=0)")
