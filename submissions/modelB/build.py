"""modelB: Moslem (IWSLT 2025) System B, iterative layer pruning + KD + QLoRA.

Per direction: full fine-tuning of the base (the teacher) -> the teacher translates the
training set (KD data, deduplicated) -> greedy removal of decoder layers, scored on a dev
split -> full fine-tuning of the pruned model on authentic + KD pairs -> QLoRA on the KD
set oversampled plus a general-domain sample (CoVoST2 in the paper). The teacher and KD
stages are modelA's, so building modelB after modelA reuses them. Usage:

    python submissions/modelB/build.py [--track mini] [--lang de|zh|both] [--out DIR] [--config FILE] [--work DIR]
"""

import sys

from harness.stages.recipe import Recipe, StageOutput
from harness.stages.recipe import build_main

REQUIRED_TABLES = ("data", "teacher", "distill", "prune", "finetune_pruned", "qlora")  # the config tables the chain reads


def chain(recipe: Recipe, lang: str, base: StageOutput) -> StageOutput:
    teacher = recipe.teacher(lang, base)
    kd = recipe.distill(lang, teacher)
    pruned = recipe.prune(lang, teacher)
    tuned = recipe.finetune_kd(lang, pruned, kd)
    return recipe.qlora(lang, tuned, kd, general=recipe.general_sample(lang))


if __name__ == "__main__":
    sys.exit(build_main(__file__))
