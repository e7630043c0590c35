"""Audio input and output for the whole harness.

Every consumer of audio (test-set loaders, decoding, segmentation, the mini
world generator) goes through this module, so that all of them see the same
signal: float32 mono at 16 kHz in [-1, 1], which is what Qwen2-Audio's
feature extractor (Whisper front end) expects.

- Decoding uses libsndfile through soundfile (WAV, FLAC, OGG/Vorbis, and MP3 from
  libsndfile 1.1 on: Common Voice's clips); ``decode_audio_span`` reads one span of a
  long recording without decoding the rest (Europarl-ST's segments).
- Resampling uses soxr at "HQ" quality; downmixing averages the channels.
- Writing uses 16-bit PCM. FLAC bytes are deterministic for the same input
  (libsndfile writes its vendor string and the stream MD5, no timestamps), so
  generated test sets hash the same on every machine with the same libsndfile.

Every failure to read audio is an ``AudioError`` whose message is one line
that starts with the file name (or the given source name for in-memory data).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from harness.errors import HarnessError, one_line
from harness.files import atomic_file

SAMPLE_RATE = 16_000

# int16 <-> float uses 2**15, the same scale libsndfile uses when it reads
# PCM_16 as float, so a write/read round trip is off by at most half a step.
_INT16_SCALE = 32768.0


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, before any threads exist.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class AudioError(HarnessError, ValueError):
    """Audio that cannot be read or written; the message names the source."""


@dataclass(frozen=True)
class AudioInfo:
    source: str
    original_sample_rate: int
    original_channels: int
    resampled: bool
    downmixed: bool
    seconds: float


def libsndfile_reason(err: Exception) -> str:
    # LibsndfileError.error_string is libsndfile's own text ("Format not
    # recognised."); str(err) repeats the file object's repr around it.
    return one_line(getattr(err, "error_string", None) or err).rstrip(".")


def _source_name(data: bytes | str | os.PathLike, source: str | None) -> str:
    if source is not None:
        return source
    if isinstance(data, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return os.fspath(data)


def _open_target(data: bytes | str | os.PathLike, name: str):
    """Return something soundfile can open, or raise AudioError for bad input."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise AudioError(f"{name}: empty audio data (0 bytes)")
        return io.BytesIO(bytes(data))
    if not isinstance(data, (str, os.PathLike)):
        raise AudioError(f"{name}: expected bytes or a file path, got {type(data).__name__}")
    path = os.fspath(data)
    if not os.path.exists(path):
        raise AudioError(f"{name}: file not found")
    if not os.path.isfile(path):
        raise AudioError(f"{name}: not a regular file")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{name}: empty file (0 bytes)")
    return path


