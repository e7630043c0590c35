"""The committed mini leaderboard (``make leaderboard-mini``) is one commit's, complete and current.

Reads the tracked results files under leaderboard/results/mini/ (what a fresh clone has) and
checks: every row records one and the same git commit, from a clean tree, in this history; each
file has the current results schema version; every metric carries its 95 % interval; every
language block has a speed block of the current speed protocol (or says why speed is absent);
every submission has a row for every mini test set and direction; and `python -m harness
leaderboard` re-renders, from those files alone, pages byte-identical to the committed
leaderboard/ (README.md, results.csv, results.json, index.html; the renderer embeds no clock:
its only time is the newest result's ``created``).

Until the leaderboard is regenerated (``make leaderboard-mini`` on a committed tree, then commit
leaderboard/) the tests on the committed files fail, naming that command. The checks are plain
functions returning a list of problems; the ``test_check_*`` tests pin them on synthetic rows.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "leaderboard/results"
TRACK = "mini"
PAGES = ("README.md", "results.csv", "results.json", "index.html")
REGENERATE = "run make leaderboard-mini on a committed tree and commit leaderboard/"


# ---------------------------------------------------------------- the checks

Summaries = list[tuple[str, dict]]  # (path relative to the results folder, summary), harness.leaderboard.render.read_results


def _git(summary: dict) -> dict:
    return (summary.get("provenance") or {}).get("git") or {}


def commits(summaries: Summaries) -> set:
    return {_git(summary).get("commit") for _, summary in summaries}


def provenance_problems(summaries: Summaries) -> list[str]:
    """One and the same known commit on every row, none from a tree with local changes."""
    problems = []
    found = commits(summaries)
    if len(found) != 1:
        problems.append(f"rows from {len(found)} commits: {', '.join(sorted(str(c) for c in found))}")
    elif None in found:
        problems.append("the rows record no git commit")
    for relative, summary in summaries:
        if _git(summary).get("dirty") is not False:
            problems.append(f"{relative}: dirty is {_git(summary).get('dirty')!r} (not from a clean tree)")
    return problems


def schema_problems(summaries: Summaries) -> list[str]:
    from harness import results

    problems = []
    for relative, summary in summaries:
        if summary.get("schema") not in (results.EVAL_SCHEMA, results.LONGFORM_SCHEMA):
            problems.append(f"{relative}: schema {summary.get('schema')!r}")
        if summary.get("schema_version") != results.SCHEMA_VERSION:
            problems.append(f"{relative}: schema_version {summary.get('schema_version')!r}, "
                            f"current {results.SCHEMA_VERSION}")
    return problems


def _interval(ci95) -> bool:
    return isinstance(ci95, dict) and all(
        isinstance(ci95.get(key), (int, float)) and not isinstance(ci95.get(key), bool)
        for key in ("half_width", "low", "high"))


def interval_problems(summaries: Summaries) -> list[str]:
    """Every metric entry has a ci95 (harness.scoring.metrics.Score.to_dict); a scored one a complete interval."""
    problems = []
    for relative, summary in summaries:
        for lang, block in sorted(summary["languages"].items()):
            for name, metric in sorted(block["metrics"].items()):
                if "ci95" not in metric:
                    problems.append(f"{relative} {lang} {name}: no ci95")
                elif metric.get("value") is not None and not _interval(metric["ci95"]):
                    problems.append(f"{relative} {lang} {name}: scored, but ci95 is {metric['ci95']!r}")
    return problems


def speed_problems(summaries: Summaries) -> list[str]:
    """Each language block's speed: absent with its reason, or measured by the current protocol."""
    from harness.evaluation.speed import PROTOCOL_VERSION

    problems = []
    for relative, summary in summaries:
        for lang, block in sorted(summary["languages"].items()):
            speed = block.get("speed")
            if not isinstance(speed, dict):
                problems.append(f"{relative} {lang}: no speed block")
            elif speed.get("status") == "absent":
                if not speed.get("absent_reason"):
                    problems.append(f"{relative} {lang}: speed absent without an absent_reason")
            elif ((speed.get("protocol") or {}).get("version")) != PROTOCOL_VERSION:
                problems.append(f"{relative} {lang}: speed protocol version "
                                f"{(speed.get('protocol') or {}).get('version')!r}, current {PROTOCOL_VERSION}")
    return problems


