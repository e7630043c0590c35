"""Systems run by contract (harness.evaluation.contract): a folder with run.sh and its weights, run as a black box.

The mini contract end to end (submissions/contract-baseline: the mini base's weights behind a
run.sh): its smoke test on five utterances, and make eval's per-system loop scoring it equal to
the built baseline on the committed mini sentences (tests/data/mini-base-fixed, real mini speech),
segmented and long-form. Then the refusals, each with a small shell run.sh: no run.sh, not
executable, system.json beside run.sh, a wrong line count, non-UTF-8 output, a non-zero exit
(the log's tail in the one-line error), the time limit (killed with its children), the network
(unreachable under isolation; no isolation refused unless --allow-network), the environment
(a parent's secret is not passed), and make check sizing the folder without running run.sh.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.evaluation import contract
from harness.evaluation import evaluate as evaluation
from harness.leaderboard import render as leaderboard
from harness.systems import storage
from harness.inference.decode import DecodeSettings
from harness.data.testsets import load_testset, write_longform_set
from harness.data import tracks
from harness.data.tracks import get_track

from test_storage import write_safetensors

ROOT = Path(__file__).resolve().parents[1]
FIXED = ROOT / "tests" / "data" / "mini-base-fixed"   # 36 utterances of real mini speech, committed
TRACK = get_track("mini")
SETTINGS = DecodeSettings(max_new_tokens=TRACK.max_new_tokens, batch_size=16)
# The segmented subset the equality is checked on: 16 utterances (one batch, 48 s of audio).
SUBSET = 16


def _load_build(name: str):
    spec = importlib.util.spec_from_file_location(f"build_{name.replace('-', '_')}", ROOT / "submissions" / name / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> Path:
    """build/mini/{baseline,contract-baseline} as make build writes them, in a temporary build root."""
    root = tmp_path_factory.mktemp("build")
    for name in ("baseline", "contract-baseline"):
        assert _load_build(name).main(["--track", "mini", "--out", str(root / "mini" / name)]) == 0
    return root


@pytest.fixture(scope="module")
def fixed_set():
    return load_testset(FIXED)


@pytest.fixture(scope="module")
def subset(fixed_set):
    return dataclasses.replace(fixed_set, utterances=fixed_set.utterances[:SUBSET])


def _isolated() -> bool:
    try:
        return bool(contract.isolation().prefix)
    except contract.ContractError:
        return False


needs_isolation = pytest.mark.skipif(not _isolated(), reason="no network isolation (unshare --net) here")


# ---------------------------------------------------------------- the mini contract end to end


def test_contract_baseline_build_is_run_sh_plus_the_base_weights(builds):
    folder = builds / "mini" / "contract-baseline"
    assert sorted(p.name for p in folder.iterdir()) == ["model", "run.sh", "translate.py"]
    assert os.access(folder / "run.sh", os.X_OK) and not (folder / "system.json").exists()
    base = builds / "mini" / "baseline" / "model"
    assert sorted(p.name for p in (folder / "model").iterdir()) == sorted(p.name for p in base.iterdir())
    assert (folder / "model" / "model.safetensors").read_bytes() == (base / "model.safetensors").read_bytes()
    assert _load_build("contract-baseline").main(["--lang", "de", "--out", str(folder)]) == 2


def test_mini_contract_passes_its_smoke_test_on_five_utterances(builds, fixed_set, tmp_path):
    started = time.perf_counter()
    verdict = contract.smoke(builds / "mini" / "contract-baseline", TRACK, fixed_set, log_dir=tmp_path)
    seconds = time.perf_counter() - started
    assert verdict.startswith("smoke passed: contract-baseline en-de, en-zh on the first 5 utterances")
    assert "5 of 5 lines, UTF-8, none empty" in verdict and "\n" not in verdict
    for lang in ("de", "zh"):
        log = (tmp_path / f"contract-baseline.en-{lang}.log").read_text()
        assert f"translated 5 clips into {lang}" in log
    print(f"smoke: {seconds:.1f} s for both directions")   # measured figure, shown with -s


@pytest.fixture(scope="module")
def evaluated(builds, subset, tmp_path_factory):
    """The baseline (decoded by the harness) and contract-baseline (by its run.sh) on the subset."""
    results_root = tmp_path_factory.mktemp("results")
    spec = tracks.TestSetSpec("fixed", "local", "unused")
    timings = {}
    summaries = {}
    for name in ("baseline", "contract-baseline"):
        folder = builds / "mini" / name
        verdict = evaluation._storage_verdict(folder, TRACK)
        started = time.perf_counter()
        if contract.is_contract(folder):
            summaries[name] = contract.evaluate(folder, TRACK, spec, subset, SETTINGS, results_root=results_root,
                                                storage_verdict=verdict)
        else:
            summaries[name] = evaluation.evaluate(folder, TRACK, spec, subset, SETTINGS, results_root=results_root,
                                                  storage_verdict=verdict, measure_speed=False)
        timings[name] = time.perf_counter() - started
    print(f"eval on {SUBSET} utterances: baseline {timings['baseline']:.1f} s, "
          f"contract {timings['contract-baseline']:.1f} s")
    return results_root, summaries


def _segments(root: Path, system: str, name: str = "fixed") -> list[dict]:
    text = (root / "mini" / system / f"{name}.segments.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_contract_scores_equal_the_baselines(evaluated):
    root, summaries = evaluated
    base, run = summaries["baseline"], summaries["contract-baseline"]
    assert set(run["languages"]) == {"de", "zh"}
    for lang in ("de", "zh"):
        assert {m: s["value"] for m, s in run["languages"][lang]["metrics"].items()} == \
            {m: s["value"] for m, s in base["languages"][lang]["metrics"].items()}
        assert run["languages"][lang]["metrics"]["chrf"]["value"] > 10   # real translations, not empty lines
        assert run["languages"][lang]["metrics"]["bleu"]["signature"] == base["languages"][lang]["metrics"]["bleu"]["signature"]
    base_rows, rows = _segments(root, "baseline"), _segments(root, "contract-baseline")
    assert [(r["id"], r["lang"], r["hypothesis"], r["flags"], r["scores"]) for r in rows] == \
        [(r["id"], r["lang"], r["hypothesis"], r["flags"], r["scores"]) for r in base_rows]


def test_contract_results_are_marked_and_say_what_speed_means(evaluated):
    root, summaries = evaluated
    run = summaries["contract-baseline"]
    on_disk = json.loads((root / "mini" / "contract-baseline" / "fixed.json").read_text())
    assert on_disk == run and run["schema"] == "iwslt-harness/eval"
    assert run["run_by"] == "contract" and "run_by" not in summaries["baseline"]
    assert run["system_manifest"]["format"] == "contract" and run["decode"] is None
    assert run["contract"]["isolation"] in {name for name, _ in contract.ISOLATIONS} | {contract.NO_ISOLATION}
    assert run["contract"]["environment"] == sorted(["PATH", "HOME", "LANG", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                                     "HF_DATASETS_OFFLINE", "OMP_NUM_THREADS", "CONTRACT_BATCH_SIZE",
                                                     *(["CUDA_VISIBLE_DEVICES"] if "CUDA_VISIBLE_DEVICES" in os.environ else [])])
    for lang, report in run["languages"].items():
        assert report["speed"]["status"] == "absent"
        assert "including process start-up" in report["speed"]["absent_reason"]
        timing = report["contract_run"]
        assert timing["inputs"] == SUBSET and timing["wall_seconds"] > 0
        assert timing["rtfx_including_startup"] == pytest.approx(timing["audio_seconds"] / timing["wall_seconds"], rel=1e-3)
        assert "start-up" in timing["note"]
        assert (root / "mini" / "contract-baseline" / timing["log"]).is_file()
    assert run["storage"]["totals"]["size_bytes"] > summaries["baseline"]["storage"]["totals"]["size_bytes"]


def test_leaderboard_marks_the_contract_row(evaluated, tmp_path):
    root, _ = evaluated
    board = leaderboard.render(root, tmp_path)
    rows = {row["system"]: row for group in board["groups"] for row in group["rows"]}
    assert rows["contract-baseline"]["run_by_contract"] is True and rows["baseline"]["run_by_contract"] is False
    readme = (tmp_path / "README.md").read_text()
    assert "size verified, run by contract" in readme
    with open(tmp_path / "results.csv", encoding="utf-8", newline="") as stream:
        marks = {(row["system"], row["run_by_contract"]) for row in csv.DictReader(stream) if row["kind"] == "reproduced"}
    assert marks == {("baseline", "False"), ("contract-baseline", "True")}
    assert "run by contract" in (tmp_path / "index.html").read_text()


def test_eval_command_dispatches_contract_folders(builds, tmp_path, monkeypatch):
    """make eval's loop (harness.evaluation.evaluate main) finds a run.sh folder and runs it by contract."""
    sentences = tmp_path / "sentences"
    rows = [{"id": u.id, "audio": u.audio(), "en": u.en, "de": u.targets["de"], "zh": u.targets["zh"]}
            for u in load_testset(FIXED).utterances[:3]]
    from harness.data.testsets import write_segmented_set
    write_segmented_set(sentences, name="sentences", version="1", domain="general", rows=rows,
                        generator={"name": "tests/test_contract.py"})
    track = dataclasses.replace(TRACK, testsets=(tracks.TestSetSpec("sentences", "local", str(sentences)),))
    monkeypatch.setattr(evaluation, "get_track", lambda name: track)
    results_root = tmp_path / "results"
    systems = evaluation.find_systems(track, builds, None)
    assert [s.name for s in systems] == ["baseline", "contract-baseline"]
    code = evaluation.main(["--build-root", str(builds), "--results-root", str(results_root), "--no-speed",
                            "--system", "baseline", "--system", "contract-baseline"])
    assert code == 0
    base = json.loads((results_root / "mini" / "baseline" / "sentences.json").read_text())
    run = json.loads((results_root / "mini" / "contract-baseline" / "sentences.json").read_text())
    assert run["run_by"] == "contract" and "run_by" not in base
    assert [r["hypothesis"] for r in _segments(results_root, "contract-baseline", "sentences")] == \
        [r["hypothesis"] for r in _segments(results_root, "baseline", "sentences")]


