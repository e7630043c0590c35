"""Shared fixtures: tiny real Qwen2-Audio systems built in temporary folders, once per session.

The model kit is harness.stages.from_scratch (Chu et al. 2024's architecture at toy
size): a byte-level BPE trained on the sentences below, a 4 s audio window, the "tiny"
config. A randomly initialised model already gives different token ids per clip, but
it rarely stops; the tiny model is therefore trained for a few seconds to translate
each of eight synthetic clips with the Instruct prompt (Moslem, IWSLT 2025), so that
its hypotheses differ per clip and mostly end with <|im_end|>, like a real system's.

Every folder fixture is a complete system folder (``system.json`` naming languages
``de`` and ``zh`` -> ``.``, prompt "instruct") and also a plain Hugging Face model
folder, so other tests can pass it to ``from_pretrained`` directly:

  tiny_base_dir   fp32 weights (format "hf")
  tiny_bf16_dir   the same weights in bf16 (format "hf")
  tiny_bnb4_dir   bitsandbytes nf4 + double quantization, fp32 compute (format "bnb-4bit")
  tiny_lora_dir   tiny_bnb4_dir plus a rsLoRA adapter (r 4) on all linear layers whose
                  B matrices are non-zero, so it changes the output (format "bnb-4bit+lora")

Session fixtures are shared: copy a folder (``copy_system``) before changing it, and
never mutate ``tiny_model`` in place.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.data.audio import SAMPLE_RATE

TINY_WINDOW_SECONDS = 4
TINY_VOCAB_SIZE = 400
TINY_SEED = 0
TRAIN_STEPS = 60

TINY_EN = ("the cat sleeps on the sofa", "a dog runs in the park", "the weather is nice today",
           "we translate speech into text", "the model is very small", "she reads a long book",
           "he drinks cold water", "the train is late again", "my sister plays the piano",
           "the children eat apples", "our teacher writes a letter", "the old man walks home")
TINY_DE = ("die katze schläft auf dem sofa", "ein hund läuft im park", "das wetter ist heute schön",
           "wir übersetzen sprache in text", "das modell ist sehr klein", "sie liest ein langes buch",
           "er trinkt kaltes wasser", "der zug ist wieder spät", "meine schwester spielt klavier",
           "die kinder essen äpfel", "unser lehrer schreibt einen brief", "der alte mann geht nach hause")
TINY_ZH = ("猫在沙发上睡觉", "一只狗在公园里跑", "今天天气很好", "我们把语音翻译成文字", "这个模型很小",
           "她在读一本很长的书", "他喝冷水", "火车又晚点了", "我的姐姐弹钢琴", "孩子们吃苹果",
           "我们的老师写一封信", "老人走回家")
TINY_TARGETS = {"de": TINY_DE, "zh": TINY_ZH}


def make_clip(index: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A distinct synthetic clip: a tone whose pitch depends on ``index``, an envelope, a little noise."""
    rng = np.random.default_rng(seed * 1000 + index)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * (180.0 + 95.0 * index) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * (1.0 + index / 4) * t))
    return (0.4 * tone + 0.03 * rng.standard_normal(t.size)).astype(np.float32)


# Eight clips of different lengths inside the 4 s window, in no length order.
TINY_CLIP_SECONDS = (2.3, 0.7, 3.9, 1.45, 3.1, 1.0, 2.75, 1.9)


@pytest.fixture(scope="session")
def tiny_clips() -> list[np.ndarray]:
    return [make_clip(i, seconds) for i, seconds in enumerate(TINY_CLIP_SECONDS)]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from harness.stages import from_scratch

    return from_scratch.train_tokenizer(TINY_EN + TINY_DE + TINY_ZH, TINY_VOCAB_SIZE)


@pytest.fixture(scope="session")
def tiny_processor(tiny_tokenizer):
    from harness.stages import from_scratch

    return from_scratch.build_processor(tiny_tokenizer, TINY_WINDOW_SECONDS)


