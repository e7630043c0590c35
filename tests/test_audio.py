"""harness.data.audio: decoding to 16 kHz mono, one-line errors, FLAC/WAV writing."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.data.audio import (
    SAMPLE_RATE,
    AudioError,
    audio_seconds,
    decode_audio,
    encode_flac,
    write_wav,
)

REPO = Path(__file__).resolve().parents[1]
STEP = 1.0 / 32768  # one 16-bit quantization step


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1.0 / rate)[np.argmax(spectrum)])


def to_bytes(audio: np.ndarray, rate: int, fmt: str, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def test_wav_16k_mono_round_trip(tmp_path):
    audio = tone(440, 1.0, SAMPLE_RATE)
    path = tmp_path / "a.wav"
    write_wav(path, audio)
    decoded, info = decode_audio(path)
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert len(decoded) == len(audio)
    assert np.max(np.abs(decoded - audio)) <= STEP
    assert info.source == str(path)
    assert (info.original_sample_rate, info.original_channels) == (16_000, 1)
    assert not info.resampled and not info.downmixed
    assert info.seconds == pytest.approx(1.0)
    assert sf.info(str(path)).subtype == "PCM_16"


def test_stereo_44k1_is_downmixed_and_resampled():
    left, right = tone(440, 2.0, 44_100, 0.8), tone(440, 2.0, 44_100, 0.2)
    data = to_bytes(np.stack([left, right], axis=1), 44_100, "WAV", "FLOAT")
    decoded, info = decode_audio(data, source="talk-3.wav")
    assert decoded.dtype == np.float32
    assert (info.original_sample_rate, info.original_channels) == (44_100, 2)
    assert info.resampled and info.downmixed
    assert info.source == "talk-3.wav"
    assert len(decoded) == pytest.approx(2.0 * SAMPLE_RATE, abs=2)
    assert info.seconds == pytest.approx(2.0, abs=1e-3)
    # Averaging the channels gives amplitude (0.8 + 0.2) / 2 = 0.5.
    middle = decoded[1000:-1000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert dominant_frequency(decoded, SAMPLE_RATE) == pytest.approx(440, abs=1)


def test_8k_input_is_upsampled():
    data = to_bytes(tone(300, 1.5, 8_000), 8_000, "WAV")
    decoded, info = decode_audio(data)
    assert info.source == "<bytes>"
    assert info.original_sample_rate == 8_000 and info.resampled and not info.downmixed
    assert len(decoded) == pytest.approx(1.5 * SAMPLE_RATE, abs=2)
    assert dominant_frequency(decoded, SAMPLE_RATE) == pytest.approx(300, abs=1)
    assert np.sqrt(np.mean(decoded[500:-500] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-2)


def test_flac_bytes_decode():
    audio = tone(1000, 0.5, SAMPLE_RATE)
    decoded, info = decode_audio(encode_flac(audio))
    assert info.original_sample_rate == SAMPLE_RATE and not info.resampled
    assert np.max(np.abs(decoded - audio)) <= STEP


def test_output_is_clipped_to_full_scale():
    loud = tone(200, 0.5, SAMPLE_RATE, amplitude=1.5)
    decoded, _ = decode_audio(to_bytes(loud, SAMPLE_RATE, "WAV", "FLOAT"))
    assert np.max(np.abs(decoded)) <= 1.0


def _zero_length_wav(tmp_path: Path) -> Path:
    path = tmp_path / "empty-frames.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return path


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    return path


def _nan_wav(tmp_path: Path) -> Path:
    path = tmp_path / "nan.wav"
    audio = tone(100, 0.1, SAMPLE_RATE)
    audio[10] = np.nan
    sf.write(str(path), audio, SAMPLE_RATE, format="WAV", subtype="FLOAT")
    return path


# (make the input from tmp_path, source=, expected start of the message, reason in the message)
BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "missing.wav", None, "{tmp}/missing.wav: ", "file not found"),
    "directory": (lambda tmp: tmp, None, "{tmp}: ", "not a regular file"),
    "empty-bytes": (lambda tmp: b"", "clip-1.flac", "clip-1.flac: ", "empty audio data"),
    "garbage": (lambda tmp: b"this is not audio\nat all" * 20, "clip-2.wav", "clip-2.wav: ", "cannot decode"),
    "truncated-header": (lambda tmp: b"RIFF\x00\x00", None, "<bytes>: ", "cannot decode"),
    "empty-file": (_empty_file, None, "{tmp}/zero.wav: ", "empty file"),
    "zero-length-wav": (_zero_length_wav, None, "{tmp}/empty-frames.wav: ", "no audio samples"),
    "nan": (_nan_wav, None, "{tmp}/nan.wav: ", "non-finite"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_one_line_audio_error(tmp_path, case):
    make_input, source, prefix, reason = BAD_INPUTS[case]
    with pytest.raises(AudioError) as caught:
        decode_audio(make_input(tmp_path), source=source)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(prefix.format(tmp=tmp_path)), message
    assert reason in message
    assert isinstance(caught.value, ValueError)


def test_encode_flac_deterministic_and_round_trip():
    rng = np.random.default_rng(3)
    audio = (0.3 * np.sin(np.arange(32_000) * 0.03) + rng.normal(0, 0.05, 32_000)).astype(np.float32)
    first, second = encode_flac(audio), encode_flac(audio.copy())
    assert first == second
    assert first[:4] == b"fLaC"
    decoded, rate = sf.read(io.BytesIO(first), dtype="float32")
    assert rate == SAMPLE_RATE and sf.info(io.BytesIO(first)).subtype == "PCM_16"
    assert np.max(np.abs(decoded - audio)) <= STEP / 2 + 1e-9


def test_encode_flac_identical_across_processes():
    audio = (0.4 * np.sin(np.arange(24_000) * 0.07)).astype(np.float32)
    here = hashlib.sha256(encode_flac(audio, 22_050)).hexdigest()
    code = (
        "import hashlib, numpy as np; from harness.data.audio import encode_flac;"
        "a = (0.4 * np.sin(np.arange(24_000) * 0.07)).astype(np.float32);"
        "print(hashlib.sha256(encode_flac(a, 22_050)).hexdigest())"
    )
    there = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here


def test_encode_flac_clips_and_rejects_bad_input():
    decoded, _ = decode_audio(encode_flac(np.array([2.0, -2.0, 0.0] * 100, dtype=np.float32)))
    assert decoded.max() <= 1.0 and decoded.min() == -1.0
    for bad in (np.zeros(0, np.float32), np.zeros((10, 2), np.float32), np.array([np.nan, 0.0])):
        with pytest.raises(AudioError):
            encode_flac(bad)
    with pytest.raises(AudioError):
        encode_flac(np.zeros(10, np.float32), sample_rate=0)


def test_write_wav_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "x.wav"
    write_wav(path, tone(300, 0.2, SAMPLE_RATE))
    original = path.read_bytes()
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)

    def broken_write(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(RuntimeError):
        write_wav(path, tone(500, 0.2, SAMPLE_RATE))
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.wav"]


def test_write_wav_overwrites_and_records_rate(tmp_path):
    path = tmp_path / "x.wav"
    write_wav(path, tone(300, 0.2, SAMPLE_RATE))
    write_wav(path, tone(300, 0.5, 8_000), sample_rate=8_000)
    info = sf.info(str(path))
    assert (info.samplerate, info.frames, info.subtype) == (8_000, 4_000, "PCM_16")


def test_audio_seconds_from_header(tmp_path):
    path = tmp_path / "x.wav"
    write_wav(path, tone(300, 1.25, SAMPLE_RATE))
    assert audio_seconds(path) == pytest.approx(1.25)
    assert audio_seconds(str(path)) == pytest.approx(1.25)
    assert audio_seconds(encode_flac(tone(300, 0.75, 22_050), 22_050)) == pytest.approx(0.75, abs=1e-4)
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        audio_seconds(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="cannot read audio header"):
        audio_seconds(b"garbage bytes that are not audio")
