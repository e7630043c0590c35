"""The modelA / modelB recipes (Moslem, IWSLT 2025, Systems A and B) at a tiny scale, and their paper configs.

The smoke builds run harness.stages.recipe's real stages (teacher fine-tune, KD decode,
pruning, fine-tune, QLoRA) on the tiny fixture model and three small segmented sets, with
a few steps each, through the same chain functions as submissions/model{A,B}/build.py.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

from conftest import TINY_DE, TINY_EN, TINY_ZH
from harness.systems.models import load_system, read_manifest
from harness.stages import recipe
from harness.data.tracks import REPO

LANGS = ("de", "zh")


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_build", REPO / "submissions" / name / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODEL_A, MODEL_B = _module("modelA"), _module("modelB")


def _write_set(folder: Path, clips, name: str, domain: str = "talks") -> Path:
    from harness.data.testsets import write_segmented_set

    rows = [{"id": f"{name}{i:02d}", "audio": clip, "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i, clip in enumerate(clips)]
    write_segmented_set(folder, name=name, version="1", domain=domain, rows=rows,
                        generator={"name": "tests/test_recipes.py"})
    return folder


TINY_CONFIG = """
[build]
device = "cpu"

[data]
base = "{base}"
train = "{train}"
select = "{select}"
general = "{general}"

[teacher]
steps = {teacher_steps}
batch_size = 8
lr = 1e-3
threads = 1
log_every = 1

[distill]
max_new_tokens = 4
batch_size = 8

[prune]
remove = 1
of = 2
exclude_first_last = false   # the tiny model has only 2 decoder layers
max_new_tokens = 4
batch_size = 4

[finetune_pruned]
steps = 1
batch_size = 8
lr = 1e-3
threads = 1

[qlora]
rank = 2
alpha = 4
oversample = 2
general_size = 3

