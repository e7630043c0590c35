"""Segmentation of unsegmented (long-form) talks into pieces a speech-translation model can take.

The IWSLT 2026 test sets are whole talks without a reference segmentation; a system
cuts them itself (Diet-KIT, Liu et al., IWSLT 2026, used SHAS). This module gives four
segmenters that all return the same thing, a list of ``Segment(offset, duration)`` in
seconds per talk:

``dac``    SHAS's probabilistic divide-and-conquer (Tsiamas et al., Interspeech 2022,
           "SHAS: Approaching optimal Segmentation for End-to-End Speech Translation",
           algorithm "pDAC"): start from the whole talk trimmed to its first and last
           speech frame (or, with ``dac_start="regions"``, from each VAD speech region),
           and split any segment longer than ``max_seconds`` at its frame of lowest speech
           probability, the split frame itself excluded and both halves trimmed of
           leading and trailing non-speech frames, choosing the next-lowest frame whenever
           a half would be shorter than ``min_seconds``. Segments end up as long as the
           model's window allows while the cuts fall in the deepest pauses.
           SHAS gets its probabilities from a trained wav2vec 2.0 frame classifier; here
           they come from silero-vad (below), which needs no training and ships its weights
           in its wheel. The algorithm is the paper's; the code is our own (with O(1)
           trimming from precomputed next/previous-speech indices, so a long talk costs
           one sort per split rather than a trim per candidate frame).
``vad``    VAD only: contiguous speech regions (gaps shorter than ``min_pause_seconds``
           bridged), each longer than ``max_seconds`` split into equal parts; the
           "pause-based" baseline of the SHAS paper.
``fixed``  consecutive windows of ``max_seconds`` (the SHAS paper's length-based baseline);
           a tail shorter than ``min_seconds`` shares the last window evenly, and windows
           without a single speech frame are dropped.
``gold``   the reference segmentation from the set's segments.yaml, checked against the audio.

Speech probabilities come from silero-vad (Silero Team, "Silero VAD: pre-trained
enterprise-grade Voice Activity Detector", github.com/snakers4/silero-vad): its
TorchScript model is called directly on consecutive 512-sample windows (32 ms at 16 kHz),
with its recurrent state carried from window to window, exactly as its own
``get_speech_timestamps`` does, so we keep one probability per window rather than only
the timestamps its helper derives. Files are read in soundfile blocks and resampled with
a streaming soxr resampler, so an hours-long talk never sits in memory: only one float per
32 ms frame does. Stereo is mixed to mono and other rates resampled to 16 kHz, as
``harness.data.audio.decode_audio`` does, and every such conversion is recorded in the result.

Segments shorter than ``min_seconds`` are dropped by every automatic method; the share of
the talk's speech frames (probability above ``threshold``) that fall outside every segment
is reported for every method, gold included, so a segmentation that loses speech shows it.
Bad input gives a one-line ``SegmentError``; a silent talk gives no segments and a note,
not an error.

Command line: ``python -m harness.segmentation.segment testsets/mini/longform_test --method all``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from harness.data.audio import SAMPLE_RATE, AudioError, AudioInfo, audio_seconds, libsndfile_reason, mono_16k
from harness.errors import HarnessError, one_line

# silero-vad's window at 16 kHz: the model accepts exactly 512 samples per call.
WINDOW_SAMPLES = 512
FRAME_SECONDS = WINDOW_SAMPLES / SAMPLE_RATE  # 0.032 s
# SHAS's default maximum (its segment.py: --dac_max_segment_length 18; the paper's best
# maxima for its ST models lie around 14-18 s). A track's model window caps it (9 s on the mini track).
SHAS_MAX_SECONDS = 18.0
# Qwen2-Audio's WhisperFeatureExtractor pads or truncates every clip to 30 s
# (chunk_length 30); used when a hub model's processor config is not cached locally.
WHISPER_WINDOW_SECONDS = 30.0
DEFAULT_BLOCK_SECONDS = 60.0
METHOD_NAMES = ("dac", "vad", "fixed", "gold")


class SegmentError(HarnessError, ValueError):
    """Input that cannot be segmented, or segments that do not fit their audio; one line."""


def _error(where: object, problem: object) -> SegmentError:
    return SegmentError(one_line(f"{where}: {problem}"))


@dataclass(frozen=True, order=True)
class Segment:
    """A piece of a talk in seconds, as IWSLT's segments.yaml gives it."""

    offset: float
    duration: float

    @property
    def end(self) -> float:
        return self.offset + self.duration


