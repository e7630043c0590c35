"""CTC transcription objective on the audio encoder (a training aid, never shipped).

Graves et al. (ICML 2006), "Connectionist Temporal Classification: Labelling
Unsegmented Sequence Data with Recurrent Neural Networks"; used as an auxiliary
encoder loss in joint CTC/attention speech models (Watanabe et al., IEEE JSTSP 2017,
"Hybrid CTC/Attention Architecture for End-to-End Speech Recognition").

Why the mini base needs it: trained only through the decoder's next-token loss, the
small audio encoder got almost no signal. The decoder learned the target language
from the prompt alone and its loss with another clip's audio stayed within 0.25 nats
of the true audio's (harness.stages.mini_base, first runs). A linear head over the
encoder's pooled states, trained to emit the English transcript (the tokenizer's
ids) with CTC, makes every audio token carry word content before the decoder has to
find it. The head is thrown away after training; the saved model is a plain
Qwen2AudioForConditionalGeneration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class CtcObjective:
    """A linear CTC head over the encoder's pooled states and the transcript ids of every clip."""

    head: torch.nn.Linear  # d_model -> vocabulary + 1 (the last class is the CTC blank)
    transcripts: Sequence[tuple[int, ...]]  # clip index -> English token ids

    @classmethod
    def create(cls, model, transcripts: Sequence[Sequence[int]], vocab_size: int, seed: int) -> CtcObjective:
        d_model = model.model.audio_tower.config.d_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            head = torch.nn.Linear(d_model, vocab_size + 1)
        empty = [i for i, ids in enumerate(transcripts) if not ids]
        if empty:
            raise ValueError(f"{len(empty)} clips have an empty transcript (first: clip {empty[0]})")
        return cls(head=head.to(next(model.parameters()).device), transcripts=[tuple(ids) for ids in transcripts])

    @property
    def blank(self) -> int:
        return self.head.out_features - 1

    def targets(self, clips: Sequence[int]) -> dict[str, torch.Tensor]:
        """The concatenated transcript ids of ``clips`` and their lengths (ctc_loss's layout)."""
        rows = [self.transcripts[c] for c in clips]
        return {"ctc_targets": torch.tensor([i for row in rows for i in row], dtype=torch.long),
                "ctc_target_lengths": torch.tensor([len(row) for row in rows], dtype=torch.long)}

    def loss(self, states: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
             target_lengths: torch.Tensor) -> torch.Tensor:
        """Mean over clips of the CTC loss per target token; ``states`` (batch, time, d_model)."""
        log_probs = torch.log_softmax(self.head(states).float(), dim=-1).transpose(0, 1)
        # zero_infinity: a clip too short for its transcript contributes nothing instead of inf.
        return torch.nn.functional.ctc_loss(log_probs, targets, lengths, target_lengths, blank=self.blank,
                                            reduction="mean", zero_infinity=True)

    def greedy(self, states: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Best-path decoding: the argmax class per step, repeats merged, blanks dropped."""
        best = self.head(states).argmax(-1)
        decoded = []
        for row, length in zip(best.tolist(), lengths.tolist()):
            ids, previous = [], None
            for index in row[:length]:
                if index != previous and index != self.blank:
                    ids.append(index)
                previous = index
            decoded.append(ids)
        return decoded


def token_error_rate(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> float:
    """Levenshtein edits over reference tokens, summed over the corpus."""
    edits = total = 0
    for reference, hypothesis in zip(references, hypotheses):
        previous = list(range(len(hypothesis) + 1))
        for i, r in enumerate(reference, 1):
            current = [i]
            for j, h in enumerate(hypothesis, 1):
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
            previous = current
        edits += previous[-1]
        total += len(reference)
    return edits / max(1, total)
