"""Where the training loop runs: one process, or one of N in a multi-process launch (issue 11).

``harness.training.loop.train`` calls the same context methods on every step, whatever
the process count; only the context differs:

- ``LocalContext`` (a single process): the model as it is, the whole batch, the losses
  as computed, a plain backward and gradient clipping, no collective of any kind.
- ``DistributedContext`` (inside a torchrun / ``accelerate launch`` launch, WORLD_SIZE > 1):
  DDP through accelerate (``Accelerator`` wraps the model and the optimizer), or, with
  HARNESS_FSDP=1 (or ``accelerate launch --use_fsdp``), FSDP2 (``harness.inference.distributed.shard_model``).
  ``TrainSettings.batch_size`` stays the GLOBAL batch: every process builds the same
  seeded global batch and takes its contiguous share; each share's loss is weighted so
  that the averaged gradient is the single-process gradient of the whole batch up to
  float reduction order; a time limit stops every process at the same step; rank 0
  alone saves (an FSDP model's full state dict gathered on it first).

``training_context()`` picks the one this process needs. The process-group plumbing
(launching, ``init_state``, sharding, gathering) is ``harness.inference.distributed``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from harness.inference.distributed import (
    fsdp_wanted,
    full_state_dict,
    init_state,
    is_sharded,
    launched,
    rank,
    rank_device,
    shard_model,
)


class TrainingContext(Protocol):
    """What the training loop asks of the process(es) it runs in."""

    is_main: bool  # the process that logs, shows progress and checkpoints

    def prepare(self, model, settings):
        """(the model to run forward passes through, the settings this context trains with)."""

    def optimizer(self, optimizer):
        """The optimizer to step (wrapped where the context needs it)."""

    def share(self, examples: Sequence, batch_indices: list[int]) -> tuple[list[int], tuple[float, float] | None]:
        """This process's part of a global batch, and its (lm, ctc) loss weights (None: as computed)."""

    def weigh(self, parts: dict[str, torch.Tensor], weights: tuple[float, float] | None) -> dict[str, torch.Tensor]:
        """The losses of this process's share, weighted as ``share`` said."""

    def backward(self, loss: torch.Tensor, parameters) -> float:
        """Backward (gradients averaged over the processes); the step's loss over the whole batch."""

    def clip(self, parameters, max_norm: float) -> None:
        """Clip the gradients' global norm to ``max_norm``."""

    def stop_together(self, over: bool) -> bool:
        """True when the time limit is ``over`` on any process (so all stop at the same step)."""

    def model_to_save(self, model, reload: Callable[[], object]):
        """The trained model to save on this process, or None where another process saves it."""


