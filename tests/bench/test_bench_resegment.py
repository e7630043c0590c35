"""Benchmark: the server's rule (harness.segmentation.resegment.resegment_like_server) on a set of real test-set size.

The IWSLT 2026 evaluation server realigns a whole submission file to all of a test set's
reference segments in one mwerSegmenter run; mweralign's programme grows with (hypothesis
tokens) x (reference tokens), so a whole set costs more than its talks one by one. This
measures it on an artificial set of 2,000 reference segments in 20 talks (the size of a real
test set), each segment three sentences of tests/test_resegment.py's pools (about 17 German
words or 30 Chinese characters, a talk sentence's length), the hypothesis the references with
10 % of tokens replaced and 5 % dropped, re-cut into other lines. Each direction runs in a
fresh process, so its peak RSS (the kernel's high-water mark) is the alignment's; both
figures go to extra_info, with the same set aligned talk by talk for comparison. Marked
``bench`` (excluded from ``make test``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[2]
SEGMENTS, TALKS = 2000, 20
TIME_LIMIT_S = 300   # what "feasible" means here: well inside a scoring run of a real set

MEASURE = r"""
import json, random, resource, sys, time
sys.path.insert(0, "tests")
from test_resegment import DE_SENTENCES, ZH_SENTENCES, noisy_recut
from harness.segmentation.resegment import resegment_like_server, resegment_talks_like_server, set_lines
lang, segments, talks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(2026)
pool, sep = (DE_SENTENCES, " ") if lang == "de" else (ZH_SENTENCES, "")
refs = {f"talk_{k:03d}": [sep.join(rng.choice(pool) for _ in range(3)) for _ in range(segments // talks)]
        for k in range(talks)}
hyps = {talk: noisy_recut(lines, lang, rng, longest=120) for talk, lines in refs.items()}
started = time.perf_counter()
by_talk = {t: resegment_like_server(hyps[t], {t: r}, lang)[t] for t, r in refs.items()}
talk_seconds = time.perf_counter() - started
started = time.perf_counter()
whole = resegment_talks_like_server(hyps, refs, lang)
whole_seconds = time.perf_counter() - started
assert len(set_lines(whole)) == segments
print(json.dumps({"lang": lang, "segments": segments, "talks": talks,
                  "hypothesis_lines": sum(len(h) for h in hyps.values()),
                  "reference_tokens": sum(len(r.split()) if lang == "de" else len(r) for v in refs.values() for r in v),
                  "whole_set_seconds": round(whole_seconds, 2), "talk_by_talk_seconds": round(talk_seconds, 2),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


@pytest.mark.parametrize("lang", ["de", "zh"])
def test_whole_set_alignment_of_2000_segments(benchmark, lang):
    def measure() -> dict:
        done = subprocess.run([sys.executable, "-c", MEASURE, lang, str(SEGMENTS), str(TALKS)], cwd=REPO,
                              capture_output=True, text=True, check=True, timeout=2 * TIME_LIMIT_S,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        return json.loads(done.stdout.splitlines()[-1])

    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\n{json.dumps(result)}")
    assert result["segments"] == SEGMENTS
    assert result["whole_set_seconds"] < TIME_LIMIT_S
