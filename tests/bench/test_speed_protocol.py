"""Benchmark: the speed protocol (harness.evaluation.speed) tells a quiet machine from a busy one.

The mini track's base (models/mini-base, committed) is measured on the
protocol's sample of general_test (its first 16 utterances, en-de), at the mini
track's batch size 16 and max_new_tokens:

  quiet 1   nothing else running (the benchmark is meant for an otherwise idle machine);
  busy      one CPU hog process per usable CPU running beside it;
  quiet 2   the hogs gone;
  a fourth, quiet measurement is pytest-benchmark's timing (its own wall clock, outside
  the checks: run inside pytest-benchmark's harness it measured 20-35 % slower here).

What must hold: the busy run is marked contended (others' CPU share above the
protocol's threshold) and names a hog among the busiest others; both quiet runs are
not contended, and their median RTFx agree within 10 % (the protocol's repeatability on
one machine). The figures (median, spread, others' share of each run) go to
extra_info; the quiet runs' RTFx medians are what the README quotes. An uncontended
check that fails names the processes that loaded the machine: the benchmark then ran
beside other work and its figures are not the machine's. Marked ``bench`` (excluded
from ``make test``); needs the mini track's data (``make bench`` makes it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

import pytest

from harness.evaluation import speed
from harness.inference.decode import DecodeSettings, configure_threads, decode
from harness.systems.models import load_system
from harness.data.tracks import REPO, get_track, load_spec, spec_by_name

pytestmark = pytest.mark.bench

DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
AGREEMENT = 0.10  # quiet medians within 10 % of each other


@contextmanager
def cpu_hogs(count: int):
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield [hog.pid for hog in hogs]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _summary(block: dict) -> dict:
    return {"rtfx_median": block["rtfx"]["median"], "rtfx_spread": block["rtfx"]["spread"],
            "latency_median_s": block["batch1_latency_seconds"]["median"],
            "others_cpu_share": block["load"]["others_cpu_share"], "contended": block["contended"],
            "busiest_others": block["load"]["busiest_others"]}


def test_protocol_marks_contention_and_repeats_within_ten_percent(benchmark):
    track = get_track("mini")
    testset = load_spec(spec_by_name(track, "general_test"))
    system = load_system(REPO / "models" / "mini-base", "de", device=DEVICE)
    configure_threads()
    settings = DecodeSettings(max_new_tokens=track.max_new_tokens, batch_size=16).resolved(system)
    clips = speed.segmented_sample(testset)

    def measure() -> dict:
        return speed.measure(system, decode, clips, "de", settings, backend="transformers")

    quiet_1 = measure()
    with cpu_hogs(len(os.sched_getaffinity(0))) as hog_pids:
        busy = measure()
    quiet_2 = measure()
    benchmark.pedantic(measure, rounds=1, iterations=1)
    runs = {"quiet_1": quiet_1, "busy": busy, "quiet_2": quiet_2}
    medians = quiet_1["rtfx"]["median"], quiet_2["rtfx"]["median"]
    difference = abs(medians[0] - medians[1]) / min(medians)
    benchmark.extra_info.update({name: _summary(block) for name, block in runs.items()},
                                quiet_difference=round(difference, 4), comparability=quiet_1["comparability"],
                                comparability_key=quiet_1["comparability_key"], device=DEVICE)

    assert busy["contended"] is True, f"a CPU hog per core was not seen: {busy['load']}"
    assert {p["pid"] for p in busy["load"]["busiest_others"]} & set(hog_pids)
    for name in ("quiet_1", "quiet_2"):
        assert runs[name]["contended"] is False, (
            f"{name} ran beside other work: {runs[name]['load']['busiest_others']}")
    assert quiet_1["comparability_key"] == quiet_2["comparability_key"] == busy["comparability_key"]
    assert difference <= AGREEMENT, f"quiet medians {medians} differ by {100 * difference:.1f} %"