class LocalContext:
    """One process: nothing to wrap, share, weight, reduce or gather."""

    is_main = True

    def prepare(self, model, settings):
        return model, settings

    def optimizer(self, optimizer):
        return optimizer

    def share(self, examples, batch_indices):
        return batch_indices, None

    def weigh(self, parts, weights):
        return parts

    def backward(self, loss, parameters) -> float:
        loss.backward()
        return float(loss.detach())

    def clip(self, parameters, max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def stop_together(self, over: bool) -> bool:
        return over

    def model_to_save(self, model, reload):
        return model


class DistributedContext:
    """The accelerate path: one global batch shared by the processes, gradients averaged.

    Every process computes the same seeded global batch (``epoch_batches``) and takes a
    contiguous share (``share``). The LM loss is a mean over the global batch's target
    tokens, so a share's loss is weighted by (its tokens / the global batch's tokens) x N
    (DDP divides the summed gradients by N); the CTC loss, a per-example mean, by
    (its examples / the global batch's) x N. A process whose share is empty (a last
    batch smaller than N) runs one example at weight 0, since every DDP process must
    take part in every backward.
    """

    def __init__(self) -> None:
        self.is_main = rank() == 0  # torchrun's RANK until ``prepare`` asks the process group
        self.time_limited = False

    def prepare(self, model, settings):
        """Wrap ``model`` in DDP, or shard it with FSDP2; the wrapped model and the settings to train with."""
        device = next(model.parameters()).device
        self.fsdp = fsdp_wanted()
        self.inner = model
        if self.fsdp:
            state = init_state(device.type)
            self.accelerator = None
            self.world, self.rank, self.is_main = state.num_processes, state.process_index, state.is_main_process
            self.device = torch.device(rank_device(device.type, state))
            self.wrapped = shard_model(model, self.device, settings.bf16)
        else:
            from accelerate import Accelerator
            from accelerate.utils import DistributedDataParallelKwargs

            # encoder_only leaves the language model without gradients: DDP must be told.
            ddp = DistributedDataParallelKwargs(find_unused_parameters=bool(settings.encoder_only))
            self.accelerator = Accelerator(cpu=device.type == "cpu", kwargs_handlers=[ddp])
            self.world = self.accelerator.num_processes
            self.rank = self.accelerator.process_index
            self.is_main = self.accelerator.is_main_process
            self.device = self.accelerator.device
            self.wrapped = self.accelerator.prepare_model(model)
        self._wrapped_ids = {id(p) for p in self.wrapped.parameters()}
        settings = self._settings(settings)
        # Without a time limit the processes take the same steps anyway: no collective per step.
        self.time_limited = settings.time_limit_s is not None
        return self.wrapped, settings

    def _settings(self, settings):
        """FSDP runs the model's own forward (its sharded weights exist only inside it): no trimmed audio path."""
        from dataclasses import replace

        if self.fsdp and (settings.ctc_weight > 0 or settings.encoder_only):
            raise ValueError("the CTC objective is not supported with FSDP")
        return replace(settings, trim_audio=False) if self.fsdp and settings.trim_audio else settings

    def optimizer(self, optimizer):
        return optimizer if self.fsdp else self.accelerator.prepare_optimizer(optimizer)

    def share(self, examples, batch_indices: list[int]) -> tuple[list[int], tuple[float, float]]:
        """This process's contiguous share of a global batch, and its (lm, ctc) loss weights."""
        bounds = np.linspace(0, len(batch_indices), self.world + 1).round().astype(int)
        mine = list(batch_indices[bounds[self.rank]:bounds[self.rank + 1]])
        if not mine:
            return [batch_indices[0]], (0.0, 0.0)
        tokens = sum(len(examples[i].target) for i in batch_indices)
        lm = sum(len(examples[i].target) for i in mine) / tokens * self.world
        return mine, (lm, len(mine) / len(batch_indices) * self.world)

    def weigh(self, parts, weights):
        """Weight by the share's tokens (lm) / examples (ctc)."""
        return {k: v * (weights[0] if k == "lm" else weights[1]) for k, v in parts.items()}

    def backward(self, loss: torch.Tensor, parameters) -> float:
        """Backward through DDP/FSDP, average any gradient outside the wrapped model; the global loss."""
        if self.fsdp:
            loss.backward()  # FSDP2 reduce-scatters (averages) each unit's gradients during backward
        else:
            self.accelerator.backward(loss)
        for parameter in parameters:  # e.g. a CTC head: not inside the DDP module
            if id(parameter) not in self._wrapped_ids and parameter.grad is not None:
                torch.distributed.all_reduce(parameter.grad)
                parameter.grad /= self.world
        total = loss.detach().float().clone() / self.world
        torch.distributed.all_reduce(total)
        return float(total)

    def clip(self, parameters, max_norm: float) -> None:
        if self.fsdp:  # the norm of sharded (DTensor) gradients is taken across all shards
            torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        else:
            self.accelerator.clip_grad_norm_(parameters, max_norm)

    def stop_together(self, over: bool) -> bool:
        """True on every process when it is True on one (a time limit must stop all of them at the same step)."""
        if not self.time_limited:
            return over
        value = torch.tensor([1.0 if over else 0.0])
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def model_to_save(self, model, reload):
        """Rank 0's model to save (None on the others); ``reload()`` gives a fresh copy of the input model.

        Collective for an FSDP model: every process must call it.
        """
        if is_sharded(model):  # FSDP: gather the shards, into a fresh copy of the input model on rank 0
            state = full_state_dict(model)
            model = None
            if rank() == 0:
                model = reload()
                model.load_state_dict(state, strict=True)
        return model if rank() == 0 else None  # (DDP: every rank holds the same weights)


def training_context() -> TrainingContext:
    """This process's context: distributed inside a multi-process launch (WORLD_SIZE > 1), else local."""
    return DistributedContext() if launched() else LocalContext()
