"""How a training run is set: ``TrainSettings``, the learning-rate schedule, overrides.

AdamW (Loshchilov and Hutter, ICLR 2019, "Decoupled Weight Decay Regularization") with
an optional linear warm-up, then a cosine (Loshchilov and Hutter, ICLR 2017, "SGDR")
or linear decay to a floor, or a constant rate (``lr_at``). The stages' recipes (e.g.
``harness.stages.finetune.PAPER_TEACHER``) are ``TrainSettings``; their ``as_dict`` is
what stage cache keys and ``finetune.json`` record.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class TrainSettings:
    """How to train. Exactly one of ``steps`` / ``epochs`` fixes the length of a run."""

    lr: float
    batch_size: int
    epochs: float | None = None
    steps: int | None = None
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | linear | constant (after the warm-up)
    min_lr_ratio: float = 0.0  # the schedule's floor, as a fraction of lr
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    bf16: bool = False  # autocast the forward pass to bfloat16 (the weights stay in their dtype)
    seed: int = 0
    threads: int | None = 2  # torch intra-op threads on the CPU; None leaves torch's choice
    log_every: int = 25
    checkpoint_every: int | None = None  # steps between on_checkpoint calls
    time_limit_s: float | None = None  # stop early (and say so) after this much training time
    stop_after: int | None = None  # stop (as planned) after this many steps of the `steps`/`epochs` schedule
    bucket_batches: int = 50  # sort this many batches' worth of examples by length, then batch
    trim_audio: bool = True  # run the encoder on a window cut past the batch's longest clip (same result)
    ctc_weight: float = 0.0  # weight of the encoder's CTC transcription loss (needs a CtcObjective)
    encoder_only: bool = False  # train only the audio encoder and the CTC head, on the CTC loss alone

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if self.epochs is not None and not self.epochs > 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.schedule not in ("cosine", "linear", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; known: cosine, linear, constant")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        if self.ctc_weight < 0:
            raise ValueError(f"ctc_weight must not be negative, got {self.ctc_weight}")

    def total_steps(self, examples: int) -> int:
        if self.steps is not None:
            return self.steps
        return max(1, math.ceil(self.epochs * math.ceil(examples / self.batch_size)))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        """The settings ``as_dict`` gave, after a trip through JSON or TOML (which turn ``betas`` into a list)."""
        values = dict(values)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


def lr_at(step: int, total: int, settings: TrainSettings) -> float:
    """The learning rate of optimizer step ``step`` (0-based) in a run of ``total`` steps."""
    peak = settings.lr
    if settings.warmup_steps and step < settings.warmup_steps:
        return peak * (step + 1) / settings.warmup_steps
    if settings.schedule == "constant":
        return peak
    span = max(1, total - settings.warmup_steps)
    progress = min(1.0, (step - settings.warmup_steps) / span)
    floor = settings.min_lr_ratio
    if settings.schedule == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak * (floor + (1.0 - floor) * shape)


def with_overrides(settings: TrainSettings, **overrides) -> TrainSettings:
    """``settings`` with the given fields replaced (None values are ignored)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "steps" in changes:
        changes["epochs"] = None
    elif "epochs" in changes:
        changes["steps"] = None
    return replace(settings, **changes)


def add_train_arguments(parser) -> None:
    """The command-line options that override a preset's TrainSettings (see ``train_overrides``)."""
    import argparse

    parser.add_argument("--epochs", type=float)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)


def train_overrides(args) -> dict:
    """``with_overrides`` keywords from the options ``add_train_arguments`` defined (None: keep the preset's)."""
    return dict(epochs=args.epochs, steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                bf16=args.bf16)
