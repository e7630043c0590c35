"""The CUDA path (marked ``gpu``; skipped without a CUDA device): moving to a GPU changes nothing that matters.

The harness is developed and tested on CPUs (``make test``), while submissions are
built and evaluated on GPUs. These tests run the same code on CUDA and compare it with
the CPU, so that a result measured on one is valid on the other:

- decoding: the shipped mini base (models/mini-base) translates test_mini_base's fixed
  sentences (12 each of general, talks and accent; de and zh) on CUDA in fp32 with TF32
  off (TF32 rounds matmul inputs to 10 mantissa bits) into the CPU's hypotheses, up to
  one sentence per set, with chrF within 1 point. The tolerance is for summation order:
  CUDA kernels add in other orders than the CPU's, so a near-tie between two tokens can
  flip in greedy search and change the rest of that one sentence;
- bf16 (what a 7B system runs in on a GPU): chrF on general within 5 points of fp32, and
  the decode statistics name the device and report a peak GPU memory;
- QLoRA (harness.stages.qlora, bitsandbytes nf4 with bf16 compute on CUDA) trains a few
  steps, saves, and the saved system reloaded on CUDA gives the in-memory model's logits
  exactly (skipped without a CUDA-enabled bitsandbytes);
- the layer-importance search (harness.stages.prune) chooses the same layers on CUDA as
  on the CPU.

Data: committed files only (models/mini-base, tests/data/mini-base-fixed) and the
conftest's tiny fixtures. The fixed sentences are a Parquet file, which harness.data.testsets
reads with pyarrow and datasets; on a machine without those the tests read an export of
the same sentences, made where they are installed with

    python tests/test_gpu.py --export    # writes build/gpu/mini-base-fixed.json (~3 MB)

and checked against the committed manifest's content hash.
"""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch

from conftest import TINY_DE
from harness.inference.decode import DecodeSettings, decode
from harness.systems.models import load_system
from test_mini_base import BASE, FIXED, FIXED_SETS, ROOT, fixed_chrf, fixed_rows
from test_mini_base import fixed_translations  # noqa: F401  (fixture: the CPU run, on this module's fixed_set)
from test_prune import SETTINGS as PRUNE_SETTINGS
from test_prune import layered_model
from test_qlora import STEPS as QLORA_STEPS
from test_qlora import inputs_for, logits

DEVICE = "cuda"
LANGS = ("de", "zh")
FIXED_SETTINGS = DecodeSettings(max_new_tokens=64, batch_size=12)  # test_mini_base.fixed_translations'
FIXED_EXPORT = ROOT / "build" / "gpu" / "mini-base-fixed.json"

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA device (torch.cuda.is_available() is False)")]


# ---------------------------------------------------------------- helpers


