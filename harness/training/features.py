"""Log-mel features for training: computed once per set and feature extractor, read per batch.

Every clip's log-mel features are padded to the full window (the encoder accepts no
other length), as ``harness.inference.decode.prepare_batch`` computes them; a ``FeatureStore``
holds them with each clip's real frame count (the feature attention mask's sum).
``cached_features`` keeps a set's features as an fp16 memmap under ``build/features/``,
so they are not recomputed per step; ``stack_stores`` indexes several stores as one
without copying them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FEATURES_ROOT = Path("build") / "features"


def _extractor_fingerprint(extractor) -> dict:
    return {"class": type(extractor).__name__, "feature_size": extractor.feature_size,
            "sampling_rate": extractor.sampling_rate, "hop_length": extractor.hop_length,
            "n_fft": getattr(extractor, "n_fft", None), "n_samples": int(extractor.n_samples),
            "padding_value": extractor.padding_value}


@dataclass
class FeatureStore:
    """Window-padded log-mel features of a list of clips: fp16 (N, mel, frames) plus real frame counts."""

    features: np.ndarray | StackedFeatures  # float16, possibly a read-only memmap
    frames: np.ndarray  # int64 (N,): real frames per clip (the feature attention mask's sum)
    folder: Path | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_features float32, feature_attention_mask long) for these clips."""
        index = np.asarray(indices)
        features = torch.from_numpy(np.ascontiguousarray(self.features[index], dtype=np.float32))
        frames = torch.from_numpy(self.frames[index])
        mask = (torch.arange(self.features.shape[-1])[None, :] < frames[:, None]).long()
        return features, mask


class StackedFeatures:
    """Feature arrays (memmaps) indexed as one array, without reading them into memory.

    A QLoRA run on ACL + KD plus a 100 k general sample (Moslem 2025, System B) would
    otherwise concatenate 72 GiB of cached 7B features in RAM; batches read their rows
    from the parts instead.
    """

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts or len({part.shape[1:] for part in parts}) != 1:
            raise ValueError("stacked features need at least one part, all of the same (mel, frames) shape")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(part) for part in parts])
        self.shape = (int(self.offsets[-1]), *parts[0].shape[1:])
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        if index.ndim != 1 or (len(index) and (index.min() < 0 or index.max() >= len(self))):
            raise IndexError(f"stacked features: rows must be a 1-d array within 0..{len(self) - 1}")
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        part_of = np.searchsorted(self.offsets, index, side="right") - 1
        for part in np.unique(part_of):
            rows = part_of == part
            out[rows] = self.parts[part][index[rows] - self.offsets[part]]
        return out


def stack_stores(stores: Sequence[FeatureStore]) -> FeatureStore:
    """One store over several (clip i of the second store is clip len(first) + i), nothing copied."""
    return FeatureStore(features=StackedFeatures([store.features for store in stores]),
                        frames=np.concatenate([store.frames for store in stores]))


def compute_features(extractor, audios: Sequence[np.ndarray], chunk: int = 64,
                     out: np.ndarray | None = None) -> FeatureStore:
    """Log-mel features as ``harness.inference.decode.prepare_batch`` computes them (padding to the window, truncation)."""
    total = len(audios)
    frames = np.zeros(total, dtype=np.int64)
    features = out
    for start in range(0, total, chunk):
        batch = [np.asarray(a, dtype=np.float32) for a in audios[start:start + chunk]]
        result = extractor(batch, sampling_rate=extractor.sampling_rate, padding="max_length", truncation=True,
                           return_attention_mask=True, return_tensors="np")
        values = result["input_features"]
        if features is None:
            features = np.zeros((total, *values.shape[1:]), dtype=np.float16)
        features[start:start + len(batch)] = values.astype(np.float16)
        frames[start:start + len(batch)] = result["attention_mask"].sum(-1)
    if features is None:
        raise ValueError("no audio to compute features for")
    return FeatureStore(features=features, frames=frames)


def cached_features(testset, extractor, root: str | os.PathLike | None = None,
                    progress: bool = False) -> FeatureStore:
    """The features of every utterance of ``testset``, computed once and kept as an fp16 memmap.

    The cache folder is keyed by the set's content hash and the extractor's settings, so
    a regenerated set or another window never reuses stale features. Written to a
    temporary name and renamed, so an interrupted computation leaves nothing half-done.
    """
    set_hash = str(getattr(testset, "content_hash", None)
                   or hashlib.sha256("\n".join(u.id for u in testset.utterances).encode()).hexdigest())
    fingerprint = _extractor_fingerprint(extractor)
    key = hashlib.sha256(json.dumps({"set": set_hash, "extractor": fingerprint}, sort_keys=True).encode()).hexdigest()
    folder = Path(FEATURES_ROOT if root is None else root) / f"{getattr(testset, 'name', 'set')}-{key[:16]}"
    data_path, frames_path = folder / "features.f16.npy", folder / "frames.npy"
    if data_path.is_file() and frames_path.is_file():
        return FeatureStore(features=np.load(data_path, mmap_mode="r"), frames=np.load(frames_path), folder=folder)

    utterances = testset.utterances
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.staging-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    shape = (len(utterances), extractor.feature_size, int(extractor.n_samples) // extractor.hop_length)
    memmap = np.lib.format.open_memmap(staging / data_path.name, mode="w+", dtype=np.float16, shape=shape)
    frames = np.zeros(len(utterances), dtype=np.int64)
    chunk = 256
    iterator = range(0, len(utterances), chunk)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"features {getattr(testset, 'name', '')}", unit="chunk")
    for start in iterator:
        part = utterances[start:start + chunk]
        store = compute_features(extractor, [u.audio() for u in part])
        if store.features.shape[1:] != shape[1:]:
            raise ValueError(f"feature shape {store.features.shape[1:]} differs from the window's {shape[1:]}")
        memmap[start:start + len(part)] = store.features
        frames[start:start + len(part)] = store.frames
    memmap.flush()
    del memmap
    np.save(staging / frames_path.name, frames)
    (staging / "key.json").write_text(json.dumps({"set": set_hash, "extractor": fingerprint}, indent=1))
    if folder.exists():  # another process finished first; theirs is as good as ours
        import shutil

        shutil.rmtree(staging)
    else:
        staging.rename(folder)
    return FeatureStore(features=np.load(data_path, mmap_mode="r"), frames=np.load(frames_path), folder=folder)
