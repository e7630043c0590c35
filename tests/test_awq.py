"""AWQ scale search (harness.stages.awq) on the tiny model and on synthetic layers.

Golden values come from independent computations written here: hqq's own quantizer
(optimize=False) for the grid, a direct evaluation of the AWQ objective on raw
activations (Lin et al. 2024, Eq. 4) for the search, the model's own forward for the
fold. The comparison with autoawq 0.2.9's ``_search_best_scale`` lives outside the
project (autoawq pins old torch/transformers); see the stage's report.
"""

from __future__ import annotations

import copy

import pytest
import torch

from harness.stages import awq

LANG = "de"


# ---------------------------------------------------------------- the quantizer


@pytest.mark.parametrize("shape, bits, group_size, round_zero", [
    ((64, 128), 4, 64, None),
    ((64, 128), 3, 64, None),
    ((56, 224), 4, 64, True),  # 224 inputs: hqq's groups span two rows (the mini base's shapes)
    ((224, 240), 3, 64, False),
    ((32, 64), 2, 32, False),
    ((16, 64), 8, 16, True),
])
def test_pseudo_quantize_is_hqqs_grid_without_optimisation(shape, bits, group_size, round_zero):
    from hqq.core.quantize import Quantizer

    generator = torch.Generator().manual_seed(bits * 100 + group_size)
    weight = torch.randn(shape, generator=generator) * 0.05
    weight[0, :group_size] = 0.3  # a constant group: hqq's span <= 1e-4 rule
    hqq_round = bits == 4 if round_zero is None else round_zero
    codes, meta = Quantizer.quantize(weight, nbits=bits, channel_wise=True, group_size=group_size, optimize=False,
                                     round_zero=hqq_round, axis=1, bitpack=False, compute_dtype=torch.float32,
                                     device="cpu")
    meta["compute_dtype"] = torch.float32
    expected = Quantizer.dequantize(codes, meta)
    ours = awq.pseudo_quantize(weight, bits, group_size, round_zero=round_zero)
    assert ours.shape == weight.shape and ours.dtype == weight.dtype
    assert torch.equal(ours, expected)
    assert len(ours.reshape(-1, group_size)[1].unique()) <= 2 ** bits


def test_pseudo_quantize_refuses_bad_settings():
    with pytest.raises(ValueError, match="groups of 64"):
        awq.pseudo_quantize(torch.zeros(3, 30), 4, 64)
    with pytest.raises(ValueError, match="bits"):
        awq.pseudo_quantize(torch.zeros(4, 64), 9, 64)


# ---------------------------------------------------------------- a synthetic layer


