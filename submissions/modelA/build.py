"""modelA: Moslem (IWSLT 2025) System A, QLoRA + sequence-level knowledge distillation.

Per direction: full fine-tuning of the base (the teacher) -> the teacher translates the
training set (KD data, deduplicated) -> QLoRA (nf4, double quantization, rsLoRA on all
linear modules) of the teacher on the KD set. The stages are harness.stages.recipe's;
the hyper-parameters are in config/<track>.toml. Usage:

    python submissions/modelA/build.py [--track mini] [--lang de|zh|both] [--out DIR] [--config FILE] [--work DIR]
"""

import sys

from harness.stages.recipe import Recipe, StageOutput
from harness.stages.recipe import build_main

REQUIRED_TABLES = ("data", "teacher", "distill", "qlora")  # the config tables the chain reads


def chain(recipe: Recipe, lang: str, base: StageOutput) -> StageOutput:
    teacher = recipe.teacher(lang, base)
    kd = recipe.distill(lang, teacher)
    return recipe.qlora(lang, teacher, kd)


if __name__ == "__main__":
    sys.exit(build_main(__file__))
