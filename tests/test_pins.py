"""Every hub id a track reads is read at a pinned commit (harness.data.hub.HUB_REVISIONS), never at "main".

The hub's "main" moves: a base model, test set or COMET checkpoint fetched at another commit is
another model, test set or metric. These tests check the table covers every hub id of every
track, that each loader passes the commit (or refuses without one, before touching the hub),
that results record the commits, and that COMET's signature names its commit, so the
leaderboard never ranks numbers from two checkpoints together.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from harness import results

from harness.scoring import metrics
from harness.data import tracks
from harness.stages import base as base_stage
from harness.stages.base import StageError
from harness.data.tracks import TRACKS, hub_revisions
from harness.data.hub import HUB_REVISIONS, UnpinnedError, pinned_revision

COMMIT = re.compile(r"[0-9a-f]{40}")


@pytest.mark.parametrize("name", sorted(TRACKS))
def test_every_hub_id_of_every_track_is_in_the_pin_table(name):
    for role, pin in hub_revisions(TRACKS[name]).items():
        assert pin["id"] in HUB_REVISIONS, (name, role, pin)
        assert pin["revision"] == HUB_REVISIONS[pin["id"]], (name, role, pin)


def test_pins_are_commit_ids_and_the_tracks_use_them():
    assert all(value is None or COMMIT.fullmatch(value) for value in HUB_REVISIONS.values())
    assert TRACKS["iwslt2026"].base_revision == HUB_REVISIONS["Qwen/Qwen2-Audio-7B-Instruct"]
    assert TRACKS["iwslt2025"].base_revision == HUB_REVISIONS["Qwen/Qwen2-Audio-7B-Instruct"]
    assert hub_revisions(TRACKS["mini"]) == {}   # the mini track reads no hub at all


@pytest.mark.parametrize("revision", [None, "main", "v2.0", "0a095220"])
def test_a_moving_or_short_revision_is_refused(monkeypatch, revision):
    monkeypatch.setitem(HUB_REVISIONS, "someone/model", None)
    with pytest.raises(UnpinnedError) as excinfo:
        pinned_revision("someone/model", revision)
    assert "\n" not in str(excinfo.value) and "someone/model" in str(excinfo.value)


def test_the_base_model_download_passes_the_pin_and_refuses_without_one(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: calls.append((repo_id, kw)))
    base_stage._download("Qwen/Qwen2-Audio-7B", None, tmp_path / "a")
    assert calls[-1][1]["revision"] == HUB_REVISIONS["Qwen/Qwen2-Audio-7B"]

    monkeypatch.setitem(HUB_REVISIONS, "Qwen/Qwen2-Audio-7B", None)
    calls.clear()
    with pytest.raises(StageError, match="no pinned commit: add its commit id to HUB_REVISIONS"):
        base_stage._download("Qwen/Qwen2-Audio-7B", None, tmp_path / "b")
    assert calls == []   # the hub was never asked


def test_comet_passes_the_pinned_commit_to_the_runner(monkeypatch):
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 2, "", "error: stop here\n")

    monkeypatch.setattr(metrics, "comet_python", lambda: __import__("pathlib").Path(sys.executable))
    monkeypatch.setattr(metrics.subprocess, "run", fake_run)
    score = metrics.comet_score(["a"], ["b"], "de", sources=["c"], comet_model="Unbabel/wmt22-comet-da")
    command = seen[-1]
    assert command[command.index("--model") + 1] == "Unbabel/wmt22-comet-da"
    assert command[command.index("--revision") + 1] == HUB_REVISIONS["Unbabel/wmt22-comet-da"]
    assert score.value is None


def test_an_unpinned_comet_model_is_absent_with_the_reason(monkeypatch):
    monkeypatch.setattr(metrics.subprocess, "run", lambda *a, **k: pytest.fail("the runner must not start"))
    score = metrics.comet_score(["a"], ["b"], "de", sources=["c"], comet_model="Unbabel/wmt20-comet-da")
    assert score.value is None and "Unbabel/wmt20-comet-da has no pinned commit" in score.absent_reason


def test_the_comet_runner_refuses_a_hub_id_without_a_commit(tmp_path):
    segments = tmp_path / "in.jsonl"
    segments.write_text('{"src": "a", "mt": "b", "ref": "c"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, str(metrics.COMET_RUNNER), "--model", "Unbabel/wmt22-comet-da",
                           "--revision", "main", "--input", str(segments), "--output", str(tmp_path / "o.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs --revision <40-hex commit id>" in done.stderr.strip().splitlines()[-1]


def test_the_signature_names_the_commit_so_two_checkpoints_never_rank_together():
    base = {"model": "Unbabel/wmt22-comet-da", "comet_version": "2.2.7"}
    one = metrics.comet_signature({**base, "model_revision": "a" * 40})
    other = metrics.comet_signature({**base, "model_revision": "b" * 40})
    assert one == "comet|model:Unbabel/wmt22-comet-da|rev:aaaaaaaaaaaa|version:2.2.7" and one != other


def test_results_record_the_commits_the_track_reads(tmp_path):
    paths = results.ResultPaths(tmp_path / "s.json", tmp_path / "s.segments.jsonl")

    def summary(track: str) -> dict:  # the least a results summary holds (harness.results_schema)
        return {"schema": results.EVAL_SCHEMA, "schema_version": results.SCHEMA_VERSION, "system": "x",
                "track": track, "testset": {"name": "t", "content_hash": "sha256:0"}, "languages": {}}
    written = results.write_results(paths, [], summary("iwslt2026"))
    assert written["provenance"]["hub_revisions"] == hub_revisions(tracks.TRACKS["iwslt2026"])
    assert written["provenance"]["hub_revisions"]["base_model"]["revision"] == HUB_REVISIONS[
        "Qwen/Qwen2-Audio-7B-Instruct"]
    assert results.write_results(paths, [], summary("mini"))["provenance"]["hub_revisions"] == {}
