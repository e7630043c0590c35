"""Scoring: sacreBLEU BLEU, chrF/chrF++ and TER with signatures and bootstrap intervals, COMET in
its own environment (comet_runner.py), paired significance, degeneration flags, re-scoring."""
