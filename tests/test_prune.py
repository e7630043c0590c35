"""harness.stages.prune: greedy decoder-layer pruning (Moslem, IWSLT 2025) on a tiny six-layer model.

The central claims:
- the fast search (no model copy, the audio encoder run once per selection set) chooses
  the same layers, with the same score for every candidate of every round, as the
  reference procedure (`reference_search`, written here independently: a deep copy of
  the model per candidate, the layer deleted from the copy, the model's own ``generate``
  on ``input_features`` one utterance at a time, as the paper's loop runs);
- decoding from the cached prompt embeddings equals harness.inference.decode.decode on the pruned
  model, token for token;
- the searched model comes back exactly as it was; a pruned model saves and reloads
  strictly with its new layer count and decodes as in memory.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from conftest import (TINY_DE, TINY_EN, TINY_SEED, TINY_WINDOW_SECONDS, TINY_ZH, paper_reference_decode,
                      train_to_translate, write_system_json)
from harness.inference.decode import DecodeSettings, decode
from harness.scoring.metrics import METRICS
from harness.systems.models import LoadedSystem, load_system
from harness.stages import from_scratch as fs
from harness.stages import prune
from harness.stages.base import StageError

LAYERS = 6
TRAIN_STEPS = 40
MAX_NEW_TOKENS = 16
SETTINGS = DecodeSettings(max_new_tokens=MAX_NEW_TOKENS, batch_size=3, prompt_style="instruct")


# ---------------------------------------------------------------- helpers (also used by tests/bench)


def layered_model(processor, clips, layers: int = LAYERS, steps: int = TRAIN_STEPS, size: str = "tiny",
                  seed: int = TINY_SEED):
    """A from_scratch model with ``layers`` decoder layers, trained briefly so that layers matter unequally."""
    tokenizer = processor.tokenizer
    config = fs.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                             audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size=size,
                             num_hidden_layers=layers)
    model = fs.init_model(config, seed=seed)
    if steps:
        train_to_translate(model, processor, clips, steps)
    model.generation_config = fs.generation_config(tokenizer)
    return model


def as_system(model, processor) -> LoadedSystem:
    """An in-memory model wrapped for harness.inference.decode.decode (which reads model, processor, prompt style)."""
    return LoadedSystem(model=model, processor=processor, prompt_style="instruct", content_hash="in-memory",
                        format="hf", folder=Path("."), lang="de", model_folder=Path("."), device="cpu",
                        manifest=None)


def _delete_layer(model, position: int) -> None:
    """The reference's own layer deletion: del from the list, renumber, fix the config."""
    decoder = model.model.language_model
    del decoder.layers[position]
    for index, layer in enumerate(decoder.layers):
        layer.self_attn.layer_idx = index
    config = decoder.config
    config.num_hidden_layers = len(decoder.layers)
    if getattr(config, "layer_types", None) is not None:
        config.layer_types = [t for i, t in enumerate(config.layer_types) if i != position]


def reference_search(model, processor, audios, references, lang: str, target_layers: int, *,
                     max_new_tokens: int, metric: str = "chrf++", batch_size: int | None = None):
    """Moslem (2025)'s procedure as the reference code runs it, for comparison.

    Each round, for each candidate (first and last layers excluded): ``copy.deepcopy`` the
    current model, delete the layer, translate the whole set with the model's full
    ``generate`` on ``input_features`` (the audio encoder re-run every time), score.
    ``batch_size`` None translates one utterance at a time as the paper does; a number
    uses harness.inference.decode.decode at that batch size (still a copy and an encoder pass per
    candidate). Returns (removed layers in original indices, per-round {layer: score}).
    """
    current = copy.deepcopy(model)
    original = list(range(len(model.model.language_model.layers)))
    removed, rounds = [], []
    for _ in range(target_layers):
        scores = {}
        for position in range(1, len(original) - 1):
            candidate = copy.deepcopy(current)
            _delete_layer(candidate, position)
            if batch_size is None:
                texts = [text for text, _ in paper_reference_decode(candidate, processor, audios, lang,
                                                                    max_new_tokens=max_new_tokens)]
            else:
                settings = DecodeSettings(max_new_tokens=max_new_tokens, batch_size=batch_size,
                                          prompt_style="instruct")
                texts = [h.text for h in decode(as_system(candidate, processor), audios, lang, settings).hypotheses]
            scores[original[position]] = METRICS[metric](texts, list(references), lang).value
        best = max(scores, key=lambda layer: (scores[layer], -layer))
        _delete_layer(current, original.index(best))
        original.remove(best)
        removed.append(best)
        rounds.append(scores)
    return removed, rounds


