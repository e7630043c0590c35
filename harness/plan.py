"""`python -m harness plan`: what a build or an eval will do on a track, and whether it fits, without downloading.

For a submission (any folder of ``submissions/`` with a build.py: harness.submissions) on
a track, the plan lists the stages of its chain with the settings of its config
(``submissions/<name>/config/<track>.toml``, read with ``harness.stages.recipe.load_config``),
then the eval: decoding each of the track's test sets and COMET. The stages are found by
running the submission's own ``chain`` (its build.py, the one declaration the build runs
too) over a planning stand-in whose stages do not run (harness.stages.planning); each
recorded stage name has its estimator here (``Planner.ESTIMATED``; another name is listed
with "no estimate for stage X"). A build.py without a chain (baseline) is the track's base
as it is: the base, then the eval. For each stage: the
models and data it needs (hub ids and revisions), a peak GPU memory estimate, the disk
its outputs take, and whether it fits the GPUs given (``--gpus N --gpu-memory-gib G``;
default: what torch.cuda reports, else one 80 GiB GPU, and the plan says so).

Nothing is downloaded: the 7B's shapes are those of Qwen2-Audio-7B(-Instruct)'s
config.json, written below (``QWEN2_AUDIO_7B_CONFIG``); the mini track reads
``models/mini-base/config.json``. Every figure is a rough upper estimate (worst-case
sequence: a 30 s clip), and every assumption is a named constant here:

- parameters: counted from the shapes (``Shapes.parameters``); the 7B: 8,397,094,912
  (papers.md: 8.40 B); weights on disk and in GPU memory at the checkpoint's dtype
  (bf16: 2 B/param).
- full fine-tuning with AdamW: ``ADAM_BYTES["mixed"]`` = 16 B/param, the mixed-precision
  Adam of Rajbhandari et al. (2020, "ZeRO", section 3.1: 2 bf16 weights + 2 bf16 grads +
  12 of fp32 master weights and the two moments). ``--adam bf16`` (8 B/param: bf16
  weights, grads and both moments) is what this harness's own loop (harness.
  training.loop.train: torch AdamW on a bf16 checkpoint, autocast) actually holds.
- activations per layer (Korthikanti et al. 2022, "Reducing Activation Recomputation in
  Large Transformer Models", eq. 1 without the attention-score term, as with fused/SDPA
  attention): 34 x seq x batch x hidden bytes (bf16); the audio encoder over its 1500
  positions at its d_model, the decoder over audio tokens (750 for 30 s) + prompt (64)
  + target (256) tokens. With gradient checkpointing (the QLoRA configs): 2 x seq x
  batch x hidden per layer (the layer inputs) plus one layer's 34 x. The logits:
  batch x seq x vocab x 6 B (bf16, then fp32 for the loss).
- QLoRA (Dettmers et al. 2023): every Linear but the LM head in nf4 with double
  quantization, 0.5 + 1/64 + 4/(64 x 256) B/param (4-bit codes, an 8-bit absmax per 64,
  an fp32 absmax per 256 blocks); the rest (embedding, LM head, norms, biases) in fp32
  after peft's prepare_model_for_kbit_training (this gives the paper's 9.64 GB); LoRA
  parameters (rank x the sum of in + out features of all Linears but the head) at 16
  B/param (fp32 weight, grad, two Adam moments).
- HQQ: bits/8 + 4/group B/param (a bf16 scale and zero per group).
- AWQ calibration (harness.stages.awq) keeps no activations: per scale group of the
  decoder layers of one pass, the float64 Gram matrix of its input and its sum |x|
  ((in^2 + in) x 8 B; q/k/v, o and gate/up read hidden, down intermediate: 1.37 GB per
  7B layer), and all along the encoded dev prompts (tokens x hidden at the model's dtype).
- KV cache for decoding: 2 x layers x kv_dim x seq x batch x 2 B (bf16); seq = 750 +
  64 + max_new_tokens.
- FSDP over k GPUs: weights + grads + optimizer states divided by k, plus two layers'
  bf16 weights gathered at once; activations are not divided. Only training stages shard.
- disk: model folders at their stored dtype; data sets as FLAC (~19.2 kB/s, 0.6 of 16-bit
  PCM) at 8 s per utterance on average (ACL 60/60 and CoVoST2 clips are shorter than 30 s).

The rule: exit 0 with the plan; exit 2 with one line on stderr when any stage fits on no
configuration of the given GPUs (neither one GPU nor FSDP over up to N of them). On the
mini track everything runs on a CPU (its configs say device = "cpu"), and the plan says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from harness.data.corpora import CorpusError, describe_source, is_corpus_source, required_env, sample_settings
from harness.data.tracks import HUB_SOURCES, REPO, Track, get_track
from harness.data.hub import HUB_REVISIONS, pin_label
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.stages.planning import PlannedChain, PlannedStage
    from harness.submissions import Submission

GiB = 2**30
GB = 10**9
NO_ESTIMATE = "no estimate"  # the verdict of a stage no estimator knows

# Qwen2-Audio-7B(-Instruct) config.json (the hub's; both models share these shapes).
QWEN2_AUDIO_7B_CONFIG = {
    "model_type": "qwen2_audio",
    "torch_dtype": "bfloat16",
    "audio_token_index": 151646,
    "audio_config": {"model_type": "qwen2_audio_encoder", "d_model": 1280, "encoder_layers": 32,
                     "encoder_attention_heads": 20, "encoder_ffn_dim": 5120, "num_mel_bins": 128,
                     "max_source_positions": 1500},
    "text_config": {"model_type": "qwen2", "hidden_size": 4096, "intermediate_size": 11008,
                    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                    "vocab_size": 156032, "max_position_embeddings": 8192, "tie_word_embeddings": False},
}

# ---- assumptions (see the module docstring)
ADAM_BYTES = {"mixed": 16, "bf16": 8}          # per parameter: weights + grads + optimizer states
ACT_BYTES_PER_LAYER = 34                       # x seq x batch x hidden (Korthikanti et al. 2022)
CKPT_BYTES_PER_LAYER = 2                       # stored layer input with full recomputation
LOGIT_BYTES = 6                                # bf16 logits + their fp32 copy for the loss
AUDIO_TOKENS_30S = 750                         # 1500 encoder positions, pooled by 2
PROMPT_TOKENS = 64
TRAIN_TARGET_TOKENS = 256
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
LORA_BYTES = 16                                # fp32 weight + grad + two Adam moments
AWQ_STATS_BYTES = 8                            # float64 Gram matrix and sum |x| per AWQ group (awq.InputStats)
FLAC_BYTES_PER_S = 16000 * 2 * 0.6
AVG_UTTERANCE_S = 8.0
COMET_PARAMS = 560_000_000                     # XLM-R large (wmt20/wmt22-comet-da), fp32
ACL6060_TRAIN = 784
ACL6060_TEST = 100
DEV100 = 100
DEFAULT_GPU_GIB = 80.0


class PlanError(HarnessError):
    """Bad input: one line on stderr, exit status 2."""


# ---------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shapes:
    """What the estimates need of a Qwen2-Audio config."""

    enc_layers: int
    d_model: int
    enc_ffn: int
    mel: int
    positions: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    dtype_bytes: int

    @classmethod
    def from_config(cls, config: dict) -> Shapes:
        audio, text = config["audio_config"], config["text_config"]
        dtype = config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype") or "bfloat16"
        return cls(enc_layers=audio["encoder_layers"], d_model=audio["d_model"], enc_ffn=audio["encoder_ffn_dim"],
                   mel=audio.get("num_mel_bins", 128), positions=audio.get("max_source_positions", 1500),
                   layers=text["num_hidden_layers"], hidden=text["hidden_size"],
                   intermediate=text["intermediate_size"], heads=text["num_attention_heads"],
                   kv_heads=text.get("num_key_value_heads", text["num_attention_heads"]),
                   vocab=text["vocab_size"], tied=bool(text.get("tie_word_embeddings", False)),
                   dtype_bytes=4 if str(dtype) in ("float32", "torch.float32") else 2)

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    def encoder_layer(self) -> tuple[int, int]:
        """(Linear weight params, other params) of one Whisper encoder layer (k_proj has no bias)."""
        d, f = self.d_model, self.enc_ffn
        linear = 4 * d * d + 2 * d * f
        return linear, 3 * d + f + d + 4 * d

    def decoder_layer(self) -> tuple[int, int]:
        """(Linear weight params, other params) of one Qwen2 decoder layer (q, k, v have biases)."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return 2 * h * h + 2 * h * kv + 3 * h * i, h + 2 * kv + 2 * h

    def parameters(self) -> dict[str, int]:
        """Parameters by part; "linear" is what nf4/HQQ quantize (every Linear weight but the LM head)."""
        d, h = self.d_model, self.hidden
        enc_lin, enc_other = self.encoder_layer()
        dec_lin, dec_other = self.decoder_layer()
        embed = self.vocab * h
        head = 0 if self.tied else self.vocab * h
        encoder_other = d * self.mel * 3 + d + d * d * 3 + d + self.positions * d + 2 * d + self.enc_layers * enc_other
        parts = {
            "encoder_linear": self.enc_layers * enc_lin,
            "projector_linear": h * d,
            "decoder_linear": self.layers * dec_lin,
            "embedding": embed,
            "lm_head": head,
            "other": encoder_other + h + self.layers * dec_other + h,  # convs, positions, norms, biases
        }
        parts["linear"] = parts["encoder_linear"] + parts["projector_linear"] + parts["decoder_linear"]
        parts["total"] = parts["linear"] + embed + head + parts["other"]
        return parts

    def total(self) -> int:
        return self.parameters()["total"]

    def lora_width(self) -> int:
        """Sum of in + out features over every Linear but the LM head (harness.stages.qlora.lora_width)."""
        d, f, h, kv, i = self.d_model, self.enc_ffn, self.hidden, self.kv_dim, self.intermediate
        encoder = self.enc_layers * (4 * 2 * d + 2 * (d + f))
        decoder = self.layers * (2 * (h + h) + 2 * (h + kv) + 3 * (h + i))
        return encoder + (d + h) + decoder

    def layer_bytes(self) -> int:
        """One decoder layer's weights at the stored dtype (what FSDP gathers)."""
        return sum(self.decoder_layer()) * self.dtype_bytes

    def pruned(self, remove: int) -> Shapes:
        return replace(self, layers=self.layers - remove)