@contextmanager
def no_tf32():
    """Full-precision fp32 matmuls and convolutions on CUDA; the previous settings come back afterwards."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def export_fixed_set(path=FIXED_EXPORT) -> None:
    """Write the fixed sentences (encoded audio as stored, references, set names) for a machine without pyarrow."""
    from harness.data.testsets import load_testset

    fixed = load_testset(FIXED)
    rows = [{"id": u.id, "set": u.meta["set"], "targets": u.targets,
             "audio": base64.b64encode(u.audio_bytes).decode("ascii")} for u in fixed.utterances]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"content_hash": fixed.content_hash, "utterances": rows}))


def _exported_fixed_set():
    """The export as a stand-in for harness.data.testsets.TestSet: utterances with id, targets, meta["set"], audio()."""
    from harness.data.audio import decode_audio

    expected = json.loads((FIXED / "manifest.json").read_text())["content_hash"]
    if not FIXED_EXPORT.is_file():
        pytest.skip(f"cannot read {FIXED} (harness.data.testsets needs pyarrow and datasets) and there is no "
                    f"{FIXED_EXPORT.relative_to(ROOT)}: run `python tests/test_gpu.py --export` where they are "
                    f"installed")
    export = json.loads(FIXED_EXPORT.read_text())
    if export["content_hash"] != expected:
        pytest.fail(f"{FIXED_EXPORT} was made from another version of {FIXED}; export it again")

    def utterance(row):
        audio = base64.b64decode(row["audio"])
        return SimpleNamespace(id=row["id"], targets=row["targets"], meta={"set": row["set"]},
                               audio=lambda: decode_audio(audio, source=f"{FIXED_EXPORT} id {row['id']}")[0])

    return SimpleNamespace(utterances=tuple(utterance(row) for row in export["utterances"]))


def decode_fixed(fixed_set, dtype: torch.dtype) -> dict:
    """The fixed sentences translated on DEVICE in ``dtype``, as test_mini_base.fixed_translations does on the CPU."""
    audios = [u.audio() for u in fixed_set.utterances]
    return {lang: decode(load_system(BASE, lang, device=DEVICE, dtype=dtype), audios, lang, FIXED_SETTINGS)
            for lang in LANGS}


def hypotheses(outputs: dict) -> dict:
    """{lang: DecodeOutput} -> {lang: hypotheses}, the shape test_mini_base.fixed_chrf takes."""
    return {lang: output.hypotheses for lang, output in outputs.items()}


def require_bitsandbytes_cuda() -> None:
    try:
        import bitsandbytes  # noqa: F401
        from bitsandbytes.cextension import lib
    except Exception as err:  # absent, or its native library fails to load
        pytest.skip(f"bitsandbytes is not usable here ({type(err).__name__}: {err})")
    if not getattr(lib, "compiled_with_cuda", False):
        pytest.skip("bitsandbytes loaded no CUDA library for this torch build")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fixed_set():
    """test_mini_base's fixed sentences, from the committed Parquet or, without pyarrow, from the export."""
    try:
        from harness.data.testsets import load_testset
    except ImportError:
        return _exported_fixed_set()
    return load_testset(FIXED)


@pytest.fixture(scope="module")
def cuda_fp32(fixed_set):
    with no_tf32():
        return decode_fixed(fixed_set, torch.float32)


@pytest.fixture(scope="module")
def cuda_bf16(fixed_set):
    return decode_fixed(fixed_set, torch.bfloat16)


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize("name", FIXED_SETS)
@pytest.mark.parametrize("lang", LANGS)
def test_mini_base_in_fp32_on_cuda_translates_as_on_the_cpu(fixed_translations, cuda_fp32, fixed_set, name, lang):
    stats = cuda_fp32[lang].stats
    assert stats.device.startswith(DEVICE) and stats.dtype == "float32"
    cpu, cuda = fixed_translations[lang], cuda_fp32[lang].hypotheses
    rows = fixed_rows(fixed_set, name)
    differing = [(fixed_set.utterances[i].id, cpu[i].text, cuda[i].text) for i in rows
                 if cuda[i].token_ids != cpu[i].token_ids]
    assert len(differing) <= 1, f"{len(differing)} of {len(rows)} hypotheses differ (id, cpu, cuda): {differing}"
    cpu_chrf = fixed_chrf(fixed_translations, fixed_set, name, lang)
    cuda_chrf = fixed_chrf(hypotheses(cuda_fp32), fixed_set, name, lang)
    assert abs(cuda_chrf - cpu_chrf) <= 1.0, f"chrF cpu {cpu_chrf:.2f}, cuda {cuda_chrf:.2f}"


@pytest.mark.parametrize("lang", LANGS)
def test_mini_base_in_bf16_on_cuda_is_close_to_fp32(cuda_bf16, cuda_fp32, fixed_set, lang):
    stats = cuda_bf16[lang].stats
    assert stats.device.startswith("cuda") and stats.dtype == "bfloat16"
    assert isinstance(stats.gpu_peak_bytes, int) and stats.gpu_peak_bytes > 0, stats.gpu_peak_bytes
    bf16 = fixed_chrf(hypotheses(cuda_bf16), fixed_set, "general_test", lang)
    fp32 = fixed_chrf(hypotheses(cuda_fp32), fixed_set, "general_test", lang)
    assert abs(bf16 - fp32) <= 5.0, f"general_test chrF fp32 {fp32:.2f}, bf16 {bf16:.2f}"


# ---------------------------------------------------------------- QLoRA


