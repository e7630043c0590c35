"""LoRA adapters for the training loop: their settings, inserting one, counting what trains.

Hu et al. (ICLR 2022, "LoRA: Low-Rank Adaptation of Large Language Models") freeze the
model and train a low-rank update B A of chosen linear layers; rsLoRA (Kalajdzievski
2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA") scales it by
alpha / sqrt(rank). The defaults are Moslem's (IWSLT 2025, "Efficient Speech Translation
through Model Compression and Knowledge Distillation"): rank 64, alpha 128, dropout 0,
rsLoRA, every linear module but the LM head. Used on a 4-bit base by QLoRA
(``harness.stages.qlora``) and on the full-precision model by a LoRA fine-tune that
merges the adapter before saving (``harness.stages.finetune``, Diet-KIT).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LoraSettings:
    """The adapter. Defaults are Moslem (2025)'s: rank 64, alpha 128, dropout 0, rsLoRA, all linear modules."""

    rank: int = 64
    alpha: float = 128
    dropout: float = 0.0
    rslora: bool = True
    target_modules: str = "all-linear"

    def __post_init__(self) -> None:
        if not isinstance(self.rank, int) or self.rank < 1:
            raise ValueError(f"rank must be a positive integer, got {self.rank!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def for_rank(cls, rank: int, **overrides) -> LoraSettings:
        """The paper's settings at another rank, alpha kept at 2 x rank (as 128 = 2 x 64)."""
        return cls(rank=rank, alpha=2 * rank, **overrides)

    def peft_config(self):
        from peft import LoraConfig

        # task_type CAUSAL_LM and bias "none", as in the reference notebook.
        return LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout, use_rslora=self.rslora,
                          target_modules=self.target_modules, bias="none", task_type="CAUSAL_LM")

    def as_dict(self) -> dict:
        return asdict(self)


PAPER_LORA = LoraSettings()


def parameter_count(model) -> int:
    """All parameters, a packed 4-bit weight counted as its unpacked size (PEFT's convention)."""
    total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if parameter.__class__.__name__ == "Params4bit":
            count *= 2 * parameter.element_size()  # two 4-bit weights per byte of storage
        total += count
    return total


def trainable_parameters(model) -> dict:
    """Trainable and total parameters (packed 4-bit counted unpacked) and the share, of a (PEFT) model."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = parameter_count(model)
    return {"trainable": trainable, "total": total, "share": trainable / total if total else 0.0}


def add_lora(model, settings: LoraSettings = PAPER_LORA):
    """Wrap ``model`` with a fresh LoRA adapter (B starts at zero); PEFT freezes every other weight
    (QLoRA passes the 4-bit base from ``harness.stages.qlora.prepare_base``)."""
    from peft import get_peft_model

    return get_peft_model(model, settings.peft_config())
