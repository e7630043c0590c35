"""python -m harness eval: results files, provenance, resume after a kill, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.evaluation import evaluate as evaluation
from harness.inference.decode import DecodeSettings
from harness.systems.model_files import ModelLoadError
from harness.evaluation.speed import PROTOCOL_VERSION
from harness.data.testsets import load_testset, write_segmented_set
from harness.data import tracks
from harness.data.tracks import get_track

from conftest import TINY_DE, TINY_EN, TINY_ZH, copy_system

SETTINGS = DecodeSettings(max_new_tokens=24, batch_size=3)
SPEC = tracks.TestSetSpec("tiny_test", "local", "unused")


@pytest.fixture(scope="module")
def tiny_testset(tmp_path_factory, tiny_clips):
    folder = tmp_path_factory.mktemp("sets") / "tiny_test"
    rows = [{"id": f"utt{i:02d}", "audio": clip, "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i, clip in enumerate(tiny_clips)]
    write_segmented_set(folder, name="tiny_test", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_evaluate.py"})
    return load_testset(folder)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_base_dir, tiny_testset):
    root = tmp_path_factory.mktemp("results")
    system = copy_system(tiny_base_dir, tmp_path_factory.mktemp("build") / "tiny")
    summary = evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=root)
    return system, root, summary


def _segments(root: Path, system: str = "tiny") -> list[dict]:
    lines = (root / "mini" / system / "tiny_test.segments.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "decode_seconds"} for row in rows]


def test_summary_has_scores_with_signatures_and_provenance(reference_run, tiny_testset):
    _, root, summary = reference_run
    on_disk = json.loads((root / "mini" / "tiny" / "tiny_test.json").read_text())
    assert on_disk == summary
    # Version 2: TER in the metrics, tags removed, long-form sets realigned by the server's rule (harness.results).
    assert summary["schema"] == "iwslt-harness/eval" and summary["schema_version"] == 2
    assert summary["testset"]["content_hash"] == tiny_testset.content_hash
    assert summary["provenance"]["git"]["commit"]
    assert "torch" in summary["provenance"]["packages"]
    assert set(summary["languages"]) == {"de", "zh"}
    for lang, report in summary["languages"].items():
        metrics = report["metrics"]
        assert metrics["bleu"]["signature"].startswith("nrefs:1") and metrics["bleu"]["value"] is not None
        assert ("tok:13a" if lang == "de" else "tok:zh") in metrics["bleu"]["signature"]
        assert "nw:2" in metrics["chrf++"]["signature"]
        # No COMET model on the mini track: absent with a reason, never a number.
        assert metrics["comet"]["value"] is None and "no COMET model" in metrics["comet"]["absent_reason"]
        speed = report["speed"]
        assert speed["status"] == "measured" and speed["protocol"]["version"] == PROTOCOL_VERSION
        assert speed["rtfx"]["median"] > 0 and speed["batch1_latency_seconds"]["median"] > 0
        assert len(speed["rtfx"]["runs"]) == speed["protocol"]["repetitions"] >= 3
        assert speed["comparability"]["batch_size"] == SETTINGS.batch_size
        assert speed["comparability"]["sample"].endswith(f":{len(tiny_testset.utterances)}")
        assert speed["comparability_key"].startswith("sha256:")
        assert speed["load"]["sampled"] and isinstance(speed["contended"], bool)
        assert speed["memory"]["peak_rss_bytes"] > 0 and "cpu" in speed["memory"]["gpu_absent_reason"]
        # The quality pass's timing is kept apart, and is not a speed figure.
        assert report["decode_pass"]["decoded_segments"] == len(tiny_testset.utterances)
        assert len(report["model"]["content_hash"]) == 64  # sha256 of the model folder
        assert "any" in report["degeneration"]


def test_segments_file_is_complete_and_in_input_order(reference_run, tiny_testset):
    _, root, _ = reference_run
    rows = _segments(root)
    ids = [u.id for u in tiny_testset.utterances]
    assert [r["id"] for r in rows if r["lang"] == "de"] == ids
    assert [r["id"] for r in rows if r["lang"] == "zh"] == ids
    for row in rows:
        assert set(row) >= {"id", "lang", "audio_seconds", "reference", "hypothesis", "decode_seconds",
                            "new_tokens", "flags"}
    assert not list((root / "mini" / "tiny").glob("*.partial.jsonl"))


def test_killed_run_resumes_and_ends_equal_to_an_uninterrupted_run(reference_run, tiny_testset, tmp_path,
                                                                   monkeypatch):
    system, reference_root, _ = reference_run
    real_decode = evaluation.decode   # harness.inference.decode.decode, as evaluate's default

    def dies_after_four(*args, on_result=None, **kwargs):
        calls = []

        def counting(index, hypothesis):
            on_result(index, hypothesis)
            calls.append(index)
            if len(calls) == 4:
                raise KeyboardInterrupt("killed")
        return real_decode(*args, on_result=counting, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=tmp_path,
                            measure_speed=False, decoder=dies_after_four)
    partial = tmp_path / "mini" / "tiny" / "tiny_test.de.partial.jsonl"
    assert len(partial.read_text().splitlines()) >= 1 + 4  # key line + the finished segments

    summary = evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=tmp_path,
                                  measure_speed=False, decoder=real_decode)
    assert summary["languages"]["de"]["decode_pass"]["resumed_segments"] >= 3  # the batch of 3 that finished
    assert _without_timing(_segments(tmp_path)) == _without_timing(_segments(reference_root))
    assert not partial.exists()


def test_checkpoint_under_other_settings_is_not_reused(reference_run, tiny_testset, tmp_path, monkeypatch):
    system, _, _ = reference_run
    real_decode = evaluation.decode   # harness.inference.decode.decode, as evaluate's default

    def dies_at_once(*args, on_result=None, **kwargs):
        def stop(index, hypothesis):
            on_result(index, hypothesis)
            raise KeyboardInterrupt("killed")
        return real_decode(*args, on_result=stop, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=tmp_path,
                            measure_speed=False, decoder=dies_at_once)
    other = DecodeSettings(max_new_tokens=SETTINGS.max_new_tokens + 1, batch_size=SETTINGS.batch_size)
    summary = evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, other, results_root=tmp_path,
                                  measure_speed=False, decoder=real_decode)
    assert summary["languages"]["de"]["decode_pass"]["resumed_segments"] == 0


def test_corrupt_weights_fail_and_keep_earlier_results(reference_run, tiny_testset, tmp_path):
    system, reference_root, _ = reference_run
    broken = copy_system(system, tmp_path / "build" / "tiny")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    results_root = tmp_path / "results"
    earlier = results_root / "mini" / "tiny" / "tiny_test.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"earlier": true}\n')
    with pytest.raises(ModelLoadError):
        evaluation.evaluate(broken, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=results_root,
                            measure_speed=False)
    assert earlier.read_text() == '{"earlier": true}\n'


def test_empty_testset_is_an_error(reference_run, tiny_testset):
    system, root, _ = reference_run
    empty = dataclasses.replace(tiny_testset, utterances=())
    with pytest.raises(evaluation.EvalError, match="empty"):
        evaluation.evaluate(system, get_track("mini"), SPEC, empty, SETTINGS, results_root=root)


@pytest.mark.parametrize("argv, message", [
    (["--system", "no-such-system"], "no built system here"),
    (["--track", "nope"], "unknown track"),
    ([], "no built systems under"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    code = evaluation.main(["--build-root", str(tmp_path), "--results-root", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "r").exists()


def test_resumed_run_measures_speed_whole_in_its_own_phase(reference_run, tiny_testset, tmp_path, monkeypatch):
    system, _, _ = reference_run
    real_decode = evaluation.decode   # harness.inference.decode.decode, as evaluate's default

    def dies_after_three(*args, on_result=None, **kwargs):
        def counting(index, hypothesis, seen=[]):
            on_result(index, hypothesis)
            seen.append(index)
            if len(seen) == 3:
                raise KeyboardInterrupt("killed")
        return real_decode(*args, on_result=counting, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=tmp_path,
                            only=("de",), decoder=dies_after_three)
    report = evaluation.evaluate(system, get_track("mini"), SPEC, tiny_testset, SETTINGS, results_root=tmp_path,
                                 only=("de",), decoder=real_decode)["languages"]["de"]
    # Only the rest was decoded for quality; speed still timed the whole sample, every repetition.
    assert report["decode_pass"]["resumed_segments"] == 3
    assert report["decode_pass"]["decoded_segments"] == len(tiny_testset.utterances) - 3
    assert report["speed"]["comparability"]["sample"].endswith(f":{len(tiny_testset.utterances)}")
    assert len(report["speed"]["rtfx"]["runs"]) == report["speed"]["protocol"]["repetitions"]


def test_speed_command_rewrites_only_the_speed_blocks(reference_run, tiny_testset):
    from harness.evaluation import speed

    system, _, summary = reference_run
    again = speed.remeasure(summary, system, tiny_testset, device="cpu", backend="transformers")
    for lang, report in again["languages"].items():
        before = summary["languages"][lang]
        assert report["speed"]["remeasured"]["command"] == "python -m harness speed"
        assert report["speed"]["comparability_key"] == before["speed"]["comparability_key"]  # same conditions
        assert {k: v for k, v in report.items() if k != "speed"} == {k: v for k, v in before.items() if k != "speed"}
    assert {k: v for k, v in again.items() if k != "languages"} == {k: v for k, v in summary.items()
                                                                     if k != "languages"}


def test_speed_command_refuses_another_model_or_test_set(reference_run, tiny_testset):
    from harness.evaluation import speed

    system, _, summary = reference_run
    other_model = json.loads(json.dumps(summary))
    other_model["languages"]["de"]["model"]["content_hash"] = "0" * 64
    with pytest.raises(speed.SpeedError, match="is not the one the results record"):
        speed.remeasure(other_model, system, tiny_testset, device="cpu", backend="transformers")
    other_set = json.loads(json.dumps(summary))
    other_set["testset"]["content_hash"] = "sha256:other"
    with pytest.raises(speed.SpeedError, match="changed since"):
        speed.remeasure(other_set, system, tiny_testset, device="cpu", backend="transformers")


def test_named_systems_bring_the_base_when_its_results_are_missing(tmp_path):
    track = get_track("mini")
    build, results_root = tmp_path / "build", tmp_path / "results"
    spec = track.testsets[0]
    model_b = build / "mini" / "modelB"
    model_b.mkdir(parents=True)
    # The base is not built: the error names the command that builds it.
    with pytest.raises(evaluation.EvalError, match="run make build SUB=baseline"):
        evaluation.with_base([model_b], track, [spec], build, results_root)
    base = build / "mini" / "baseline"
    base.mkdir()
    (base / "system.json").write_text("{}")
    assert evaluation.with_base([model_b], track, [spec], build, results_root) == [base, model_b]
    # Once the base has results on every asked set, it is not evaluated again.
    done = results_root / "mini" / "baseline" / f"{spec.name}.json"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert evaluation.with_base([model_b], track, [spec], build, results_root) == [model_b]
