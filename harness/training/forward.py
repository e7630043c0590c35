"""The training forward pass of Qwen2-Audio: the audio encoder on a trimmed window, then the losses.

``forward_losses`` gives the next-token loss of a collated batch (and the encoder's CTC
loss with a ``harness.training.ctc.CtcObjective``). With ``trim_audio`` the audio encoder
runs on a window cut just past the batch's longest clip instead of the full padded
window: the same outputs at the kept positions (see ``_audio_embeddings``), most of the
encoder's work saved on short clips.
"""

from __future__ import annotations

import math

import torch

from harness.training.ctc import CtcObjective


def unwrapped(model):
    """The transformers model inside a PEFT wrapper (its adapter layers stay in it); any other model as is.

    ``peft.PeftModel.get_base_model`` gives the ``Qwen2AudioForConditionalGeneration``
    whose ``.model`` holds the audio tower, so the trimmed audio path and the frozen
    position table are found for a QLoRA model too (harness.stages.qlora).
    """
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):  # distributed hook: DDP's model
        model = model.module
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def audio_states(model, features: torch.Tensor, feature_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The audio encoder's pooled, normalised states (batch, tokens, d_model) and each clip's token count.

    Computed on a trimmed window; see ``_audio_embeddings``.
    """
    from transformers.masking_utils import create_bidirectional_mask

    core = model.model
    tower = core.audio_tower
    frames = feature_mask.sum(-1)
    conv_lengths, token_lengths = tower._get_feat_extract_output_lengths(frames)
    full = features.shape[-1]
    keep = min(full, int(math.ceil((int(frames.max()) + 8) / 16) * 16))
    hidden = features[..., :keep].to(dtype=tower.conv1.weight.dtype)
    hidden = torch.nn.functional.gelu(tower.conv1(hidden))
    hidden = torch.nn.functional.gelu(tower.conv2(hidden)).permute(0, 2, 1)
    length = hidden.shape[1]
    hidden = hidden + tower.embed_positions.weight[:length]
    hidden = torch.nn.functional.dropout(hidden, p=tower.dropout, training=tower.training)
    mask_2d = (torch.arange(length, device=hidden.device)[None, :] < conv_lengths[:, None]).long()
    mask = create_bidirectional_mask(config=tower.config, inputs_embeds=hidden[..., :1], attention_mask=mask_2d)
    for layer in tower.layers:
        hidden = layer(hidden, mask)
    hidden = tower.avg_pooler(hidden.permute(0, 2, 1)).permute(0, 2, 1)
    return tower.layer_norm(hidden), token_lengths


def _audio_embeddings(model, states: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """The projected audio embeddings of every clip's real tokens, concatenated, from a trimmed window.

    Equal (up to float rounding) to what ``Qwen2AudioForConditionalGeneration.forward``
    computes on the full window: the encoder masks every padded position out of
    attention, the position table is indexed from 0, and the convolutions near the end
    of a clip read at most two frames past it, so a window cut a few frames after the
    batch's longest clip gives the same outputs at the kept positions. Padding takes
    most of a short clip's window, so this saves most of the encoder's work.
    """
    audio = model.model.multi_modal_projector(states)
    wanted = torch.arange(audio.shape[1], device=audio.device)[None, :] < token_lengths[:, None]
    return audio[wanted]


def input_embeddings(core, input_ids: torch.Tensor, states: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """The language model's input: text embeddings with the projected audio in the ``<|AUDIO|>`` slots."""
    embeds = core.get_input_embeddings()(input_ids)
    audio = _audio_embeddings(core, states, token_lengths)
    slots = input_ids == core.config.audio_token_id
    if int(slots.sum()) != audio.shape[0]:
        raise ValueError(f"audio features and audio tokens do not match: {int(slots.sum())} tokens, "
                         f"{audio.shape[0]} features")
    return embeds.masked_scatter(slots.unsqueeze(-1), audio.to(embeds.dtype))


def forward_losses(model, batch: dict[str, torch.Tensor], trim_audio: bool = True,
                   ctc: CtcObjective | None = None, encoder_only: bool = False) -> dict[str, torch.Tensor]:
    """The losses of ``batch`` (as ``collate`` builds it): "lm", the mean next-token loss, and
    "ctc" when ``ctc`` is given (the batch then holds ``ctc_targets``); ``encoder_only`` skips "lm".

    ``trim_audio`` runs the audio encoder on a window cut just past the batch's longest
    clip (see ``_audio_embeddings``); False runs the model's own forward on the full
    window. Both give the same loss up to float rounding (tests/test_finetune.py).
    """
    batch = dict(batch)
    targets, target_lengths = batch.pop("ctc_targets", None), batch.pop("ctc_target_lengths", None)
    core = unwrapped(model)  # a PEFT model's own forward still runs below, on inputs_embeds
    has_audio = hasattr(getattr(core, "model", None), "audio_tower")
    if (ctc is not None or encoder_only) and (targets is None or not has_audio):
        raise ValueError("the CTC loss needs an audio model and a batch collated with a CtcObjective")
    if not trim_audio and ctc is None:
        return {"lm": model(**batch, use_cache=False).loss}
    if not has_audio:
        return {"lm": model(**batch, use_cache=False).loss}
    states, token_lengths = audio_states(core, batch["input_features"], batch["feature_attention_mask"])
    losses = {}
    if ctc is not None:
        losses["ctc"] = ctc.loss(states, token_lengths, targets, target_lengths)
    if encoder_only:
        return losses
    if not trim_audio:
        losses["lm"] = model(**batch, use_cache=False).loss
        return losses
    embeds = input_embeddings(core, batch["input_ids"], states, token_lengths)
    losses["lm"] = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                         position_ids=batch["position_ids"], labels=batch["labels"], use_cache=False).loss
    return losses


def forward_loss(model, batch: dict[str, torch.Tensor], trim_audio: bool = True) -> torch.Tensor:
    """The mean next-token loss of ``batch`` (see ``forward_losses``)."""
    return forward_losses(model, batch, trim_audio)["lm"]
