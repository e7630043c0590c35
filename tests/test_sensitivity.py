"""Sensitivity-guided 3-bit MLP selection (Liu et al., IWSLT 2026, step 4) on the tiny fixture model.

The quantizer here is a round-to-nearest stand-in written in the test (the stage's
default is HQQ, covered by tests/test_hqq.py), so these tests pin the stage's own logic:
the loss it measures, the in-place swap, the ranking, and the choice of n.
"""

from __future__ import annotations

import pytest
import torch

from conftest import TINY_CLIP_SECONDS, make_clip
from harness.stages import sensitivity as sens
from harness.training.examples import collate
from harness.training.forward import forward_loss
from test_prune import layered_model

LAYERS = 6


class RoundedLinear(torch.nn.Module):
    """A stand-in quantizer: symmetric round-to-nearest per output row at ``bits``."""

    def __init__(self, linear: torch.nn.Linear, bits: int) -> None:
        super().__init__()
        levels = 2 ** (bits - 1) - 1
        scale = linear.weight.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) / levels
        self.weight = torch.nn.Parameter((linear.weight / scale).round() * scale, requires_grad=False)
        self.bias = linear.bias

    def forward(self, x):
        return torch.nn.functional.linear(x, self.weight, self.bias)


def rounded(bits: int):
    return lambda linear: RoundedLinear(linear, bits)


@pytest.fixture(scope="module")
def model(tiny_processor):
    clips = [make_clip(i, seconds) for i, seconds in enumerate(TINY_CLIP_SECONDS)]
    return layered_model(tiny_processor, clips, layers=LAYERS, steps=30)


@pytest.fixture(scope="module")
def batches(model, tiny_processor, store, examples):
    pad_id = tiny_processor.tokenizer.pad_token_id
    collated = [collate(examples[i:i + 4], store, pad_id) for i in range(0, len(examples), 4)]
    return collated, sens.embed_batches(model, collated)


def test_loss_is_the_token_weighted_mean_of_the_training_loss(model, batches):
    collated, embedded = batches
    with torch.no_grad():
        expected = sum(float(forward_loss(model, b)) * e.tokens for b, e in zip(collated, embedded))
    expected /= sum(e.tokens for e in embedded)
    assert sens.teacher_forced_loss(model, embedded) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", sorted(sens.KINDS))
def test_swap_puts_the_very_same_modules_back(model, kind):
    block = sens.decoder_layers(model)[2]
    before = [block.get_submodule(path) for path in sens.KINDS[kind]]
    others = {name: module for name, module in block.named_modules() if name not in sens.KINDS[kind]}
    with sens.modules_swapped(model, 2, rounded(3), kind):
        assert all(isinstance(block.get_submodule(path), RoundedLinear) for path in sens.KINDS[kind])
        assert all(block.get_submodule(name) is module for name, module in others.items()
                   if not any(name.startswith(path) for path in sens.KINDS[kind]))
    assert [block.get_submodule(path) for path in sens.KINDS[kind]] == before
    with pytest.raises(RuntimeError, match="boom"), sens.modules_swapped(model, 2, rounded(3), kind):
        raise RuntimeError("boom")
    assert [block.get_submodule(path) for path in sens.KINDS[kind]] == before
    with pytest.raises(ValueError, match="unknown module kind"), sens.modules_swapped(model, 2, rounded(3), "norm"):
        pass


def test_measure_ranks_every_layer_and_leaves_the_model_unchanged(model, batches):
    _, embedded = batches
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = sens.measure(model, embedded, bits=2, quantize=rounded(2))
    assert [s.layer for s in result.layers] == list(range(LAYERS))
    assert sorted(result.ranking()) == list(range(LAYERS))
    deltas = {s.layer: s.delta for s in result.layers}
    assert len(set(deltas.values())) == LAYERS, "layers must differ, or the ranking means nothing"
    assert result.ranking() == sorted(deltas, key=lambda layer: (deltas[layer], layer))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    again = sens.measure(model, embedded, bits=2, quantize=rounded(2))
    assert again.ranking() == result.ranking() and again.baseline_loss == result.baseline_loss
    # Coarser quantization hurts more, layer by layer.
    finer = sens.measure(model, embedded, bits=6, quantize=rounded(6))
    assert sum(s.delta for s in finer.layers) < sum(s.delta for s in result.layers)
    assert result.as_dict()["ranking"] == result.ranking() and result.kind == "mlp"
    attention = sens.measure(model, embedded, bits=2, kind="attention", quantize=rounded(2))
    assert attention.kind == "attention" and [s.delta for s in attention.layers] != [s.delta for s in result.layers]


def test_smallest_fitting_prefix():
    order = [4, 1, 3, 0]
    assert sens.smallest_fitting(order, lambda layers: len(layers) >= 2) == [4, 1]
    assert sens.smallest_fitting(order, lambda layers: True) == []
    with pytest.raises(ValueError, match="over the limit even with all 4 moves"):
        sens.smallest_fitting(order, lambda layers: False)


def test_fixed_selections_of_table_4():
    assert sens.fixed_selection("first", 4, 32) == [0, 1, 2, 3]
    assert sens.fixed_selection("last", 4, 32) == [28, 29, 30, 31]
    assert sens.fixed_selection("middle", 4, 32) == [14, 15, 16, 17]
    draws = [sens.fixed_selection("random", 4, 32, seed=s) for s in range(3)]
    assert draws == [sens.fixed_selection("random", 4, 32, seed=s) for s in range(3)]
    assert len({tuple(d) for d in draws}) == 3 and all(len(set(d)) == 4 for d in draws)
    with pytest.raises(ValueError, match="unknown selection"):
        sens.fixed_selection("best", 4, 32)
