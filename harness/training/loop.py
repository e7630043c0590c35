"""The training loop: AdamW on a list of examples, in one process or as one of N.

One plain PyTorch loop serves every training stage: the mini base from random
initialisation and its CTC encoder stage (``harness.stages.mini_base``), the full
fine-tunes of the teachers and of the pruned model (``harness.stages.finetune``), QLoRA
and LoRA adapters (``harness.stages.qlora``, Diet-KIT). Where its steps run (one process,
or this process's share of a DDP / FSDP launch) is a ``harness.training.context``; the
loop calls the same context methods on every step whatever the process count.

Determinism: for the same data, settings and seed, the batches, the dropout stream and
hence the weights are the same (on the same hardware, thread count and torch build).
A ``time_limit_s`` stops a run early and says so in the result (``stopped_early``): a
safety net for a busy machine, not part of a reproducible recipe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from harness.training.context import TrainingContext, training_context
from harness.training.ctc import CtcObjective
from harness.training.examples import Example, collate, epoch_batches
from harness.training.features import FeatureStore
from harness.training.forward import forward_losses, unwrapped
from harness.training.settings import TrainSettings, lr_at


@dataclass
class TrainResult:
    steps: int  # optimizer steps taken
    planned_steps: int
    examples_seen: int
    epochs: float
    seconds: float
    examples_per_second: float
    first_loss: float
    final_loss: float  # mean over the last log window
    losses: list[float] = field(default_factory=list)  # per step
    stopped_early: bool = False
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("losses")
        data["loss_curve"] = _loss_curve(self.losses)
        return data


def _loss_curve(losses: list[float], points: int = 40) -> list[tuple[int, float]]:
    if not losses:
        return []
    width = max(1, len(losses) // points)
    return [(start + width, round(float(np.mean(losses[start:start + width])), 4))
            for start in range(0, len(losses), width)]


def _decay_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms and the encoder's frozen positions."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _freeze_fixed_positions(model) -> None:
    # Whisper's (and Qwen2-Audio's) encoder position table is fixed sinusoids.
    core = unwrapped(model)
    tower = getattr(getattr(core, "model", core), "audio_tower", None)
    if tower is not None and hasattr(tower, "embed_positions"):
        tower.embed_positions.weight.requires_grad_(False)


def train(model, examples: Sequence[Example], store: FeatureStore, settings: TrainSettings, *, pad_id: int,
          progress: str | None = "train", log: Callable[[str], None] | None = None,
          on_checkpoint: Callable[[int, object], None] | None = None,
          ctc: CtcObjective | None = None, context: TrainingContext | None = None) -> TrainResult:
    """Train ``model`` in place on ``examples``; returns the loss history and throughput.

    ``on_checkpoint(step, model)`` is called every ``settings.checkpoint_every`` steps
    (the model is in eval mode during the call). ``log`` receives one line per
    ``settings.log_every`` steps (step, loss, lr, examples/s).

    With ``ctc`` the loss is lm + ``settings.ctc_weight`` x ctc, and the CTC head is
    trained too; ``settings.encoder_only`` trains just the encoder and the head on ctc.

    ``context`` (default: ``training_context()``, this process's) is where the steps run:
    one process, or this process's share of a multi-process launch.
    """
    if not examples:
        raise ValueError("no training examples")
    if (settings.ctc_weight > 0 or settings.encoder_only) and ctc is None:
        raise ValueError("ctc_weight / encoder_only need a CtcObjective")
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    _freeze_fixed_positions(model)
    context = training_context() if context is None else context
    forward_model, settings = context.prepare(model, settings)  # e.g. DDP's wrapper; FSDP trains untrimmed
    main_process = context.is_main
    device = next(model.parameters()).device
    total = settings.total_steps(len(examples))
    last = total if settings.stop_after is None else min(total, settings.stop_after)
    trained = unwrapped(model).model.audio_tower if settings.encoder_only else model
    groups = _decay_groups(trained, settings.weight_decay)
    if ctc is not None:
        groups += _decay_groups(ctc.head, settings.weight_decay)
    parameters = [p for group in groups for p in group["params"]]
    optimizer = context.optimizer(torch.optim.AdamW(groups, lr=settings.lr, betas=settings.betas, eps=1e-8))
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=settings.bf16)

    bar = None
    if progress is not None and main_process:
        from tqdm import tqdm

        bar = tqdm(total=last, desc=progress, unit="step", mininterval=5.0)
    losses: list[float] = []
    ctc_losses: list[float] = []
    seen = 0
    step = 0
    epoch = 0
    stopped_early = False
    started = time.perf_counter()
    model.train()
    if ctc is not None:
        ctc.head.train()
    try:
        while step < last and not stopped_early:
            for batch_indices in epoch_batches(examples, store, settings.batch_size, settings.seed, epoch,
                                               settings.bucket_batches):
                if step >= last:
                    break
                # Every process builds the same global batch (above) and trains its share of it.
                share, weights = context.share(examples, batch_indices)
                batch = collate([examples[i] for i in share], store, pad_id, ctc)
                batch = {name: tensor.to(device) for name, tensor in batch.items()}
                rate = lr_at(step, total, settings)
                for group in optimizer.param_groups:
                    group["lr"] = rate
                with autocast:
                    parts = forward_losses(forward_model, batch, settings.trim_audio, ctc, settings.encoder_only)
                parts = context.weigh(parts, weights)  # a share's part of the whole batch's mean losses
                if settings.encoder_only:
                    loss = parts["ctc"]
                else:
                    loss = parts["lm"] + settings.ctc_weight * parts["ctc"] if "ctc" in parts else parts["lm"]
                optimizer.zero_grad(set_to_none=True)
                value = context.backward(loss, parameters)  # the whole batch's loss, on every process
                if settings.grad_clip:
                    context.clip(parameters, settings.grad_clip)
                optimizer.step()
                if not math.isfinite(value):
                    raise FloatingPointError(f"loss became {value} at step {step}")
                losses.append(value)
                if "ctc" in parts:
                    ctc_losses.append(float(parts["ctc"].detach()))
                seen += len(batch_indices)
                step += 1
                elapsed = time.perf_counter() - started
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{np.mean(losses[-settings.log_every:]):.3f}", lr=f"{rate:.2e}",
                                    refresh=False)
                if log is not None and main_process and (step % settings.log_every == 0 or step == last):
                    ctc_part = f" (ctc {np.mean(ctc_losses[-settings.log_every:]):.4f})" if ctc_losses else ""
                    log(f"step {step}/{total} epoch {seen / len(examples):.2f} "
                        f"loss {np.mean(losses[-settings.log_every:]):.4f}{ctc_part} lr {rate:.3e} "
                        f"{seen / elapsed:.1f} ex/s {elapsed / 60:.1f} min")
                if on_checkpoint is not None and main_process and settings.checkpoint_every \
                        and step % settings.checkpoint_every == 0 and step < last:
                    model.eval()
                    on_checkpoint(step, model)
                    model.train()
                over = settings.time_limit_s is not None and elapsed > settings.time_limit_s and step < last
                over = context.stop_together(over)  # processes that stop at different steps would deadlock
                if over:
                    stopped_early = True
                    if log is not None:
                        log(f"time limit {settings.time_limit_s:.0f} s reached at step {step}/{total}: stopping early")
                    break
            epoch += 1
    finally:
        if bar is not None:
            bar.close()
        model.eval()
        if ctc is not None:
            ctc.head.eval()
    seconds = time.perf_counter() - started
    window = losses[-settings.log_every:]
    return TrainResult(steps=step, planned_steps=total, examples_seen=seen, epochs=seen / len(examples),
                       seconds=seconds, examples_per_second=seen / seconds if seconds > 0 else math.inf,
                       first_loss=losses[0], final_loss=float(np.mean(window)), losses=losses,
                       stopped_early=stopped_early, settings=settings.as_dict())
