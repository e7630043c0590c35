"""harness.evaluation.schedule: ``eval --devices`` runs one system per device at a time, with a sequential run's results.

The devices are fake ("cpu" twice: two slots on the CPU); the systems are the tiny
Qwen2-Audio fixture of tests/conftest.py (as it is, with a perturbed output layer, with
the base prompt, and one whose weights are missing), three systems with different hypotheses. One sequential run (``--devices cpu``: the in-process
path) and one parallel run (``--devices cpu,cpu``) are compared file by file; each worker
logs its own start and end (the wrapper below), so the one-system-per-slot rule is
checked from the workers' side, not from what the scheduler says about itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.evaluation import evaluate as evaluation
from harness.evaluation import schedule, speed
from harness.data.audio import SAMPLE_RATE
from harness.data.testsets import load_testset, write_longform_set, write_segmented_set

from conftest import TINY_DE, TINY_EN, TINY_ZH, copy_system, write_system_json

REPO = Path(__file__).resolve().parents[1]
SETS = ("tiny_seg", "tiny_lf")  # a segmented set and a long-form set (gold segmentation)
GOOD = ("baseline", "sys-a", "sys-b")
# The only fields a parallel run's results may differ in from a sequential run's (--no-speed: the
# speed blocks are "absent" in both): timings, the timestamp, and the git state, which the lead may
# commit while the test runs. "*" stands for a language.
MAY_DIFFER = {"created", "provenance.git", "languages.*.decode_pass.wall_seconds", "segmentation.vad_seconds",
              "segmentation.method_seconds", "segmentation.stats.wall_seconds"}
ROW_TIMING = {"decode_seconds"}

WRAPPER = """
import time
started = time.time()
import dataclasses, json, os, sys
from harness.evaluation import evaluate, schedule
from harness.data import tracks
specs = tuple(tracks.TestSetSpec(name, "local", folder) for name, folder in {sets!r})
track = dataclasses.replace(tracks.get_track("mini"), testsets=specs)
evaluate.get_track = lambda name: track
schedule.ENTRY = [__file__]  # a worker runs this wrapper again, not python -m harness eval
code = evaluate.main(sys.argv[1:])
if schedule.SLOT in os.environ:
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"slot": int(os.environ[schedule.SLOT]), "system": sys.argv[sys.argv.index("--system") + 1],
                              "start": started, "end": time.time(), "exit": code}}) + "\\n")
sys.exit(code)
"""


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), str(REPO / "tests"), env.get("PYTHONPATH")) if p)
    return env


def _args(root: Path, results: Path, devices: str, systems) -> list[str]:
    out = ["--build-root", str(root / "build"), "--results-root", str(results), "--batch-size", "3",
           "--max-new-tokens", "16", "--no-speed", "--segmentation", "gold", "--devices", devices]
    for name in systems:
        out += ["--system", name]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_base_dir, tiny_clips):
    """A sequential and a parallel run over the same systems and sets: (root, {kind: (completed, seconds)})."""
    root = tmp_path_factory.mktemp("schedule")
    rows = [{"id": f"seg{i:02d}", "audio": clip, "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i, clip in enumerate(tiny_clips)]
    write_segmented_set(root / "tiny_seg", name="tiny_seg", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_schedule.py"})
    pieces, segments, cursor = [np.zeros(SAMPLE_RATE // 2, np.float32)], [], SAMPLE_RATE // 2
    for clip in tiny_clips[:4]:
        segments.append((cursor / SAMPLE_RATE, len(clip) / SAMPLE_RATE))
        pieces += [clip, np.zeros(SAMPLE_RATE // 2, np.float32)]
        cursor += len(clip) + SAMPLE_RATE // 2
    write_longform_set(root / "tiny_lf", name="tiny_lf", version="1", domain="talks",
                       talks=[{"talk_id": "talk", "audio": np.concatenate(pieces), "segments": segments,
                               "en": TINY_EN[:4], "de": TINY_DE[:4], "zh": TINY_ZH[:4]}],
                       generator={"name": "tests/test_schedule.py"})
    build = root / "build" / "mini"
    copy_system(tiny_base_dir, build / "baseline")
    _perturb(copy_system(tiny_base_dir, build / "sys-a"))
    write_system_json(copy_system(tiny_base_dir, build / "sys-b"), "hf", prompt="base")  # other hypotheses
    broken = copy_system(tiny_base_dir, build / "broken")
    (broken / "model.safetensors").unlink()  # fails to load, after its storage check
    wrapper = root / "wrapper.py"
    wrapper.write_text(WRAPPER.format(sets=[(name, str(root / name)) for name in SETS], log=str(root / "slots.jsonl")))
    done = {}
    # The broken system early in the queue: the ones after it must still run.
    for kind, devices, systems in (("sequential", "cpu", ("sys-a", "sys-b")),
                                   ("parallel", "cpu,cpu", ("broken", "sys-a", "sys-b"))):
        started = time.perf_counter()
        done[kind] = (subprocess.run([sys.executable, str(wrapper), *_args(root, root / kind, devices, systems)],
                                     env=_env(), capture_output=True, text=True, timeout=600),
                      time.perf_counter() - started)
    print(f"\nwall seconds: sequential {done['sequential'][1]:.1f}, parallel {done['parallel'][1]:.1f}")
    return root, done


def _perturb(folder: Path) -> None:
    """Noise on the output layer's weights: another model, other hypotheses."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = folder / "model.safetensors"
    with safe_open(path, "np") as handle:
        metadata = handle.metadata()
    tensors = load_file(path)
    head = tensors["language_model.lm_head.weight"]
    noise = np.random.default_rng(0).standard_normal(head.shape).astype(head.dtype)
    tensors["language_model.lm_head.weight"] = head + 5 * noise * head.std()
    save_file(tensors, path, metadata=metadata)


