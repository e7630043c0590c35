"""The results schema (harness.results_schema): one typed definition for the writers, the leaderboard and
outside teams, and the published JSON Schema agrees with it on every committed file and every mutation."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from harness import results, results_schema
from harness.leaderboard.render import LeaderboardError, read_results
from harness.results_schema import ResultsSchemaError, check_segment_rows, check_summary

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted((REPO / "leaderboard" / "results").rglob("*.json"))
SEGMENTS = sorted((REPO / "leaderboard" / "results").rglob("*.segments.jsonl"))


def validator(definition: str = "ResultsSummary") -> jsonschema.Draft202012Validator:
    schema = json.loads(results_schema.SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{definition}"})


def real_summary() -> dict:
    return json.loads((REPO / "leaderboard" / "results" / "mini" / "modelB" / "talks_test.json").read_text())


def test_the_published_schema_is_the_definitions():
    """schemas/results.schema.json is generated from the dataclasses: `make schema` after changing them."""
    schema = json.loads(results_schema.SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert results_schema.SCHEMA_FILE.read_text(encoding="utf-8") == results_schema.schema_text(), \
        "schemas/results.schema.json is stale: run make schema"
    assert set(schema["$defs"]) == {cls.__name__ for cls in results_schema.DEFINITIONS}
    assert schema["$defs"]["ResultsSummary"]["required"] == ["schema", "schema_version", "system", "track",
                                                             "testset", "languages"]


def test_the_writers_constants_are_the_schemas():
    assert (results.EVAL_SCHEMA, results.LONGFORM_SCHEMA) == results_schema.RESULT_SCHEMAS
    assert results.SCHEMA_VERSION == results_schema.SCHEMA_VERSION


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_committed_summary_follows_both(path: Path):
    summary = json.loads(path.read_text(encoding="utf-8"))
    check_summary(summary, str(path))
    assert list(validator().iter_errors(summary)) == []


@pytest.mark.parametrize("path", SEGMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_committed_segment_row_follows_both(path: Path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    check_segment_rows(rows, str(path))
    row_validator = validator("SegmentRow")
    assert [error.message for row in rows for error in row_validator.iter_errors(row)] == []


def _set(data: dict, dotted: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()

MUTATIONS = [
    ("schema", "iwslt-harness/other", "unknown schema"),
    ("schema_version", "2", "schema_version: expected an integer"),
    ("system", _DELETE, "the required key 'system' is missing"),
    ("testset.content_hash", _DELETE, "testset: the required key 'content_hash' is missing"),
    ("testset.utterances", 1.5, "testset.utterances: expected an integer or null"),
    ("languages.de.metrics.bleu.value", "26.8", "languages.de.metrics.bleu.value: expected a number or null"),
    ("languages.de.metrics.bleu.value", True, "languages.de.metrics.bleu.value: expected a number or null"),
    ("languages.de.metrics.bleu.ci_95", {}, "languages.de.metrics.bleu: unknown key 'ci_95' (accepted: value,"),
    ("languages.de.metrics.bleu.ci95.low", _DELETE, "languages.de.metrics.bleu.ci95: the required key 'low'"),
    ("languages.de.metrics.chrf", 50.4, "languages.de.metrics.chrf: expected an object"),
    ("languages.de.speed.status", "fast", 'languages.de.speed.status: expected "measured" or "absent" or null'),
    ("languages.de.speed.rtfx.median", "33", "languages.de.speed.rtfx.median: expected a number or null"),
    ("languages.de.speed.contended", "no", "languages.de.speed.contended: expected true or false or null"),
    ("storage.verdicts.units.de.size_bytes", 5269009.5, "storage.verdicts.units.de.size_bytes: expected an integer"),
    ("provenance.git.commit", 7, "provenance.git.commit: expected a string or null"),
    ("languages", [], "languages: expected an object"),
]


@pytest.mark.parametrize("dotted, value, message", MUTATIONS, ids=[m[0] + "=" + repr(m[1])[:12] for m in MUTATIONS])
def test_a_drifted_summary_is_refused_by_both_with_the_key_named(dotted, value, message):
    broken = _set(real_summary(), dotted, value)
    with pytest.raises(ResultsSchemaError) as refused:
        check_summary(broken, "talks_test.json")
    assert str(refused.value).startswith("talks_test.json: ") and message in str(refused.value)
    assert list(validator().iter_errors(broken)), "the published JSON Schema accepts what the harness refuses"


@pytest.mark.parametrize("dotted, value", [
    ("provenance.hardware.gpus", ["H100"]),          # provenance details may grow
    ("languages.de.speed", None),                   # no speed block at all
    ("languages.de.speed", {"rtfx": 50.0}),         # a pre-protocol block: shown as no speed
    ("languages.de.metrics.comet", {"metric": "comet", "value": None, "signature": None,
                                    "absent_reason": "COMET needs its checkpoint", "ci95": None}),
    ("system_manifest", None),                      # an imported system has no manifest
    ("testset.utterances", _DELETE),
])
def test_what_readers_accept_both_accept(dotted, value):
    fine = _set(real_summary(), dotted, value)
    check_summary(fine)
    assert list(validator().iter_errors(fine)) == []


def test_write_results_refuses_a_drifted_summary_and_keeps_what_was_there(tmp_path: Path):
    paths = results.ResultPaths.of("mini", "modelB", "talks_test", tmp_path)
    results.write_results(paths, [{"lang": "de", "id": "u1", "hypothesis": "Hallo"}], real_summary())
    before = paths.summary.read_bytes(), paths.segments.read_bytes()
    drifted = _set(real_summary(), "languages.de.metrics.bleu.value", "26.8")
    with pytest.raises(ResultsSchemaError, match="metrics.bleu.value"):
        results.write_results(paths, [{"lang": "de", "id": "u1", "hypothesis": "Hallo!"}], drifted)
    with pytest.raises(ResultsSchemaError, match=r"line 1: the required key 'hypothesis' is missing"):
        results.write_results(paths, [{"lang": "de", "id": "u1"}], real_summary())
    assert (paths.summary.read_bytes(), paths.segments.read_bytes()) == before


def test_the_leaderboard_refuses_what_the_schema_refuses(tmp_path: Path):
    folder = tmp_path / "mini" / "modelB"
    folder.mkdir(parents=True)
    (folder / "talks_test.json").write_text(json.dumps(_set(real_summary(), "testset.name", 3)))
    with pytest.raises(LeaderboardError, match=r"^mini/modelB/talks_test.json: testset.name: expected a string"):
        read_results(tmp_path)


def test_validate_command_for_outside_teams(tmp_path: Path, capsys):
    good = tmp_path / "talks_test.json"
    good.write_text(json.dumps(real_summary()))
    rows = tmp_path / "talks_test.segments.jsonl"
    rows.write_text(json.dumps({"lang": "de", "id": "u1", "hypothesis": "Hallo"}) + "\n")
    assert results_schema.main(["validate", str(good), str(rows)]) == 0
    assert "2 file(s) follow results schema version 2" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_set(real_summary(), "track", None)))
    assert results_schema.main(["validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {bad}: track: expected a string, found null\n"
    (tmp_path / "torn.json").write_text("{")
    assert results_schema.main(["validate", str(tmp_path / "torn.json")]) == 1
    assert "not JSON" in capsys.readouterr().err


def test_write_command_regenerates_the_schema(tmp_path: Path):
    out = tmp_path / "results.schema.json"
    assert results_schema.main(["write", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == results_schema.SCHEMA_FILE.read_text(encoding="utf-8")
