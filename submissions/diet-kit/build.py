"""diet-kit: Liu, Koneru and Niehues (IWSLT 2026) Diet-KIT, HQQ + AWQ mixed precision under the size limit.

One model for both directions: LoRA fine-tuning of the base on a general-domain sample,
merged -> HQQ 4 bit (input embedding 2 bit, group size 128) -> the n least sensitive
decoder MLPs at 3 bit, n the smallest that fits the limit (further rungs where the config
names them: attention at 3 bit, MLPs at 2 bit) -> AWQ scales searched on the
dev set's source audio -> HQQ with that plan. The build stops with a one-line error if
the result is over the track's limit. Stages: harness/stages/diet_kit.py; values:
config/<track>.toml. Usage:

    python submissions/diet-kit/build.py [--track mini] [--lang de|zh|both] [--out DIR] [--config FILE] [--work DIR]
"""

import sys

from harness.stages import diet_kit as diet
from harness.stages.recipe import Recipe, StageOutput
from harness.stages.recipe import build_main

SHARED = True  # one model for both directions: the chain runs once, for "de+zh"
REQUIRED_TABLES = ("data", "lora", "quantize", "sensitivity", "awq")  # the config tables the chain reads


def chain(recipe: Recipe, lang: str, base: StageOutput) -> StageOutput:
    merged = diet.lora_general(recipe, base)
    step3 = diet.hqq(recipe, merged, diet.base_plan(recipe), "4bit-emb2-g128")
    plan, _ = diet.fitting_plan(recipe, merged, step3, diet.sensitivities(recipe, merged))
    final = diet.hqq(recipe, diet.awq(recipe, merged, plan), plan, "final")
    diet.require_under_limit(recipe, final)
    return final


if __name__ == "__main__":
    sys.exit(build_main(__file__))