def snapshot(model) -> dict:
    decoder = model.model.language_model
    return {"state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "layers": decoder.layers, "layer_objects": list(decoder.layers),
            "layer_idx": [layer.self_attn.layer_idx for layer in decoder.layers],
            "num_hidden_layers": decoder.config.num_hidden_layers,
            "top_num_hidden_layers": model.config.text_config.num_hidden_layers,
            "layer_types": decoder.config.layer_types, "layer_types_value": list(decoder.config.layer_types)}


def assert_restored(model, before: dict) -> None:
    decoder = model.model.language_model
    assert decoder.layers is before["layers"]
    assert list(decoder.layers) == before["layer_objects"]
    assert [layer.self_attn.layer_idx for layer in decoder.layers] == before["layer_idx"]
    assert decoder.config.num_hidden_layers == before["num_hidden_layers"] == LAYERS
    assert model.config.text_config.num_hidden_layers == before["top_num_hidden_layers"]
    assert decoder.config.layer_types is before["layer_types"]
    assert decoder.config.layer_types == before["layer_types_value"]
    state = model.state_dict()
    assert state.keys() == before["state"].keys()
    assert all(torch.equal(state[k], v) for k, v in before["state"].items())


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def six(tiny_processor, tiny_clips):
    """The trained six-layer tiny model (shared within this module: do not modify in place)."""
    return layered_model(tiny_processor, tiny_clips)


@pytest.fixture(scope="module")
def selection(tiny_clips):
    return list(tiny_clips), list(TINY_DE[:len(tiny_clips)])


@pytest.fixture(scope="module")
def search_result(six, tiny_processor, selection):
    audios, references = selection
    before = snapshot(six)
    result = prune.layer_importance_search(six, tiny_processor, audios, references, "de", target_layers=2,
                                           settings=SETTINGS)
    return result, before


# ---------------------------------------------------------------- pruning for good


def test_prune_layers_removes_exactly_the_chosen_layers(six):
    model = copy.deepcopy(six)
    originals = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in six.model.language_model.layers]
    prune.prune_layers(model, [4, 1])
    decoder = model.model.language_model
    kept = [0, 2, 3, 5]
    assert len(decoder.layers) == 4
    for new, old in enumerate(kept):
        state = decoder.layers[new].state_dict()
        assert state.keys() == originals[old].keys()
        assert all(torch.equal(state[k], originals[old][k]) for k in state), f"layer {new} is not original {old}"
    assert [layer.self_attn.layer_idx for layer in decoder.layers] == [0, 1, 2, 3]
    assert decoder.config.num_hidden_layers == model.config.text_config.num_hidden_layers == 4
    assert len(decoder.config.layer_types) == 4
    names = {k for k in model.state_dict() if k.startswith("model.language_model.layers.")}
    assert {k.split(".")[3] for k in names} == {"0", "1", "2", "3"}
    # Nothing outside the decoder layers changed.
    outside = {k: v for k, v in six.state_dict().items() if not k.startswith("model.language_model.layers.")}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in outside.items())
    assert num_params(model) == num_params(six) - 2 * num_params(six.model.language_model.layers[0])


def num_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("bad, message", [([1, 1], "repeat"), ([6], "out of range"), ([-1], "out of range"),
                                          (list(range(6)), "all 6")])
def test_prune_layers_refuses_bad_indices(six, bad, message):
    with pytest.raises(ValueError, match=message):
        prune.prune_layers(copy.deepcopy(six), bad)


