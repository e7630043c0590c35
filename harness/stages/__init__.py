"""Reusable build stages the submissions' recipes call (finetune, distill, prune, qlora, hqq, ...).

Stages may use evaluation code (pruning decodes and scores); evaluation code never imports stages.
"""
