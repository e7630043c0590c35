"""The Makefile: which direction `LANG` selects; a fresh clone's quick start (`make -n` of the dependency
graph in a clean copy of the tracked files: nothing is built); make leaderboard-mini (its refusal and its
order, run with a python that only logs its arguments); the missing-data errors name make data."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_line(**variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "LANG"}
    env.update(variables)
    out = subprocess.run(["make", "-n", "--no-print-directory", "build", "SUB=modelA"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "submissions/modelA/build.py" in line][-1]


@pytest.mark.parametrize("lang, expected", [("de", "--lang de"), ("zh", "--lang zh"), ("both", "--lang both")])
def test_lang_selects_one_direction(lang, expected):
    assert build_line(LANG=lang).endswith(expected)


@pytest.mark.parametrize("locale", ["C.UTF-8", "en_US.UTF-8", ""])
def test_a_locale_in_lang_builds_both_directions(locale):
    assert "--lang" not in build_line(LANG=locale)


def test_nproc_and_fsdp_reach_the_fine_tunes():
    line = build_line(NPROC="4", FSDP="1")
    assert line.startswith("HARNESS_NPROC=4 HARNESS_FSDP=1 ")
    plain = build_line()
    assert "HARNESS_NPROC" not in plain and "HARNESS_FSDP" not in plain


# ---------------------------------------------------------------- a fresh clone's quick start

# Variables a caller's environment could set that would change the Makefile's graph.
CALLER_VARIABLES = ("LANG", "TRACK", "SUB", "TESTSET", "SEGMENTATION", "BATCH", "NPROC", "FSDP", "JOBS", "PYTHON",
                    "ESPEAK", "CHROMIUM", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


@pytest.fixture(scope="module")
def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture
def clean_tree(tmp_path, tracked_files) -> Path:
    """The tracked files as a fresh clone has them: no .venv, no build/, no generated data, no stamp."""
    tree = tmp_path / "clone"
    for name in tracked_files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    return tree


def make_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CALLER_VARIABLES and not k.startswith("GIT_")}


# espeak-ng present (ESPEAK names it) or absent (ESPEAK empty: the dry run prints its apt-get install):
# the quick start's order must not depend on it.
ESPEAK_CASES = pytest.mark.parametrize("espeak", ["/usr/bin/espeak-ng", ""], ids=["espeak", "no-espeak"])


def dry_run(tree: Path, *args: str, espeak: str = "/usr/bin/espeak-ng") -> list[str]:
    done = subprocess.run(["make", "-n", "--no-print-directory", *args, f"ESPEAK={espeak}"], cwd=tree,
                          env=make_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def first(lines: list[str], text: str) -> int:
    found = [i for i, line in enumerate(lines) if text in line]
    assert found, f"{text!r} not in the dry run:\n" + "\n".join(lines)
    return found[0]


def mentions(lines: list[str], text: str) -> bool:
    return any(text in line for line in lines)


@ESPEAK_CASES
def test_quick_start_build_makes_the_environment_then_the_data_then_the_system(clean_tree, espeak):
    lines = dry_run(clean_tree, "build", "SUB=modelB", espeak=espeak)
    venv = first(lines, "-m venv .venv")
    assert venv < first(lines, "pip install") < first(lines, "-m testsets.miniworld") \
        < first(lines, "submissions/modelB/build.py --track mini")
    if not espeak:
        assert first(lines, "apt-get install -y -qq espeak-ng") < first(lines, "-m testsets.miniworld")


@ESPEAK_CASES
def test_quick_start_eval_makes_the_data_and_builds_the_base_before_evaluating(clean_tree, espeak):
    lines = dry_run(clean_tree, "eval", espeak=espeak)
    assert first(lines, "-m venv .venv") < first(lines, "-m testsets.miniworld")
    assert first(lines, "pip install") < first(lines, "submissions/baseline/build.py --track mini") \
        < first(lines, "-m harness eval --track mini") < first(lines, "-m harness leaderboard")
    assert first(lines, "-m testsets.miniworld") < first(lines, "-m harness eval")


def _as_built(tree: Path) -> None:
    """What the quick start leaves: the environment, the data's stamp and a built base (all newer than
    what they are made from)."""
    for path in (".venv/.installed", "testsets/mini/.generated", "build/mini/baseline/system.json"):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text("{}")


def test_a_second_run_neither_regenerates_the_data_nor_rebuilds_the_base(clean_tree):
    _as_built(clean_tree)
    lines = dry_run(clean_tree, "eval")
    assert not mentions(lines, "submissions/baseline/build.py")
    assert not mentions(lines, "testsets.miniworld") and not mentions(lines, "pip install")
    assert mentions(lines, "-m harness eval --track mini")
    build = dry_run(clean_tree, "build", "SUB=modelB")
    assert not mentions(build, "testsets.miniworld") and mentions(build, "submissions/modelB/build.py")


def test_the_data_is_remade_when_the_generator_changes_and_the_base_when_the_model_does(clean_tree):
    _as_built(clean_tree)
    later = time.time() + 10
    os.utime(clean_tree / "testsets" / "miniworld" / "grammar.py", (later, later))
    assert mentions(dry_run(clean_tree, "build", "SUB=modelB"), "-m testsets.miniworld")
    os.utime(clean_tree / "models" / "mini-base" / "model.safetensors", (later, later))
    assert mentions(dry_run(clean_tree, "eval"), "submissions/baseline/build.py --track mini")


def test_make_data_always_runs_the_generator(clean_tree):
    _as_built(clean_tree)
    # present and intact, the generator only verifies the hashes (testsets/miniworld/__main__.py)
    assert mentions(dry_run(clean_tree, "data"), "-m testsets.miniworld --out testsets/mini")


def test_real_track_generates_no_mini_data_and_builds_no_base_itself(clean_tree):
    for target in (["build", "SUB=modelB"], ["eval"]):
        lines = dry_run(clean_tree, *target, "TRACK=iwslt2026")
        assert not mentions(lines, "testsets.miniworld") and not mentions(lines, "baseline/build.py")
        assert not mentions(lines, "espeak-ng")
    assert mentions(dry_run(clean_tree, "eval", "TRACK=iwslt2026"), "-m harness eval --track iwslt2026")


# ---------------------------------------------------------------- make leaderboard-mini

def _fake_checkout(tree: Path) -> Path:
    """``tree`` as a committed git checkout whose environment is a python that only logs its arguments
    (so make leaderboard-mini runs its recipe for real and builds nothing)."""
    log = tree / "python.log"
    python = tree / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    python.chmod(0o755)
    (tree / ".venv" / ".installed").touch()  # newer than pyproject.toml: no install
    for command in (["init", "-q"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=tree, check=True, capture_output=True, env=make_env())
    return log


def _leaderboard_mini(tree: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "leaderboard-mini", "ESPEAK=/usr/bin/espeak-ng", *args],
                          cwd=tree, env=make_env(), capture_output=True, text=True, timeout=60)


def test_leaderboard_mini_builds_every_submission_then_evaluates_everything_afresh(clean_tree):
    log = _fake_checkout(clean_tree)
    (clean_tree / "leaderboard" / "README.md").write_text("an older page\n")  # leaderboard/ may differ
    stale = clean_tree / "leaderboard" / "results" / "mini" / "old" / "x.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    done = _leaderboard_mini(clean_tree, "LANG=de")  # a direction in the caller's LANG: still both built
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    submissions = sorted(p.parent.name for p in (ROOT / "submissions").glob("*/build.py"))
    assert [c for c in calls if c.startswith("submissions/")] == \
        [f"submissions/{s}/build.py --track mini" for s in submissions]
    assert calls[0].startswith("-m testsets.miniworld --out testsets/mini")  # the data before the builds
    systems = " ".join(f"--system {s}" for s in submissions)
    assert calls[-2:] == [f"-m harness eval --track mini --batch-size 16 {systems}", "-m harness leaderboard"]
    assert not stale.exists()  # every row is evaluated afresh


def test_leaderboard_mini_refuses_a_tree_with_local_changes(clean_tree):
    log = _fake_checkout(clean_tree)
    (clean_tree / "harness" / "evaluation" / "evaluate.py").write_text("# edited\n")
    kept = clean_tree / "leaderboard" / "results" / "mini" / "baseline" / "talks_test.json"
    kept.parent.mkdir(parents=True, exist_ok=True)  # the committed leaderboard may hold it already
    kept.write_text("{}")
    done = _leaderboard_mini(clean_tree)
    assert done.returncode == 2
    message = done.stderr.splitlines()[0]  # one line (then make's own "Error 2")
    assert message == "error: local changes outside leaderboard/ (harness/evaluation/evaluate.py): commit them first, " \
                      "so the leaderboard records one commit", done.stderr
    assert not log.exists() and kept.exists()  # nothing built, evaluated or removed


def test_leaderboard_mini_refuses_outside_a_git_checkout(clean_tree):
    done = _leaderboard_mini(clean_tree)
    assert done.returncode == 2 and "needs a git checkout" in done.stderr


# ---------------------------------------------------------------- missing data names its command

def test_a_missing_mini_set_names_make_data(tmp_path):
    from harness.stages.base import StageError
    from harness.stages.recipe import resolve_set
    from harness.data.testsets import TestSetError
    from harness.data.tracks import TestSetSpec, get_track, load_spec

    track = get_track("mini")
    with pytest.raises(StageError) as error:
        resolve_set("testsets/mini/no_such_set", track=track, langs=("de",), cache=None, log=None)
    assert str(error.value).count("\n") == 0 and "data set is missing" in str(error.value) \
        and str(error.value).endswith("run make data (it writes the mini track's sets)")
    with pytest.raises(TestSetError, match=r"run make data"):
        load_spec(TestSetSpec("no_such_set", "local", "testsets/mini/no_such_set"))
    # a folder of the user's own is not made by make data: no hint there
    with pytest.raises(StageError) as error:
        resolve_set(str(tmp_path / "mine"), track=track, langs=("de",), cache=None, log=None)
    assert "make data" not in str(error.value)
