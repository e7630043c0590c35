"""The build-stage cache (harness.stages.cache): reuse, resume after a kill, exact invalidation."""

from __future__ import annotations

import json

import pytest

from harness.stages.cache import MARKER, StageCache, StageOutput, folder_input, stage_key


def writer(calls: list, name: str, text: str = "x", fail: bool = False):
    def produce(folder):
        calls.append(name)
        (folder / "out.txt").write_text(text)
        if fail:
            raise KeyboardInterrupt  # a killed build
        return {"chars": len(text)}
    return produce


def chain(cache: StageCache, calls: list, teacher_lr: float = 1e-5, prune_layers: int = 3, base=None):
    base = base or StageOutput(name="base", key="base-hash", path=cache.root)
    teacher = cache.run("teacher", {"lr": teacher_lr}, [base], writer(calls, "teacher"))
    kd = cache.run("distill", {"oversample": 1}, [teacher], writer(calls, "distill"))
    pruned = cache.run("prune", {"layers": prune_layers}, [teacher], writer(calls, "prune"))
    final = cache.run("qlora", {"rank": 4}, [pruned, kd], writer(calls, "qlora"))
    return teacher, kd, pruned, final


def test_second_build_reuses_every_stage(tmp_path):
    cache, calls = StageCache(tmp_path, log=None), []
    first = chain(cache, calls)
    assert calls == ["teacher", "distill", "prune", "qlora"]
    again = chain(cache, calls)
    assert calls == ["teacher", "distill", "prune", "qlora"]  # nothing reran
    assert all(o.reused for o in again) and [o.path for o in again] == [o.path for o in first]
    record = json.loads((first[0].path / MARKER).read_text())
    assert record["settings"] == {"lr": 1e-5} and record["inputs"]["base"]["key"] == "base-hash"
    assert cache.summary(first[0]) == {"chars": 1}


def test_changed_setting_reruns_exactly_the_affected_stages(tmp_path):
    cache, calls = StageCache(tmp_path, log=None), []
    chain(cache, calls)
    calls.clear()
    chain(cache, calls, prune_layers=4)
    assert calls == ["prune", "qlora"]  # teacher and distillation reused
    calls.clear()
    chain(cache, calls, teacher_lr=2e-5)
    assert calls == ["teacher", "distill", "prune", "qlora"]  # everything downstream of the teacher


def test_killed_stage_leaves_nothing_and_resumes_there(tmp_path):
    cache, calls = StageCache(tmp_path, log=None), []
    base = StageOutput(name="base", key="b", path=tmp_path)
    teacher = cache.run("teacher", {}, [base], writer(calls, "teacher"))
    with pytest.raises(KeyboardInterrupt):
        cache.run("distill", {}, [teacher], writer(calls, "distill", fail=True))
    assert not list(tmp_path.glob("distill-*")) and not list(tmp_path.glob(".distill-*"))
    calls.clear()
    teacher_again = cache.run("teacher", {}, [base], writer(calls, "teacher"))
    kd = cache.run("distill", {}, [teacher_again], writer(calls, "distill"))
    assert calls == ["distill"] and (kd.path / "out.txt").read_text() == "x"


def test_a_leftover_staging_folder_is_discarded(tmp_path):
    cache, calls = StageCache(tmp_path, log=None), []
    base = StageOutput(name="base", key="b", path=tmp_path)
    key = stage_key("teacher", {}, [base])
    stale = tmp_path / f".{cache.path_for('teacher', key).name}.staging-99999"
    stale.mkdir(parents=True)
    (stale / "half.bin").write_bytes(b"\0")
    out = cache.run("teacher", {}, [base], writer(calls, "teacher"))
    assert not stale.exists() and sorted(p.name for p in out.path.iterdir()) == sorted([MARKER, "out.txt"])


def test_external_folder_key_follows_its_content(tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"1")
    first = folder_input("base", folder).key
    (folder / "w.bin").write_bytes(b"2")
    assert folder_input("base", folder).key != first
    with pytest.raises(FileNotFoundError):
        folder_input("base", tmp_path / "missing")


def test_duplicate_input_names_are_refused():
    a = StageOutput(name="x", key="1", path=None)
    with pytest.raises(ValueError, match="input names"):
        stage_key("s", {}, [a, a])


def test_staged_folder_puts_a_finished_folder_in_place_and_nothing_else(tmp_path):
    from harness.files import staged_folder

    target = tmp_path / "system"
    with staged_folder(target) as staging:
        (staging / "a.txt").write_text("new")
        assert not target.exists()  # a reader never sees a half-written folder
    assert (target / "a.txt").read_text() == "new"
    with pytest.raises(RuntimeError, match="boom"), staged_folder(target) as staging:
        (staging / "a.txt").write_text("broken")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "new"  # the old folder stays; no staging folder is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["system"]