@dataclass(frozen=True)
class SegmentSettings:
    """The knobs of every method (each method reads the ones it needs).

    max_seconds        no segment is longer (cap it at the model's audio window: see settings_for_track)
    min_seconds        shorter segments are dropped; DAC never makes a split that leaves a shorter half
                       while another split point exists
    threshold          a frame is speech when silero's probability is above this (silero's and SHAS's 0.5)
    min_pause_seconds  VAD regions: a non-speech gap shorter than this does not end a region
                       (silero's probability dips for a frame or two inside words)
    dac_start          "talk": DAC starts from the whole talk (SHAS); "regions": from each VAD region
    split_smoothing_seconds
                       DAC picks its split frame by the probability averaged over this centred window
                       (0: the raw per-frame probability, SHAS's rule). SHAS's trained classifier gives
                       low probabilities only at segment boundaries; silero's dips inside words (a stop
                       consonant reaches 0.04) as low as in a real pause (0.05-0.06 as it decays), so the
                       raw minimum cuts sentences; averaging over 0.2 s lets only a real pause win.
    """

    max_seconds: float = SHAS_MAX_SECONDS
    min_seconds: float = 1.0
    threshold: float = 0.5
    min_pause_seconds: float = 0.3
    dac_start: str = "talk"
    split_smoothing_seconds: float = 0.2

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "dac_start":
                if value not in ("talk", "regions"):
                    raise SegmentError(f"segment settings: dac_start must be 'talk' or 'regions', got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SegmentError(f"segment settings: {spec.name} must be a finite number, got {value!r}")
        if not 0.0 < self.threshold < 1.0:
            raise SegmentError(f"segment settings: threshold must be in (0, 1), got {self.threshold}")
        if min(self.min_seconds, self.min_pause_seconds, self.split_smoothing_seconds) < 0:
            raise SegmentError("segment settings: min_seconds, min_pause_seconds and split_smoothing_seconds "
                               "must be >= 0")
        # DAC can always split a segment longer than max into two halves of at least min (before
        # trimming) only if max leaves room for two minimum halves and the excluded split frame.
        if self.max_frames < 2 * max(self.min_frames, 1) + 1:
            raise SegmentError(f"segment settings: max_seconds ({self.max_seconds}) must be at least twice "
                               f"min_seconds ({self.min_seconds}) plus one {FRAME_SECONDS * 1000:g} ms frame")

    @property
    def max_frames(self) -> int:
        return int(math.floor(self.max_seconds / FRAME_SECONDS + 1e-9))

    @property
    def min_frames(self) -> int:
        return int(math.ceil(self.min_seconds / FRAME_SECONDS - 1e-9))

    @property
    def smoothing_frames(self) -> int:
        # Odd, so the window is centred on its frame.
        return 2 * int(round(self.split_smoothing_seconds / FRAME_SECONDS / 2)) + 1

    @property
    def min_pause_frames(self) -> int:
        return int(math.ceil(self.min_pause_seconds / FRAME_SECONDS - 1e-9))


# ---------------------------------------------------------------- per-track defaults


def audio_window_seconds(track) -> float:
    """The base model's audio window (its feature extractor's chunk_length) in seconds.

    Read from the base's processor config when the base is a local folder (the mini track:
    9 s) or already in the Hugging Face cache; otherwise Whisper's 30 s, which is what
    Qwen2-Audio-7B's processor uses. Longer clips are truncated by the feature extractor,
    so no segment may exceed it.
    """
    from harness.data.tracks import REPO

    base = track.base_model
    candidates: list[Path] = []
    local = Path(base) if Path(base).is_absolute() else REPO / base
    if base.startswith(("./", "/", "../")) or local.is_dir():
        candidates += [local / "processor_config.json", local / "preprocessor_config.json"]
    else:
        with contextlib.suppress(Exception):  # no hub access needed: only what is cached
            from huggingface_hub import try_to_load_from_cache

            for name in ("preprocessor_config.json", "processor_config.json"):
                found = try_to_load_from_cache(base, name, revision=track.base_revision)
                if isinstance(found, str):
                    candidates.append(Path(found))
    for path in candidates:
        if not path.is_file():
            continue
        config = json.loads(path.read_text(encoding="utf-8"))
        extractor = config.get("feature_extractor", config)
        if "chunk_length" in extractor:
            return float(extractor["chunk_length"])
    return WHISPER_WINDOW_SECONDS


def settings_for_track(track, **overrides) -> SegmentSettings:
    """Settings whose max is SHAS's 18 s capped by the track's model window (9 s on the mini track)."""
    if isinstance(track, str):
        from harness.data.tracks import get_track

        track = get_track(track)
    values = {"max_seconds": min(SHAS_MAX_SECONDS, audio_window_seconds(track)), **overrides}
    return SegmentSettings(**values)


# ---------------------------------------------------------------- speech probabilities


@contextlib.contextmanager
def _torch_threads(count: int):
    # One thread: silero's per-window graph is far too small to gain from more, and a fixed
    # count makes the probabilities independent of the machine's core count.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load_silero():
    import torch

    # Importing silero_vad calls torch.set_num_threads(1) for the whole process; undo that
    # so that decoding after segmentation keeps its threads.
    before = torch.get_num_threads()
    try:
        from silero_vad import load_silero_vad
    finally:
        torch.set_num_threads(before)
    # The TorchScript model keeps its recurrent state in the module, so each stream gets
    # its own copy (30 ms to load): streams never share state, in threads or otherwise.
    with warnings.catch_warnings():
        # Its loader uses importlib.resources.path and torch.jit.load, both deprecated upstream.
        warnings.simplefilter("ignore", DeprecationWarning)
        model = load_silero_vad(onnx=False)
    model.eval()
    model.reset_states()
    return model


class SpeechProbabilities:
    """silero-vad over a stream of 16 kHz mono samples: one probability per 512-sample window.

    ``feed`` any number of samples at a time; windows are cut at the same places however the
    stream is split, so block-wise and in-memory runs give identical probabilities.
    ``finish`` zero-pads the last partial window (as silero's own helper does).
    """

    def __init__(self) -> None:
        self._model = _load_silero()
        self._pending = np.zeros(0, dtype=np.float32)
        self._probs: list[float] = []
        self.samples = 0
        self._done = False

    def feed(self, samples: np.ndarray) -> None:
        if self._done:
            raise RuntimeError("SpeechProbabilities.feed after finish")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples += samples.size
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = data.size // WINDOW_SAMPLES * WINDOW_SAMPLES
        if whole:
            self._run(data[:whole])
        self._pending = np.array(data[whole:], dtype=np.float32)

    def finish(self) -> np.ndarray:
        if not self._done:
            if self._pending.size:
                last = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
                last[:self._pending.size] = self._pending
                self._run(last)
                self._pending = np.zeros(0, dtype=np.float32)
            self._done = True
        return np.asarray(self._probs, dtype=np.float64)

    def _run(self, data: np.ndarray) -> None:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
        with _torch_threads(1), torch.inference_mode():
            for start in range(0, tensor.numel(), WINDOW_SAMPLES):
                self._probs.append(float(self._model(tensor[start:start + WINDOW_SAMPLES], SAMPLE_RATE).item()))


def speech_probabilities(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """silero-vad's speech probability per 32 ms window of ``audio`` (converted to 16 kHz mono first)."""
    return _mono_16k_probabilities(to_mono_16k(audio, sample_rate)[0])


def _mono_16k_probabilities(samples: np.ndarray) -> np.ndarray:
    """speech_probabilities of samples already converted by to_mono_16k."""
    stream = SpeechProbabilities()
    stream.feed(samples)
    return stream.finish()


# ---------------------------------------------------------------- audio conversion


def conversion_note(info: AudioInfo) -> str | None:
    """What was done to the audio to make it 16 kHz mono, in words; None when nothing was."""
    steps = []
    if info.downmixed:
        steps.append(f"{info.original_channels} channels mixed to mono")
    if info.resampled:
        steps.append(f"resampled {info.original_sample_rate} Hz -> {SAMPLE_RATE} Hz")
    return "; ".join(steps) or None


def to_mono_16k(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
                source: str = "<array>") -> tuple[np.ndarray, AudioInfo]:
    """``audio`` as float32 mono 16 kHz in [-1, 1], with what was converted.

    Accepts 1-D samples or a 2-D (frames, channels) array (soundfile's layout), float in
    [-1, 1] or int16. The conversion itself is harness.data.audio.mono_16k, decode_audio's: channels
    averaged, the rate converted with soxr "HQ"; its AudioError comes back as a SegmentError.
    """
    array = np.asarray(audio)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise _error(source, f"sample rate must be a positive integer, got {sample_rate!r}")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise _error(source, f"expected 1-D samples or a (frames, channels) array, got shape {array.shape}")
    frames, channels = array.shape
    if frames == 0 or channels == 0:
        raise _error(source, "contains no audio samples")
    if channels > frames:
        raise _error(source, f"shape {array.shape} has more channels than frames: pass (frames, channels)")
    if array.dtype == np.int16:
        array = array.astype(np.float32) / 32768.0
    elif not np.issubdtype(array.dtype, np.floating):
        raise _error(source, f"expected float audio in [-1, 1] or int16, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    try:
        # Also checks for non-finite samples and for audio too short to resample.
        return mono_16k(array, int(sample_rate), source)
    except AudioError as err:
        raise SegmentError(one_line(err)) from err


def _open_sound(path: Path) -> sf.SoundFile:
    audio_seconds(path)  # the harness's checks and one-line errors: missing, empty, unreadable header
    try:
        return sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError, OSError) as err:
        raise AudioError(f"{path}: cannot decode audio ({libsndfile_reason(err)})") from err


def iter_file_audio(path: str | os.PathLike, block_seconds: float = DEFAULT_BLOCK_SECONDS,
                    info_out: list | None = None) -> Iterator[np.ndarray]:
    """Yield a file's audio as float32 mono 16 kHz blocks, reading ``block_seconds`` at a time.

    Memory stays bounded by the block size whatever the file's length; the resampler is a
    streaming one (soxr.ResampleStream), so block edges leave no seams. If ``info_out`` is a
    list, the file's AudioInfo is appended to it once the file has been read.
    """
    path = Path(path)
    if not (isinstance(block_seconds, (int, float)) and block_seconds > 0):
        raise _error(path, f"block_seconds must be positive, got {block_seconds!r}")
    with _open_sound(path) as sound:
        rate, channels = sound.samplerate, sound.channels
        if rate <= 0:
            raise AudioError(f"{path}: invalid sample rate {rate}")
        block = max(1, int(round(block_seconds * rate)))
        stream = None
        if rate != SAMPLE_RATE:
            stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        read = produced = 0
        while True:
            try:
                data = sound.read(block, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as err:
                raise AudioError(f"{path}: cannot decode audio ({libsndfile_reason(err)})") from err
            last = data.shape[0] < block
            if data.shape[0]:
                if not np.isfinite(data).all():
                    raise AudioError(f"{path}: contains non-finite samples (NaN or inf)")
                read += data.shape[0]
                mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
            else:
                mono = np.zeros(0, dtype=np.float32)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=last)
            if mono.size:
                produced += mono.size
                yield np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)
            if last:
                break
    if read == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if info_out is not None:
        info_out.append(AudioInfo(source=str(path), original_sample_rate=int(rate), original_channels=int(channels),
                                  resampled=stream is not None, downmixed=channels > 1,
                                  seconds=produced / SAMPLE_RATE))


def file_speech_probabilities(path: str | os.PathLike,
                              block_seconds: float = DEFAULT_BLOCK_SECONDS) -> tuple[np.ndarray, AudioInfo]:
    """silero-vad probabilities of a file read block by block, and how the file was converted."""
    stream = SpeechProbabilities()
    info: list[AudioInfo] = []
    for block in iter_file_audio(path, block_seconds, info):
        stream.feed(block)
    return stream.finish(), info[0]


# ---------------------------------------------------------------- the segmenters (on frames)


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred mean over ``width`` (odd) frames; the ends repeat the edge value."""
    if width <= 1 or values.size == 0:
        return values
    half = width // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    sums = np.cumsum(np.concatenate([[0.0], padded]))
    return (sums[width:] - sums[:-width]) / width


class _Speech:
    """Speech frames of a talk, with next/previous-speech indices so trimming is O(1)."""

    def __init__(self, probs: np.ndarray, threshold: float, smoothing_frames: int = 1) -> None:
        self.probs = probs
        self.split_score = _moving_average(probs, smoothing_frames)
        self.is_speech = probs > threshold
        count = probs.size
        index = np.arange(count)
        self.prev = np.maximum.accumulate(np.where(self.is_speech, index, -1)) if count else index
        nxt = np.where(self.is_speech, index, count)
        self.next = np.minimum.accumulate(nxt[::-1])[::-1] if count else index

    def trim(self, start: int, stop: int) -> tuple[int, int]:
        """[start, stop) shrunk to its first and last speech frame; (start, start) when it has none."""
        if stop <= start:
            return start, start
        first = int(self.next[start])
        if first >= stop:
            return start, start
        return first, int(self.prev[stop - 1]) + 1

    def regions(self, min_pause_frames: int) -> list[tuple[int, int]]:
        """Runs of speech frames; gaps shorter than min_pause_frames are bridged."""
        flags = np.concatenate([[False], self.is_speech, [False]])
        edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
        runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
        merged: list[tuple[int, int]] = []
        for start, stop in runs:
            if merged and start - merged[-1][1] < min_pause_frames:
                merged[-1] = (merged[-1][0], stop)
            else:
                merged.append((start, stop))
        return merged


def _dac(speech: _Speech, settings: SegmentSettings) -> list[tuple[int, int]]:
    """SHAS's probabilistic divide-and-conquer on frames (see the module docstring)."""
    max_f, min_f = settings.max_frames, settings.min_frames
    if settings.dac_start == "talk":
        roots = [speech.trim(0, speech.probs.size)]
    else:
        roots = speech.regions(settings.min_pause_frames)
    done: list[tuple[int, int]] = []
    # An explicit stack rather than recursion: an hours-long talk must not hit Python's limit.
    stack = [root for root in reversed(roots) if root[1] > root[0]]
    while stack:
        start, stop = stack.pop()
        if stop - start <= max_f:
            if stop - start >= min_f:
                done.append((start, stop))
            continue
        # Split frames that leave at least min frames on each side before trimming; the split
        # frame belongs to neither half (SHAS). Lowest (smoothed) probability first; among equal
        # ones (digital silence) the frame nearest the middle, for balanced halves.
        edge = max(min_f, 1)  # a half of no frames is no split at all
        cand = np.arange(start + edge, stop - edge)
        order = cand[np.lexsort((np.abs(2 * cand + 1 - (start + stop)), speech.split_score[cand]))]
        # Halves after trimming, for every candidate at once: the segment itself is trimmed,
        # so the left half starts at `start` and the right one ends at `stop`.
        left_len = speech.prev[order - 1] + 1 - start
        right_len = stop - speech.next[order + 1]
        fits = np.flatnonzero((left_len >= edge) & (right_len >= edge))
        # When no split keeps both halves, take the lowest frame anyway: the short half is
        # dropped below and counted as dropped speech (SHAS's strict mode does the same).
        split = int(order[fits[0]] if fits.size else order[0])
        halves = [speech.trim(split + 1, stop), speech.trim(start, split)]
        stack.extend(half for half in halves if half[1] > half[0])
    return sorted(done)


def _vad_only(speech: _Speech, settings: SegmentSettings) -> list[tuple[int, int]]:
    max_f, min_f = settings.max_frames, settings.min_frames
    out = []
    for start, stop in speech.regions(settings.min_pause_frames):
        length = stop - start
        if length < min_f:
            continue
        parts = -(-length // max_f)  # ceil: equal parts, none longer than max
        bounds = [start + (length * i) // parts for i in range(parts + 1)]
        out += list(zip(bounds[:-1], bounds[1:]))
    return out


def _fixed(samples: int, speech: _Speech, settings: SegmentSettings) -> list[tuple[int, int]]:
    """Windows in samples (not frames): consecutive max_seconds windows from the start."""
    window = int(round(settings.max_seconds * SAMPLE_RATE))
    minimum = int(round(settings.min_seconds * SAMPLE_RATE))
    bounds = list(range(0, samples, window)) + [samples]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < minimum:
        # A short tail shares the last window: two halves, each under max.
        bounds[-2] = (bounds[-3] + bounds[-1]) // 2
    pieces = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= max(minimum, 1)]
    # A window without any speech frame (its midpoint inside the window) would only feed the
    # model silence, a known cause of hallucinated output.
    mids = np.flatnonzero(speech.is_speech) * WINDOW_SAMPLES + WINDOW_SAMPLES // 2
    return [(a, b) for a, b in pieces if np.searchsorted(mids, b) > np.searchsorted(mids, a)]


def _frames_to_segments(spans: Sequence[tuple[int, int]], samples: int) -> list[Segment]:
    out = []
    for start, stop in spans:
        a = min(start * WINDOW_SAMPLES, samples)
        b = min(stop * WINDOW_SAMPLES, samples)  # the last window may run past the audio (zero-padded)
        if b > a:
            out.append(Segment(round(a / SAMPLE_RATE, 6), round((b - a) / SAMPLE_RATE, 6)))
    return out


def _samples_to_segments(spans: Sequence[tuple[int, int]]) -> list[Segment]:
    return [Segment(round(a / SAMPLE_RATE, 6), round((b - a) / SAMPLE_RATE, 6)) for a, b in spans]


def _check_method(method: str, where: str = "segment") -> None:
    if method not in METHOD_NAMES:
        raise _error(where, f"unknown segmentation method {method!r}; known: {', '.join(METHOD_NAMES)}")


def check_segments(segments: Sequence, seconds: float, where: str = "segments") -> list[Segment]:
    """``segments`` ((offset, duration) pairs or Segments) checked against audio of ``seconds``.

    Raises SegmentError (one line) for a non-number, a negative offset, a duration that is
    not positive, or a segment that ends beyond the audio (10 ms slack, IWSLT's rounding).
    """
    # Imported here, as elsewhere in this module: harness.data.testsets imports datasets (about 1 s).
    from harness.data.testsets import SEGMENT_SLACK_SECONDS

    checked = []
    for index, item in enumerate(segments):
        at = f"{where} segment {index + 1}"
        try:
            pair = (item.offset, item.duration) if isinstance(item, Segment) else item
            offset, duration = (float(x) for x in pair)
        except (TypeError, ValueError) as err:
            raise _error(at, f"expected (offset, duration) numbers, got {item!r}") from err
        if not (math.isfinite(offset) and math.isfinite(duration)):
            raise _error(at, f"offset and duration must be finite, got ({offset}, {duration})")
        if offset < 0:
            raise _error(at, f"negative offset {offset}")
        if duration <= 0:
            raise _error(at, f"duration must be positive, got {duration}")
        if offset + duration > seconds + SEGMENT_SLACK_SECONDS:
            raise _error(at, f"offset {offset} + duration {duration} ends at {offset + duration:.3f} s, "
                             f"beyond the audio ({seconds:.3f} s)")
        checked.append(Segment(offset, duration))
    return checked


def segment_probabilities(probs: np.ndarray, samples: int, method: str = "dac",
                          settings: SegmentSettings | None = None, *,
                          gold: Sequence | None = None, where: str = "<audio>") -> list[Segment]:
    """The segments of a talk of ``samples`` 16 kHz samples whose silero probabilities are ``probs``.

    The pure core of every segmenter: no audio needed, so it is cheap to test and to rerun
    with other settings on probabilities computed once.
    """
    settings = settings or SegmentSettings()
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    expected = -(-samples // WINDOW_SAMPLES)
    if probs.size != expected:
        raise _error(where, f"{probs.size} probabilities for {samples} samples (expected {expected})")
    if method == "gold":
        if gold is None:
            raise _error(where, "method 'gold' needs the reference segments")
        return check_segments(gold, samples / SAMPLE_RATE, where)
    _check_method(method, where)
    speech = _Speech(probs, settings.threshold, settings.smoothing_frames if method == "dac" else 1)
    if method == "fixed":
        return _samples_to_segments(_fixed(samples, speech, settings))
    segments = _frames_to_segments(_FRAME_SEGMENTERS[method](speech, settings), samples)
    # A segment ending in the zero-padded last window is shorter than its frames: check again.
    return [s for s in segments if s.duration >= settings.min_seconds - 1e-9]


# The methods that segment frames ("fixed" works in samples and "gold" reads its input: both return earlier).
_FRAME_SEGMENTERS = {"dac": _dac, "vad": _vad_only}


# ---------------------------------------------------------------- results


def _covered_speech_frames(probs: np.ndarray, threshold: float, segments: Sequence[Segment]) -> tuple[int, int]:
    """(speech frames, speech frames whose midpoint lies in no segment)."""
    speech = np.flatnonzero(probs > threshold)
    if speech.size == 0:
        return 0, 0
    mids = (speech * WINDOW_SAMPLES + WINDOW_SAMPLES / 2) / SAMPLE_RATE
    inside = np.zeros(speech.size, dtype=bool)
    for seg in segments:
        lo, hi = np.searchsorted(mids, [seg.offset, seg.end])
        inside[lo:hi] = True
    return int(speech.size), int((~inside).sum())


@dataclass(frozen=True)
class TalkSegmentation:
    """One talk's segments and what it took to get them."""

    talk_id: str
    source: str
    seconds: float                     # the talk's length after conversion
    segments: tuple[Segment, ...]
    speech_frames: int                 # frames with probability above the threshold
    dropped_speech_frames: int         # of those, frames outside every segment
    conversion: str | None = None      # e.g. "2 channels mixed to mono; resampled 8000 Hz -> 16000 Hz"
    note: str | None = None            # e.g. "no speech found: no segments"
    references: int | None = None      # reference (gold) segments of the talk, when known
    references_cut: int | None = None  # of those, how many a boundary of these segments falls inside

    @property
    def speech_seconds(self) -> float:
        return self.speech_frames * FRAME_SECONDS

    @property
    def dropped_speech_share(self) -> float | None:
        return None if self.speech_frames == 0 else self.dropped_speech_frames / self.speech_frames

    def as_dict(self) -> dict:
        return {"talk_id": self.talk_id, "source": self.source, "seconds": round(self.seconds, 6),
                "speech_seconds": round(self.speech_seconds, 6), "dropped_speech_share": self.dropped_speech_share,
                "conversion": self.conversion, "note": self.note,
                "references": self.references, "references_cut": self.references_cut,
                "segments": [[s.offset, s.duration] for s in self.segments]}


def _length_stats(lengths: Sequence[float]) -> dict:
    if not lengths:
        return {"segments": 0, "mean_seconds": None, "min_seconds": None, "max_seconds": None, "total_seconds": 0.0}
    return {"segments": len(lengths), "mean_seconds": float(np.mean(lengths)), "min_seconds": float(min(lengths)),
            "max_seconds": float(max(lengths)), "total_seconds": float(sum(lengths))}


@dataclass(frozen=True)
class SegmentationResult:
    """A whole set's segmentation by one method and settings."""

    method: str
    settings: SegmentSettings
    talks: tuple[TalkSegmentation, ...]
    set_name: str | None = None
    wall_seconds: float | None = None
    extra: dict = field(default_factory=dict)

    def segments(self, talk_id: str) -> list[Segment]:
        for talk in self.talks:
            if talk.talk_id == talk_id:
                return list(talk.segments)
        raise KeyError(talk_id)

    def stats(self) -> dict:
        """Counts and lengths of the segments, the audio and speech seconds, the share of speech dropped."""
        lengths = [s.duration for talk in self.talks for s in talk.segments]
        speech = sum(t.speech_frames for t in self.talks)
        dropped = sum(t.dropped_speech_frames for t in self.talks)
        return {"method": self.method, "talks": len(self.talks), **_length_stats(lengths),
                "audio_seconds": float(sum(t.seconds for t in self.talks)),
                "speech_seconds": speech * FRAME_SECONDS,
                "dropped_speech_share": None if speech == 0 else dropped / speech,
                "references": None if any(t.references is None for t in self.talks)
                else sum(t.references for t in self.talks),
                "references_cut": None if any(t.references_cut is None for t in self.talks)
                else sum(t.references_cut for t in self.talks),
                "talks_without_segments": [t.talk_id for t in self.talks if not t.segments],
                "conversions": [f"{t.talk_id}: {t.conversion}" for t in self.talks if t.conversion],
                "notes": [f"{t.talk_id}: {t.note}" for t in self.talks if t.note],
                "wall_seconds": self.wall_seconds}

    def as_dict(self) -> dict:
        return {"method": self.method, "set": self.set_name, "settings": asdict(self.settings),
                "frame_seconds": FRAME_SECONDS, "vad": _vad_version(), **self.extra,
                "stats": self.stats(), "talks": [t.as_dict() for t in self.talks]}

    def yaml_entries(self) -> list[dict]:
        """The segmentation as IWSLT segments.yaml entries ({wav, offset, duration, speaker_id})."""
        return [{"wav": Path(t.source).name, "offset": s.offset, "duration": s.duration, "speaker_id": t.talk_id}
                for t in self.talks for s in t.segments]


def _vad_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"silero-vad {version('silero-vad')}"
    except PackageNotFoundError:
        return "silero-vad (version unknown)"


def references_cut(segments: Sequence[Segment], references: Sequence, tolerance: float = 0.3) -> int:
    """How many reference segments have a boundary of ``segments`` inside them.

    A boundary closer than ``tolerance`` seconds to a reference's own start or end does not
    count: the VAD's speech edges and a reference's edges differ by a frame or two. A
    translation model sees a cut reference sentence as two fragments, so this is a cheap
    proxy for segmentation quality that needs no model (0 for the gold segmentation).
    """
    pairs = np.array([(r.offset, r.duration) if isinstance(r, Segment) else tuple(r) for r in references],
                     dtype=np.float64).reshape(-1, 2)
    if not len(segments) or not len(pairs):
        return 0
    starts, ends = pairs[:, 0], pairs[:, 0] + pairs[:, 1]
    bounds = np.array([b for seg in segments for b in (seg.offset, seg.end)])
    inside = (starts[None, :] + tolerance < bounds[:, None]) & (bounds[:, None] < ends[None, :] - tolerance)
    return int(inside.any(axis=0).sum())


def _talk_result(talk_id: str, source: str, probs: np.ndarray, samples: int, method: str,
                 settings: SegmentSettings, gold: Sequence | None, conversion: str | None,
                 references: Sequence | None = None) -> TalkSegmentation:
    segments = segment_probabilities(probs, samples, method, settings, gold=gold, where=source)
    speech, dropped = _covered_speech_frames(probs, settings.threshold, segments)
    note = None
    if not segments:
        note = "no speech found: no segments" if speech == 0 else "no segment passed the length limits"
    refs = references if references is not None else gold
    return TalkSegmentation(talk_id=talk_id, source=source, seconds=samples / SAMPLE_RATE, segments=tuple(segments),
                            speech_frames=speech, dropped_speech_frames=dropped, conversion=conversion, note=note,
                            references=None if refs is None else len(refs),
                            references_cut=None if refs is None else references_cut(segments, refs))


# ---------------------------------------------------------------- public entry points


def segment_audio(audio: np.ndarray, method: str = "dac", settings: SegmentSettings | None = None, *,
                  sample_rate: int = SAMPLE_RATE, gold: Sequence | None = None,
                  talk_id: str = "talk", source: str = "<array>") -> TalkSegmentation:
    """Segment in-memory audio (any rate, mono or (frames, channels)); the conversion is reported."""
    settings = settings or SegmentSettings()
    _check_method(method, source)
    samples, info = to_mono_16k(audio, sample_rate, source=source)
    probs = _mono_16k_probabilities(samples)
    return _talk_result(talk_id, source, probs, samples.size, method, settings, gold, conversion_note(info))


def segment_talk(audio: np.ndarray, method: str = "dac", settings: SegmentSettings | None = None, *,
                 sample_rate: int = SAMPLE_RATE, gold: Sequence | None = None) -> list[Segment]:
    """The segments of in-memory audio; an empty list when it has no speech."""
    return list(segment_audio(audio, method, settings, sample_rate=sample_rate, gold=gold).segments)


def segment_file(path: str | os.PathLike, method: str = "dac", settings: SegmentSettings | None = None, *,
                 gold: Sequence | None = None, block_seconds: float = DEFAULT_BLOCK_SECONDS,
                 talk_id: str | None = None) -> TalkSegmentation:
    """Segment an audio file read in blocks of ``block_seconds`` (bounded memory for any length)."""
    settings = settings or SegmentSettings()
    path = Path(path)
    _check_method(method, str(path))
    probs, info = file_speech_probabilities(path, block_seconds)
    samples = int(round(info.seconds * SAMPLE_RATE))
    return _talk_result(talk_id or path.stem, str(path), probs, samples, method, settings, gold,
                        conversion_note(info))


def segment_set(longform_set, method: str = "dac", settings: SegmentSettings | None = None, *,
                block_seconds: float = DEFAULT_BLOCK_SECONDS, progress: bool = True) -> SegmentationResult:
    """Segment every talk of a LongFormSet (harness.data.testsets); "gold" takes the set's segments.yaml."""
    return segment_set_methods(longform_set, (method,), settings, block_seconds=block_seconds,
                               progress=progress)[method]


def segment_set_methods(longform_set, methods: Sequence[str] = METHOD_NAMES, settings: SegmentSettings | None = None,
                        *, block_seconds: float = DEFAULT_BLOCK_SECONDS,
                        progress: bool = True) -> dict[str, SegmentationResult]:
    """Several methods on one set, running the VAD over each talk once.

    Each result's ``wall_seconds`` is the shared VAD time plus that method's own time, i.e.
    what running the method alone would cost; ``extra`` splits the two.
    """
    from tqdm.auto import tqdm

    settings = settings or SegmentSettings()
    for method in methods:
        _check_method(method, getattr(longform_set, "name", "segment"))
    talks: dict[str, list[TalkSegmentation]] = {method: [] for method in methods}
    own = dict.fromkeys(methods, 0.0)
    vad_seconds = 0.0
    for talk in tqdm(longform_set.talks, desc="segment", unit="talk", disable=not progress):
        began = time.perf_counter()
        probs, info = file_speech_probabilities(talk.wav_path, block_seconds)
        vad_seconds += time.perf_counter() - began
        samples = int(round(info.seconds * SAMPLE_RATE))
        for method in methods:
            began = time.perf_counter()
            gold = talk.segments if method == "gold" else None
            talks[method].append(_talk_result(talk.talk_id, str(talk.wav_path), probs, samples, method, settings,
                                              gold, conversion_note(info), references=talk.segments))
            own[method] += time.perf_counter() - began
    return {method: SegmentationResult(method=method, settings=settings, talks=tuple(talks[method]),
                                       set_name=getattr(longform_set, "name", None),
                                       wall_seconds=vad_seconds + own[method],
                                       extra={"vad_seconds": vad_seconds, "method_seconds": own[method]})
            for method in methods}


def read_segment_file(segments_yaml: str | os.PathLike,
                      audio_dir: str | os.PathLike | None = None) -> dict[str, list[Segment]]:
    """An IWSLT segments.yaml as {wav name: segments}, each checked against its audio in ``audio_dir``.

    ``audio_dir`` defaults to the ``wav/`` folder beside the file (the harness's long-form layout).
    Any mismatch (offset beyond the audio's end, a negative or zero duration, a missing wav)
    is a one-line SegmentError.
    """
    from harness.data.testsets import TestSetError, read_segments_yaml

    path = Path(segments_yaml)
    folder = Path(audio_dir) if audio_dir is not None else path.parent / "wav"
    try:
        entries = read_segments_yaml(path)
    except TestSetError as err:
        raise SegmentError(one_line(err)) from err
    by_wav: dict[str, list[tuple[float, float]]] = {}
    for entry in entries:
        by_wav.setdefault(entry["wav"], []).append((entry["offset"], entry["duration"]))
    out = {}
    for wav, pairs in by_wav.items():
        try:
            seconds = audio_seconds(folder / wav)
        except AudioError as err:
            raise SegmentError(one_line(f"{path}: {err}")) from err
        out[wav] = check_segments(pairs, seconds, f"{path} ({wav})")
    return out


def cut(audio: np.ndarray, segments: Sequence[Segment]) -> list[np.ndarray]:
    """The pieces of 16 kHz mono ``audio`` that ``segments`` name (views, not copies)."""
    audio = np.asarray(audio)
    segments = check_segments(segments, audio.shape[0] / SAMPLE_RATE, "cut")
    pieces = []
    for seg in segments:
        start = int(round(seg.offset * SAMPLE_RATE))
        stop = min(int(round(seg.end * SAMPLE_RATE)), audio.shape[0])
        pieces.append(audio[start:stop])
    return pieces


def iter_file_segments(path: str | os.PathLike, segments: Sequence[Segment]) -> Iterator[np.ndarray]:
    """Each segment of a file as float32 mono 16 kHz, reading only that segment from disk.

    The bounded-memory counterpart of ``cut`` for decoding a long talk: each piece is read
    with a seek and converted on its own (a resampled piece may differ from the same span of
    the whole resampled file by the resampler's edge ringing, a few samples at each end).
    """
    path = Path(path)
    with _open_sound(path) as sound:
        rate, total = sound.samplerate, sound.frames
        segments = check_segments(segments, total / rate, str(path))
        for seg in segments:
            start = int(round(seg.offset * rate))
            stop = min(int(round(seg.end * rate)), total)
            sound.seek(start)
            data = sound.read(stop - start, dtype="float32", always_2d=True)
            yield to_mono_16k(data, rate, source=str(path))[0]


# ---------------------------------------------------------------- command line


SUMMARY_HEADER = (f"{'method':<6} {'segs':>5} {'mean s':>7} {'min s':>6} {'max s':>6} {'total s':>8} "
                  f"{'dropped':>8} {'refs cut':>9} {'wall s':>7}")


def _summary_line(stats: Mapping) -> str:
    def num(value, spec=".2f"):
        return "-" if value is None else format(value, spec)

    dropped = stats["dropped_speech_share"]
    refs = "-" if stats["references"] is None else f"{stats['references_cut']}/{stats['references']}"
    return (f"{stats['method']:<6} {stats['segments']:>5} {num(stats['mean_seconds']):>7} "
            f"{num(stats['min_seconds']):>6} {num(stats['max_seconds']):>6} {num(stats['total_seconds'], '.1f'):>8} "
            f"{'-' if dropped is None else f'{100 * dropped:.2f}%':>8} {refs:>9} {num(stats['wall_seconds']):>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.segmentation.segment",
                                     description="Segment a long-form test set (SHAS-style DAC over silero-vad).")
    parser.add_argument("testset", help="a long-form set folder (segments.yaml, wav/)")
    parser.add_argument("--method", default="dac", choices=[*METHOD_NAMES, "all"])
    parser.add_argument("--track", default="mini",
                        help="max seconds is capped at this track's model window (default mini)")
    parser.add_argument("--max-seconds", type=float)
    parser.add_argument("--min-seconds", type=float)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--min-pause-seconds", type=float)
    parser.add_argument("--dac-start", choices=["talk", "regions"])
    parser.add_argument("--split-smoothing-seconds", type=float)
    parser.add_argument("--json", help="write every result (settings, stats, segments) to this JSON file")
    parser.add_argument("--yaml", help="write the (single) method's segmentation as an IWSLT segments.yaml")
    args = parser.parse_args(argv)
    from harness.data.testsets import LongFormSet, load_testset, segments_yaml_text

    overrides = {key: value for key, value in (("max_seconds", args.max_seconds), ("min_seconds", args.min_seconds),
                                               ("threshold", args.threshold),
                                               ("min_pause_seconds", args.min_pause_seconds),
                                               ("dac_start", args.dac_start),
                                               ("split_smoothing_seconds", args.split_smoothing_seconds))
                 if value is not None}
    try:
        settings = settings_for_track(args.track, **overrides)
        testset = load_testset(args.testset, verify=False)
        if not isinstance(testset, LongFormSet):
            raise SegmentError(f"{args.testset}: not a long-form set (kind {testset.manifest['kind']!r})")
        methods = METHOD_NAMES if args.method == "all" else (args.method,)
        if args.yaml and len(methods) != 1:
            raise SegmentError("--yaml needs a single --method")
        results = list(segment_set_methods(testset, methods, settings).values())
    except (ValueError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 1
    print(f"{testset.name}: {len(testset)} talks; {settings}")
    print(SUMMARY_HEADER)
    for result in results:
        stats = result.stats()
        print(_summary_line(stats))
        for line in stats["conversions"] + stats["notes"]:
            print(f"  {line}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in results], indent=1) + "\n", encoding="utf-8")
    if args.yaml:
        Path(args.yaml).write_text(segments_yaml_text(results[0].yaml_entries()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