[qlora.train]
steps = 1
batch_size = 8
lr = 1e-3
threads = 1
"""


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory, tiny_base_dir, tiny_clips):
    root = tmp_path_factory.mktemp("recipes")
    sets = {"train": _write_set(root / "tiny_train", tiny_clips, "tiny_train"),
            "select": _write_set(root / "tiny_dev", tiny_clips[:3], "tiny_dev"),
            "general": _write_set(root / "tiny_general", tiny_clips[3:], "tiny_general", "general")}

    def config(name: str, teacher_steps: int = 2) -> Path:
        path = root / f"{name}.toml"
        path.write_text(TINY_CONFIG.format(base=tiny_base_dir, teacher_steps=teacher_steps,
                                           **{k: str(v) for k, v in sets.items()}))
        return path

    return root, config


def _build(module, name, root, config, lines, **kwargs):
    return recipe.build(name, module.chain, config=config, work=root / "cache", out=root / "out" / name,
                        log=lines.append, **kwargs)


def _stage_names(result, reused: bool) -> list[tuple[str, str]]:
    return [(lang, name) for lang, name, output in result.stages if output.reused == reused]


def test_both_systems_build_share_stages_and_rerun_exactly(tiny_recipe, monkeypatch):
    root, config = tiny_recipe
    monkeypatch.chdir(root)  # the feature cache (build/features) lands in the temporary folder
    lines: list[str] = []
    a = _build(MODEL_A, "modelA", root, config("base"), lines)
    assert _stage_names(a, reused=True) == []
    assert [(lang, name) for lang, name, _ in a.stages] == [(lang, name) for lang in LANGS
                                                             for name in ("teacher", "distill", "qlora")]
    b = _build(MODEL_B, "modelB", root, config("base"), lines)
    # modelB reuses modelA's teacher and KD data (same names, settings, inputs) and runs the rest.
    assert _stage_names(b, reused=True) == [(lang, name) for lang in LANGS for name in ("teacher", "distill")]
    assert _stage_names(b, reused=False) == [(lang, name) for lang in LANGS
                                             for name in ("prune", "finetune_kd", "general_sample", "qlora")]
    assert any(line.startswith("[de] teacher: reused") for line in lines)
    assert lines[-1] == f"built {b.out}"

    for result in (a, b):
        manifest = read_manifest(result.out)
        assert manifest.languages == {lang: lang for lang in LANGS} and manifest.format == "bnb-4bit+lora"
    for lang in LANGS:
        system_a, system_b = load_system(a.out, lang), load_system(b.out, lang)
        layers_a = len(system_a.model.base_model.model.model.language_model.layers)
        layers_b = len(system_b.model.base_model.model.model.language_model.layers)
        assert layers_b == layers_a - 1
        assert system_b.manifest.languages[lang] == lang

    # One changed setting (the teacher's steps) reruns the teacher and everything downstream, nothing else.
    rerun = _build(MODEL_A, "modelA", root, config("teacher3", teacher_steps=3), lines, langs=("de",))
    assert _stage_names(rerun, reused=False) == [("de", "teacher"), ("de", "distill"), ("de", "qlora")]
    # A second build with the original config reuses every stage.
    again = _build(MODEL_B, "modelB", root, config("base"), lines, langs=("zh",))
    assert _stage_names(again, reused=False) == []


def test_changed_qlora_setting_reruns_only_qlora(tiny_recipe, tmp_path, monkeypatch):
    root, config = tiny_recipe
    monkeypatch.chdir(root)
    lines: list[str] = []
    _build(MODEL_A, "modelA", root, config("base"), lines, langs=("de",))
    changed = tmp_path / "rank3.toml"
    changed.write_text(config("base").read_text().replace("rank = 2\nalpha = 4", "rank = 3\nalpha = 6"))
    result = _build(MODEL_A, "modelA", root, changed, lines, langs=("de",))
    assert _stage_names(result, reused=False) == [("de", "qlora")]
    assert _stage_names(result, reused=True) == [("de", "teacher"), ("de", "distill")]


def _report_module():
    spec = importlib.util.spec_from_file_location("modelB_report", REPO / "submissions" / "modelB" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_modelB_report_is_generated_from_the_stages(tiny_recipe, tiny_clips, monkeypatch, capsys):
    root, config = tiny_recipe
    monkeypatch.chdir(root)
    test = _write_set(root / "tiny_test", tiny_clips[:4], "tiny_test")
    out = root / "REPORT.md"
    args = ["--config-a", str(config("base")), "--config-b", str(config("base")), "--work", str(root / "cache"),
            "--testset", str(test), "--out", str(out), "--batch-size", "4"]
    assert _report_module().main(args) == 0, capsys.readouterr().err
    text, data = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    labels = [row["label"] for row in data["rows"]]
    assert labels == ["Base", "+ full FT (teacher)", "(teacher in nf4, no adapter)", "A: + QLoRA + KD",
                      "pruned 1 of 2, no FT", "pruned + FT",
                      "B: + KD + QLoRA + general", "ablation: middle 1 pruned, no FT", "ablation: middle 1 pruned + FT"]
    for row in data["rows"]:
        for lang in LANGS:
            assert row["metrics"][lang]["bleu"]["value"] is not None  # every cell computed, none typed
            assert row["metrics"][lang]["comet"]["value"] is None and row["metrics"][lang]["comet"]["absent_reason"]
            assert row["size"][lang]["bytes"] > 0
    by_label = {row["label"]: row for row in data["rows"]}
    # The table shows the numbers of the results files: pruning removed a layer, QLoRA packed 4-bit weights.
    assert by_label["pruned 1 of 2, no FT"]["size"]["de"]["logical_params"] < by_label["Base"]["size"]["de"]["logical_params"]
    assert by_label["B: + KD + QLoRA + general"]["size"]["de"]["bytes"] < by_label["pruned + FT"]["size"]["de"]["bytes"]
    assert f"| A: + QLoRA + KD | {by_label['A: + QLoRA + KD']['metrics']['de']['bleu']['value']:.2f} |" in text
    assert "## Shapes against the paper" in text and "## Chosen layers" in text and "removed [" in text
    assert "COMET: absent (" in text
    # A second run reuses every stage and every results file (nothing is decoded again): same numbers.
    monkeypatch.setattr("harness.evaluation.evaluate.evaluate", lambda *a, **k: pytest.fail("decoded again"))
    assert _report_module().main(args) == 0
    again = json.loads(out.with_suffix(".json").read_text())
    assert [r["metrics"] for r in again["rows"]] == [r["metrics"] for r in data["rows"]]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, message", [
    (["--track", "nope"], "unknown track"),
    (["--config", "/nonexistent/x.toml"], "no such config file"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    code = recipe.main("modelA", MODEL_A.chain, "test", args + ["--work", str(tmp_path / "w"),
                                                                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_missing_base_and_missing_data(tiny_recipe, tmp_path, capsys):
    root, config = tiny_recipe
    text = config("base").read_text()
    for old, new, message in [('base = "', 'base = "/nonexistent', "is missing"),
                              ('train = "', 'train = "/nonexistent', "data set is missing"),
                              ('general = "', 'general = "hub:covost2/en_de" #', "hub:covost2/en_de")]:
        path = tmp_path / "bad.toml"
        path.write_text(text.replace(old, new, 1))
        code = recipe.main("modelB", MODEL_B.chain, "test", ["--config", str(path), "--work", str(tmp_path / "w"),
                                                              "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists() and not list((tmp_path / "w").glob("teacher-*"))


def test_7b_track_without_acl6060_stops_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr("harness.data.testsets.load_acl6060", _offline_acl6060)
    code = recipe.main("modelA", MODEL_A.chain, "test", ["--track", "iwslt2026", "--work", str(tmp_path / "w"),
                                                          "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "ACL 60/60" in err and len(err.strip().splitlines()) == 1, err


def _offline_acl6060(*args, **kwargs):
    from harness.data.testsets import TestSetError

    raise TestSetError("ymoslem/ACL-6060: cannot load from the Hugging Face hub (offline)")


# ---------------------------------------------------------------- the paper's values


@pytest.mark.parametrize("track", ["iwslt2025", "iwslt2026"])
def test_7b_configs_hold_the_papers_values(track):
    configs = {name: tomllib.loads(recipe.config_path(name, track).read_text()) for name in ("modelA", "modelB")}
    a, b = configs["modelA"], configs["modelB"]
    teacher = {"epochs": 3, "batch_size": 4, "lr": 1e-5, "weight_decay": 0.001, "warmup_steps": 0, "bf16": True}
    for config in (a, b):
        assert {k: config["teacher"][k] for k in teacher} == teacher
        assert config["distill"]["max_new_tokens"] == 1024
        assert config["data"]["train"] == "hub:acl6060/train"
        lora, share = recipe.lora_settings(config["qlora"])
        assert (lora.rank, lora.alpha, lora.dropout, lora.rslora, lora.target_modules) == (64, 128, 0.0, True,
                                                                                            "all-linear")
        assert share is None
    assert a["teacher"] == b["teacher"] and a["distill"] == b["distill"]  # shared stages
    from harness.stages.finetune import PAPER_TEACHER
    from harness.stages.qlora import PAPER_QLORA_A, PAPER_QLORA_B

    assert recipe.train_settings(a["teacher"]) == PAPER_TEACHER
    assert recipe.train_settings(a["qlora"]["train"]) == PAPER_QLORA_A
    assert recipe.train_settings(b["qlora"]["train"]) == PAPER_QLORA_B
    assert {k: a["qlora"]["train"][k] for k in ("epochs", "batch_size", "lr")} == {"epochs": 4, "batch_size": 4,
                                                                                   "lr": 1e-5}
    assert {k: b["qlora"]["train"][k] for k in ("epochs", "batch_size", "lr")} == {"epochs": 1, "batch_size": 8,
                                                                                   "lr": 1e-5}
    assert (b["prune"]["remove"], b["prune"]["of"], b["prune"]["exclude_first_last"]) == (8, 32, True)
    assert b["prune"]["metric"] == {"de": "chrf++", "zh": "chrf"}
    assert "test" not in b["data"]["select"]
    assert b["qlora"]["oversample"] == 10 and b["qlora"]["general_size"] == 100_000
    assert recipe.train_settings(b["finetune_pruned"]) == PAPER_TEACHER


def test_mini_configs_scale_the_paper():
    from harness.stages.finetune import MINI_TEACHER

    a = recipe.load_config(recipe.config_path("modelA", "mini"))
    b = recipe.load_config(recipe.config_path("modelB", "mini"))
    assert a["teacher"] == b["teacher"] and a["distill"] == b["distill"]
    assert recipe.train_settings(a["teacher"]) == MINI_TEACHER
    assert (b["prune"]["remove"], b["prune"]["of"]) == (3, 12)  # a quarter, as 8 of 32
    assert b["data"]["select"] == "testsets/mini/talks_dev" and a["data"]["train"] == "testsets/mini/talks_train"
    for config in (a, b):
        assert recipe.lora_settings(config["qlora"])[1] == pytest.approx(0.0241)
        assert config["qlora"]["train"]["lr"] / 1e-5 == pytest.approx(MINI_TEACHER.lr / 1e-5)
    assert json.dumps(b["data"]["general"]) == '"testsets/mini/general_train"'


# ---------------------------------------------------------------- diet-kit


DIET_CONFIG = """
[build]
device = "cpu"