def test_longform_contract_is_segmented_resegmented_and_scored_like_the_baseline(builds, fixed_set, tmp_path):
    """Two talks of three sentences each; the gold segmentation (the harness's), one run.sh call per direction."""
    import numpy as np

    from harness.evaluation import longform
    from harness.data.audio import SAMPLE_RATE

    pause = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    talks = []
    for t in range(2):
        chosen = fixed_set.utterances[3 * t:3 * t + 3]
        audio, segments, offset = [], [], 0.0
        for u in chosen:
            clip = u.audio()
            audio += [clip, pause]
            segments.append((offset, len(clip) / SAMPLE_RATE))
            offset += (len(clip) + len(pause)) / SAMPLE_RATE
        talks.append({"talk_id": f"talk{t}", "audio": np.concatenate(audio), "segments": segments,
                      "en": [u.en for u in chosen], "de": [u.targets["de"] for u in chosen],
                      "zh": [u.targets["zh"] for u in chosen]})
    folder = tmp_path / "talks"
    write_longform_set(folder, name="talks", version="1", domain="talks", talks=talks,
                       generator={"name": "tests/test_contract.py"})
    talks_set = load_testset(folder)
    spec = tracks.TestSetSpec("talks", "local", "unused")
    segmentation = longform.segment(talks_set, TRACK, "gold")
    root = tmp_path / "results"
    base = longform.evaluate_longform(builds / "mini" / "baseline", TRACK, spec, talks_set, SETTINGS,
                                      results_root=root, segmentation=segmentation, measure_speed=False)
    run = contract.evaluate(builds / "mini" / "contract-baseline", TRACK, spec, talks_set, SETTINGS,
                            results_root=root, segmentation=segmentation)
    assert run["schema"] == "iwslt-harness/eval-longform" and run["run_by"] == "contract"
    assert run["segments"] == base["segments"]
    for lang in ("de", "zh"):
        mine, theirs = run["languages"][lang], base["languages"][lang]
        assert mine["contract_run"]["inputs"] == 6
        assert mine["resegmentation"] == theirs["resegmentation"]
        # Per talk the baseline decodes 3 segments per call, the contract all 6 in one: greedy left-padded
        # batches may differ in the last bits, so the hypotheses are compared, not assumed.
        assert mine["hypothesis_lines"] == theirs["hypothesis_lines"]
        assert {m: s["value"] for m, s in mine["metrics"].items()} == {m: s["value"] for m, s in theirs["metrics"].items()}