def coverage_problems(summaries: Summaries, systems: list[str], testsets: dict[str, tuple[str, ...]],
                      track: str = TRACK) -> list[str]:
    """Every system x test set x direction has a row (``testsets``: name -> its directions)."""
    have = {(summary["system"], summary["testset"]["name"], lang)
            for _, summary in summaries if summary.get("track") == track for lang in summary["languages"]}
    return [f"no row for {system} on {name} en-{lang}"
            for system in systems for name, langs in testsets.items() for lang in langs
            if (system, name, lang) not in have]


def render_problems(results_root: Path, pages: Path, work: Path, *options: str) -> list[str]:
    """`python -m harness leaderboard` (its entry point, harness.leaderboard.render.main) on ``results_root``
    into ``work``, compared byte for byte with the pages in ``pages``."""
    from harness.leaderboard.render import main

    work.mkdir(parents=True, exist_ok=True)
    if main(["--results", str(results_root), "--out", str(work), *options]) != 0:
        return ["python -m harness leaderboard failed on the committed results"]
    problems = []
    for name in PAGES:
        if not (pages / name).is_file():
            problems.append(f"leaderboard/{name} is missing")
        elif (pages / name).read_bytes() != (work / name).read_bytes():
            problems.append(f"leaderboard/{name} differs from its re-rendering")
    return problems


def _assert_none(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s) ({REGENERATE}):\n" + "\n".join(problems[:20])


# ---------------------------------------------------------------- the committed leaderboard

def _tracked(prefix: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--", prefix], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode()
    return [name for name in listed.split("\0") if name]


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """The tracked results files (a fresh clone's leaderboard/results/), copied to a folder of their own."""
    names = _tracked(RESULTS)
    if not any(name.startswith(f"{RESULTS}/{TRACK}/") and name.endswith(".json") for name in names):
        pytest.fail(f"no committed results under {RESULTS}/{TRACK}/: {REGENERATE}")
    root = tmp_path_factory.mktemp("committed") / "results"
    for name in names:
        target = root / Path(name).relative_to(RESULTS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return root


@pytest.fixture(scope="module")
def summaries(committed) -> Summaries:
    from harness.leaderboard.render import read_results

    return [(relative, summary) for relative, summary in read_results(committed)
            if relative.startswith(f"{TRACK}/")]


def test_every_row_is_from_one_clean_commit(summaries):
    _assert_none(provenance_problems(summaries))


def test_that_commit_is_in_this_history(summaries):
    found = commits(summaries)
    if len(found) != 1 or None in found:
        pytest.fail(f"not one recorded commit ({', '.join(sorted(map(str, found)))}): {REGENERATE}")
    (commit,) = found
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip() == "true"
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT).returncode == 0
    if shallow and not known:
        pytest.skip(f"a shallow clone without {commit}")
    assert known and subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT).returncode == 0, \
        f"the leaderboard's commit {commit} is not in HEAD's history: {REGENERATE}"


def test_every_file_has_the_current_schema(summaries):
    _assert_none(schema_problems(summaries))


def test_every_metric_has_its_interval(summaries):
    _assert_none(interval_problems(summaries))


def test_every_direction_has_speed_by_the_current_protocol(summaries):
    _assert_none(speed_problems(summaries))


def test_every_submission_has_every_mini_test_set(summaries):
    from harness.data.tracks import get_track

    systems = sorted(path.parent.name for path in (ROOT / "submissions").glob("*/build.py"))
    testsets = {spec.name: spec.languages for spec in get_track(TRACK).testsets}
    _assert_none(coverage_problems(summaries, systems, testsets))


def test_the_committed_pages_re_render_byte_identical(committed, tmp_path):
    _assert_none(render_problems(committed, ROOT / "leaderboard", tmp_path / "pages"))


# ---------------------------------------------------------------- the checks, on synthetic rows

def _summary(system: str = "modelB", testset: str = "talks_test", commit: str = "a" * 40, dirty=False,
             langs=("de", "zh")) -> dict:
    from harness import results
    from harness.evaluation.speed import PROTOCOL, PROTOCOL_VERSION

    metric = {"metric": "bleu", "value": 20.0, "signature": "nrefs:1|bs:1000", "absent_reason": None,
              "ci95": {"half_width": 1.0, "low": 19.0, "high": 21.0}}
    comet = {"metric": "comet", "value": None, "signature": None, "absent_reason": "no COMET model", "ci95": None}
    speed = {"status": "measured", "absent_reason": None, "protocol": {**PROTOCOL, "version": PROTOCOL_VERSION}}
    return {"schema": results.EVAL_SCHEMA, "schema_version": results.SCHEMA_VERSION, "system": system,
            "track": TRACK, "testset": {"name": testset, "content_hash": "sha256:" + "0" * 64},
            "languages": {lang: {"metrics": {"bleu": copy.deepcopy(metric), "comet": dict(comet)},
                                 "speed": dict(speed)} for lang in langs},
            "provenance": {"git": {"commit": commit, "dirty": dirty}}}