[data]
base = "{base}"
general = "{general}"
dev = "{select}"

[lora]
rank = 2
alpha = 4
dropout = 0.05
rslora = false
prompt = "instruct"
general_size = 3

[lora.train]
steps = 1
batch_size = 4
lr = 1e-3
warmup_ratio = 0.03
threads = 1

[quantize]
group_size = 32
embedding_bits = 2
head_bits = 4
compute_dtype = "float32"

[sensitivity]
bits = 3
group_size = 32
batch_size = 4
{target}

[awq]
batch_size = 4
"""

DIET_KIT = _module("diet-kit")


def test_diet_kit_builds_one_quantized_model_under_the_limit(tiny_recipe, tmp_path, monkeypatch, capsys):
    from harness.systems import storage
    from harness.stages import diet_kit as diet
    from harness.data.tracks import get_track

    root, config = tiny_recipe
    monkeypatch.chdir(root)
    text = config("base").read_text()
    sets = {key: text.split(f'{key} = "')[1].split('"')[0] for key in ("base", "general", "select")}

    def diet_config(name: str, target: str = "") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(DIET_CONFIG.format(target=target, **sets))
        return path

    lines: list[str] = []
    result = recipe.build("diet-kit", DIET_KIT.chain, config=diet_config("fits"), work=root / "cache",
                          out=root / "out" / "diet-kit", log=lines.append, shared=True)
    names = [name for _, name, _ in result.stages]
    assert names[:3] == ["general_sample", "lora_general", "hqq"] and names[-2:] == ["awq", "hqq"]
    manifest = read_manifest(result.out)
    assert manifest.format == "hqq-mixed" and manifest.languages == {"de": "model", "zh": "model"}
    assert [p.name for p in result.out.iterdir() if p.is_dir()] == ["model"]  # stored once for both directions
    for lang in LANGS:
        assert load_system(result.out, lang).format == "hqq-mixed"
    report = storage.check(result.out, get_track("mini"))
    assert report.exit_code == 0 and report.verdict.compliant, report.reason
    assert any("plan: no move" in line for line in lines)  # the tiny model fits with none

    # A tighter budget than step 3's bytes: the least sensitive MLP(s) go to 3 bit, and the result fits it.
    work = recipe.open_recipe("diet-kit", config=diet_config("fits"), work=root / "cache", log=None)
    merged = diet.lora_general(work, work.base())
    step3_bytes, _ = diet.stored_bytes(diet.hqq(work, merged, diet.base_plan(work), "step3").path / "model",
                                       work.track)
    target = step3_bytes - 1
    lines.clear()
    tight = recipe.build("diet-kit", DIET_KIT.chain, config=diet_config("tight", f"target_bytes = {target}"),
                         work=root / "cache", out=root / "out" / "diet-tight", log=lines.append, shared=True)
    reused = {name for _, name, output in tight.stages if output.reused}
    assert {"lora_general", "sensitivity"} <= reused  # only the plan-dependent stages rerun
    chosen = next(line for line in lines if "plan:" in line)
    assert "plan: no move" not in chosen and "mlp at 3 bit" in chosen
    quantized = json.loads((tight.out / "model" / "quantization.json").read_text())["modules"]
    assert any(spec["bits"] == 3 and ".mlp." in name for name, spec in quantized.items())
    assert storage.check(tight.out, get_track("mini")).verdict.size_bytes <= target

    # A ladder of rungs: the first rung's least sensitive block moves first (here the attention projections).
    ladder = f'target_bytes = {target}\nladder = [["attention", 3], ["mlp", 2]]'
    laddered = recipe.build("diet-kit", DIET_KIT.chain, config=diet_config("ladder", ladder), work=root / "cache",
                            out=root / "out" / "diet-ladder", log=lines.append, shared=True)
    quantized = json.loads((laddered.out / "model" / "quantization.json").read_text())["modules"]
    assert any(spec["bits"] == 3 and ".self_attn." in name for name, spec in quantized.items())
    assert storage.check(laddered.out, get_track("mini")).verdict.size_bytes <= target

    # A budget nothing can meet stops the build with one line and exit status 2; nothing is written.
    capsys.readouterr()
    code = recipe.main("diet-kit", DIET_KIT.chain, "test", ["--config", str(diet_config("never", "target_bytes = 1")),
                                                           "--work", str(root / "cache"),
                                                           "--out", str(root / "out" / "never")], shared=True)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "over the limit even with every move of the ladder" in errors[0], err
    assert not (root / "out" / "never").exists()


def test_diet_kit_report_is_generated_from_the_stages(tiny_recipe, tiny_clips, tmp_path, monkeypatch, capsys):
    root, config = tiny_recipe
    monkeypatch.chdir(root)
    text = config("base").read_text()
    sets = {key: text.split(f'{key} = "')[1].split('"')[0] for key in ("base", "general", "select")}
    path = tmp_path / "diet.toml"
    path.write_text(DIET_CONFIG.format(target="", **sets))
    test = _write_set(root / "tiny_test_diet", tiny_clips[:4], "tiny_test")
    spec = importlib.util.spec_from_file_location("diet_report", REPO / "submissions" / "diet-kit" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "REPORT.md"
    code = module.main(["--config", str(path), "--work", str(root / "cache"), "--testset", str(test),
                        "--out", str(out), "--batch-size", "4"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.with_suffix(".json").read_text())
    assert list(data["testsets"]) == ["tiny_test_diet"]
    rows = data["testsets"]["tiny_test_diet"]
    labels = [row["label"] for row in rows["sequential"]]
    assert labels[:3] == ["Base (float)", "0: LoRA fine-tune, merged (float)", "1: HQQ 4 bit, g64 (embedding in float)"]
    assert labels[-1] == "5: + AWQ (the submission)"
    sizes = [row["size"]["de"]["bytes"] for row in rows["sequential"]]
    assert sizes[2] < sizes[1] and sizes[3] < sizes[2]  # 4 bit, then the 2-bit embedding, each smaller
    ablation = {row["label"].split(" [")[0]: row for row in rows["ablation"]}
    assert {"Table 4: first 1", "Table 4: last 1", "Table 4: middle 1", "3 bit everywhere (g128, embedding 2 bit)",
            "LM head at 2 bit (on step 3)"} <= set(ablation)
    assert sum(label.startswith("Table 4: random 1 (seed") for label in ablation) == 3
    selected = next(row for label, row in ablation.items() if label.startswith("Table 4: sensitivity-selected"))
    assert selected["size"]["de"]["bytes"] < sizes[4]  # one MLP at 3 bit on top of step 3
    for row in rows["sequential"] + rows["ablation"]:
        assert row["metrics"]["de"]["chrf++"]["value"] is not None and row["metrics"]["zh"]["chrf"]["value"] is not None
    text = out.read_text()
    assert "## Table 4 on tiny_test_diet" in text and "(mean of 3 seeds)" in text and "## Sensitivity (step 4)" in text


THROWAWAY_BUILD = '''"""throwaway: the teacher fine-tune alone (a test's submission, declared only by this file)."""

import sys

from harness.stages.recipe import build_main

REQUIRED_TABLES = ("data", "teacher")


def chain(recipe, lang, base):
    return recipe.teacher(lang, base)


if __name__ == "__main__":
    sys.exit(build_main(__file__))
'''


def test_a_new_submission_is_its_folder_alone(tiny_recipe, tmp_path, monkeypatch):
    """A submission folder nobody else names: plan lists its chain's stages and the build builds it (issue 20)."""
    import os
    import subprocess
    import sys

    from harness import plan, submissions

    root, config = tiny_recipe
    folder = tmp_path / "submissions" / "throwaway"
    (folder / "config").mkdir(parents=True)
    (folder / "build.py").write_text(THROWAWAY_BUILD)
    (folder / "config" / "mini.toml").write_text(config("throwaway").read_text())
    monkeypatch.setenv(submissions.ENV, str(folder.parent))
    assert submissions.names() == ["throwaway"]

    planned = plan.make_plan("mini", "throwaway", gpus=1, gpu_gib=80.0)
    built_stages = [(stage["name"], stage["runs"]) for stage in planned["stages"]
                    if not stage["name"].startswith(("eval ", "comet"))]
    assert built_stages == [("base", ["all"]), ("data:train", ["all"]), ("teacher", ["de", "zh"])]

    out = tmp_path / "built"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, str(folder / "build.py"), "--track", "mini", "--work", str(tmp_path / "cache"),
                          "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[de] teacher: ran" in run.stdout and "[zh] teacher: ran" in run.stdout
    assert set(read_manifest(out).languages) == set(LANGS)