def shapes_for(track: Track, base: str | None = None) -> tuple[Shapes, str]:
    """The base's shapes: a project folder's config.json (mini), else the 7B's published config."""
    model = base or track.base_model
    local = Path(model) if Path(model).is_absolute() else REPO / model
    if (local / "config.json").is_file():
        return Shapes.from_config(json.loads((local / "config.json").read_text())), str(local / "config.json")
    if model.startswith(("./", "/")):
        raise PlanError(f"base model {model} is missing (the mini base is made by make mini-base)")
    return Shapes.from_config(QWEN2_AUDIO_7B_CONFIG), f"{model} config.json shapes (built in, not downloaded)"


# ---------------------------------------------------------------- memory and disk formulas


def decoder_seq(s: Shapes, target_tokens: int) -> int:
    """Audio tokens (the encoder's positions pooled by 2: 750 for 30 s on the 7B) + prompt + target."""
    return s.positions // 2 + PROMPT_TOKENS + target_tokens


def activation_bytes(s: Shapes, batch: int, target_tokens: int = TRAIN_TARGET_TOKENS, *,
                     checkpointing: bool = False) -> int:
    """Training activations (Korthikanti et al. 2022, 34 B/element/layer) plus the logits."""
    seq, frames = decoder_seq(s, target_tokens), s.positions
    dec, enc = seq * batch * s.hidden, frames * batch * s.d_model
    if checkpointing:
        stored = CKPT_BYTES_PER_LAYER * (s.layers * dec + s.enc_layers * enc) + ACT_BYTES_PER_LAYER * max(dec, enc)
    else:
        stored = ACT_BYTES_PER_LAYER * (s.layers * dec + s.enc_layers * enc)
    return stored + batch * seq * s.vocab * LOGIT_BYTES


