"""The speed protocol (harness.evaluation.speed): repeated figures, the load sampler, comparability, absent forms."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from harness.evaluation import speed
from harness.inference.decode import DecodeSettings

SETTINGS = DecodeSettings(max_new_tokens=8, batch_size=4)


def _write_proc(root: Path, cpu: list[int], processes: dict[int, tuple[str, int, int]]) -> None:
    """A fake /proc: the stat line's first eight counters and {pid: (name, parent pid, user jiffies)}."""
    root.mkdir(exist_ok=True)
    (root / "stat").write_text("cpu  " + " ".join(map(str, cpu)) + " 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n")
    for pid, (name, parent, ticks) in processes.items():
        (root / str(pid)).mkdir(exist_ok=True)
        # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        (root / str(pid) / "stat").write_text(f"{pid} ({name}) R {parent} 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 {pid}\n")


def test_others_share_is_busy_time_minus_our_own_over_all_cpus():
    # 200 jiffies passed on all CPUs, 150 of them busy, 100 of those ours: others used 25 %.
    assert speed.others_share((150, 1150), (300, 1350), 10, 110) == pytest.approx(0.25)
    assert speed.others_share((0, 100), (0, 100), 0, 0) == 0.0  # no time passed: nothing measured
    assert speed.others_share((0, 0), (10, 100), 0, 50) == 0.0  # never negative (tick rounding)


def test_load_sampler_excludes_this_process_and_names_the_busiest_others(tmp_path):
    me, proc = os.getpid(), tmp_path / "proc"
    _write_proc(proc, [100, 0, 50, 1000, 0, 0, 0, 0], {me: ("python", 1, 10), 999: ("hog", 1, 0),
                                                        998: ("kworker/0:1-events", 2, 500)})
    with speed.LoadSampler(interval=60, proc=proc) as load:
        # 200 jiffies pass: 160 busy, of which 100 ours, 50 the hog's and 10 a kernel thread's,
        # which renamed itself meanwhile (its 500 earlier jiffies are not the phase's).
        _write_proc(proc, [260, 0, 50, 1040, 0, 0, 0, 0], {me: ("python", 1, 110), 999: ("hog", 1, 50),
                                                            998: ("kworker/0:1-mm_percpu_wq", 2, 510)})
    block = load.summary()
    assert block["sampled"] and block["others_cpu_share"] == pytest.approx(0.30)
    assert block["busiest_others"] == [{"pid": 999, "name": "hog", "cpu_share": 0.25},
                                       {"pid": 998, "name": "kworker/0:1-mm_percpu_wq", "cpu_share": 0.05}]


def test_load_without_proc_is_not_sampled_with_the_reason(tmp_path):
    with speed.LoadSampler(proc=tmp_path / "nothing") as load:
        pass
    block = load.summary()
    assert block["sampled"] is False and "stat" in block["reason"]


def test_a_cpu_hog_beside_the_sampler_is_seen():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(min(os.cpu_count() or 1, 8))]
    try:
        time.sleep(0.3)  # the hogs are running before the phase starts
        with speed.LoadSampler(interval=0.2) as load:
            time.sleep(1.5)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    block = load.summary()
    assert block["others_cpu_share"] > speed.PROTOCOL["contention_threshold"]
    assert block["samples"] >= 3 and block["others_cpu_share_max"] >= block["others_cpu_share"] * 0.5
    assert {p["pid"] for p in block["busiest_others"]} & {hog.pid for hog in hogs}


def test_figure_reports_median_min_max_and_relative_spread():
    assert speed.figure([10.0, 12.0, 11.0]) == {"median": 11.0, "min": 10.0, "max": 12.0,
                                                "spread": round(2 / 11, 4), "runs": [10.0, 12.0, 11.0]}
    assert speed.figure([0.0, 0.0])["spread"] is None


def test_sample_identity_depends_on_every_sample_and_the_count():
    clips = [np.zeros(1600, np.float32), np.ones(800, np.float32)]
    same = speed.sample_id([c.copy() for c in clips])
    assert speed.sample_id(clips) == same and same.endswith(":2")
    changed = [clips[0], clips[1].copy()]
    changed[1][-1] = 0.5
    assert speed.sample_id(changed) != same
    assert speed.sample_id(clips[:1]) != same


def test_comparability_key_is_stable_and_changes_with_any_condition():
    conditions = {"hardware": "cpu x2", "device": "cpu", "backend": "transformers", "dtype": "float32",
                  "batch_size": 16, "processes": 1, "torch_threads": 2, "sample": "sha256:ab:16"}
    key = speed.comparability_key(conditions)
    assert key == speed.comparability_key(dict(reversed(list(conditions.items()))))
    for name, other in [("batch_size", 1), ("dtype", "bfloat16"), ("backend", "vllm"), ("processes", 2)]:
        assert speed.comparability_key({**conditions, name: other}) != key


class _FakeSystem:
    def provenance(self) -> dict:
        return {"device": "cpu", "dtype": "float32"}


def _sleeping_decoder(seconds_per_clip: float):
    calls = []

    def decoder(system, clips, lang, settings, **_):
        calls.append((len(clips), settings.batch_size))
        time.sleep(seconds_per_clip * len(clips) / settings.batch_size)
        return SimpleNamespace(hypotheses=[SimpleNamespace(new_tokens=5) for _ in clips])
    return decoder, calls


def test_measure_warms_up_then_repeats_each_figure(monkeypatch, tmp_path):
    clips = [np.zeros(16000, np.float32)] * 4
    decoder, calls = _sleeping_decoder(0.01)
    block = speed.measure(_FakeSystem(), decoder, clips, "de", SETTINGS, backend="transformers")
    protocol = block["protocol"]
    warmup = protocol["warmup_utterances"]
    # Warm-up (clips at batch 1, the sample at the batch size), then per repetition: the sample
    # batched, then one call per clip.
    latency = [(1, 1)] * min(len(clips), protocol["latency_utterances"])
    assert calls == [(warmup, 1), (4, 4)] + ([(4, 4)] + latency) * protocol["repetitions"]
    assert block["status"] == "measured" and len(block["rtfx"]["runs"]) == protocol["repetitions"]
    assert block["batch1_latency_seconds"]["median"] >= 0.01
    assert block["tokens_per_second"]["median"] > 0 and block["sample_audio_seconds"] == 4.0
    assert block["comparability"]["sample"] == speed.sample_id(clips)
    assert block["comparability_key"] == speed.comparability_key(block["comparability"])
    assert block["memory"]["gpu_peak_bytes"] is None and block["memory"]["gpu_absent_reason"]


def test_unsampled_load_leaves_contention_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr(speed, "PROC", tmp_path / "no-proc")
    decoder, _ = _sleeping_decoder(0.0)
    block = speed.measure(_FakeSystem(), decoder, [np.zeros(1600, np.float32)], "de", SETTINGS,
                          backend="transformers")
    assert block["contended"] is None and block["load"]["sampled"] is False


def test_absent_forms_carry_a_reason():
    block = speed.absent("hypotheses imported: nothing was decoded here")
    assert block["status"] == "absent" and block["absent_reason"] and block["protocol"]["version"] == 1
    decoder, calls = _sleeping_decoder(0.0)
    empty = speed.measure(_FakeSystem(), decoder, [], "de", SETTINGS, backend="transformers")
    assert empty["status"] == "absent" and "empty" in empty["absent_reason"] and not calls
    assert "absent" in speed.describe(block)


def test_cli_without_results_names_make_eval(tmp_path, capsys):
    code = speed.main(["tiny", "--build-root", str(tmp_path), "--results-root", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "make eval SUB=tiny" in err
