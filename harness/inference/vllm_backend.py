"""Optional vLLM decoding backend for Qwen2-Audio systems (``--backend vllm``).

vLLM (Kwon et al., SOSP 2023, "Efficient Memory Management for Large Language Model
Serving with PagedAttention") supports Qwen2AudioForConditionalGeneration: a prompt with
one ``<|AUDIO|>`` placeholder and the clip as ``multi_modal_data``. This backend gives it
exactly what harness.inference.decode gives transformers: the same prompt text
(harness.inference.decode.build_prompt with the system's prompt style), greedy decoding
(temperature 0, repetition penalty as set, at most ``max_new_tokens``) and the same
end-of-sequence handling, and returns the same ``DecodeOutput``, so results files and
scores do not depend on the backend.

It decodes full-precision ("hf") systems only: vLLM loads a model folder itself and
has its own quantization formats, which are not the ones this harness stores
(bitsandbytes + LoRA adapter, HQQ mixed). Without vLLM installed, or for another format,
the backend stops with a one-line error; it never falls back silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from harness.data.audio import SAMPLE_RATE
from harness.inference.decode import DecodeOutput, DecodeSettings, Hypothesis, build_prompt, cut_at_eos, decode_stats
from harness.errors import HarnessError

BACKENDS = ("transformers", "vllm")


class BackendError(HarnessError, RuntimeError):
    """A one-line reason the requested decoding backend cannot run."""


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise BackendError(f"--backend vllm: vLLM is not installed here ({err}); install it on a GPU machine "
                           f"or use the transformers backend") from None
    return vllm


class VllmSystem:
    """A system folder's model in a vLLM engine, for one direction (what harness.inference.decode needs of it)."""

    def __init__(self, folder, lang: str, *, dtype: str = "auto", gpu_memory_utilization: float = 0.85,
                 max_model_len: int = 4096) -> None:
        from harness.systems.models import load_processor, read_manifest, single_model_dir
        from harness.files import content_hash

        vllm = _import_vllm()
        manifest = read_manifest(folder)
        if manifest.format != "hf":
            raise BackendError(f"--backend vllm decodes full-precision ('hf') systems; {folder} is "
                               f"{manifest.format!r} (use the transformers backend)")
        try:
            self.model_folder = single_model_dir(folder, [lang], action="decode with vLLM")
        except ValueError as err:
            raise BackendError(str(err)) from None
        self.folder, self.lang, self.manifest = folder, lang, manifest
        self.processor = load_processor(self.model_folder)
        self.prompt_style = manifest.prompt
        self.content_hash = content_hash(self.model_folder)
        self.engine = vllm.LLM(model=str(self.model_folder), dtype=dtype, max_model_len=max_model_len,
                               limit_mm_per_prompt={"audio": 1}, gpu_memory_utilization=gpu_memory_utilization,
                               trust_remote_code=False, seed=0)
        self.sampling = vllm.SamplingParams

    def provenance(self) -> dict:
        """What a results file records about the model (as LoadedSystem.provenance, backend named)."""
        return {"folder": str(self.folder), "model_folder": str(self.model_folder), "lang": self.lang, "format": "hf",
                "prompt": self.prompt_style, "content_hash": self.content_hash, "dtype": "auto", "device": "vllm",
                "backend": "vllm", "manifest": self.manifest.as_dict()}


def open_backend(system_dir, lang: str, backend: str, *, device: str, transformers_decode):
    """(system, its decode function) for ``backend``; "vllm" never falls back to transformers.

    ``transformers_decode`` is the caller's own ``decode`` (harness.inference.decode.decode, or the
    data-parallel coordinator's stand-in for it).
    """
    if backend == "vllm":
        return VllmSystem(system_dir, lang), decode
    if backend != "transformers":
        raise BackendError(f"unknown decoding backend {backend!r}; known: {', '.join(BACKENDS)}")
    from harness.systems.models import load_system

    return load_system(system_dir, lang, device=device), transformers_decode


def decode(system: VllmSystem, audios: Sequence[np.ndarray], lang: str, settings: DecodeSettings, *,
           progress: str | None = None, on_result: Callable[[int, Hypothesis], None] | None = None) -> DecodeOutput:
    """Greedy translations of ``audios`` by vLLM, in input order, as harness.inference.decode.decode returns them."""
    settings = settings if settings.prompt_style is not None else replace(settings, prompt_style=system.prompt_style)
    if settings.num_beams != 1:
        raise BackendError("--backend vllm: beam search is not supported here; use num_beams 1")
    prompt = build_prompt(system.processor, lang, settings.prompt_style)
    tokenizer = system.processor.tokenizer
    eos = {tokenizer.convert_tokens_to_ids(token) for token in ("<|im_end|>", "<|endoftext|>")
           if tokenizer.convert_tokens_to_ids(token) is not None}
    params = system.sampling(temperature=0.0, max_tokens=settings.max_new_tokens,
                             repetition_penalty=settings.repetition_penalty, stop_token_ids=sorted(eos),
                             skip_special_tokens=True)
    window = system.processor.feature_extractor.n_samples / SAMPLE_RATE
    requests = [{"prompt": prompt, "multi_modal_data": {"audio": (np.asarray(a, dtype=np.float32), SAMPLE_RATE)}}
                for a in audios]
    started = time.perf_counter()
    outputs = system.engine.generate(requests, params, use_tqdm=progress is not None)
    wall = time.perf_counter() - started
    hypotheses = []
    for index, (audio, output) in enumerate(zip(audios, outputs)):
        completion = output.outputs[0]
        (ids, finished), = cut_at_eos([list(completion.token_ids)], eos)
        seconds = len(audio) / SAMPLE_RATE
        hypothesis = Hypothesis(text=tokenizer.decode(ids, skip_special_tokens=True).strip(), new_tokens=len(ids),
                                seconds=wall / max(len(audios), 1), token_ids=tuple(ids),
                                finished=finished or completion.finish_reason == "stop",
                                audio_seconds=seconds, truncated_audio=seconds > window)
        hypotheses.append(hypothesis)
        if on_result is not None:
            on_result(index, hypothesis)
    stats = decode_stats(hypotheses, audios, wall, batch_size=settings.batch_size, batches=1,
                         window_samples=int(system.processor.feature_extractor.n_samples), peak_rss_bytes=0,
                         gpu_peak_bytes=None, device="vllm", dtype="auto", threads=0)
    return DecodeOutput(hypotheses=hypotheses, stats=stats, settings=settings)