def test_pruned_model_saves_and_reloads_strictly(six, tiny_processor, tiny_clips, tmp_path):
    model = prune.prune_layers(copy.deepcopy(six), [2, 3])
    folder = tmp_path / "pruned"
    fs.save_base(model, tiny_processor, folder)
    write_system_json(folder, "hf")
    loaded = load_system(folder, "de")  # strict: every tensor mapped and compared, nothing missing
    assert len(loaded.model.model.language_model.layers) == 4
    assert loaded.model.config.text_config.num_hidden_layers == 4
    assert json.loads((folder / "config.json").read_text())["text_config"]["num_hidden_layers"] == 4
    assert [layer.self_attn.layer_idx for layer in loaded.model.model.language_model.layers] == [0, 1, 2, 3]
    in_memory = decode(as_system(model, tiny_processor), tiny_clips, "de", SETTINGS)
    reloaded = decode(loaded, tiny_clips, "de", SETTINGS)
    assert [h.token_ids for h in reloaded.hypotheses] == [h.token_ids for h in in_memory.hypotheses]


# ---------------------------------------------------------------- the fast decode


@pytest.mark.parametrize("removed", [[], [2], [1, 4], [0, 5], [1, 2, 3, 4]])
def test_fast_decode_equals_harness_decode(six, tiny_processor, tiny_clips, removed):
    encoded = prune.encode_selection(six, tiny_processor, tiny_clips, "de", SETTINGS)  # on the full model
    with prune.layers_removed(six, removed):
        fast = prune.decode_encoded(six, tiny_processor, encoded)
    pruned = prune.prune_layers(copy.deepcopy(six), removed) if removed else six
    reference = decode(as_system(pruned, tiny_processor), tiny_clips, "de", SETTINGS).hypotheses
    assert [h.token_ids for h in fast] == [h.token_ids for h in reference]
    assert [h.text for h in fast] == [h.text for h in reference]
    assert [h.finished for h in fast] == [h.finished for h in reference]
    assert [h.audio_seconds for h in fast] == [h.audio_seconds for h in reference]


def test_fast_decode_runs_no_audio_encoder(six, tiny_processor, tiny_clips):
    encoded = prune.encode_selection(six, tiny_processor, tiny_clips, "de", SETTINGS)
    calls = []
    handle = six.model.audio_tower.register_forward_hook(lambda *args: calls.append(1))
    try:
        with prune.layers_removed(six, [3]):
            prune.decode_encoded(six, tiny_processor, encoded)
    finally:
        handle.remove()
    assert calls == []


# ---------------------------------------------------------------- the search


def test_search_chooses_as_the_reference_deepcopy_procedure(six, tiny_processor, selection, search_result):
    audios, references = selection
    result, _ = search_result
    removed, rounds = reference_search(six, tiny_processor, audios, references, "de", 2,
                                       max_new_tokens=MAX_NEW_TOKENS)
    assert list(result.removed) == removed
    assert [r.scores for r in result.rounds] == rounds  # every candidate's score, not only the winner
    assert len(set(rounds[0].values())) > 1, "all candidates tie: the test would not discriminate"


def test_search_restores_the_model_exactly(six, search_result):
    _, before = search_result
    assert_restored(six, before)


def test_layers_removed_restores_on_error(six):
    before = snapshot(six)
    with pytest.raises(RuntimeError, match="boom"):
        with prune.layers_removed(six, [1, 3]):
            assert len(six.model.language_model.layers) == 4
            assert [layer.self_attn.layer_idx for layer in six.model.language_model.layers] == [0, 1, 2, 3]
            assert six.config.text_config.num_hidden_layers == 4
            raise RuntimeError("boom")
    assert_restored(six, before)


