"""`python -m harness plan`: stages, shapes-based memory/disk estimates, fits, exit codes, no downloads.

The 7B's figures are checked against papers.md (8.40 B parameters, 16.79 GB bf16,
6.78 B after pruning 8 layers, 9.64 GB for System A's 4-bit base + adapter, 8.65 GB for
System B's) and the fit verdicts against hand arithmetic with the module's stated formulas.
"""

from __future__ import annotations

import json
import socket
import struct

import pytest

from harness import plan as P
from harness.__main__ import main as harness_main
from harness.data.tracks import REPO, get_track

GiB, GB = 2**30, 10**9
SEVEN_B = P.Shapes.from_config(P.QWEN2_AUDIO_7B_CONFIG)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any download or socket connection fails the test; the hub is offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"network call: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    import huggingface_hub
    for name in ("snapshot_download", "hf_hub_download"):
        monkeypatch.setattr(huggingface_hub, name, refuse)
    yield calls
    assert not calls


def run(capsys, *args):
    code = harness_main(["plan", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def stage(plan: dict, name: str) -> dict:
    return next(s for s in plan["stages"] if s["name"] == name)


# ---------------------------------------------------------------- shapes


def test_7b_parameter_count_and_bf16_size():
    total = SEVEN_B.total()
    assert total == 8_397_094_912                       # exact, from the shapes
    assert total == pytest.approx(8.40e9, rel=0.01)     # papers.md: 8.40 B
    assert round(total * 2 / GB, 2) == 16.79            # papers.md: 16.79 GB in bf16
    # System B: 8 of 32 decoder layers removed -> papers.md 6.78 B, 13.55 GB
    pruned = SEVEN_B.pruned(8).total()
    assert pruned == pytest.approx(6.78e9, rel=0.01) and round(pruned * 2 / GB, 2) == 13.56


def test_counts_match_the_meta_model():
    """The closed-form count and LoRA width equal transformers' model built on the meta device."""
    from conftest import qwen2_audio_7b_on_meta
    from harness.stages import qlora
    from harness.training.lora import parameter_count

    model = qwen2_audio_7b_on_meta()
    assert parameter_count(model) == SEVEN_B.total()
    assert qlora.lora_width(model) == SEVEN_B.lora_width()


def test_awq_statistics_match_what_the_calibration_allocates():
    """The plan's AWQ figure is the bytes awq.InputStats holds for every group of the layers of a pass."""
    from conftest import qwen2_audio_7b_on_meta
    from harness.stages import awq

    model = qwen2_audio_7b_on_meta()
    groups = awq.scale_groups(model, layers=[0, 1])
    modules = dict(model.named_modules())
    allocated = 0
    for group in groups:
        stats = awq.InputStats.empty(modules[group.linears[0]].in_features, device="meta")
        allocated += stats.gram.numel() * stats.gram.element_size() + stats.abs_sum.numel() * stats.abs_sum.element_size()
    assert P.awq_stats_bytes(SEVEN_B, 2) == allocated
    assert round(P.awq_stats_bytes(SEVEN_B, 1) / 1e9, 3) == 1.372


def test_mini_shapes_count_the_weight_file():
    """The mini base's count from its config.json equals the element count of its safetensors header."""
    shapes, source = P.shapes_for(P.get_track("mini"))
    assert source.endswith("models/mini-base/config.json")
    raw = (REPO / "models/mini-base/model.safetensors").read_bytes()[:8]
    (length,) = struct.unpack("<Q", raw)
    with open(REPO / "models/mini-base/model.safetensors", "rb") as handle:
        handle.seek(8)
        header = json.loads(handle.read(length))
    numel = 0
    for name, entry in header.items():
        if name != "__metadata__":
            count = 1
            for dim in entry["shape"]:
                count *= dim
            numel += count
    assert shapes.total() == numel and shapes.dtype_bytes == 4


def test_stored_sizes_match_the_paper():
    """nf4 (double quant) Linears + fp32 rest + fp32 adapter: System A 9.64 GB, System B 8.65 GB (papers.md)."""
    a = P.nf4_model_bytes(SEVEN_B) + 64 * SEVEN_B.lora_width() * 4
    pruned = SEVEN_B.pruned(8)
    b = P.nf4_model_bytes(pruned) + 64 * pruned.lora_width() * 4
    assert a / GB == pytest.approx(9.64, rel=0.01)
    assert b / GB == pytest.approx(8.65, rel=0.01)
    assert round(100 * 64 * SEVEN_B.lora_width() / (SEVEN_B.total() + 64 * SEVEN_B.lora_width()), 2) == 2.41


# ---------------------------------------------------------------- fits


def test_teacher_full_ft_needs_fsdp_by_hand():
    plan = P.make_plan("iwslt2026", "modelA", gpus=8, gpu_gib=80)
    teacher = stage(plan, "teacher")
    n = 8_397_094_912
    states = n * 16                                                       # ZeRO: 16 B/param
    seq = 750 + 64 + 256
    act = 34 * (32 * seq * 4 * 4096 + 32 * 1500 * 4 * 1280) + 4 * seq * 156032 * 6
    assert teacher["memory"]["activations"] == act
    assert teacher["peak_gpu_bytes"] == states + act                      # ~154.4 GiB
    assert states / GiB > 80                                              # 125 GiB: not even the states fit
    gather = 2 * 2 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 3 * 4096 + 2 * 4096)
    two, three = states / 2 + act + gather, states / 3 + act + gather
    assert two / GiB > 80 > three / GiB                                   # 92.6 GiB vs 71.8 GiB
    assert teacher["fits"] == "FSDP x3" and teacher["fsdp_gpus"] == 3
    # With the harness's own pure-bf16 AdamW (8 B/param) two GPUs are enough.
    bf16 = stage(P.make_plan("iwslt2026", "modelA", gpus=8, gpu_gib=80, adam="bf16"), "teacher")
    assert (n * 8 + act) / GiB > 80 > (n * 4 + act + gather) / GiB
    assert bf16["fits"] == "FSDP x2"


def test_one_gpu_verdicts():
    plan_a = P.make_plan("iwslt2026", "modelA", gpus=1, gpu_gib=80)
    assert stage(plan_a, "teacher")["fits"] == "no"
    assert plan_a["unfit"] == ["teacher"]
    for name in ("qlora", "distill", "eval acl6060_test", "comet"):
        assert stage(plan_a, name)["fits"] == "1 GPU", name
    assert stage(plan_a, "base")["fits"] == "no GPU"
    plan_b = P.make_plan("iwslt2026", "modelB", gpus=1, gpu_gib=80)
    assert plan_b["unfit"] == ["teacher", "finetune_kd"]
    assert stage(plan_b, "qlora")["fits"] == "1 GPU" and stage(plan_b, "prune")["fits"] == "1 GPU"
    diet = P.make_plan("iwslt2026", "diet-kit", gpus=1, gpu_gib=80)
    assert diet["unfit"] == [] and stage(diet, "lora_general")["fits"] == "1 GPU"


def test_kv_cache_formula():
    # 2 x 32 layers x 4096 x (750 + 64 + 1024) x 16 x 2 B
    assert P.kv_cache_bytes(SEVEN_B, 16, 1024) == 2 * 32 * 4096 * 1838 * 16 * 2


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("sub", ["modelA", "modelB", "diet-kit", "baseline"])
def test_json_has_every_stage(capsys, tmp_path, sub):
    out = tmp_path / "plan.json"
    code, text, err = run(capsys, "--track", "iwslt2026", "--sub", sub, "--gpus", "4", "--gpu-memory-gib", "80",
                          "--json", str(out))
    assert code == 0 and err == ""
    plan = json.loads(out.read_text())
    names = [s["name"] for s in plan["stages"]]
    assert names[0] == "base" and "eval acl6060_test" in names and "comet" in names
    for name in names:
        assert name in text
    expected = {"modelA": {"teacher", "distill", "qlora"},
                "modelB": {"teacher", "distill", "prune", "finetune_kd", "general_sample", "qlora"},
                "diet-kit": {"general_sample", "lora_general", "hqq (step 3)", "sensitivity mlp 3", "awq",
                             "hqq (final)"},
                "baseline": set()}[sub]
    assert expected <= set(names)
    assert all(s["fits"] in ("1 GPU", "FSDP x2", "FSDP x3", "FSDP x4", "no GPU") for s in plan["stages"])
    sharded = [s["fsdp_gpus"] for s in plan["stages"] if s["fits"].startswith("FSDP")]
    if sharded:  # the command that runs the build that way (harness.inference.distributed)
        assert f"run: make build SUB={sub} TRACK=iwslt2026 NPROC={max(sharded)} FSDP=1" in text
    else:
        assert "run: make build" not in text
    # Hub ids at their pinned commits, never main; an id with no pin says it would be refused.
    assert "Unbabel/wmt22-comet-da@2760a223ac95" in text and "@main" not in text
    assert "ymoslem/ACL-6060 (no pinned commit: refused until pinned)" in text


def test_tiny_gpu_is_one_line_and_exit_2(capsys):
    code, text, err = run(capsys, "--track", "iwslt2026", "--sub", "modelA", "--gpus", "1", "--gpu-memory-gib", "8")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "teacher" in err
    assert "qlora" in err and "8 GiB" in err
    assert "teacher" in text  # the plan is still printed


def test_bad_input_is_one_line(capsys):
    code, _, err = run(capsys, "--track", "nope", "--sub", "modelA")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown track" in err


def test_default_gpu_without_cuda(capsys, monkeypatch):
    monkeypatch.setattr(P, "detect_gpus", lambda: (1, 80.0, "no GPU found: assuming one 80 GiB GPU"))
    code, text, _ = run(capsys, "--track", "iwslt2026", "--sub", "diet-kit")
    assert code == 0 and "assuming one 80 GiB GPU" in text


def test_mini_track_runs_on_a_cpu(capsys, tmp_path):
    for sub in ("modelA", "modelB", "diet-kit", "baseline"):
        out = tmp_path / f"{sub}.json"
        code, text, err = run(capsys, "--track", "mini", "--sub", sub, "--json", str(out))
        assert code == 0 and err == ""
        plan = json.loads(out.read_text())
        assert plan["cpu_only"] and all(s["fits"] == "CPU" for s in plan["stages"])
        assert plan["model"]["shapes_from"].endswith("models/mini-base/config.json")
        assert "every stage fits on a CPU" in text
        assert plan["model"]["parameters"]["total"] < 10**7


def test_training_stages_count_their_log_mel_cache():
    # harness.training.features.cached_features: fp16, 128 mel bins x 3000 frames (30 s window) per clip.
    per_clip = 128 * 3000 * 2
    shapes, _ = P.shapes_for(get_track("iwslt2026"), "Qwen/Qwen2-Audio-7B-Instruct")
    assert P.feature_bytes(shapes, 1) == per_clip
    general = 100_000  # [qlora] general_size in submissions/modelB/config/iwslt2026.toml
    qlora_b = stage(P.make_plan("iwslt2026", "modelB", gpus=4, gpu_gib=80), "qlora")
    qlora_a = stage(P.make_plan("iwslt2026", "modelA", gpus=4, gpu_gib=80), "qlora")
    assert f"log-mel cache {general:,} clips x 0.768 MB" in " ".join(qlora_b["notes"])
    assert qlora_b["disk"] > general * per_clip > qlora_a["disk"]  # modelA has no general sample
    teacher = stage(P.make_plan("iwslt2026", "modelA", gpus=4, gpu_gib=80), "teacher")
    assert "log-mel cache 784 clips" in " ".join(teacher["notes"])
    assert teacher["disk"] == shapes.total() * shapes.dtype_bytes + 784 * per_clip


def test_a_corpus_sample_is_not_written_twice():
    # modelB's general data is CoVoST 2 (harness.data.corpora): the data stage writes the seeded sample once.
    plan = P.make_plan("iwslt2026", "modelB", gpus=4, gpu_gib=80)
    assert stage(plan, "general_sample")["disk"] == 0
    data = [s for s in plan["stages"] if s["name"] == "data:general"]
    assert len(data) == 2 and all(s["disk"] == P.audio_bytes(100_000) for s in data)