def forward_bytes(s: Shapes, batch: int, target_tokens: int) -> int:
    """No-grad forward: one layer's working set and the logits (teacher-forced scoring)."""
    seq = decoder_seq(s, target_tokens)
    return ACT_BYTES_PER_LAYER * max(seq * batch * s.hidden, s.positions * batch * s.d_model) \
        + batch * seq * s.vocab * LOGIT_BYTES


def kv_cache_bytes(s: Shapes, batch: int, max_new_tokens: int) -> int:
    return 2 * s.layers * s.kv_dim * decoder_seq(s, max_new_tokens) * batch * 2


def decode_transient(s: Shapes, batch: int) -> int:
    """Prefill's one-layer working set plus the last position's fp32 logits."""
    seq = decoder_seq(s, 0)
    return ACT_BYTES_PER_LAYER * max(seq * batch * s.hidden, s.positions * batch * s.d_model) \
        + batch * s.vocab * 4


def nf4_model_bytes(s: Shapes) -> int:
    """The QLoRA base in memory and on disk: nf4 Linears, the rest in fp32."""
    p = s.parameters()
    return round(p["linear"] * NF4_BYTES + (p["total"] - p["linear"]) * 4)


def hqq_bytes(s: Shapes, bits: int = 4, group: int = 128, embedding_bits: int = 2, head_bits: int = 4) -> int:
    """An HQQ-mixed model: Linears at ``bits``, embedding and head as given, the rest bf16."""
    def per(b: int) -> float:
        return b / 8 + 4 / group
    p = s.parameters()
    size = p["linear"] * per(bits) + p["embedding"] * per(embedding_bits) + p["lm_head"] * per(head_bits)
    size += p["other"] * 2
    return round(size)


def awq_stats_bytes(s: Shapes, layers: int) -> int:
    """AWQ's calibration statistics for ``layers`` decoder layers (harness.stages.awq.scale_groups):
    per group, G = X^T X and sum |x| in float64. The groups read hidden (q/k/v, gate/up, and o
    where v_proj's outputs are o_proj's inputs one to one) or intermediate (down) inputs."""
    widths = [s.hidden, s.hidden, s.intermediate] + ([s.hidden] if s.kv_dim == s.hidden else [])
    return layers * sum(n * n + n for n in widths) * AWQ_STATS_BYTES


def audio_bytes(utterances: int, seconds: float = AVG_UTTERANCE_S) -> int:
    return round(utterances * seconds * FLAC_BYTES_PER_S)


def feature_bytes(s: "Shapes", utterances: int) -> int:
    """The log-mel cache a fine-tune writes once per training set (harness.training.features.cached_features):
    fp16, every clip padded to the encoder's window (two mel frames per encoder position)."""
    return utterances * s.mel * 2 * s.positions * 2


def _feature_note(s: "Shapes", utterances: int, shared: str = "") -> str:
    return (f"log-mel cache {utterances:,} clips x {feature_bytes(s, 1) / 1e6:.3f} MB (fp16, window-padded) = "
            f"{feature_bytes(s, utterances) / GiB:.2f} GiB{shared}")


# ---------------------------------------------------------------- stages