def train_to_translate(model, processor, clips, steps: int, targets: dict | None = None, lr: float = 3e-3) -> None:
    """Teach the model clip i -> targets[lang][i] for each language (Instruct prompt), full batch, AdamW."""
    import torch

    from harness.inference.decode import build_prompt

    tokenizer = processor.tokenizer
    saved_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    prompts, fulls, audios = [], [], []
    for lang, texts in (targets or TINY_TARGETS).items():
        prompt = build_prompt(processor, lang, "instruct")
        for clip, target in zip(clips, texts):
            prompts.append(prompt)
            fulls.append(prompt + target + "<|im_end|>")
            audios.append(clip)
    prompt_inputs = processor(text=prompts, audio=audios, sampling_rate=SAMPLE_RATE, return_tensors="pt",
                              padding=True)
    inputs = processor(text=fulls, audio=audios, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
    tokenizer.padding_side = saved_side
    target_lengths = inputs["attention_mask"].sum(-1) - prompt_inputs["attention_mask"].sum(-1)
    width = inputs["input_ids"].shape[1]
    positions = torch.arange(width)[None, :]
    labels = inputs["input_ids"].masked_fill(positions < (width - target_lengths)[:, None], -100)
    position_ids = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        for _ in range(steps):
            loss = model(**inputs, position_ids=position_ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


@pytest.fixture(scope="session")
def tiny_model(tiny_processor, tiny_clips):
    """The trained fp32 tiny model (shared: do not modify)."""
    from harness.stages import from_scratch

    tokenizer = tiny_processor.tokenizer
    config = from_scratch.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                                       audio_token_id=tokenizer.convert_tokens_to_ids(from_scratch.AUDIO_TOKEN),
                                       size="tiny")
    model = from_scratch.init_model(config, seed=TINY_SEED)
    train_to_translate(model, tiny_processor, tiny_clips, TRAIN_STEPS)
    model.generation_config = from_scratch.generation_config(tokenizer)
    return model


@pytest.fixture(scope="session")
def store(tiny_processor, tiny_clips):
    """The tiny clips' window-padded log-mel features (harness.stages.finetune.FeatureStore)."""
    from harness.training.features import compute_features

    return compute_features(tiny_processor.feature_extractor, tiny_clips)


@pytest.fixture(scope="session")
def examples(tiny_processor):
    """Training examples of the first eight tiny clips, German then Chinese."""
    from harness.training.examples import make_examples

    return (make_examples(tiny_processor, TINY_TARGETS["de"][:8], "de")
            + make_examples(tiny_processor, TINY_TARGETS["zh"][:8], "zh"))


def write_system_json(folder: Path, fmt: str, languages: dict[str, str] | None = None,
                      prompt: str = "instruct") -> None:
    from harness.systems.models import write_manifest

    write_manifest(folder, format=fmt, languages=languages or {"de": ".", "zh": "."}, prompt=prompt,
                   base_model="tiny (tests/conftest.py)", built_by="tests/conftest.py")


def copy_system(source: Path, target: Path) -> Path:
    """A private copy of a session folder, to change without affecting other tests."""
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory, tiny_model, tiny_processor) -> Path:
    from harness.stages import from_scratch

    folder = tmp_path_factory.mktemp("systems") / "tiny-fp32"
    from_scratch.save_base(tiny_model, tiny_processor, folder)
    write_system_json(folder, "hf")
    return folder


@pytest.fixture(scope="session")
def tiny_bf16_dir(tmp_path_factory, tiny_model, tiny_processor) -> Path:
    import copy

    import torch

    from harness.stages import from_scratch

    folder = tmp_path_factory.mktemp("systems") / "tiny-bf16"
    from_scratch.save_base(copy.deepcopy(tiny_model).to(torch.bfloat16), tiny_processor, folder)
    write_system_json(folder, "hf")
    return folder


