"""Benchmark and leaderboard harness for the IWSLT Model Compression shared task.

Compress Qwen2-Audio-7B for English->German and English->Chinese speech
translation, verify the storage rule, decode, score and compare systems.
"""

__version__ = "0.1.0"