def test_qlora_trains_saves_and_reloads_on_cuda(tiny_base_dir, tiny_processor, tiny_clips, store, examples,
                                                tmp_path):
    require_bitsandbytes_cuda()
    from harness.stages import qlora

    out = qlora.qlora_system(tiny_base_dir, examples, store, tmp_path / "qlora", QLORA_STEPS,
                             match_share=qlora.PAPER_SHARE, device=DEVICE, progress=None, log=None)
    assert out.result.steps == QLORA_STEPS.steps
    assert out.summary["quantization"]["compute_dtype"] == str(qlora.compute_dtype(DEVICE)).removeprefix("torch.")
    system = load_system(out.folder, "de", device=DEVICE)  # strict: every stored tensor checked
    assert {p.device.type for p in system.model.parameters()} == {torch.device(DEVICE).type}

    inputs = {name: tensor.to(DEVICE) for name, tensor in inputs_for(tiny_processor, tiny_clips[:3]).items()}
    trained = logits(out.model, inputs)
    reloaded = logits(system.model, inputs)
    if not torch.equal(reloaded, trained):
        repeatable = torch.equal(logits(out.model, inputs), trained)
        pytest.fail(f"reloaded logits differ from the in-memory model's: max |diff| "
                    f"{(reloaded.float() - trained.float()).abs().max().item():.3g} (dtypes {reloaded.dtype} / "
                    f"{trained.dtype}); the in-memory model {'is' if repeatable else 'is NOT'} repeatable")
    with out.model.disable_adapter():
        assert not torch.equal(logits(out.model, inputs), trained), "the adapter changes the output"


# ---------------------------------------------------------------- pruning


def test_pruning_search_chooses_the_same_layers_on_cuda_as_on_the_cpu(tiny_processor, tiny_clips):
    from harness.stages import prune

    model = layered_model(tiny_processor, tiny_clips)  # test_prune's six-layer model, trained on the CPU
    audios, references = list(tiny_clips), list(TINY_DE[:len(tiny_clips)])

    def search():
        return prune.layer_importance_search(model, tiny_processor, audios, references, "de", target_layers=2,
                                             settings=PRUNE_SETTINGS)

    on_cpu = search()
    model.to(DEVICE)
    with no_tf32():
        on_cuda = search()
    assert on_cuda.removed == on_cpu.removed, (
        f"cpu removed {on_cpu.removed}, rounds {[r.scores for r in on_cpu.rounds]}; "
        f"cuda removed {on_cuda.removed}, rounds {[r.scores for r in on_cuda.rounds]}")


# ---------------------------------------------------------------- HQQ (Diet-KIT)


def test_hqq_mixed_quantizes_saves_and_reloads_on_cuda(tmp_path, fixed_set):
    """The 7B's path: HQQ in bf16 on CUDA, saved and reloaded strictly, gives the in-memory logits and decodes."""
    pytest.importorskip("hqq", reason="hqq is not installed here")
    from harness.stages import hqq
    from test_hqq import logits

    plan = hqq.with_bits(hqq.with_mlp3(hqq.PAPER_4BIT_G128, [0, 5]), [3], 3, "attention")
    output = hqq.quantize_system(BASE, tmp_path / "hqq", plan, langs=LANGS, device=DEVICE,
                                 compute_dtype=torch.bfloat16, progress=None, log=None)
    system = load_system(tmp_path / "hqq", "de", device=DEVICE)
    assert system.format == "hqq-mixed" and next(system.model.parameters()).device.type == "cuda"
    clips = [fixed_set.utterances[i].audio() for i in fixed_rows(fixed_set, "general_test")[:3]]
    assert torch.equal(logits(system.model, system.processor, clips), logits(output.model, output.processor, clips))
    out = decode(system, clips, "de", FIXED_SETTINGS)
    assert all(h.new_tokens > 0 and h.finished for h in out.hypotheses) and out.stats.device.startswith("cuda")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--export"]:
        raise SystemExit("usage: python tests/test_gpu.py --export  (writes the fixed sentences for a machine "
                         "without pyarrow)")
    export_fixed_set()
    print(f"wrote {FIXED_EXPORT} ({FIXED_EXPORT.stat().st_size / 1e6:.1f} MB)")