def bnb4_config(compute_dtype=None):
    """Moslem (2025)'s QLoRA quantization: nf4 with double quantization."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype or torch.float32)


@pytest.fixture(scope="session")
def tiny_bnb4_dir(tmp_path_factory, tiny_base_dir, tiny_processor) -> Path:
    from transformers import Qwen2AudioForConditionalGeneration

    folder = tmp_path_factory.mktemp("systems") / "tiny-bnb4"
    model = Qwen2AudioForConditionalGeneration.from_pretrained(
        tiny_base_dir, quantization_config=bnb4_config(), device_map={"": "cpu"}, local_files_only=True)
    model.save_pretrained(folder)
    tiny_processor.save_pretrained(folder)
    write_system_json(folder, "bnb-4bit")
    return folder


@pytest.fixture(scope="session")
def tiny_lora_dir(tmp_path_factory, tiny_bnb4_dir) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2AudioForConditionalGeneration

    folder = copy_system(tiny_bnb4_dir, tmp_path_factory.mktemp("systems") / "tiny-bnb4-lora")
    base = Qwen2AudioForConditionalGeneration.from_pretrained(folder, device_map={"": "cpu"}, local_files_only=True)
    # Moslem (2025): LoRA on all linear modules, rsLoRA, dropout 0 (rank scaled down).
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, use_rslora=True,
                                                 target_modules="all-linear"))
    generator = torch.Generator().manual_seed(TINY_SEED)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:  # PEFT starts B at zero, which would make the adapter a no-op
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    peft_model.save_pretrained(folder)
    adapter_config = folder / "adapter_config.json"
    settings = json.loads(adapter_config.read_text())
    settings["base_model_name_or_path"] = "."  # the base beside the adapter, never a path on this machine
    adapter_config.write_text(json.dumps(settings, indent=2))
    (folder / "README.md").unlink(missing_ok=True)
    write_system_json(folder, "bnb-4bit+lora")
    return folder


def paper_reference_decode(model, processor, audios, lang: str, max_length: int = 1024,
                           max_new_tokens: int | None = None) -> list[tuple[str, list[int]]]:
    """Moslem (IWSLT 2025)'s evaluation loop, as the paper describes it, for comparison.

    One utterance at a time: build the Instruct conversation, render it with the chat
    template, call the processor on that one clip, ``generate`` greedily with
    ``max_length=1024`` (repetition penalty 1.0), cut the prompt off, decode. Written
    independently of harness.inference.decode (its own prompt strings) on purpose.
    ``max_new_tokens`` replaces the max_length bound (to compare with a capped decoder).
    Returns (text, generated ids including the end-of-sequence token) per clip.
    """
    import torch

    language = {"de": "German", "zh": "Chinese"}[lang]
    results = []
    for audio in audios:
        conversation = [
            {"role": "system", "content": "You are a professional translator."},
            {"role": "user", "content": [
                {"type": "audio", "audio_url": "clip.wav"},
                {"type": "text", "text": f"Translate the English speech into {language}:"},
            ]},
        ]
        text = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=text, audio=audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        inputs = inputs.to(model.device)  # a no-op on the CPU; a CUDA model needs its inputs there
        with torch.no_grad():
            # max_new_tokens=None: the paper's limit is max_length, and a saved generation
            # config's max_new_tokens would otherwise take precedence over it.
            bound = {"max_length": max_length, "max_new_tokens": None} if max_new_tokens is None \
                else {"max_new_tokens": max_new_tokens}
            generated = model.generate(**inputs, **bound, do_sample=False,
                                       num_beams=1, repetition_penalty=1.0)
        generated = generated[:, inputs["input_ids"].size(1):]
        response = processor.batch_decode(generated, skip_special_tokens=True, clean_up_tokenization_spaces=False)[0]
        results.append((response, generated[0].tolist()))
    return results


def device_name(device: str) -> str:
    """The accelerator's name (e.g. "NVIDIA H100 80GB HBM3") for benchmark records, or the CPU's architecture."""
    import platform

    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def one_line_error(excinfo, *fragments: str) -> str:
    """The message of a raised error (pytest.raises' excinfo): one line, holding every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def qwen2_audio_7b_on_meta():
    """Qwen2-Audio-7B's architecture (harness.plan's built-in config.json shapes) on the meta device: no weights."""
    import torch
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

    from harness.plan import QWEN2_AUDIO_7B_CONFIG as cfg

    config = Qwen2AudioConfig(audio_config=cfg["audio_config"], text_config=cfg["text_config"],
                              audio_token_index=cfg["audio_token_index"])
    with torch.device("meta"):
        return Qwen2AudioForConditionalGeneration(config)