@dataclass
class Stage:
    name: str
    what: str
    needs: list[str]
    runs: list[str]                      # the directions it runs for ("de", "zh", "de+zh", "all")
    memory: dict[str, int]               # GPU bytes by part, one run
    shardable: int = 0                   # bytes FSDP divides (weights + grads + optimizer); 0: not a training stage
    gather: int = 0                      # bytes FSDP gathers at once (unsharded)
    disk: int = 0                        # bytes written, one run
    notes: list[str] = field(default_factory=list)
    fits: str = ""
    fsdp_gpus: int | None = None

    @property
    def peak(self) -> int:
        return sum(self.memory.values())

    def peak_fsdp(self, k: int) -> int:
        return self.peak - self.shardable + math.ceil(self.shardable / k) + self.gather

    def judge(self, gpus: int, gpu_bytes: float, cpu: bool) -> None:
        if self.fits == NO_ESTIMATE:
            return
        if cpu:
            self.fits, self.fsdp_gpus = "CPU", None
            return
        if not self.peak:
            self.fits, self.fsdp_gpus = "no GPU", 0
            return
        if self.peak <= gpu_bytes:
            self.fits, self.fsdp_gpus = "1 GPU", 1
            return
        if self.shardable:
            for k in range(2, gpus + 1):
                if self.peak_fsdp(k) <= gpu_bytes:
                    self.fits, self.fsdp_gpus = f"FSDP x{k}", k
                    return
        self.fits, self.fsdp_gpus = "no", None

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(peak_gpu_bytes=self.peak, peak_gpu_gib=round(self.peak / GiB, 2),
                    disk_bytes_total=self.disk * len(self.runs), disk_gib_total=round(self.disk * len(self.runs) / GiB, 2),
                    fsdp_peak_gib={k: round(self.peak_fsdp(k) / GiB, 2) for k in (2, 4, 8)} if self.shardable else {})
        return data


def _hub(source: str, track: Track) -> str:
    """A config data source as the id it needs."""
    if source.startswith("hub:acl6060"):
        spec = next((t for t in track.testsets if t.source == "acl6060"), None)
        return f"{pin_label('ymoslem/ACL-6060', spec.revision if spec else None)} ({source[len('hub:'):]})"
    if is_corpus_source(source):
        try:
            return f"{source} ({describe_source(source, track.languages)})"
        except CorpusError as err:
            return f"{source} (no loader: {err})"
    if source.startswith("hub:"):
        return f"{source} (no loader)"
    return f"{source} (local)"


class PlannedSystem(NamedTuple):
    """A model a planned stage makes: its shapes, its bytes as the eval loads it, and what it is."""

    shapes: Shapes
    weights: int
    label: str


