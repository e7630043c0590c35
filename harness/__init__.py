"""Benchmark and leaderboard harness for the IWSLT Model Compression shared task.

Compress Qwen2-Audio-7B for English->German and English->Chinese speech
translation, verify the storage rule, decode, score and compare systems.
"""

from pathlib import Path

__version__ = "0.1.0"

# The checkout the harness runs from: test sets, submissions, build/ and leaderboard/ are found from it.
REPO = Path(__file__).resolve().parents[1]
# Where make build writes systems (build/<track>/<system>) and the stage cache (build/<track>/cache).
BUILD_ROOT = REPO / "build"
