"""The typed config tables (harness/stages/config.py): every committed config loads, a bad one is refused
at load time with one line, the defaults are the stages' old ones, and the stage cache's settings (so its
keys) are unchanged for the mini configs (tests/data/mini_stage_settings.json)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.stages import config as C
from harness.stages import recipe
from harness.stages.base import StageError
from harness.stages.cache import StageOutput
from harness.data.tracks import REPO

CONFIGS = sorted((REPO / "submissions").glob("*/config/*.toml"))
FIXTURE = Path(__file__).parent / "data" / "mini_stage_settings.json"

# A valid value of every table kind (and nested table), and the keys a chain reads from it.
GOOD = {
    "build": {"device": "cpu"},
    "data": {"train": "testsets/mini/talks_train"},
    "teacher": {"epochs": 1, "batch_size": 4, "lr": 1e-5},
    "distill": {"max_new_tokens": 96},
    "prune": {"remove": 3},
    "finetune_pruned": {"epochs": 1, "batch_size": 4, "lr": 1e-5},
    "qlora": {"rank": 8, "train": {"epochs": 1, "batch_size": 4, "lr": 1e-5}},
    "lora": {"rank": 8, "general_size": 10, "train": {"epochs": 1, "batch_size": 4, "lr": 1e-5, "warmup_ratio": 0.03}},
    "quantize": {"group_size": 64},
    "sensitivity": {"bits": 3},
    "awq": {"batch_size": 4},
}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _write(path: Path, config: dict) -> Path:
    """``config`` as TOML (nested tables as [a.b])."""
    lines = []
    for name, table in config.items():
        if not isinstance(table, dict):
            lines.insert(0, f"{name} = {_toml(table)}")
            continue
        lines.append(f"[{name}]")
        nested = {k: v for k, v in table.items() if isinstance(v, dict) and name != "data" and k != "metric"}
        lines += [f"{k} = {_toml(v)}" for k, v in table.items() if k not in nested]
        for key, sub in nested.items():
            lines.append(f"[{name}.{key}]")
            lines += [f"{k} = {_toml(v)}" for k, v in sub.items()]
    path.write_text("\n".join(lines) + "\n")
    assert tomllib.loads(path.read_text()) == config
    return path


def _refused(path: Path) -> str:
    with pytest.raises(StageError) as excinfo:
        recipe.load_config(path)
    message = str(excinfo.value)
    assert len(message.splitlines()) == 1 and message.startswith(f"{path}: "), message
    return message


# ---------------------------------------------------------------- the committed configs


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_committed_config_loads(path):
    raw = tomllib.loads(path.read_text())
    loaded = recipe.load_config(path)
    assert dict(loaded) == raw and isinstance(loaded, dict)  # callers that read dicts read the same
    assert set(loaded.tables) == set(raw)
    for name, table in loaded.tables.items():
        assert isinstance(table, C.TABLES[name])
        for key, value in raw[name].items():  # every value kept as written (an int stays an int)
            typed = getattr(table, key)
            if dataclasses.is_dataclass(typed):
                typed = {k: getattr(typed, k) for k in value}
                typed = {k: list(v) if isinstance(v, tuple) else v for k, v in typed.items()}
            elif isinstance(typed, tuple):
                typed = list(typed)
            elif key == "ladder":
                typed = [list(rung) for rung in typed]
            assert json.dumps(typed, sort_keys=True) == json.dumps(value, sort_keys=True), (name, key)


def test_good_fixture_covers_every_table_and_loads(tmp_path):
    assert set(GOOD) == set(C.TABLES)
    loaded = recipe.load_config(_write(tmp_path / "good.toml", GOOD))
    assert isinstance(loaded.tables["qlora"].train, C.TrainTable)
    assert isinstance(loaded.tables["lora"].train, C.LoraTrainTable) and loaded.tables["lora"].train.warmup_ratio == 0.03


# ---------------------------------------------------------------- refused at load time, one line


TABLE_KINDS = [*GOOD, "qlora.train", "lora.train"]


def _with(config: dict, dotted: str, key: str, value) -> dict:
    config = json.loads(json.dumps(config))
    top, _, sub = dotted.partition(".")
    (config[top][sub] if sub else config[top])[key] = value
    return config


def _accepted(dotted: str) -> list[str]:
    top, _, sub = dotted.partition(".")
    cls = C.TABLES[top]
    if sub:
        cls = C.LoraTrainTable if top == "lora" else C.TrainTable
    return sorted(f.name for f in dataclasses.fields(cls))


@pytest.mark.parametrize("dotted", TABLE_KINDS)
def test_unknown_key_in_each_table_is_refused(dotted, tmp_path):
    path = _write(tmp_path / "bad.toml", _with(GOOD, dotted, "rnak", 3))
    message = _refused(path)
    assert f'[{dotted}] has no key "rnak"; accepted: {", ".join(_accepted(dotted))}' in message


@pytest.mark.parametrize("dotted, key, value, expected", [
    ("qlora", "rank", "64", '[qlora] rank must be an integer, not "64"'),
    ("qlora", "dropout", True, "[qlora] dropout must be a number, not true"),
    ("qlora.train", "lr", "1e-5", '[qlora.train] lr must be a number, not "1e-5"'),
    ("teacher", "betas", [0.9], "[teacher] betas must be a list of 2 numbers, not [0.9]"),
    ("teacher", "bf16", 1, "[teacher] bf16 must be true or false, not 1"),
    ("data", "general", {"de": 3}, "[data] general must be a string or a table of strings per language"),
    ("prune", "metric", 3, "[prune] metric must be a string or a table of strings per language, not 3"),
    ("sensitivity", "ladder", [["mlp", "3"]], "[sensitivity] ladder must be a list of [string, integer] pairs"),
    ("build", "device", 0, '[build] device must be a string, not 0'),
])
def test_wrong_type_is_refused(dotted, key, value, expected, tmp_path):
    assert expected in _refused(_write(tmp_path / "bad.toml", _with(GOOD, dotted, key, value)))


def test_unknown_table_a_loose_key_and_a_missing_required_key_are_refused(tmp_path):
    accepted = ", ".join(sorted(C.TABLES))
    message = _refused(_write(tmp_path / "a.toml", {**GOOD, "qlorra": {"rank": 8}}))
    assert f"no table [qlorra] in a recipe config; accepted tables: {accepted}" in message
    message = _refused(_write(tmp_path / "b.toml", {"device": "cpu", **GOOD}))
    assert "key device is outside any table" in message
    message = _refused(_write(tmp_path / "c.toml", {**GOOD, "qlora": {"train": {"epochs": 1}}}))
    assert "[qlora.train] needs lr (a number)" in message
    message = _refused(_write(tmp_path / "d.toml", {**GOOD, "prune": {"of": 12}}))
    assert "[prune] needs remove (an integer)" in message


def test_a_config_inside_the_project_is_named_by_its_relative_path():
    with pytest.raises(StageError, match=r'^submissions/modelB/config/mini\.toml: \[qlora\] has no key "rnak"; '
                                         r"accepted: alpha, dropout, "):
        C.from_table("qlora", {"rnak": 3}, REPO / "submissions" / "modelB" / "config" / "mini.toml")


def test_build_script_refuses_a_bad_config_with_exit_2_and_one_line(tmp_path):
    text = (REPO / "submissions" / "modelA" / "config" / "mini.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("match_share = 0.0241", "match_share = 0.0241\nrnak = 4"))
    run = subprocess.run([sys.executable, str(REPO / "submissions" / "modelA" / "build.py"), "--config", str(bad),
                          "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0] == (f'error: {bad}: [qlora] has no key "rnak"; accepted: alpha, dropout, general_seed, '
                        "general_size, gradient_checkpointing, match_share, oversample, rank, rslora, "
                        "target_modules, train")
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()  # nothing ran


def test_plan_refuses_a_bad_config(tmp_path, monkeypatch, capsys):
    from harness import plan

    subs = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "modelA", subs / "modelA")
    config = subs / "modelA" / "config" / "mini.toml"
    config.write_text(config.read_text().replace("[distill]", "[distill]\nbatchsize = 8"))
    monkeypatch.setenv("HARNESS_SUBMISSIONS_DIR", str(subs))
    code = plan.main(["--track", "mini", "--sub", "modelA"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert '[distill] has no key "batchsize"; accepted: batch_size, max_new_tokens' in err


# ---------------------------------------------------------------- the defaults are the stages' old ones


def _train_settings_class():
    try:
        from harness.training.settings import TrainSettings
    except ImportError:
        from harness.stages.finetune import TrainSettings
    return TrainSettings


def _lora_settings_class():
    try:
        from harness.training.lora import LoraSettings
    except ImportError:
        from harness.stages.qlora import LoraSettings
    return LoraSettings


def _defaults(cls) -> dict:
    return {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}


def test_train_tables_are_train_settings():
    settings = _train_settings_class()
    assert [f.name for f in dataclasses.fields(C.TrainTable)] == [f.name for f in dataclasses.fields(settings)]
    assert _defaults(C.TrainTable) == _defaults(settings)
    assert [f.name for f in dataclasses.fields(C.LoraTrainTable)][-1] == "warmup_ratio"
    for table in ({"epochs": 3, "batch_size": 16, "lr": 5e-4, "betas": [0.9, 0.98], "threads": 0},
                  {"steps": 5, "batch_size": 2, "lr": 1e-3, "threads": 1, "schedule": "linear"}):
        assert recipe.train_settings(C.from_table("teacher", table)) == recipe.train_settings(table)


@pytest.mark.parametrize("dotted, table, expected", [
    ("teacher", {"lr": 1e-5, "batch_size": 4}, "[teacher]: give exactly one of steps and epochs"),
    ("qlora.train", {"lr": 1e-5, "batch_size": 4, "epochs": 1, "steps": 9}, "[qlora.train]: give exactly one of"),
    ("teacher", {"lr": 0, "batch_size": 4, "epochs": 1}, "[teacher]: lr must be positive, got 0"),
    ("qlora", {"rank": 0}, "[qlora]: rank must be a positive integer, got 0"),
    ("lora", {"dropout": 1.5}, "[lora]: dropout must be in [0, 1), got 1.5"),
])
def test_the_settings_own_checks_refuse_a_table_at_load(dotted, table, expected, tmp_path):
    """The tables are TrainSettings and LoraSettings (one definition): their checks run before any stage."""
    assert issubclass(C.TrainTable, _train_settings_class()) and issubclass(C.QloraTable, _lora_settings_class())
    top, _, sub = dotted.partition(".")
    config = json.loads(json.dumps(GOOD))
    if sub:
        config[top][sub] = table
    else:
        config[top] = table
    assert expected in _refused(_write(tmp_path / "bad.toml", config))


def test_adapter_defaults_are_lora_settings():
    lora = _lora_settings_class()
    adapter = _defaults(lora)
    for cls in (C.QloraTable, C.LoraTable):
        assert {k: v for k, v in _defaults(cls).items() if k in adapter} == adapter
    for table in ({}, {"rank": 3, "alpha": 6}, {"match_share": 0.0241, "dropout": 0.05, "rslora": False}):
        assert recipe.lora_settings(C.from_table("qlora", table)) == recipe.lora_settings(table)


# The defaults the stages read with table.get(key, default) before the typed tables (recipe.py, diet_kit.py).
OLD_DEFAULTS = {
    "build": {"device": "cpu"},
    "data": {"base": None, "base_revision": None, "base_prompt": None, "train": None, "select": None,
             "general": None, "dev": None},
    "distill": {"max_new_tokens": None, "batch_size": 16},
    "prune": {"of": None, "metric": {"de": "chrf++", "zh": "chrf"}, "exclude_first_last": True, "limit": None,
              "max_new_tokens": None, "batch_size": 16},
    "qlora": {"match_share": None, "oversample": 1, "gradient_checkpointing": False, "general_size": None,
              "general_seed": 0, "train": None},
    "lora": {"match_share": None, "prompt": None, "general_size": None, "general_seed": 0, "train": None},
    "quantize": {"group_size": 128, "embedding_bits": 2, "head_bits": 4, "compute_dtype": None},
    "sensitivity": {"ladder": None, "bits": 3, "group_size": 128, "batch_size": 8, "limit": None,
                    "target_bytes": None},
    "awq": {"batch_size": 8, "max_utterances": None, "max_tokens": None, "layers_per_pass": None},
}


def test_defaults_equal_the_old_ones():
    from harness.stages import diet_kit
    from harness.stages.prune import DEFAULT_METRICS
    from harness.data.tracks import get_track

    for name, old in OLD_DEFAULTS.items():
        minimal = {"remove": 3} if name == "prune" else {}
        typed = C.from_table(name, minimal)
        assert {k: getattr(typed, k) for k in old} == old, name
    assert C.PRUNE_METRICS == DEFAULT_METRICS and C.PruneTable(remove=1).metric == DEFAULT_METRICS
    assert diet_kit.quantize_settings({}) == diet_kit.quantize_settings(C.QuantizeTable()) == (128, 2, 4)
    assert diet_kit.ladder_setting({}) == [("mlp", 3)] and diet_kit.ladder_setting({"bits": 2}) == [("mlp", 2)]
    assert diet_kit.batch_size_of({}) == diet_kit.batch_size_of(C.AwqTable()) == 8
    track = get_track("mini")
    assert recipe.decode_settings({}, track) == recipe.decode_settings(C.DistillTable(), track)
    assert recipe.decode_settings({}, track).max_new_tokens == track.max_new_tokens
    assert recipe.decode_settings({}, track).batch_size == 16


def test_a_plain_dict_config_still_works():
    """Recipe.config may be a plain dict (tests, stand-ins): its tables are checked when read."""
    from harness.data.tracks import get_track

    built = recipe.Recipe(track=get_track("mini"), config={"data": {}, "qlora": {"rnak": 1}}, cache=None, log=None)
    assert built.device == "cpu"
    with pytest.raises(StageError, match=r'\[qlora\] has no key "rnak"'):
        built.table("qlora")
    with pytest.raises(StageError, match=r"the config has no \[teacher\] table"):
        built.table("teacher")


# ---------------------------------------------------------------- the stage cache's settings are unchanged


class _RecordingCache:
    """Records (stage, settings) as StageCache.run would hash them; runs nothing."""

    def __init__(self, root: Path) -> None:
        self.root, self.calls = root, []

    def run(self, name, settings, inputs, produce):
        self.calls.append((name, json.dumps(settings, sort_keys=True, default=str)))
        return StageOutput(name=name, key=f"k{len(self.calls)}", path=self.root / name)


def _fake_set(source, *, track, langs, cache, log, sample=None):
    folder = Path(str(source))
    testset = SimpleNamespace(name=folder.name, utterances=list(range(12000)), folder=folder)
    return recipe.DataSet(input=StageOutput(name=folder.name, key=f"set-{folder.name}", path=folder), testset=testset)


def _chain(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_config_build", REPO / "submissions" / name / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chain


def _recorded(submission: str, work: Path) -> list[tuple[str, str]]:
    built = recipe.open_recipe(submission, track="mini", work=work, log=None)
    cache = built.cache = _RecordingCache(work)
    base = StageOutput(name="base", key="base", path=work / "base")
    if submission == "diet-kit":  # the stages whose settings come from the config (fitting_plan reads results)
        from harness.stages import diet_kit as diet

        merged = diet.lora_general(built, base)
        diet.hqq(built, merged, diet.base_plan(built), "step3")
        diet.sensitivities(built, merged)
        diet.awq(built, merged, diet.base_plan(built))
    else:
        chain = _chain(submission)
        for lang in built.langs:
            chain(built, lang, base)
    return cache.calls


@pytest.mark.parametrize("submission", ["modelA", "modelB", "diet-kit"])
def test_mini_stage_settings_are_unchanged(submission, tmp_path, monkeypatch):
    """The canonical JSON of every settings dict equals the one recorded before the typed tables (and
    matching a full mini build's stage.json files): same keys, values and types, so the same cache keys."""
    monkeypatch.setattr(recipe, "resolve_set", _fake_set)  # the mini sets' audio need not be there
    monkeypatch.delenv("HARNESS_SUBMISSIONS_DIR", raising=False)
    expected = [(row["stage"], json.dumps(row["settings"], sort_keys=True, default=str))
                for row in json.loads(FIXTURE.read_text())["stages"][submission]]
    assert _recorded(submission, tmp_path) == expected