class Planner:
    def __init__(self, track: Track, submission: str, config: dict, adam: str = "mixed",
                 declared: Submission | None = None):
        self.track, self.sub, self.config, self.adam = track, submission, config, adam
        self.declared = declared  # the submission's build.py (harness.submissions); None: the base as it is
        data = config.get("data", {})
        self.base_id = data.get("base", track.base_model)
        self.base_rev = data.get("base_revision") or (track.base_revision if self.base_id == track.base_model
                                                      else HUB_REVISIONS.get(self.base_id))
        self.shapes, self.shapes_source = shapes_for(track, self.base_id)
        self.langs = list(track.languages)
        self.stages: list[Stage] = []

    # ---- helpers

    def _model_id(self) -> str:
        if self.base_id.startswith(("./", "/")):
            return f"{self.base_id} (local)"
        return pin_label(self.base_id, self.base_rev)

    def _source(self, role: str, lang: str | None = None) -> str:
        value = self.config.get("data", {}).get(role)
        if isinstance(value, dict):
            value = value.get(lang or self.langs[0])
        return value

    def _weights(self, s: Shapes) -> int:
        return s.total() * s.dtype_bytes

    def _full_ft(self, name: str, what: str, s: Shapes, table: dict, needs: list[str], runs: list[str],
                 features: int = 0) -> Stage:
        batch = int(table.get("batch_size", 4))
        params = s.total()
        per = ADAM_BYTES[self.adam]
        weights = params * s.dtype_bytes
        states = params * per - weights
        stage = Stage(name, what, needs, runs,
                      memory={"weights": weights, "grads+optimizer": states,
                              "activations": activation_bytes(s, batch)},
                      shardable=params * per, gather=2 * s.layer_bytes(), disk=weights + feature_bytes(s, features),
                      notes=[f"AdamW {self.adam} {per} B/param; batch {batch}; {table.get('epochs')} epochs; "
                             f"no gradient checkpointing"])
        if features:
            stage.notes.append(_feature_note(s, features, " (the training set's; later stages reuse it)"))
        return stage

    def _lora_train(self, name: str, what: str, s: Shapes, table: dict, needs: list[str], runs: list[str], *,
                    quantized: bool, disk: int, features: int = 0) -> Stage:
        train = table.get("train", {})
        batch = int(train.get("batch_size", 4))
        rank = table.get("rank")
        note = ""
        if rank is None:  # match_share: the rank whose trainable share is nearest it (rank_for_share)
            share = float(table.get("match_share", 0.0241))
            exact = share * s.total() / ((1 - share) * s.lora_width())
            rank = max(1, round(exact))
            note = f"rank {rank} from match_share {share}"
        lora = int(rank) * s.lora_width()
        checkpointing = bool(table.get("gradient_checkpointing", False))
        base = nf4_model_bytes(s) if quantized else self._weights(s)
        return Stage(name, what, needs, runs,
                     memory={"base (nf4 + fp32 rest)" if quantized else "base (frozen)": base,
                             "lora+optimizer": lora * LORA_BYTES,
                             "activations": activation_bytes(s, batch, checkpointing=checkpointing)},
                     shardable=base + lora * LORA_BYTES, gather=2 * s.layer_bytes(),
                     disk=disk + feature_bytes(s, features),
                     notes=[f"rank {rank}: {lora / 1e6:.1f} M LoRA params ({100 * lora / (s.total() + lora):.2f} %); "
                            f"batch {batch}; gradient checkpointing {'on' if checkpointing else 'off'}"]
                     + ([note] if note else []) + ([_feature_note(s, features, " (the general sample's)")]
                                                   if features else []))

    def _decode(self, name: str, what: str, s: Shapes, weights: int, table: dict, needs: list[str], runs: list[str],
                disk: int = 0) -> Stage:
        batch = int(table.get("batch_size", 16))
        new = int(table.get("max_new_tokens", self.track.max_new_tokens))
        return Stage(name, what, needs, runs,
                     memory={"weights": weights, "kv_cache": kv_cache_bytes(s, batch, new),
                             "activations": decode_transient(s, batch)}, disk=disk,
                     notes=[f"greedy, batch {batch}, up to {new} new tokens"])

    # ---- the stages

    def base(self) -> None:
        s = self.shapes
        local = (Path(self.base_id) if Path(self.base_id).is_absolute() else REPO / self.base_id).is_dir()
        what = "copy the project's base folder" if local else "download the base model (hub)"
        self.stages.append(Stage("base", what, [self._model_id()], ["all"], memory={}, disk=self._weights(s),
                                 notes=[f"{s.total():,} params; shapes from {self.shapes_source}"]))

    def data(self, roles: Sequence[str]) -> None:
        """The config's data sets of ``roles`` (those the chain reads), each source once."""
        for role in roles:
            value = self.config["data"][role]
            sources = sorted(set(value.values())) if isinstance(value, dict) else [value]
            for source in sources:
                notes = []
                if source.startswith("hub:acl6060"):
                    count = DEV100 if source.endswith("dev100") else ACL6060_TRAIN
                    disk = audio_bytes(count)
                elif is_corpus_source(source):
                    disk, notes = self._corpus_notes(source)
                elif source.startswith("hub:"):
                    disk = 0
                    notes = ["no loader in this harness: the build stops here unless the config points at a local set"]
                else:
                    disk = 0  # already in the project
                self.stages.append(Stage(f"data:{role}", f"{role} set", [_hub(source, self.track)], ["all"],
                                         memory={}, disk=disk, notes=notes))

    def _corpus_notes(self, source: str) -> tuple[int, list[str]]:
        """Disk and notes of a local corpus source (harness.data.corpora): its seeded sample, written once as FLAC."""
        try:
            sample = sample_settings(self.config)
            variables = required_env(source, self.langs)
        except CorpusError as err:
            return 0, [f"the build stops here: {err}"]
        if sample is None:
            return 0, ["the build stops here: no table of the config sets general_size (the sample to convert)"]
        size, seed = sample
        notes = [f"converted once into the stage cache: {size:,} utterances of the train split (seed {seed}), "
                 f"streamed, FLAC at {AVG_UTTERANCE_S:g} s each"]
        unset = [name for name in variables if not os.environ.get(name)]
        if unset:
            notes.append(f"{', '.join(unset)} not set here: the build stops at this stage until "
                         f"{'it is' if len(unset) == 1 else 'they are'} (harness/data/corpora.py)")
        return audio_bytes(size), notes

    # ---- the chain's stages: one estimator per stage name the build records (harness.stages.planning).
    # Each takes the stage's planned record, the shapes of the model it reads and the directions it runs
    # for, and returns its Stage and, when it makes a model, that model (what a later stage or the eval reads).

    ESTIMATED = ("teacher", "distill", "prune", "finetune_kd", "general_sample", "qlora", "lora_general", "hqq",
                 "sensitivity", "awq")

    def teacher(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        stage = self._full_ft("teacher", "full fine-tune of the base (the teacher)", s, self.config["teacher"],
                              [self._model_id(), _hub(self._source("train"), self.track)], runs,
                              features=ACL6060_TRAIN)
        return stage, PlannedSystem(s, self._weights(s), "fine-tuned")

    def distill(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, None]:
        return self._decode("distill", "the teacher translates the training set (KD data)", s, self._weights(s),
                            self.config["distill"], ["teacher", _hub(self._source("train"), self.track)], runs,
                            disk=ACL6060_TRAIN * 1000), None

    def prune(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        table = self.config["prune"]
        remove = int(table["remove"])
        pruned = s.pruned(remove)
        stage = self._decode("prune", f"greedy search: remove {remove} of {s.layers} decoder layers, "
                             "each candidate scored by decoding the selection set", s, self._weights(s), table,
                             ["teacher", _hub(self._source("select"), self.track)], runs,
                             disk=self._weights(pruned))
        stage.notes.append(f"pruned: {pruned.total():,} params")
        return stage, PlannedSystem(pruned, self._weights(pruned), "pruned")

    def finetune_kd(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        stage = self._full_ft("finetune_kd", "full fine-tune of the pruned model on ACL + KD", s,
                              self.config["finetune_pruned"], ["prune", "distill"], runs)
        return stage, PlannedSystem(s, self._weights(s), "fine-tuned")

    def general_sample(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, None]:
        table = self.config[rec.settings.get("table", "qlora")]
        size = int(table.get("general_size", 0))
        sources = {self._source("general", lang) for lang in self.langs}
        if all(is_corpus_source(src) for src in sources):  # the converted corpus set is this sample (recipe)
            disk, notes = 0, ["the data stage's converted corpus sample itself: nothing written again"]
        else:
            disk = audio_bytes(size) * (len(self.langs) if runs == ["+".join(self.langs)] else 1)
            notes = ["written as FLAC in a segmented set folder"]
        return Stage("general_sample", f"{size:,} utterances of the general-domain set", [
            _hub(src, self.track) for src in sorted(sources)], runs, memory={}, disk=disk, notes=notes), None

    def qlora(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        table = self.config["qlora"]
        general = "general_sample" in rec.input_names
        inputs = ["finetune_kd" if general else "teacher", "distill"] + (["general_sample"] if general else [])
        lora_params = int(table.get("rank", 1)) * s.lora_width()
        stage = self._lora_train("qlora", "QLoRA (nf4 + double quant, LoRA on all linear) on the KD set", s, table,
                                 inputs, runs, quantized=True, disk=nf4_model_bytes(s) + lora_params * 4,
                                 features=int(table.get("general_size", 0)) if general else 0)
        adapter = int(table.get("rank", 64)) * s.lora_width()
        label = ("pruned " if s.layers < self.shapes.layers else "") + "nf4 + LoRA"
        return stage, PlannedSystem(s, nf4_model_bytes(s) + adapter * 4, label)

    def lora_general(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        table = self.config["lora"]
        stage = self._lora_train("lora_general", "LoRA on the bf16 base, both directions, merged (LoRA merge)", s,
                                 table, [self._model_id(), "general_sample"], runs, quantized=False,
                                 disk=self._weights(s), features=int(table.get("general_size", 0)))
        return stage, PlannedSystem(s, self._weights(s), "LoRA-merged")

    def _step3_bytes(self, s: Shapes) -> tuple[int, int, int, int]:
        from harness.stages import diet_kit

        group, emb, head = diet_kit.quantize_settings(self.config["quantize"])
        return hqq_bytes(s, 4, group, int(emb), head), group, int(emb), head

    def hqq(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        """Step 3 (HQQ of the merged model with [quantize]'s plan), or the final HQQ of the AWQ-scaled model."""
        step3, group, emb, head = self._step3_bytes(s)
        weights = self._weights(s)
        if "awq" not in rec.input_names:
            return Stage("hqq (step 3)", f"HQQ 4 bit, embedding {emb} bit, head {head} bit, group {group}",
                         ["lora_general"], runs, memory={"bf16 model": weights, "quantized": step3},
                         disk=step3), PlannedSystem(s, step3, "HQQ-mixed")
        limit = self.track.size_rule.limit_bytes if self.track.size_rule else None
        final = min(step3, limit) if limit else step3
        return Stage("hqq (final)", "HQQ with the fitting plan (least sensitive MLPs at 3 bit)",
                     ["awq", "sensitivity"], runs, memory={"bf16 model": weights, "quantized": final},
                     disk=final, notes=[f"at most the limit, {limit / GB:.2f} GB (the build stops "
                                        "otherwise)" if limit else "step 3's size"]), PlannedSystem(s, final, "HQQ-mixed")

    def sensitivity(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, None]:
        from harness.stages import diet_kit

        kind, bits = rec.settings.get("kind", "mlp"), rec.settings["bits"]
        batch = diet_kit.batch_size_of(self.config["sensitivity"])
        return Stage(f"sensitivity {kind} {bits}", f"each decoder layer's {kind} alone at {bits} bit, "
                     "teacher-forced cross-entropy on the dev set", ["lora_general",
                     _hub(self._source("dev"), self.track)], runs,
                     memory={"bf16 model": self._weights(s), "forward": forward_bytes(s, batch, TRAIN_TARGET_TOKENS)},
                     disk=10**6, notes=[f"batch {batch}"]), None

    def awq(self, rec: PlannedStage, s: Shapes, runs: list[str]) -> tuple[Stage, PlannedSystem]:
        from harness.stages import diet_kit

        awq = self.config["awq"]
        weights = self._weights(s)
        per_pass = int(awq.get("layers_per_pass") or s.layers)
        batch = diet_kit.batch_size_of(awq)
        tokens = DEV100 * len(self.langs) * (round(AVG_UTTERANCE_S * s.positions / 2 / 30) + PROMPT_TOKENS)
        return Stage("awq", "AWQ scales searched on the dev set's source audio, folded into the weights",
                     ["lora_general", _hub(self._source("dev"), self.track)], runs,
                     memory={"bf16 model": weights,
                             "calibration statistics": awq_stats_bytes(s, min(per_pass, s.layers)),
                             "encoded dev prompts": tokens * s.hidden * s.dtype_bytes,
                             "forward": forward_bytes(s, batch, 0)}, disk=weights,
                     notes=[f"{per_pass} decoder layers per pass; dev inputs at {AVG_UTTERANCE_S:.0f} s "
                            "on average"]), PlannedSystem(s, weights, "AWQ-scaled")

    @staticmethod
    def stage_name(rec: PlannedStage) -> str:
        """A recorded stage's name in the plan: hqq says which of diet-kit's two, sensitivity its rung."""
        if rec.name == "hqq":
            return "hqq (final)" if "awq" in rec.input_names else "hqq (step 3)"
        if rec.name == "sensitivity":
            return f"sensitivity {rec.settings.get('kind', 'mlp')} {rec.settings.get('bits')}"
        return rec.name

    def chain(self, planned: PlannedChain) -> PlannedSystem:
        """The stages a planning run of the chain recorded, in order, one plan stage per name (its runs: the
        directions it ran for), each estimated; returns the model the chain ends with."""
        systems = {planned.base.key: PlannedSystem(self.shapes, self._weights(self.shapes), "bf16 base")}
        groups: dict[str, list[PlannedStage]] = {}
        for rec in planned.stages:
            groups.setdefault(self.stage_name(rec), []).append(rec)
        for name, recs in groups.items():
            first = recs[0]
            runs = list(dict.fromkeys(rec.lang for rec in recs))
            read = next((systems[i.key] for i in first.inputs if i.key in systems), None)
            s = read.shapes if read else self.shapes
            if first.name in self.ESTIMATED:
                stage, system = getattr(self, first.name)(first, s, runs)
            else:
                stage = Stage(name, f"no estimate for stage {first.name}", list(first.input_names), runs, memory={},
                              fits=NO_ESTIMATE, notes=[f"no estimate for stage {first.name}: harness.plan has no "
                                                       "estimator for it (memory and disk unknown; the build runs it)"])
                system = read  # sized as the model it reads
            self.stages.append(stage)
            if system is not None:
                for rec in recs:
                    systems[rec.output.key] = system
        final = list(planned.finals.values())[-1]
        return systems.get(final.key) or PlannedSystem(self.shapes, self._weights(self.shapes),
                                                       f"{final.name} (sized as the base)")

    def eval(self, s: Shapes, weights: int, runs_model: str) -> None:
        comet = self.track.comet_model
        for spec in self.track.testsets:
            where = pin_label(spec.location, spec.revision) if spec.source in HUB_SOURCES else \
                f"${spec.location} (organizers' folder)" if spec.source == "iwslt-layout" else f"{spec.location} (local)"
            stage = self._decode(f"eval {spec.name}", f"decode {spec.name} with the {runs_model} system", s, weights,
                                 {"batch_size": 16, "max_new_tokens": self.track.max_new_tokens},
                                 [f"build/{self.track.name}/{self.sub}", where],
                                 [lang for lang in self.langs if lang in spec.languages],  # accent: en-de only
                                 disk=ACL6060_TEST * 2000)
            stage.notes.append("python -m harness eval default batch 16, plus batch-1 latency")
            self.stages.append(stage)
        if comet:
            self.stages.append(Stage("comet", "score COMET", [pin_label(comet)], self.langs,
                                     memory={"weights (fp32)": COMET_PARAMS * 4, "activations": GiB}, disk=0,
                                     notes=["downloaded once into the hub cache (~2.3 GB)"]))
        else:
            self.stages.append(Stage("comet", "COMET reported absent on this track", [], self.langs, memory={}))

    # ---- the plan: the base, the data, the submission's own chain (its build.py, run planned), the eval

    def build(self) -> list[Stage]:
        s = self.shapes
        self.base()
        chain = self.declared.chain if self.declared is not None else None
        if chain is None:  # a build.py without a chain makes the track's base as it is (baseline)
            self.eval(s, self._weights(s), "bf16 base")
            return self.stages
        from harness.stages.base import StageError
        from harness.stages.planning import plan_chain

        try:
            planned = plan_chain(chain, self.track, self.config, shared=self.declared.shared, langs=self.langs)
        except StageError as err:
            raise PlanError(f"{self.declared.build_script}: {err}") from None
        except KeyError as err:
            raise PlanError(f"{self.declared.build_script}: the chain reads {err}, which the config lacks") from None
        self.data(planned.data_roles)
        system = self.chain(planned)
        self.eval(system.shapes, system.weights, system.label)
        return self.stages


# ---------------------------------------------------------------- the command


def load_submission(submission: str) -> Submission:
    """The submission's declaration (its build.py, found among ``harness.submissions.names()``)."""
    from harness.submissions import SubmissionError, load

    try:
        return load(submission)
    except SubmissionError as err:
        raise PlanError(str(err)) from None


def load_submission_config(declared: Submission, track: str) -> dict:
    """Its config on the track, with the tables its declaration requires; a chain-less one has none."""
    if declared.chain is None:
        return {"data": {}}
    from harness.stages.base import StageError
    from harness.stages.recipe import load_config

    try:
        return load_config(declared.config_path(track), declared.required_tables)
    except StageError as err:
        raise PlanError(str(err)) from None


def detect_gpus() -> tuple[int, float, str]:
    """(count, GiB each, where it came from): torch.cuda if a GPU is there, else one 80 GiB GPU."""
    try:
        import torch

        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            gib = min(torch.cuda.get_device_properties(i).total_memory for i in range(count)) / GiB
            return count, gib, f"torch.cuda: {count} x {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return 1, DEFAULT_GPU_GIB, f"no GPU found: assuming one {DEFAULT_GPU_GIB:.0f} GiB GPU"


def make_plan(track_name: str, submission: str, *, gpus: int | None = None, gpu_gib: float | None = None,
              adam: str = "mixed") -> dict:
    try:
        track = get_track(track_name)
    except ValueError as err:
        raise PlanError(str(err)) from None
    declared = load_submission(submission)
    config = load_submission_config(declared, track.name)
    planner = Planner(track, submission, config, adam, declared)
    stages = planner.build()
    device = config.get("build", {}).get("device", "cpu" if track.name == "mini" else "cuda")
    cpu = device == "cpu"
    if gpus is None or gpu_gib is None:
        found_n, found_gib, source = detect_gpus()
        gpus = found_n if gpus is None else gpus
        gpu_gib = found_gib if gpu_gib is None else gpu_gib
        if gpus != found_n or gpu_gib != found_gib:
            source = f"{gpus} x {gpu_gib:g} GiB (partly given, partly {source})"
    else:
        source = f"given: {gpus} x {gpu_gib:g} GiB"
    if gpus < 1 or gpu_gib <= 0:
        raise PlanError(f"--gpus must be >= 1 and --gpu-memory-gib > 0, got {gpus} and {gpu_gib}")
    for stage in stages:
        stage.judge(gpus, gpu_gib * GiB, cpu)
    s = planner.shapes
    params = s.parameters()
    return {
        "track": track.name, "submission": submission, "device": device,
        "gpus": {"count": gpus, "memory_gib": round(gpu_gib, 2), "source": source},
        "cpu_only": cpu,
        "model": {"id": planner._model_id(), "shapes_from": planner.shapes_source, "parameters": params,
                  "bf16_bytes": params["total"] * 2, "stored_bytes": params["total"] * s.dtype_bytes,
                  "lora_width": s.lora_width(), "shapes": asdict(s)},
        "assumptions": {"adam": adam, "adam_bytes_per_param": ADAM_BYTES[adam],
                        "activation_bytes_per_layer_element": ACT_BYTES_PER_LAYER,
                        "audio_tokens": s.positions // 2, "prompt_tokens": PROMPT_TOKENS,
                        "train_target_tokens": TRAIN_TARGET_TOKENS, "nf4_bytes_per_param": NF4_BYTES,
                        "lora_bytes_per_param": LORA_BYTES, "avg_utterance_s": AVG_UTTERANCE_S},
        "stages": [stage.as_dict() for stage in stages],
        "unfit": [stage.name for stage in stages if stage.fits == "no"],
        "disk_bytes_total": sum(stage.disk * len(stage.runs) for stage in stages),
    }


def render(plan: dict) -> str:
    from tabulate import tabulate

    rows = []
    for st in plan["stages"]:
        peak = st["peak_gpu_bytes"]
        rows.append([st["name"], ", ".join(st["runs"]), "\n".join(st["needs"]) or "-",
                     "-" if not peak else f"{peak / GiB:.1f}", f"{st['disk_bytes_total'] / GiB:.2f}", st["fits"] or "-"])
    gpus = plan["gpus"]
    m = plan["model"]
    head = [f"plan: {plan['submission']} on {plan['track']} (nothing downloaded)",
            f"model: {m['id']}: {m['parameters']['total']:,} params ({m['parameters']['total'] / 1e9:.2f} B), "
            f"{m['stored_bytes'] / GB:.2f} GB stored; shapes from {m['shapes_from']}"]
    if plan["cpu_only"]:
        head.append("device: CPU (the config's [build] device): every stage fits on a CPU, no GPU needed; "
                    "the peak column is then the same estimate of host memory")
    else:
        head.append(f"GPUs: {gpus['count']} x {gpus['memory_gib']:g} GiB ({gpus['source']}); "
                    f"full FT: AdamW {plan['assumptions']['adam']}, {plan['assumptions']['adam_bytes_per_param']} B/param")
    table = tabulate(rows, headers=["stage", "runs", "needs", "peak GPU GiB", "disk GiB", "fits"], tablefmt="simple")
    notes = [f"  {st['name']}: {'; '.join(st['notes'])}" for st in plan["stages"] if st["notes"]]
    tail = [f"disk, all stages: {plan['disk_bytes_total'] / GiB:.1f} GiB"]
    sharded = [st["fsdp_gpus"] for st in plan["stages"] if st["fits"].startswith("FSDP")]
    if sharded:  # harness.inference.distributed: every fine-tune of the build then runs as that many processes
        tail.append(f"run: make build SUB={plan['submission']} TRACK={plan['track']} NPROC={max(sharded)} FSDP=1 "
                    f"(full fine-tunes sharded with FSDP over {max(sharded)} GPUs)")
    if plan["unfit"]:
        tail.append(f"does not fit: {', '.join(plan['unfit'])}")
    return "\n".join(head + ["", table, "", "notes:"] + notes + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness plan", description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--sub", "--submission", dest="sub", default="modelA",
                        help="a folder of submissions/ with a build.py (harness.submissions)")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs present (default: torch.cuda, else 1)")
    parser.add_argument("--gpu-memory-gib", type=float, default=None, help="GiB per GPU (default: torch.cuda, else 80)")
    parser.add_argument("--adam", choices=tuple(ADAM_BYTES), default="mixed",
                        help="full fine-tuning optimizer memory: mixed = 16 B/param (ZeRO), bf16 = 8 B/param")
    parser.add_argument("--json", type=Path, default=None, help="also write the plan as JSON here")
    args = parser.parse_args(argv)
    try:
        plan = make_plan(args.track, args.sub, gpus=args.gpus, gpu_gib=args.gpu_memory_gib, adam=args.adam)
    except PlanError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(plan))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(plan, indent=1) + "\n")
    if plan["unfit"]:
        worst = max((st for st in plan["stages"] if st["fits"] == "no"), key=lambda st: st["peak_gpu_bytes"])
        print(f"error: {len(plan['unfit'])} stage(s) fit on no configuration of {plan['gpus']['count']} x "
              f"{plan['gpus']['memory_gib']:g} GiB GPUs: {', '.join(plan['unfit'])} (largest: {worst['name']}, "
              f"{worst['peak_gpu_gib']:.1f} GiB on one GPU)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