def outlier_layer(seed: int = 0, tokens: int = 512, inputs: int = 128, outputs: int = 96):
    """A linear layer whose input has 4 channels 30x larger than the rest (the AWQ setting)."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(outputs, inputs, generator=generator) * 0.02
    x = torch.randn(tokens, inputs, generator=generator)
    x[:, [3, 40, 77, 101]] *= 30.0
    return weight, x


def direct_quantize(weight: torch.Tensor, bits: int, group_size: int) -> torch.Tensor:
    """Min-max round-to-nearest per group of consecutive values (zero not rounded), written out plainly."""
    groups = weight.reshape(-1, group_size)
    out = torch.empty_like(groups)
    levels = 2 ** bits - 1
    for i, group in enumerate(groups):
        low, high = group.min(), group.max()
        step = (high - low) / levels
        out[i] = low + torch.clamp(torch.round((group - low) / step), 0, levels) * step
    return out.reshape(weight.shape)


def brute_force_search(weights, x, bits, group_size, n_grid=20):
    """Lin et al. (2024) Eq. 4-5 evaluated literally on the activations: every alpha, the output MSE."""
    x = x.double()
    s_x = x.abs().mean(0)
    losses = []
    for step in range(n_grid):
        s = s_x.pow(step / n_grid).clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()
        squared, count = 0.0, 0
        for weight in weights:
            w = weight.double()
            quantized = direct_quantize((w * s).float(), bits, group_size).double()
            reference = x @ w.T
            output = (x / s) @ quantized.T  # Q(W s) (s^-1 X)
            squared += float(((output - reference) ** 2).sum())
            count += reference.numel()
        losses.append(squared / count)
    best = min(range(n_grid), key=lambda i: (losses[i], i))
    return best / n_grid, losses


def test_search_scales_up_the_outlier_channels_and_lowers_the_error():
    weight, x = outlier_layer()
    stats = awq.InputStats.from_inputs(x)
    alpha, scales, losses = awq.search_linear_group([weight], stats, [(3, 64)], round_zero=False)
    assert 0 < alpha < 1
    assert losses[0] == max(losses[:2]) and min(losses) < 0.5 * losses[0]  # alpha 0 is plain RTN
    assert scales[[3, 40, 77, 101]].min() > scales.median() * 2
    assert float((scales.max() * scales.min()).sqrt()) == pytest.approx(1.0, rel=1e-5)
    again = awq.search_linear_group([weight], awq.InputStats.from_inputs(x), [(3, 64)], round_zero=False)
    assert again[0] == alpha and torch.equal(again[1], scales) and again[2] == losses  # deterministic


@pytest.mark.parametrize("bits", [3, 4])
def test_search_equals_the_brute_force_objective_on_raw_activations(bits):
    weight, x = outlier_layer(seed=bits)
    split = torch.Generator().manual_seed(7)
    second = torch.randn(48, 128, generator=split) * 0.02  # two linears sharing one input, like gate/up
    alpha, scales, losses = awq.search_linear_group([weight, second], awq.InputStats.from_inputs(x),
                                                    [(bits, 64), (bits, 64)], round_zero=False)
    expected_alpha, expected_losses = brute_force_search([weight, second], x, bits, 64)
    assert alpha == expected_alpha
    assert losses == pytest.approx(expected_losses, rel=1e-4)
    assert torch.allclose(scales, awq.grid_scales(x.double().abs().mean(0), alpha))


def test_plan_sets_bits_per_linear_and_none_keeps_float():
    weight, x = outlier_layer()
    stats = awq.InputStats.from_inputs(x)
    scales = torch.ones(128)
    three = awq.group_loss([weight], stats, scales, [(3, 64)])
    four = awq.group_loss([weight], stats, scales, [(4, 64)])
    assert three > four > 0
    assert awq.group_loss([weight], stats, scales, [None]) == 0.0
    assert awq.resolve_setting({"a": (3, 32), "b": None}, "a", 4, 64) == (3, 32)
    assert awq.resolve_setting({"a": (3, 32), "b": None}, "b", 4, 64) is None
    assert awq.resolve_setting({"a": (3, 32)}, "c", 4, 64) == (4, 64)
    assert awq.resolve_setting(lambda name: (2, 16), "c", 4, 64) == (2, 16)


# ---------------------------------------------------------------- the tiny model


@pytest.fixture(scope="module")
def tiny_stats(tiny_model, tiny_processor, tiny_clips):
    return awq.calibrate(tiny_model, tiny_processor, tiny_clips, LANG, batch_size=4)


def model_inputs(processor, clips, lang=LANG):
    from harness.inference.decode import Prompt, build_prompt, prepare_batch

    prompt = Prompt(processor, build_prompt(processor, lang, "instruct"))
    inputs = prepare_batch(processor, prompt, clips, processor.tokenizer.pad_token_id)
    mask = inputs["attention_mask"]
    inputs["position_ids"] = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    return inputs


def test_groups_of_the_tiny_decoder(tiny_model):
    groups = awq.scale_groups(tiny_model)
    # 2 layers; the tiny model shares its one key/value head between two query heads: no o group.
    assert [(g.layer, g.kind) for g in groups] == [(0, "qkv"), (0, "gate_up"), (0, "down"),
                                                   (1, "qkv"), (1, "gate_up"), (1, "down")]
    assert groups[0].prev == "model.language_model.layers.0.input_layernorm"
    assert groups[2].linears == ("model.language_model.layers.0.mlp.down_proj",)
    assert len(awq.decoder_linears(tiny_model)) == 14


def inputs_of(model, module: str, inputs: dict) -> torch.Tensor:
    """What ``module`` receives in a plain forward of ``inputs``, padding positions dropped (tokens x channels)."""
    captured = {}
    handle = model.get_submodule(module).register_forward_pre_hook(
        lambda _, args: captured.setdefault("x", args[0]))
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        handle.remove()
    return captured["x"][inputs["attention_mask"].bool()]


def test_calibration_sees_the_decoders_own_inputs_without_padding(tiny_model, tiny_processor, tiny_clips, tiny_stats):
    """Statistics equal those of a plain forward of the model on prompt + audio, padding dropped."""
    group = next(g for g in tiny_stats if g.layer == 1 and g.kind == "down")
    inputs = model_inputs(tiny_processor, tiny_clips)
    x = inputs_of(tiny_model, group.linears[0], inputs)
    stats = tiny_stats[group]
    assert stats.tokens == int(inputs["attention_mask"].sum()) == x.shape[0]
    assert torch.allclose(stats.abs_sum, x.double().abs().sum(0), rtol=1e-5, atol=1e-6)
    assert torch.allclose(stats.gram, x.double().T @ x.double(), rtol=1e-4, atol=1e-4)


def test_calibration_limits_utterances_tokens_and_layers(tiny_model, tiny_processor, tiny_clips, tiny_stats):
    full = next(iter(tiny_stats.values())).tokens
    few = awq.calibrate(tiny_model, tiny_processor, tiny_clips, LANG, max_utterances=3, layers=[1])
    assert {g.layer for g in few} == {1}
    assert 0 < next(iter(few.values())).tokens < full
    thin = awq.calibrate(tiny_model, tiny_processor, tiny_clips, LANG, max_tokens=100, layers=[0])
    assert {stats.tokens for stats in thin.values()} == {100}
    zh = awq.calibrate(tiny_model, tiny_processor, tiny_clips, "zh", layers=[0])
    both = awq.calibrate(tiny_model, tiny_processor, tiny_clips, ["de", "zh"], layers=[0])
    group = next(iter(both))
    assert both[group].tokens == full + zh[group].tokens  # each language's prompt, added up
    assert torch.allclose(both[group].gram, tiny_stats[group].gram + zh[group].gram)


def test_tiny_layer_search_equals_brute_force_on_captured_activations(tiny_model, tiny_processor, tiny_clips,
                                                                      tiny_stats):
    """One real layer (layer 0 down_proj): calibrate + search_details == the objective on raw activations."""
    group = next(g for g in tiny_stats if g.layer == 0 and g.kind == "down")
    linear = tiny_model.get_submodule(group.linears[0])
    x = inputs_of(tiny_model, group.linears[0], model_inputs(tiny_processor, tiny_clips))
    found = awq.search_details(tiny_model, {group: tiny_stats[group]}, 3, 32, round_zero=False)[group]
    alpha, losses = brute_force_search([linear.weight.detach()], x, 3, 32)
    assert found.alpha == alpha
    assert found.losses == pytest.approx(losses, rel=1e-3)


def mha_tiny_model(tiny_model):
    """The tiny architecture with as many key/value heads as query heads (like the 7B), random weights."""
    from harness.stages import from_scratch

    text = tiny_model.config.text_config
    config = copy.deepcopy(tiny_model.config)
    config.text_config.num_key_value_heads = text.num_attention_heads
    model = from_scratch.init_model(config, seed=1)
    with torch.no_grad():  # non-trivial norm weights and biases, so that a wrong fold would show
        generator = torch.Generator().manual_seed(2)
        for name, parameter in model.named_parameters():
            if name.endswith("layernorm.weight") or name.endswith("proj.bias"):
                parameter.copy_(parameter + 0.3 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


@pytest.mark.parametrize("which", ["searched", "random", "mha-random"])
def test_folding_the_scales_keeps_the_logits(tiny_model, tiny_processor, tiny_clips, tiny_stats, which):
    model = mha_tiny_model(tiny_model) if which.startswith("mha") else copy.deepcopy(tiny_model)
    groups = awq.scale_groups(model)
    if which == "mha-random":
        assert "o" in {g.kind for g in groups}  # v_proj -> o_proj is folded too
    if which == "searched":
        scales = awq.search_scales(model, tiny_stats, 3, 32)
        assert any(not torch.equal(s, torch.ones_like(s)) for s in scales.values())
    else:
        generator = torch.Generator().manual_seed(3)
        scales = {g: torch.exp(torch.randn(model.get_submodule(g.linears[0]).in_features, generator=generator))
                  for g in groups}
    inputs = model_inputs(tiny_processor, tiny_clips[:4])
    with torch.no_grad():
        before = model(**inputs).logits
        weights = {n: p.clone() for n, p in model.named_parameters()}
        awq.apply_scales(model, scales)
        after = model(**inputs).logits
    assert any(not torch.equal(weights[n], p) for n, p in model.named_parameters())
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_apply_scales_refuses_wrong_scales(tiny_model):
    model = copy.deepcopy(tiny_model)
    group = awq.scale_groups(model)[0]
    with pytest.raises(ValueError, match="shape"):
        awq.apply_scales(model, {group: torch.ones(3)})
    with pytest.raises(ValueError, match="positive"):
        awq.apply_scales(model, {group: torch.zeros(64)})


def test_search_is_deterministic_and_leaves_the_model_alone(tiny_model, tiny_stats):
    before = {n: p.clone() for n, p in tiny_model.named_parameters()}
    first = awq.search_details(tiny_model, tiny_stats, 3, 32)
    second = awq.search_details(tiny_model, tiny_stats, 3, 32)
    assert all(torch.equal(p, before[n]) for n, p in tiny_model.named_parameters())
    for group in first:
        assert first[group].alpha == second[group].alpha and first[group].losses == second[group].losses
        assert torch.equal(first[group].scales, second[group].scales)
        assert first[group].loss <= first[group].rtn_loss


@pytest.mark.parametrize("bits, group_size", [(3, 32), (4, 32), (3, 64)])
def test_awq_lowers_each_layers_output_error_on_held_out_clips(tiny_model, tiny_processor, tiny_clips, bits,
                                                                group_size):
    """Scales from four clips; each decoder layer's linear-output error measured on the other four."""
    stats = awq.calibrate(tiny_model, tiny_processor, tiny_clips[:4], LANG)
    scales = awq.search_scales(tiny_model, stats, bits, group_size)
    held_out = awq.calibrate(tiny_model, tiny_processor, tiny_clips[4:], LANG)
    rtn = awq.output_error(tiny_model, held_out, bits, group_size)
    scaled = awq.output_error(tiny_model, held_out, bits, group_size, scales=scales)
    for layer in (0, 1):
        def total(errors):
            return sum(error for group, error in errors.items() if group.layer == layer)
        assert total(scaled) < total(rtn)