def test_search_restores_the_model_when_scoring_fails(six, tiny_processor, selection, monkeypatch):
    audios, references = selection
    before = snapshot(six)
    calls = []

    def failing(hypotheses, refs, lang, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("scoring failed")
        return METRICS["chrf"](hypotheses, refs, lang)

    monkeypatch.setitem(METRICS, "failing", failing)
    with pytest.raises(RuntimeError, match="scoring failed"):
        prune.layer_importance_search(six, tiny_processor, audios[:3], references[:3], "de", target_layers=1,
                                      metric="failing", settings=SETTINGS)
    assert_restored(six, before)


def test_search_result_records_every_round(search_result):
    result, _ = search_result
    assert result.num_layers == LAYERS and result.metric == "chrf++" and result.lang == "de"
    assert "nc:6|nw:2" in result.signature  # chrF++
    assert result.candidates == (1, 2, 3, 4)
    assert len(result.rounds) == 2
    first, second = result.rounds
    assert sorted(first.scores) == [1, 2, 3, 4]
    assert sorted(second.scores) == sorted(set(range(1, 5)) - {first.removed})
    for number, one in enumerate(result.rounds, start=1):
        assert one.round == number
        assert one.score == max(one.scores.values())
        best = [layer for layer, score in one.scores.items() if score == one.score]
        assert one.removed == min(best)  # ties: the lowest original index
    assert result.removed == (first.removed, second.removed)
    assert result.kept == [i for i in range(LAYERS) if i not in result.removed]
    row = json.loads(result.to_json())
    assert row["removed"] == list(result.removed)
    assert [c["layer"] for c in row["rounds"][0]["candidates"]] == [1, 2, 3, 4]
    assert row["rounds"][1]["removed_before"] == [first.removed]
    assert row["settings"]["max_new_tokens"] == MAX_NEW_TOKENS and row["settings"]["prompt_style"] == "instruct"
    assert isinstance(row["baseline"], float)


@pytest.mark.parametrize("exclude, expected", [(True, [1, 2, 3, 4]), (False, [0, 1, 2, 3, 4, 5])])
def test_exclude_first_last(six, tiny_processor, selection, exclude, expected):
    audios, references = selection
    result = prune.layer_importance_search(six, tiny_processor, audios[:3], references[:3], "de", target_layers=1,
                                           exclude_first_last=exclude,
                                           settings=DecodeSettings(max_new_tokens=4, batch_size=3))
    assert list(result.candidates) == expected
    assert sorted(result.rounds[0].scores) == expected


def test_metric_defaults_and_choice(six, tiny_processor, tiny_clips):
    audios = tiny_clips[:2]
    quick = DecodeSettings(max_new_tokens=4, batch_size=2)
    zh = prune.layer_importance_search(six, tiny_processor, audios, list(TINY_ZH[:2]), "zh", target_layers=1,
                                       settings=quick)
    assert zh.metric == "chrf" and "nc:6|nw:0" in zh.signature
    bleu = prune.layer_importance_search(six, tiny_processor, audios, list(TINY_DE[:2]), "de", target_layers=1,
                                         metric="bleu", settings=quick)
    assert bleu.metric == "bleu" and "tok:13a" in bleu.signature


@pytest.mark.parametrize("kwargs, message", [
    (dict(target_layers=5), "cannot remove 5"),
    (dict(target_layers=-1), "at least 0"),
    (dict(target_layers=1, metric="nope"), "unknown metric"),
    (dict(target_layers=1, metric="comet"), "cannot be computed"),
])
def test_search_refuses_bad_requests(six, tiny_processor, tiny_clips, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prune.layer_importance_search(six, tiny_processor, tiny_clips[:2], list(TINY_DE[:2]), "de",
                                      settings=DecodeSettings(max_new_tokens=2, batch_size=2), **kwargs)


def test_search_refuses_mismatched_references(six, tiny_processor, tiny_clips):
    with pytest.raises(ValueError, match="2 clips but 1 references"):
        prune.layer_importance_search(six, tiny_processor, tiny_clips[:2], list(TINY_DE[:1]), "de",
                                      target_layers=1)


# ---------------------------------------------------------------- the command line


def _write_set(folder: Path, clips, name: str) -> Path:
    from harness.data.testsets import write_segmented_set

    rows = [{"id": f"utt{i:02d}", "audio": clip, "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i, clip in enumerate(clips)]
    write_segmented_set(folder, name=name, version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_prune.py"})
    return folder


def test_cli_prunes_saves_and_records(six, tiny_processor, tiny_clips, tmp_path, capsys):
    system = tmp_path / "six"
    fs.save_base(copy.deepcopy(six), tiny_processor, system)
    write_system_json(system, "hf")
    dev = _write_set(tmp_path / "tiny_dev", tiny_clips[:4], "tiny_dev")
    out = tmp_path / "pruned"
    code = prune.main(["--system", str(system), "--select", str(dev), "--lang", "de", "--remove", "2",
                       "--out", str(out), "--batch-size", "4", "--max-new-tokens", "8"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / prune.PRUNING_FILE).read_text())
    assert len(record["removed"]) == 2 and len(record["rounds"]) == 2
    assert record["selection"]["name"] == "tiny_dev" and record["selection"]["utterances"] == 4
    loaded = load_system(out, "de")
    assert len(loaded.model.model.language_model.layers) == LAYERS - 2
    assert loaded.manifest.languages == {"de": "."}
    assert loaded.manifest.extra["pruned_layers"] == record["removed"]
    # The saved layers are the original model's kept layers.
    kept = [i for i in range(LAYERS) if i not in record["removed"]]
    for new, old in enumerate(kept):
        saved = loaded.model.model.language_model.layers[new].state_dict()
        original = six.model.language_model.layers[old].state_dict()
        assert all(torch.equal(saved[k], original[k]) for k in saved)


def test_cli_refuses_a_test_split(tmp_path, capsys):
    out = tmp_path / "out"
    code = prune.main(["--system", str(tmp_path / "missing"), "--select", "testsets/mini/talks_test", "--lang", "de",
                       "--remove", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "test split" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_refuses_a_non_empty_output(tmp_path, tiny_clips, capsys):
    dev = _write_set(tmp_path / "tiny_dev", tiny_clips[:2], "tiny_dev")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code = prune.main(["--system", str(tmp_path / "missing"), "--select", str(dev), "--lang", "de",
                       "--remove", "1", "--out", str(out)])
    assert code == 2 and "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "precious"


def test_middle_layers_is_the_papers_ablation_block():
    assert prune.middle_layers(32, 8) == list(range(12, 20))  # Moslem (2025): layers 12-19 of 32
    assert prune.middle_layers(12, 3) == [4, 5, 6]
    for bad in (0, 12):
        with pytest.raises(ValueError, match="cannot remove"):
            prune.middle_layers(12, bad)


def test_given_layers_skip_the_search(six, tiny_processor, tiny_clips, tmp_path):
    system = tmp_path / "six"
    fs.save_base(copy.deepcopy(six), tiny_processor, system)
    write_system_json(system, "hf")
    dev = _write_set(tmp_path / "tiny_dev", tiny_clips[:2], "tiny_dev")
    result = prune.prune_system(system, None, tmp_path / "pruned", lang="de", remove=2, layers=[4, 1])
    assert result.removed == (4, 1) and result.rounds == ()
    record = json.loads((tmp_path / "pruned" / prune.PRUNING_FILE).read_text())
    assert record["removed"] == [4, 1] and record["search"] == "none: layers given" and record["rounds"] == []
    assert record["selection"] is None  # no selection set is read when the layers are given
    loaded = load_system(tmp_path / "pruned", "de")
    assert len(loaded.model.model.language_model.layers) == LAYERS - 2
    kept = [i for i in range(LAYERS) if i not in (1, 4)]
    for new, old in enumerate(kept):
        saved = loaded.model.model.language_model.layers[new].state_dict()
        original = six.model.language_model.layers[old].state_dict()
        assert all(torch.equal(saved[k], original[k]) for k in saved)
    with pytest.raises(StageError, match="remove=3 but 2 layers"):
        prune.prune_system(system, dev, tmp_path / "other", lang="de", remove=3, layers=[1, 2])
