"""Benchmark: the harness's batched decoding against the paper's reference loop.

The reference is Moslem (IWSLT 2025)'s evaluation loop (conftest.paper_reference_decode):
one utterance at a time, the processor called per utterance, greedy
``generate(max_length=1024)``, decode. The harness decodes the same clips with
length-sorted, left-padded batches of 16, features extracted per batch and the prompt
tokenised once. Both must give identical hypotheses; the speed ratio (reference wall
time / harness wall time), both RTFx figures and the hardware go to extra_info.

Model: from_scratch's "mini" size (about 4 M parameters with the test tokenizer; the
mini track's base size). The "tiny" test model would measure little but Python
overhead. The mini model is first trained for about a minute to translate eight clips
into two-sentence German targets (about 28 tokens, the length of an ACL 60/60
reference), so that it stops with <|im_end|> at a realistic length, like a real system:
a random model never stops and both loops would spend their time on 1024-token runs.

Two sets of 24 clips:
  seen    the eight training clips, each with three noise draws: every hypothesis is a
          sentence-length translation that stops (the case of a working system);
  unseen  other pitches and lengths: the model hallucinates outputs of very different
          lengths, and a batch runs until its longest row ends, which costs batching.

What bounds the ratio on a CPU: the prefill (the audio encoder over the whole window,
the decoder over ~150 prompt positions) is compute and the same work in both loops;
batching gains on the per-token steps, whose cost at batch 1 is mostly fixed overhead.
On 2 cores that gives about 3-4x; on a GPU, where a batch-1 step is almost all
overhead, the gain per step is far larger. Marked ``bench`` (excluded from ``make test``).

Device: ``BENCH_DEVICE`` (default ``cpu``; e.g. ``BENCH_DEVICE=cuda``) is where the model
decodes (it is trained on the CPU either way); extra_info names the device. The speed-up
floor ``MIN_SPEEDUP_CPU`` is asserted on the CPU only; on another device the ratio is
recorded, not asserted.
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import pytest
import torch

from conftest import (TINY_DE, TINY_WINDOW_SECONDS, device_name, make_clip, paper_reference_decode, train_to_translate,
                      write_system_json)
from harness.inference.decode import DecodeSettings, configure_threads, decode
from harness.systems.models import load_system

pytestmark = pytest.mark.bench

DEVICE = os.environ.get("BENCH_DEVICE", "cpu")

CLIPS = 24
BATCH_SIZE = 16
TRAIN_CLIPS = 8
TRAIN_STEPS = 110  # loss ~0.01: every seen clip's hypothesis is its full target and ends with <|im_end|>
# The floor this 2-core CPU reaches reliably (measured 3-4x on seen clips); see the docstring.
MIN_SPEEDUP_CPU = 2.5
ROUNDS = 3


def _train_seconds(i: int) -> float:
    return 1.0 + 0.35 * i


def _two_sentences(i: int) -> str:
    return f"{TINY_DE[i % len(TINY_DE)]}, {TINY_DE[(i + 1) % len(TINY_DE)]}"


@pytest.fixture(scope="module")
def mini_system(tmp_path_factory, tiny_processor):
    from harness.stages import from_scratch

    tokenizer = tiny_processor.tokenizer
    config = from_scratch.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                                       audio_token_id=tokenizer.convert_tokens_to_ids(from_scratch.AUDIO_TOKEN),
                                       size="mini")
    model = from_scratch.init_model(config, seed=1)
    clips = [make_clip(i, _train_seconds(i)) for i in range(TRAIN_CLIPS)]
    train_to_translate(model, tiny_processor, clips, TRAIN_STEPS,
                       targets={"de": [_two_sentences(i) for i in range(TRAIN_CLIPS)]})
    folder = tmp_path_factory.mktemp("bench") / "mini"
    from_scratch.save_base(model, tiny_processor, folder)
    write_system_json(folder, "hf")
    return load_system(folder, "de", device=DEVICE)


CLIP_SETS = {
    "seen": lambda: [make_clip(i % TRAIN_CLIPS, _train_seconds(i % TRAIN_CLIPS), seed=1 + i // TRAIN_CLIPS)
                     for i in range(CLIPS)],
    "unseen": lambda: [make_clip(8 + i % 12, 0.6 + 3.3 * ((i * 7) % CLIPS) / (CLIPS - 1), seed=1 + i // 12)
                       for i in range(CLIPS)],
}


@pytest.mark.parametrize("clip_set", list(CLIP_SETS))
def test_bench_decode_vs_paper_loop(benchmark, mini_system, clip_set):
    clips = CLIP_SETS[clip_set]()
    configure_threads()
    settings = DecodeSettings(max_new_tokens=1024, batch_size=BATCH_SIZE)
    # Warm both paths (first-call allocations, kernel selection) before timing.
    decode(mini_system, clips[:2], "de", settings)
    paper_reference_decode(mini_system.model, mini_system.processor, clips[:2], "de")

    # The median of three runs for both loops: a shared machine's noise hits single runs.
    reference_times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        reference = paper_reference_decode(mini_system.model, mini_system.processor, clips, "de")
        reference_times.append(time.perf_counter() - started)
    reference_seconds = statistics.median(reference_times)

    output = benchmark.pedantic(decode, args=(mini_system, clips, "de", settings), rounds=ROUNDS, iterations=1)
    harness_seconds = benchmark.stats.stats.median

    audio_seconds = output.stats.audio_seconds
    lengths = [h.new_tokens for h in output.hypotheses]
    speedup = reference_seconds / harness_seconds
    # Recorded before the checks below, so that a failed check still leaves the figures in the JSON.
    benchmark.extra_info.update(
        clip_set=clip_set, clips=CLIPS, batch_size=BATCH_SIZE, audio_seconds=round(audio_seconds, 2),
        new_tokens_mean=round(sum(lengths) / len(lengths), 1), new_tokens_max=max(lengths),
        reference_seconds=round(reference_seconds, 3), harness_seconds=round(harness_seconds, 3),
        speedup=round(speedup, 2), rtfx_harness=round(audio_seconds / harness_seconds, 1),
        rtfx_reference=round(audio_seconds / reference_seconds, 1),
        parameters=sum(p.numel() for p in mini_system.model.parameters()),
        hardware=f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, {torch.get_num_threads()} torch threads",
        device=output.stats.device, device_name=device_name(output.stats.device),
        matching_hypotheses=sum(list(h.token_ids) == ids[:-1] for h, (_, ids) in zip(output.hypotheses, reference)),
        torch=torch.__version__)
    assert [h.text for h in output.hypotheses] == [text for text, _ in reference]
    assert [list(h.token_ids) for h in output.hypotheses] == [ids[:-1] for _, ids in reference]
    assert all(h.finished for h in output.hypotheses), "the mini model must stop by itself"
    assert len({h.token_ids for h in output.hypotheses}) >= TRAIN_CLIPS, "hypotheses must differ per clip"
    if clip_set == "seen" and DEVICE == "cpu":
        assert speedup >= MIN_SPEEDUP_CPU, f"harness only {speedup:.1f}x faster than the paper's loop"