# ---------------------------------------------------------------- refusals, with small shell submissions


def _script_set(tmp_path_factory, clips: int = 5):
    from harness.data.audio import SAMPLE_RATE
    from harness.data.testsets import write_segmented_set

    import numpy as np

    folder = tmp_path_factory.mktemp("sets") / "tones"
    rows = [{"id": f"u{i}", "audio": (0.1 * np.sin(np.arange(SAMPLE_RATE // 2) * (0.05 + 0.01 * i))).astype(np.float32),
             "en": f"tone {i}", "de": f"ton {i}", "zh": f"音{i}"} for i in range(clips)]
    write_segmented_set(folder, name="tones", version="1", domain="general", rows=rows,
                        generator={"name": "tests/test_contract.py"})
    return load_testset(folder)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return _script_set(tmp_path_factory)


ECHO = 'while read -r path; do echo "hypothesis for $(basename "$path")"; done < "$2" > "$3"\n'


def submission(folder: Path, body: str, *, executable: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    script.chmod(0o755 if executable else 0o644)
    write_safetensors(folder / "model.safetensors", {"w": ("BF16", [4])})
    return folder


def _smoke(folder, tones, tmp_path, **kwargs) -> str:
    return contract.smoke(folder, TRACK, tones, log_dir=tmp_path / "logs", **kwargs)


def test_a_conforming_script_passes_and_its_lines_are_read_in_order(tones, tmp_path):
    folder = submission(tmp_path / "echo", ECHO)
    assert _smoke(folder, tones, tmp_path).startswith("smoke passed: echo en-de, en-zh")
    clips, _ = contract.write_clips(tmp_path, [u.audio() for u in tones.utterances])
    done = contract.run(folder, "en-de", clips, log=tmp_path / "run.log", time_limit=30,
                        isolation=contract.isolation(allow_network=True))
    assert done.lines == [f"hypothesis for {i:06d}.wav" for i in range(5)]


def test_written_audio_is_the_harness_samples_exactly(tones, tmp_path):
    from harness.data.audio import decode_audio

    import numpy as np

    clips, seconds = contract.write_clips(tmp_path, [u.audio() for u in tones.utterances])
    assert seconds == pytest.approx(2.5)
    for path, u in zip(clips, tones.utterances):
        assert path.is_absolute() and np.array_equal(decode_audio(path)[0], u.audio())
    odd = np.array([0.1234567, -0.5, 0.25], dtype=np.float32)   # not on the 16-bit grid: written as float
    contract.write_clip(tmp_path / "odd.wav", odd)
    assert np.array_equal(decode_audio(tmp_path / "odd.wav")[0], odd)


@pytest.mark.parametrize("make, fragment", [
    (lambda f: f.mkdir(), "no run.sh"),
    (lambda f: submission(f, ECHO, executable=False), "not executable"),
    (lambda f: (submission(f, ECHO), (f / "system.json").write_text("{}")), "holds both system.json and run.sh"),
    (lambda f: (f.mkdir(), (f / "run.sh").symlink_to("/bin/true")), "not a regular file"),
], ids=["missing", "not-executable", "both", "symlink"])
def test_a_folder_that_is_no_contract_is_refused_before_running(make, fragment, tones, tmp_path, capsys):
    folder = tmp_path / "sub"
    make(folder)
    with pytest.raises(contract.ContractError) as excinfo:
        _smoke(folder, tones, tmp_path)
    assert not isinstance(excinfo.value, contract.ContractFailure)
    assert fragment in str(excinfo.value) and "\n" not in str(excinfo.value)
    # The command: exit 2, one line, before any test set is loaded (none exists for this track here).
    assert contract.main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


@pytest.mark.parametrize("body, fragment", [
    ('head -n 3 "$2" > "$3"\n', "3 output lines for 5 input lines"),
    (ECHO + 'echo extra >> "$3"\n', "6 output lines for 5 input lines"),
    ("printf 'ok\\n\\377\\376\\nok\\nok\\nok\\n' > \"$3\"\n", "not UTF-8 (byte 0xff on line 2)"),
    ('echo "loading model.safetensors" >&2; echo "error: model file missing" >&2; exit 3\n',
     "exited with status 3"),
    ("exit 0\n", "wrote no output file"),
    ('ln -s /etc/hostname "$3"\n', "not a regular file"),
    ("printf 'a\\n\\nb\\nc\\nd\\n' > \"$3\"\n", "empty output on line(s) 2"),
], ids=["too-few", "too-many", "not-utf8", "exit-3", "no-output", "symlink-output", "empty-line"])
def test_a_run_that_breaks_the_contract_fails_in_one_line(body, fragment, tones, tmp_path, capsys):
    folder = submission(tmp_path / "bad", body)
    with pytest.raises(contract.ContractFailure) as excinfo:
        _smoke(folder, tones, tmp_path)
    message = str(excinfo.value)
    assert fragment in message and "\n" not in message
    if "status 3" in fragment:   # the log's tail is shown
        assert "loading model.safetensors | error: model file missing" in message


def test_the_smoke_command_gives_a_verdict_and_an_exit_code(tones, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("harness.data.tracks.load_spec", lambda spec: tones)
    good = submission(tmp_path / "good", ECHO)
    assert contract.main([str(good), "--log-dir", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("smoke passed: good") and out.rstrip().endswith(" s)")
    bad = submission(tmp_path / "bad", 'head -n 1 "$2" > "$3"\n')
    assert contract.main([str(bad), "--log-dir", str(tmp_path / "logs")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("smoke failed: bad en-de: 1 output lines for 5 input lines")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"   # a zombie has been killed, only not yet reaped by its new parent


def test_past_the_time_limit_run_sh_and_its_children_are_killed(tones, tmp_path):
    folder = submission(tmp_path / "slow", 'sleep 300 & echo $! > child.pid; echo $$ > self.pid; sleep 300\n')
    started = time.perf_counter()
    with pytest.raises(contract.ContractFailure) as excinfo:
        _smoke(folder, tones, tmp_path, time_limit=2)
    elapsed = time.perf_counter() - started
    message = str(excinfo.value)
    assert "ran past the time limit of 2 s and was killed with its process group" in message and "\n" not in message
    assert elapsed < 30
    pids = [int((folder / name).read_text()) for name in ("self.pid", "child.pid")]
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def test_processes_left_running_after_exit_are_killed(tones, tmp_path):
    folder = submission(tmp_path / "leaver", 'sleep 300 & echo $! > child.pid\n' + ECHO)
    _smoke(folder, tones, tmp_path)
    pid = int((folder / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


NET = (f'{sys.executable} -c "import socket; s = socket.socket(); s.settimeout(5); '
       "s.connect(('1.1.1.1', 53)); print('connected')\" || exit 7\n" + ECHO)


@needs_isolation
def test_under_isolation_the_network_is_unreachable(tones, tmp_path):
    folder = submission(tmp_path / "net", NET)
    with pytest.raises(contract.ContractFailure) as excinfo:
        _smoke(folder, tones, tmp_path)
    message = str(excinfo.value)
    assert "exited with status 7" in message and "Network is unreachable" in message


def test_without_isolation_the_harness_refuses_unless_allowed(tones, tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "ISOLATIONS", (("broken", ("false",)), ("absent", ("no-such-unshare-xyz",))))
    folder = submission(tmp_path / "echo", ECHO)
    with pytest.raises(contract.ContractError) as excinfo:
        _smoke(folder, tones, tmp_path)
    assert "no network isolation is available here" in str(excinfo.value)
    assert "pass --allow-network" in str(excinfo.value) and "no-such-unshare-xyz is not installed" in str(excinfo.value)
    assert "isolation none: no network isolation" in _smoke(folder, tones, tmp_path, allow_network=True)
    summary = contract.evaluate(folder, TRACK, tracks.TestSetSpec("tones", "local", "unused"), tones, SETTINGS,
                                results_root=tmp_path / "results", allow_network=True)
    assert summary["contract"]["isolation"] == contract.NO_ISOLATION


def test_the_parent_environment_is_not_passed(tones, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_TEST_SECRET", "s3cret-token")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    folder = submission(tmp_path / "env", 'env > env.txt; echo "$HOME" > home.txt\n' + ECHO)
    _smoke(folder, tones, tmp_path)
    seen = dict(line.split("=", 1) for line in (folder / "env.txt").read_text().splitlines() if "=" in line)
    assert "s3cret-token" not in (folder / "env.txt").read_text() and "HF_TOKEN" not in seen
    allowed = {"PATH", "HOME", "LANG", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
               "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CONTRACT_BATCH_SIZE"}
    assert set(seen) - {"PWD", "SHLVL", "_", "OLDPWD"} <= allowed
    assert seen["HF_HUB_OFFLINE"] == "1" and seen["LANG"] == "C.UTF-8"
    assert seen["PWD"] == str(folder.resolve())
    home = Path((folder / "home.txt").read_text().strip())
    assert home.name == "home" and not home.exists()   # a fresh temporary HOME, removed afterwards


def test_check_sizes_every_file_and_never_runs_run_sh(builds, tmp_path, capsys):
    marker = tmp_path / "ran"
    folder = submission(tmp_path / "touchy", f'touch {marker}\n' + ECHO)
    assert storage.main([str(folder), "--track", "mini"]) in (0, 1)
    out = capsys.readouterr().out
    assert not marker.exists()
    assert "run.sh: a system run by contract" in out
    report = storage.check(folder, TRACK)
    assert report.verdict.size_bytes == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    # The mini contract: checked (not refused for lacking system.json), every file counted.
    run, base = builds / "mini" / "contract-baseline", builds / "mini" / "baseline"
    mine, theirs = storage.check(run, TRACK), storage.check(base, TRACK)
    assert mine.exit_code == theirs.exit_code != 2
    assert mine.verdict.size_bytes == sum(p.stat().st_size for p in run.rglob("*") if p.is_file())
    assert mine.verdict.size_bytes - (run / "run.sh").stat().st_size - (run / "translate.py").stat().st_size == \
        theirs.verdict.size_bytes - (base / "system.json").stat().st_size
    # and as `make check SUB=...` runs it: a subprocess, exit code = the size verdict
    done = subprocess.run([sys.executable, "-m", "harness", "check", str(folder), "--track", "mini"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode in (0, 1) and not marker.exists()


def test_find_systems_sees_contract_folders(tmp_path):
    (tmp_path / "mini" / "built").mkdir(parents=True)
    (tmp_path / "mini" / "built" / "system.json").write_text("{}")
    submission(tmp_path / "mini" / "boxed", ECHO)
    (tmp_path / "mini" / "empty").mkdir()
    assert [p.name for p in evaluation.find_systems(TRACK, tmp_path, None)] == ["boxed", "built"]
    with pytest.raises(evaluation.EvalError, match="no system.json, no run.sh"):
        evaluation.find_systems(TRACK, tmp_path, ["empty"])


def test_bad_time_limit_is_refused(tones, tmp_path):
    folder = submission(tmp_path / "echo", ECHO)
    with pytest.raises(contract.ContractError, match="--time-limit must be positive"):
        contract.evaluate(folder, TRACK, tracks.TestSetSpec("tones", "local", "unused"), tones, SETTINGS,
                          results_root=tmp_path, time_limit=0)