def with_outlier_channels(model, factor: float = 8.0):
    """The same function with a few input channels of every group made ``factor`` times larger.

    Large activations in a few channels, produced by the norm weights, are what AWQ is
    for (Lin et al. 2024, Section 3.1); the briefly trained tiny model has hardly any
    (max / median of mean |x| at most 2.3). Folding scales 1 / factor on four channels per
    group (apply_scales, function-preserving) grows them without changing the function.
    """
    model = copy.deepcopy(model)
    scales = {}
    for group in awq.scale_groups(model):
        width = model.get_submodule(group.linears[0]).in_features
        s = torch.ones(width)
        s[torch.arange(4) * (width // 4) + 3] = 1.0 / factor
        scales[group] = s
    return awq.apply_scales(model, scales)


@pytest.mark.parametrize("bits, group_size", [(3, 32), (4, 32)])
def test_awq_then_rtn_beats_rtn_through_the_whole_model_with_outlier_channels(tiny_model, tiny_processor, tiny_clips,
                                                                                bits, group_size):
    """Every decoder layer's output and the logits on held-out clips are nearer the float model."""
    model = with_outlier_channels(tiny_model)
    stats = awq.calibrate(model, tiny_processor, tiny_clips[:4], LANG)
    scaled = awq.apply_scales(copy.deepcopy(model), awq.search_scales(model, stats, bits, group_size))
    awq.pseudo_quantize_model(scaled, bits, group_size)
    plain = awq.pseudo_quantize_model(copy.deepcopy(model), bits, group_size)
    inputs = model_inputs(tiny_processor, tiny_clips[4:])
    mask = inputs["attention_mask"].bool()
    with torch.no_grad():
        reference = model(**inputs, output_hidden_states=True)
        errors = {}
        for name, candidate in (("rtn", plain), ("awq", scaled)):
            out = candidate(**inputs, output_hidden_states=True)
            errors[name] = [float(((h - r)[mask] ** 2).mean())
                            for h, r in zip(out.hidden_states[1:], reference.hidden_states[1:])]
            errors[name].append(float(((out.logits - reference.logits)[mask] ** 2).mean()))
    assert all(a < 0.8 * r for a, r in zip(errors["awq"], errors["rtn"])), errors


@pytest.mark.parametrize("which, group_size", [("tiny", 32), ("mha", 128)])
def test_output_error_matches_a_quantized_copy(tiny_model, tiny_processor, tiny_clips, which, group_size):
    """output_error(scales) is the error of the model folded and then quantized, group by group.

    "mha" has an o group (v_proj's rows carry o_proj's scales) and, at 128, groups that span
    two rows of 64 inputs: there the row scales change what Q sees.
    """
    model = mha_tiny_model(tiny_model) if which == "mha" else tiny_model
    stats = awq.calibrate(model, tiny_processor, tiny_clips, LANG)
    scales = awq.search_scales(model, stats, 3, group_size)
    predicted = awq.output_error(model, stats, 3, group_size, scales=scales)
    quantized = awq.pseudo_quantize_model(awq.apply_scales(copy.deepcopy(model), scales), 3, group_size)
    row_scales = {group.prev: s for group, s in scales.items()}  # up_proj (and v_proj) rows: the next group's
    assert ("o" in {g.kind for g in stats}) == (which == "mha")
    for group, group_stats in stats.items():
        s = scales[group].double()
        squared, count = 0.0, 0
        for name in group.linears:
            w_float = model.get_submodule(name).weight.double()
            rows = row_scales.get(name, torch.ones(w_float.shape[0])).double()
            # The folded, quantized weight mapped back to the original input and output coordinates.
            delta = quantized.get_submodule(name).weight.double() / s[None, :] * rows[:, None] - w_float
            squared += float(((delta @ group_stats.gram) * delta).sum())
            count += w_float.shape[0]
        assert predicted[group] == pytest.approx(squared / (count * group_stats.tokens), rel=1e-5)


def test_plan_gives_the_search_per_module_bits(tiny_model, tiny_stats):
    """Diet-KIT's 3-bit MLPs in one layer: those groups are searched at 3 bits, the rest at 4."""
    mlp = {name: (3, 32) for g in tiny_stats if g.layer == 1 and g.kind in ("gate_up", "down") for name in g.linears}
    planned = awq.search_details(tiny_model, tiny_stats, 4, 32, plan=mlp)
    three = awq.search_details(tiny_model, tiny_stats, 3, 32)
    four = awq.search_details(tiny_model, tiny_stats, 4, 32)
    for group, found in planned.items():
        expected = three[group] if group.layer == 1 and group.kind in ("gate_up", "down") else four[group]
        assert found.losses == expected.losses
    as_callable = awq.search_details(tiny_model, tiny_stats, 4, 32, plan=lambda name: mlp.get(name, (4, 32)))
    assert all(as_callable[g].losses == planned[g].losses for g in planned)
    kept = awq.pseudo_quantize_model(copy.deepcopy(tiny_model), 4, 32, plan={name: None for name in mlp})
    assert all(torch.equal(kept.get_submodule(n).weight, tiny_model.get_submodule(n).weight) for n in mlp)


def test_awq_scale_model_layer_by_layer_equals_one_pass(tiny_model, tiny_processor, tiny_clips, tiny_stats):
    """Calibrating one layer per pass (bounded memory) finds the same scales as one pass over all layers."""
    model = copy.deepcopy(tiny_model)
    found = awq.awq_scale_model(model, tiny_processor, tiny_clips, LANG, bits=3, group_size=32, batch_size=4,
                                layers_per_pass=1)
    once = awq.search_details(tiny_model, tiny_stats, 3, 32)
    assert list(found) == list(once)
    for group in once:
        assert found[group].alpha == once[group].alpha
        torch.testing.assert_close(found[group].scales, once[group].scales, rtol=1e-4, atol=0)
    expected = awq.apply_scales(copy.deepcopy(tiny_model), {g: r.scales for g, r in once.items()})
    for (name, parameter), reference in zip(model.named_parameters(), expected.parameters()):
        torch.testing.assert_close(parameter, reference, rtol=1e-4, atol=1e-6, msg=name)
