"""The CTC encoder objective (harness.training.ctc) and its use in the training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.training.ctc import CtcObjective, token_error_rate
from harness.training.examples import collate, epoch_batches, make_examples
from harness.training.forward import forward_loss, forward_losses
from harness.training.loop import train
from harness.training.settings import with_overrides
from conftest import TINY_TARGETS
from test_finetune import SETTINGS, fresh_model, pad_id


@pytest.fixture(scope="module")
def examples(tiny_processor):  # German only (conftest's has both directions)
    return make_examples(tiny_processor, TINY_TARGETS["de"][:8], "de")


def transcripts(processor) -> list[list[int]]:
    # Any short id sequence per clip will do for the mechanics; the real recipe uses the English text.
    return [ids[:4] for ids in processor.tokenizer(TINY_TARGETS["de"][:8], add_special_tokens=False)["input_ids"]]


def objective(model, processor, seed=0):
    return CtcObjective.create(model, transcripts(processor), len(processor.tokenizer), seed)


def test_greedy_merges_repeats_and_drops_blanks():
    head = torch.nn.Linear(3, 4)  # classes 0..2, blank 3
    ctc = CtcObjective(head=head, transcripts=[(0,)])
    with torch.no_grad():
        head.weight.copy_(torch.eye(4, 3) * 10)
        head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 5.0]))
    # One-hot states for the path 0 0 blank 0 1 1 blank, then padding past the length.
    path = [0, 0, None, 0, 1, 1, None, 2, 2]
    states = torch.stack([torch.zeros(3) if c is None else torch.eye(3)[c] for c in path])[None]
    assert ctc.greedy(states, torch.tensor([7])) == [[0, 0, 1]]
    assert ctc.blank == 3


def test_token_error_rate():
    assert token_error_rate([[1, 2, 3]], [[1, 2, 3]]) == 0.0
    assert token_error_rate([[1, 2, 3, 4]], [[1, 3, 4, 5]]) == pytest.approx(2 / 4)  # one deletion, one insertion
    assert token_error_rate([[1, 2], [3]], [[], [3]]) == pytest.approx(2 / 3)


def test_empty_transcripts_are_refused(tiny_processor):
    model = fresh_model(tiny_processor)
    with pytest.raises(ValueError, match="empty transcript"):
        CtcObjective.create(model, [[1], []], len(tiny_processor.tokenizer), 0)


def test_collate_adds_each_clips_transcript(tiny_processor, store, examples):
    model = fresh_model(tiny_processor)
    ctc = objective(model, tiny_processor)
    chosen = [examples[3], examples[0]]
    batch = collate(chosen, store, pad_id(tiny_processor), ctc)
    expected = list(ctc.transcripts[3]) + list(ctc.transcripts[0])
    assert batch["ctc_targets"].tolist() == expected
    assert batch["ctc_target_lengths"].tolist() == [len(ctc.transcripts[3]), len(ctc.transcripts[0])]
    # The LM loss is the same with or without the CTC fields.
    with torch.no_grad():
        plain = forward_loss(model, collate(chosen, store, pad_id(tiny_processor)))
        parts = forward_losses(model, batch, ctc=ctc)
    assert set(parts) == {"lm", "ctc"} and torch.allclose(parts["lm"], plain)
    assert torch.isfinite(parts["ctc"]) and parts["ctc"] > 0


def test_encoder_only_stage_trains_the_encoder_and_leaves_the_decoder(tiny_processor, store, examples):
    model = fresh_model(tiny_processor)
    ctc = objective(model, tiny_processor)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    settings = with_overrides(SETTINGS, steps=40, encoder_only=True, lr=5e-3)
    result = train(model, examples, store, settings, pad_id=pad_id(tiny_processor), progress=None, ctc=ctc)
    assert np.mean(result.losses[-4:]) < 0.5 * np.mean(result.losses[:4])  # the losses are CTC losses
    after = model.state_dict()
    changed = {name for name, tensor in after.items() if not torch.equal(tensor, before[name])}
    assert changed and all(name.startswith("model.audio_tower.") for name in changed)
    assert "model.audio_tower.embed_positions.weight" not in changed
    assert not ctc.head.training


def test_joint_stage_adds_the_weighted_ctc_loss(tiny_processor, store, examples):
    settings = with_overrides(SETTINGS, steps=2, ctc_weight=0.5)
    model = fresh_model(tiny_processor)
    ctc = objective(model, tiny_processor)
    first = collate([examples[i] for i in epoch_batches(examples, store, 4, settings.seed, 0)[0]], store,
                       pad_id(tiny_processor), ctc)
    with torch.no_grad():
        model.train()
        torch.manual_seed(settings.seed)
        parts = forward_losses(model, first, ctc=ctc)
        model.eval()
    result = train(model, examples, store, settings, pad_id=pad_id(tiny_processor), progress=None, ctc=ctc)
    assert result.losses[0] == pytest.approx(float(parts["lm"] + 0.5 * parts["ctc"]), rel=1e-5)


def test_ctc_settings_need_an_objective(tiny_processor, store, examples):
    model = fresh_model(tiny_processor)
    for settings in (with_overrides(SETTINGS, ctc_weight=0.3), with_overrides(SETTINGS, encoder_only=True)):
        with pytest.raises(ValueError, match="CtcObjective"):
            train(model, examples, store, settings, pad_id=pad_id(tiny_processor), progress=None)
    with pytest.raises(ValueError, match="ctc_weight"):
        with_overrides(SETTINGS, ctc_weight=-1.0)