def _differences(a, b, path: str = "") -> set[str]:
    """The dotted paths at which two JSON values differ (a language key shown as *)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = set()
        for key in a.keys() | b.keys():
            shown = "*" if path == "languages" else key
            inner = f"{path}.{shown}" if path else shown
            out |= _differences(a.get(key), b.get(key), inner) if key in a and key in b else {inner}
        return out
    return set() if a == b else {path}


def _files(results: Path, system: str, name: str) -> tuple[dict, list[dict]]:
    folder = results / "mini" / system
    summary = json.loads((folder / f"{name}.json").read_text())
    rows = [json.loads(line) for line in (folder / f"{name}.segments.jsonl").read_text().splitlines()]
    return summary, rows


def test_parallel_results_are_the_sequential_results_but_for_timings(runs):
    root, done = runs
    sequential, _ = done["sequential"]
    assert sequential.returncode == 0, sequential.stdout[-3000:] + sequential.stderr[-3000:]
    hypotheses = {}
    for system in GOOD:
        for name in ("tiny_seg", "tiny_lf.gold"):
            one, rows_one = _files(root / "sequential", system, name)
            two, rows_two = _files(root / "parallel", system, name)
            assert _differences(one, two) <= MAY_DIFFER, (system, name)
            strip = lambda rows: [{k: v for k, v in r.items() if k not in ROW_TIMING} for r in rows]  # noqa: E731
            assert strip(rows_one) == strip(rows_two), (system, name)  # hypotheses, flags, per-segment scores
            assert one["languages"]["de"]["metrics"] == two["languages"]["de"]["metrics"]
            hypotheses[system, name] = [r["hypothesis"] for r in rows_two]
    # The systems differ, so a worker writing another system's results would be caught.
    assert len({tuple(h) for (s, n), h in hypotheses.items() if n == "tiny_seg"}) == 3
    assert len(rows_two) == 8  # 4 reference segments x (de, zh)


def test_the_long_form_segmentation_is_computed_once_and_shared(runs):
    root, _ = runs
    for kind in ("sequential", "parallel"):
        blocks = [_files(root / kind, system, "tiny_lf.gold")[0]["segmentation"] for system in GOOD]
        # Its timings included: every worker recorded the parent's one segmentation, as a sequential run does.
        assert blocks[0] == blocks[1] == blocks[2] and blocks[0]["stats"]["wall_seconds"] > 0
    # The parallel run's parent segmented it, once; no worker did (a worker's line would show behind its prefix).
    assert runs[1]["parallel"][0].stdout.count("tiny_lf: 4 segments by gold") == 1


def test_one_system_per_device_at_a_time_and_both_devices_used(runs):
    root, done = runs
    log = [json.loads(line) for line in (root / "slots.jsonl").read_text().splitlines()]
    assert sorted(e["system"] for e in log) == sorted([*GOOD, "broken"])  # each system once, base added
    for slot in (0, 1):
        spans = sorted((e["start"], e["end"]) for e in log if e["slot"] == slot)
        assert spans, f"slot {slot} ran nothing"
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans
    first, second = ([e for e in log if e["slot"] == slot] for slot in (0, 1))
    assert any(a["start"] < b["end"] and b["start"] < a["end"] for a in first for b in second)  # side by side
    # Each worker's output came through behind its prefix.
    assert "[sys-a @ cpu] sys-a / tiny_seg / en-de: bleu" in done["parallel"][0].stdout


def test_a_failed_system_leaves_the_others_and_a_non_zero_exit_naming_it(runs):
    root, done = runs
    parallel, _ = done["parallel"]
    assert parallel.returncode == 1
    assert parallel.stderr.strip().splitlines()[-1] == \
        "error: 1 of 4 system(s) failed: broken (exit 2); the others' results are written"
    assert "[broken @ cpu] error:" in parallel.stderr  # its own one-line reason, passed through
    log = {e["system"]: e for e in map(json.loads, (root / "slots.jsonl").read_text().splitlines())}
    assert log["broken"]["exit"] == 2
    assert any(log[s]["start"] >= log["broken"]["end"] for s in GOOD)  # the queue went on after the failure
    for system in GOOD:
        assert (root / "parallel" / "mini" / system / "tiny_seg.json").is_file()
    assert not (root / "parallel" / "mini" / "broken").exists()


def test_unknown_devices_are_a_one_line_error(capsys, tmp_path):
    for devices, message in (("gpu0", "error: unknown device 'gpu0' in --devices 'gpu0': give cpu or cuda:N, "
                                      "comma-separated, or auto"),
                             ("cpu,", "error: unknown device '' in --devices 'cpu,'"),
                             (f"cuda:{99}", "error: --devices: cuda:99 is not visible")):
        assert evaluation.main(["--devices", devices, "--results-root", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, err
    assert evaluation.main(["--devices", "cpu,cpu", "--nproc", "2"]) == 2
    assert "--devices and --nproc" in capsys.readouterr().err


def test_workers_get_every_eval_option(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(evaluation, "_run", lambda args: seen.append(args) or 0)
    monkeypatch.setattr(schedule, "eval_entry", lambda args, run, **passed: seen.append(args) or 0)
    given = ["--track", "iwslt2026", "--testset", "a", "--testset", "b", "--batch-size", "5", "--max-new-tokens", "7",
             "--no-speed", "--segmentation", "vad", "--backend", "vllm", "--build-root", str(tmp_path / "b"),
             "--results-root", str(tmp_path / "r"), "--time-limit", "12.5", "--allow-network",
             "--system", "x", "--devices", "cpu,cpu"]
    assert evaluation.main(given) == 0
    args = seen.pop()
    # Every option of the eval command is forwarded or set by the schedule: a new option must be placed.
    assert set(vars(args)) == set(schedule.FORWARDED) | set(schedule.REPLACED)
    assert evaluation.main(schedule.worker_argv(args, "x", "cpu", tmp_path / "cache.json")) == 0
    worker = seen.pop()
    assert {k: getattr(worker, k) for k in schedule.FORWARDED} == {k: getattr(args, k) for k in schedule.FORWARDED}
    assert (worker.system, worker.device, worker.devices, worker.schedule_worker) == \
        (["x"], "cpu", None, tmp_path / "cache.json")


def test_a_cuda_worker_sees_only_its_own_device(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert schedule.worker_env("cuda:1", 1)["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")  # the parent's cuda:1 is the machine's GPU 6
    env = schedule.worker_env("cuda:1", 1)
    assert env["CUDA_VISIBLE_DEVICES"] == "6" and env[schedule.SLOT] == "1"
    assert env[speed.SCHEDULE_PARENT] == str(os.getpid())
    assert schedule.worker_device("cuda:1") == "cuda:0" and schedule.worker_device("cpu") == "cpu"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "CUDA_VISIBLE_DEVICES" not in schedule.worker_env("cpu", 0)


def test_the_segmentation_file_gives_back_the_same_segmentation(runs, tmp_path):
    from harness.evaluation import longform
    from harness.data import tracks

    root, _ = runs
    testset = load_testset(root / "tiny_lf")
    segmentation = longform.segment(testset, tracks.get_track("mini"), "gold")
    path = tmp_path / "segmentations.json"
    schedule.write_segmentations(path, {"tiny_lf": segmentation}, {"tiny_lf": testset})
    assert schedule.read_segmentations(path, {"tiny_lf": testset}, "gold") == {"tiny_lf": segmentation}
    with pytest.raises(schedule.ScheduleError, match="no dac segmentation of tiny_lf"):
        schedule.read_segmentations(path, {"tiny_lf": testset}, "dac")


def test_a_speed_phase_beside_another_scheduled_system_is_contended():
    measure = ("import json, time; from harness.evaluation import speed\n"
               "with speed.LoadSampler(interval=0.05) as load: time.sleep(0.4)\n"
               "print(json.dumps(load.summary()['scheduled_beside']))")
    env = dict(os.environ, **{speed.SCHEDULE_PARENT: str(os.getpid())})
    alone = subprocess.run([sys.executable, "-c", measure], env=env, capture_output=True, text=True, check=True)
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        beside = subprocess.run([sys.executable, "-c", measure], env=env, capture_output=True, text=True, check=True)
    finally:
        sibling.kill()
        sibling.wait()
    assert json.loads(alone.stdout) == 0 and json.loads(beside.stdout) == 1
    quiet = {"sampled": True, "others_cpu_share": 0.0}
    assert speed.contended({**quiet, "scheduled_beside": 1}) is True  # whatever the CPU share
    assert speed.contended({**quiet, "scheduled_beside": 0}) is False
    assert speed.contended({**quiet, "scheduled_beside": None}) is False  # not scheduled
    assert speed.contended({"sampled": False}) is None
