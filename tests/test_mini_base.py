"""The shipped mini base (models/mini-base): loads offline, translates, has the 7B's shape.

The chrF floors below come from the shipped base's measured scores on these exact
sentences (see FIXED_* and the comment at the floors), with a wide margin; a randomly
initialised model of the same config scores near zero on them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from harness.stages import from_scratch as fs
from harness.stages import mini_base as mb

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "models" / "mini-base"
MINI = ROOT / "testsets" / "mini"
MAX_BYTES = 25 * 1000 * 1000

EXPECTED_PROMPT = {
    "de": ("<|im_start|>system\nYou are a professional translator.<|im_end|>\n"
           "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
           "Translate the English speech into German:<|im_end|>\n"
           "<|im_start|>assistant\n"),
    "zh": ("<|im_start|>system\nYou are a professional translator.<|im_end|>\n"
           "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
           "Translate the English speech into Chinese:<|im_end|>\n"
           "<|im_start|>assistant\n"),
}

# Fixed sentences: the first 12 utterances of general_test, talks_test and accent_test,
# committed with their audio (tests/data/mini-base-fixed, a segmented set; metadata "set")
# so that the test runs on a clean checkout without make data.
FIXED = ROOT / "tests" / "data" / "mini-base-fixed"
FIXED_SETS = ("general_test", "talks_test", "accent_test")
# Measured on these sentences (batched greedy, max 64 new tokens), de / zh chrF: general
# 71.9 / 67.1, talks 17.2 / 3.2, accent 17.3 / 3.3; the same config with random weights
# scores 2.0 / 0.02 on general (it repeats one token and never stops); the first,
# translation-only base, which did not listen, 14.8 / 2.0. Floors sit well below the
# shipped base: far above guessing on general; above random weights on talks and accent,
# where the untuned base is weak by design.
CHRF_FLOOR = {"general_test": {"de": 50.0, "zh": 45.0}, "talks_test": {"de": 8.0, "zh": 1.0},
              "accent_test": {"de": 8.0, "zh": 1.0}}


@pytest.fixture(scope="module")
def processor():
    from harness.systems.models import load_processor

    return load_processor(BASE)


@pytest.fixture(scope="module")
def fixed_set():
    from harness.data.testsets import load_testset

    return load_testset(FIXED)


def fixed_rows(fixed_set, name):
    return [i for i, u in enumerate(fixed_set.utterances) if u.meta["set"] == name]


def test_shipped_folder_is_complete_small_and_matches_its_checksums():
    files = {p.name for p in BASE.iterdir() if p.is_file()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "processor_config.json", "system.json", mb.TRAINING_FILE,
            mb.SUMS_FILE} <= files
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    assert sum(p.stat().st_size for p in BASE.rglob("*") if p.is_file()) <= MAX_BYTES
    listed = {}
    for line in (BASE / mb.SUMS_FILE).read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == files - {mb.SUMS_FILE}
    for name, digest in listed.items():
        assert hashlib.sha256((BASE / name).read_bytes()).hexdigest() == digest, name


def test_training_summary_records_the_recipe():
    summary = json.loads((BASE / mb.TRAINING_FILE).read_text())
    assert summary["recipe"].startswith("python -m harness.stages.mini_base")
    assert summary["seed"] == mb.SEED and summary["window_seconds"] == mb.WINDOW_SECONDS
    assert summary["train_set"]["name"] == "general_train" and summary["train_set"]["directions"] == ["de", "zh"]
    training = summary["training"]
    assert training["final_loss"] < training["first_loss"] / 4
    assert training["settings"]["steps"] == training["planned_steps"]


def test_tokenizer_round_trip_with_umlauts_and_chinese(processor):
    tokenizer = processor.tokenizer
    for text in ("Die Mädchen möchten wissen, ob die Jungen heute früh Äpfel, Öl und Übermut kaufen.",
                 "Der Laden ist heute geöffnet. Straße, Größe, Grüße!",
                 "那些朋友想知道那些女孩是否有时候打扫房间。",
                 "我们在八块GPU上对多语言系统进行了八个小时的训练，鑫龘。",
                 "We trained 3 systems — in 8.75 s, \"quoted\"  twice.\n"):
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert tokenizer.padding_side == "left"
    assert type(tokenizer).__name__.startswith("Qwen2Tokenizer")
    ids = [tokenizer.convert_tokens_to_ids(token) for token in fs.SPECIAL_TOKENS]
    assert ids == list(range(len(tokenizer) - len(fs.SPECIAL_TOKENS), len(tokenizer)))  # the 7B's order
    assert tokenizer.eos_token == fs.ENDOFTEXT and tokenizer.pad_token == fs.ENDOFTEXT


@pytest.mark.parametrize("lang", ["de", "zh"])
def test_rendered_prompt_is_the_instruct_template(processor, lang):
    from harness.inference.decode import build_prompt

    assert processor.chat_template == fs.INSTRUCT_CHAT_TEMPLATE
    assert build_prompt(processor, lang, "instruct") == EXPECTED_PROMPT[lang]
    ids = processor.tokenizer(EXPECTED_PROMPT[lang])["input_ids"]
    assert ids.count(processor.tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN)) == 1
    assert processor.tokenizer.decode(ids) == EXPECTED_PROMPT[lang]


def test_processor_window_covers_the_longest_mini_utterance(processor):
    config = json.loads((BASE / "config.json").read_text())
    extractor = processor.feature_extractor
    assert extractor.feature_size == 128 and extractor.sampling_rate == 16_000
    assert extractor.n_samples == mb.WINDOW_SECONDS * 16_000 and mb.WINDOW_SECONDS >= 8.75
    frames = extractor.n_samples // extractor.hop_length
    assert frames == 2 * config["audio_config"]["max_source_positions"]


def test_parameter_shares_resemble_the_7b():
    from transformers import Qwen2AudioConfig

    config = Qwen2AudioConfig.from_pretrained(BASE, local_files_only=True)
    assert config.text_config.num_hidden_layers >= 12 and not config.text_config.tie_word_embeddings
    shares = fs.parameter_shares(config)
    assert 0.12 <= shares["embedding+lm_head"] <= 0.18
    assert 0.06 <= shares["audio_encoder"] <= 0.10
    assert 0.72 <= shares["decoder_layers"] <= 0.82


@pytest.fixture(scope="module")
def fixed_translations(fixed_set):
    from harness.inference.decode import DecodeSettings, decode
    from harness.systems.models import load_system

    torch.set_num_threads(min(2, torch.get_num_threads()))
    audios = [u.audio() for u in fixed_set.utterances]
    out = {}
    for lang in ("de", "zh"):
        system = load_system(BASE, lang)  # offline, strict, safetensors only
        out[lang] = decode(system, audios, lang, DecodeSettings(max_new_tokens=64, batch_size=12)).hypotheses
    return out


def fixed_chrf(fixed_translations, fixed_set, name, lang):
    from harness.scoring.metrics import score_all

    rows = fixed_rows(fixed_set, name)
    hyps = [fixed_translations[lang][i].text for i in rows]
    refs = [fixed_set.utterances[i].targets[lang] for i in rows]
    return score_all(hyps, refs, lang, ["chrf"])["chrf"].value


def test_fixed_sentences_are_the_test_sets_own():
    """The committed audio is the first 12 utterances of each set (checked where make data has run)."""
    from harness.data.testsets import load_testset

    fixed = load_testset(FIXED)
    for name in FIXED_SETS:
        chosen = [u for u in fixed.utterances if u.meta["set"] == name]
        assert len(chosen) == 12
        if (MINI / name / "data.parquet").is_file():
            source = load_testset(MINI / name).utterances[:12]
            assert [(u.id, u.en, u.targets) for u in chosen] == [(u.id, u.en, u.targets) for u in source]


@pytest.mark.parametrize("name", FIXED_SETS)
@pytest.mark.parametrize("lang", ["de", "zh"])
def test_shipped_base_translates_fixed_sentences(fixed_translations, fixed_set, name, lang):
    rows = fixed_rows(fixed_set, name)
    if name == "general_test":  # a trained base closes its turn; random weights run to max_new_tokens
        assert sum(fixed_translations[lang][i].finished for i in rows) >= len(rows) - 2
    chrf = fixed_chrf(fixed_translations, fixed_set, name, lang)
    assert chrf >= CHRF_FLOOR[name][lang], chrf


@pytest.mark.parametrize("lang", ["de", "zh"])
def test_talks_are_much_weaker_than_general(fixed_translations, fixed_set, lang):
    """The untuned base is weak on the talks domain (issue 5: at least 15 chrF below general)."""
    general = fixed_chrf(fixed_translations, fixed_set, "general_test", lang)
    assert general - fixed_chrf(fixed_translations, fixed_set, "talks_test", lang) >= 15


def test_shipped_base_loads_with_from_pretrained_offline():
    from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

    model = Qwen2AudioForConditionalGeneration.from_pretrained(BASE, local_files_only=True)
    processor = AutoProcessor.from_pretrained(BASE, local_files_only=True)
    assert type(processor).__name__ == "Qwen2AudioProcessor"
    assert model.config.audio_token_id == processor.tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN)
    assert sum(p.numel() for p in model.parameters()) == json.loads(
        (BASE / mb.TRAINING_FILE).read_text())["parameters"]["total"]


@pytest.mark.slow
def test_tokenizer_is_reproduced_from_the_corpus(processor, tmp_path):
    rebuilt = mb.build_tokenizer_and_processor(MINI)
    rebuilt.tokenizer.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer.json").read_text()) == json.loads((BASE / "tokenizer.json").read_text())


@pytest.mark.slow
def test_general_test_scores_match_the_recorded_evaluation():
    recorded = json.loads((BASE / mb.EVALUATION_FILE).read_text())
    measured = mb.evaluate(BASE, sets=("general_test",), mini=MINI)
    for lang in ("de", "zh"):
        assert measured["general_test"][lang]["chrf"] == pytest.approx(recorded["general_test"][lang]["chrf"], abs=0.05)


def test_shipped_base_was_trained_with_the_recipes_current_settings():
    """The default recipe (python -m harness.stages.mini_base) is the one that made the shipped weights."""
    summary = json.loads((BASE / mb.TRAINING_FILE).read_text())
    assert summary["recipe_name"] == "ctc"
    recorded = [stage["settings"] for stage in summary["stages"]]
    expected = [json.loads(json.dumps(s.as_dict())) for s in (mb.CTC_STAGE1, mb.CTC_STAGE2)]
    assert recorded == expected
    # It listens: the loss on talks_dev rises when each clip is swapped for another's.
    assert summary["audio_gain"]["final"]["gain"] > 0.2