def decode_audio(
    data: bytes | str | os.PathLike, *, source: str | None = None
) -> tuple[np.ndarray, AudioInfo]:
    """Decode WAV/FLAC/OGG bytes or a file into float32 mono 16 kHz in [-1, 1].

    ``source`` names the audio in error messages and in the returned info
    (defaults to the path, or ``<bytes>`` for in-memory data).
    """
    name = _source_name(data, source)
    target = _open_target(data, name)
    try:
        samples, rate = sf.read(target, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{name}: cannot decode audio ({libsndfile_reason(err)})") from err
    except OSError as err:
        raise AudioError(f"{name}: cannot read file ({one_line(err.strerror or err)})") from err
    return mono_16k(samples, rate, name)


def decode_audio_span(
    path: str | os.PathLike, start: float, end: float, *, source: str | None = None
) -> tuple[np.ndarray, AudioInfo]:
    """Decode seconds [start, end) of an audio file into float32 mono 16 kHz, as decode_audio does.

    Only that span is read (a seek, then a read), so cutting sentence segments out of an
    hour-long recording (Europarl-ST) never decodes the whole recording. An end past the
    end of the file is clamped to it (segment lists round their times); a span that starts
    at or after the end, or is empty, is an AudioError.
    """
    name = _source_name(path, source)
    target = _open_target(path, name)
    if isinstance(target, io.BytesIO):
        raise AudioError(f"{name}: decode_audio_span reads a file, not bytes")
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
        raise AudioError(f"{name}: bad span {start!r}-{end!r} s (needs 0 <= start < end)")
    try:
        with sf.SoundFile(target) as handle:
            rate, length = handle.samplerate, handle.frames
            first = int(round(start * rate))
            last = min(int(round(end * rate)), length)
            if first >= last:
                raise AudioError(f"{name}: span {start:.3f}-{end:.3f} s is outside the audio "
                                 f"({length / rate:.3f} s long)")
            handle.seek(first)
            samples = handle.read(last - first, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as err:
        if isinstance(err, AudioError):
            raise
        raise AudioError(f"{name}: cannot decode audio ({libsndfile_reason(err)})") from err
    except OSError as err:
        raise AudioError(f"{name}: cannot read file ({one_line(err.strerror or err)})") from err
    return mono_16k(samples, rate, name)


def mono_16k(samples: np.ndarray, rate: int, name: str) -> tuple[np.ndarray, AudioInfo]:
    """(frames, channels) float samples at ``rate`` -> float32 mono 16 kHz in [-1, 1], checked."""
    frames, channels = samples.shape
    if frames == 0 or channels == 0:
        raise AudioError(f"{name}: contains no audio samples")
    if rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {rate}")
    if not np.isfinite(samples).all():
        raise AudioError(f"{name}: contains non-finite samples (NaN or inf)")

    mono = samples.mean(axis=1, dtype=np.float32) if channels > 1 else samples[:, 0]
    resampled = rate != SAMPLE_RATE
    if resampled:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
        if len(mono) == 0:
            raise AudioError(f"{name}: too short to resample ({frames} samples at {rate} Hz)")
    # Float files may exceed full scale, and resampling rings past it near clipped peaks.
    audio = np.ascontiguousarray(np.clip(mono, -1.0, 1.0), dtype=np.float32)
    info = AudioInfo(
        source=name,
        original_sample_rate=int(rate),
        original_channels=int(channels),
        resampled=resampled,
        downmixed=channels > 1,
        seconds=len(audio) / SAMPLE_RATE,
    )
    return audio, info


def _to_int16(audio: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(audio)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise AudioError(f"{what}: expected mono audio (1-D array), got shape {array.shape}")
    if array.size == 0:
        raise AudioError(f"{what}: no audio samples to write")
    if array.dtype == np.int16:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioError(f"{what}: expected float audio in [-1, 1], got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise AudioError(f"{what}: audio contains non-finite samples (NaN or inf)")
    scaled = np.rint(array.astype(np.float64) * _INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def _check_rate(sample_rate: int, what: str) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"{what}: sample rate must be a positive integer, got {sample_rate!r}")
    return int(sample_rate)


def encode_flac(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono audio (float in [-1, 1], or int16) as 16-bit PCM FLAC bytes.

    Samples beyond full scale are clipped. The same input gives the same bytes
    in every process.
    """
    rate = _check_rate(sample_rate, "<flac>")
    pcm = _to_int16(audio, "<flac>")
    buffer = io.BytesIO()
    sf.write(buffer, pcm, rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono audio as a 16-bit PCM WAV file, atomically.

    The data goes to a temporary file in the target directory, which then
    replaces ``path``: a crash never leaves a half-written file under that name.
    """
    target = Path(path)
    rate = _check_rate(sample_rate, str(target))
    pcm = _to_int16(audio, str(target))
    try:
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        with atomic_file(target, binary=True, fsync=False, permissions=0o666 & ~_UMASK) as stream:
            sf.write(stream, pcm, rate, format="WAV", subtype="PCM_16")
    except OSError as err:
        raise AudioError(f"{target}: cannot write file ({one_line(err.strerror or err)})") from err


def audio_seconds(data: bytes | str | os.PathLike) -> float:
    """Duration in seconds read from the header only (no decoding of samples)."""
    name = _source_name(data, None)
    target = _open_target(data, name)
    try:
        info = sf.info(target)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{name}: cannot read audio header ({libsndfile_reason(err)})") from err
    except OSError as err:
        raise AudioError(f"{name}: cannot read file ({one_line(err.strerror or err)})") from err
    if info.samplerate <= 0:
        raise AudioError(f"{name}: invalid sample rate {info.samplerate}")
    return info.frames / info.samplerate