def test_check_good_rows_pass():
    rows = [("mini/modelB/talks_test.json", _summary()), ("mini/baseline/talks_test.json", _summary("baseline"))]
    assert provenance_problems(rows) == schema_problems(rows) == interval_problems(rows) == speed_problems(rows) == []
    assert coverage_problems(rows, ["baseline", "modelB"], {"talks_test": ("de", "zh")}) == []


def test_check_two_commits_or_a_dirty_tree_fail():
    two = [("a.json", _summary()), ("b.json", _summary("baseline", commit="b" * 40))]
    assert provenance_problems(two) == [f"rows from 2 commits: {'a' * 40}, {'b' * 40}"]
    dirty = [("a.json", _summary()), ("b.json", _summary("baseline", dirty=True))]
    assert provenance_problems(dirty) == ["b.json: dirty is True (not from a clean tree)"]
    unknown = [("a.json", _summary(commit=None, dirty=None))]
    assert len(provenance_problems(unknown)) == 2


def test_check_an_old_schema_a_missing_interval_or_speed_fail():
    from harness.evaluation.speed import PROTOCOL_VERSION

    old = _summary()
    old["schema_version"] = 0
    assert schema_problems([("a.json", old)]) == [f"a.json: schema_version 0, current {_summary()['schema_version']}"]
    bare = _summary()
    del bare["languages"]["de"]["metrics"]["comet"]["ci95"]
    bare["languages"]["zh"]["metrics"]["bleu"]["ci95"] = None
    assert interval_problems([("a.json", bare)]) == ["a.json de comet: no ci95",
                                                     "a.json zh bleu: scored, but ci95 is None"]
    speeds = _summary()
    speeds["languages"]["de"]["speed"] = {"status": "absent", "absent_reason": ""}
    speeds["languages"]["zh"]["speed"]["protocol"]["version"] = PROTOCOL_VERSION - 1
    assert speed_problems([("a.json", speeds)]) == [
        "a.json de: speed absent without an absent_reason",
        f"a.json zh: speed protocol version {PROTOCOL_VERSION - 1}, current {PROTOCOL_VERSION}"]
    absent = _summary()
    absent["languages"]["de"]["speed"] = {"status": "absent", "absent_reason": "--no-speed"}
    del absent["languages"]["zh"]["speed"]
    assert speed_problems([("a.json", absent)]) == ["a.json zh: no speed block"]


def test_check_a_missing_system_set_or_direction_fails():
    rows = [("mini/modelB/talks_test.json", _summary(langs=("de",)))]
    assert coverage_problems(rows, ["modelB", "diet-kit"], {"talks_test": ("de", "zh")}) == [
        "no row for modelB on talks_test en-zh", "no row for diet-kit on talks_test en-de",
        "no row for diet-kit on talks_test en-zh"]


def test_check_a_page_that_differs_from_its_re_rendering_fails(tmp_path):
    from harness.files import atomic_write_json

    results = tmp_path / "results"
    for system in ("baseline", "modelB"):
        atomic_write_json(results / TRACK / system / "talks_test.json", _summary(system))
    pages = tmp_path / "leaderboard"
    assert render_problems(results, pages, tmp_path / "first", "--no-significance") == [
        f"leaderboard/{name} is missing" for name in PAGES]
    shutil.copytree(tmp_path / "first", pages)
    assert render_problems(results, pages, tmp_path / "again", "--no-significance") == []  # no clock in the pages
    elsewhere = tmp_path / "clone" / "leaderboard" / "results"  # nor the folder the results were read from
    shutil.copytree(results, elsewhere)
    assert render_problems(elsewhere, pages, tmp_path / "moved", "--no-significance") == []
    (pages / "results.csv").write_text((pages / "results.csv").read_text() + "\n")
    assert render_problems(results, pages, tmp_path / "third", "--no-significance") == [
        "leaderboard/results.csv differs from its re-rendering"]
