"""harness.leaderboard.render: groups by signature, Δ against the base, reported rows apart, deterministic pages.

Every results file here is written by the test itself (a few hand-made summaries in the
schema of harness.evaluation.evaluate / harness.evaluation.longform), so the expected numbers are known exactly.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.leaderboard import render as leaderboard
from harness.leaderboard.render import (CSV_COLUMNS, VERIFIED_NONE, VERIFIED_RECIPE, VERIFIED_SIZE, LeaderboardError,
                                 build, main, pareto_front, read_results, render)

BLEU_DE = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
BLEU_DE_INTL = "nrefs:1|case:mixed|eff:no|tok:intl|smooth:exp|version:2.6.0"
BLEU_ZH = "nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0"
CHRF = "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"
CHRFPP = "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"
HASH = "sha256:" + "ab" * 32
LIMIT = 2_000_000


def interval(value: float, half_width: float | None) -> dict | None:
    """A stored ci95 (harness.scoring.metrics.confidence_interval's shape) centred on the value; None: a file
    written before intervals were stored."""
    if half_width is None:
        return None
    return {"mean": value, "half_width": half_width, "low": value - half_width, "high": value + half_width,
            "n_samples": 1000, "seed": 12345, "method": "sacreBLEU bootstrap resampling (sacrebleu.significance.estimate_ci)"}


def metrics(bleu: float, chrf: float, chrfpp: float, bleu_signature: str = BLEU_DE, ci: float | None = None) -> dict:
    out = {"bleu": {"metric": "bleu", "value": bleu, "signature": bleu_signature, "absent_reason": None},
           "chrf": {"metric": "chrf", "value": chrf, "signature": CHRF, "absent_reason": None},
           "chrf++": {"metric": "chrf++", "value": chrfpp, "signature": CHRFPP, "absent_reason": None},
           "comet": {"metric": "comet", "value": None, "signature": None,
                     "absent_reason": "no COMET model configured for track mini", "ci95": None}}
    if ci is not None:
        for name in ("bleu", "chrf", "chrf++"):
            out[name]["ci95"] = interval(out[name]["value"], ci)
    return out


HW_A = "AMD EPYC 7B13 x2"
HW_B = "Intel Xeon 8480 x16"


def figure(median: float, spread: float = 0.05) -> dict:
    """One of the speed protocol's five-key figures (median, min, max, spread, runs)."""
    low, high = median * (1 - spread / 2), median * (1 + spread / 2)
    return {"median": median, "min": low, "max": high, "spread": spread, "runs": [low, median, high]}


def speed_block(rtfx: float, hardware: str = HW_A, *, contended: bool | None = False, spread: float = 0.031,
                peak_rss: int = 2**30) -> dict:
    """A results summary's speed block in the exact shape harness.evaluation.speed writes."""
    comparability = {"hardware": hardware, "device": "cpu", "backend": "transformers", "dtype": "float32",
                     "batch_size": 16, "processes": 1, "torch_threads": 2, "sample": "sha256:" + "cd" * 8 + ":16"}
    key = "sha256:" + hashlib.sha256(json.dumps(comparability, sort_keys=True).encode()).hexdigest()[:16]
    sampled = contended is not None
    load = ({"sampled": True, "reason": None, "cpu_count": 2, "loadavg_1min_max": 0.9, "loadavg_1min_mean": 0.5,
             "others_cpu_share": 0.4 if contended else 0.02, "others_cpu_share_max": 0.6 if contended else 0.05,
             "top_others": [{"name": "python3", "cpu_share": 0.01}]} if sampled else
            {"sampled": False, "reason": "no /proc on this machine", "cpu_count": 2, "loadavg_1min_max": None,
             "loadavg_1min_mean": None, "others_cpu_share": None, "others_cpu_share_max": None, "top_others": []})
    return {"status": "measured", "absent_reason": None,
            "protocol": {"name": "iwslt-harness/speed", "version": 1, "warmup_utterances": 2, "repetitions": 3,
                         "sample_utterances": 16, "latency_utterances": 8, "contention_threshold": 0.1,
                         "definition": "RTFx = audio seconds / decoding wall seconds of the sample"},
            "comparability": comparability, "comparability_key": key,
            "rtfx": figure(rtfx, spread), "batch1_latency_seconds": figure(0.25), "tokens_per_second": figure(120.0),
            "load": load, "contended": contended,
            "memory": {"peak_rss_bytes": peak_rss, "gpu_peak_bytes": None, "gpu_memory_source": None,
                       "gpu_absent_reason": "not a CUDA device"},
            "measured": "2026-12-05T16:00:00Z"}


IMPORTED = {"status": "absent", "absent_reason": "hypotheses imported: nothing was decoded here"}
# What results files written before the speed protocol hold: one figure, no comparability.
LEGACY_SPEED = {"rtfx": 50.0, "peak_rss_bytes": 2**30, "gpu_peak_bytes": None, "batch1_latency_mean_seconds": 0.25}


def storage(size: int, params: int = 1000) -> dict:
    unit = {"files": ["model/model.safetensors"], "size_bytes": size, "logical_params": params,
            "limit_2026": {"limit_bytes": LIMIT, "complies": size <= LIMIT, "margin_bytes": LIMIT - size},
            "bin_2025": {"bin": "Bin1" if LIMIT // 2 <= size <= LIMIT else None, "lower_bytes": None,
                         "upper_bytes": None},
            "reduction": {"params": 0.0, "bytes": 1 - size / 8_000_000}}
    return {"status": "compliant" if size <= LIMIT else "over_limit", "exit_code": 0, "reason": "fixture",
            "totals": {"weight_file_bytes": size, "gb": size / 1e9, "logical_params": params},
            "verdicts": {"track": "mini", "rule": {"limit_bytes": LIMIT}, "judged_by": "limit_2026",
                         "judged_unit": "de", "compliant": size <= LIMIT, "units": {"de": unit}}}


def summary(system: str, de: dict, *, built_by: str | None = None, store: dict | None = None,
            created: str = "2026-01-01T00:00:00Z", manifest: dict | None = None, testset: str = "talks_test",
            longform: str | None = None, speed: dict | None = None) -> dict:
    manifest = dict(manifest or {"format": "hf", "languages": {"de": "model"}})
    if built_by:
        manifest["built_by"] = built_by
    out = {"schema": "iwslt-harness/eval-longform" if longform else "iwslt-harness/eval", "schema_version": 1,
           "system": system, "system_manifest": manifest, "track": "mini",
           "testset": {"name": testset, "version": "1.0", "content_hash": HASH, "utterances": 10},
           "languages": {"de": {"metrics": de,
                                "degeneration": {"empty": {"count": 1, "rate": 0.1}, "any": {"count": 2, "rate": 0.2}}}},
           "storage": store, "created": created,
           "provenance": {"git": {"commit": "0" * 40, "dirty": False}}}
    if longform:
        out["segmentation"] = {"method": longform}
    if speed is not None:
        out["languages"]["de"]["speed"] = speed
    return out


def write(root: Path, data: dict, name: str = "talks_test") -> Path:
    path = root / data["track"] / data["system"] / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """baseline (recipe), modelA (recipe, compliant), sizeonly (storage, no recipe), hyps (another BLEU
    tokenizer, no storage: its own group). Scores with intervals, except hyps' (a file from before them).
    Speed: baseline and modelA on one machine, sizeonly (fastest) on another, hyps imported (absent)."""
    root = tmp_path / "results"
    write(root, summary("baseline", metrics(10.0, 30.0, 28.0, ci=1.5), built_by="submissions/baseline/build.py",
                        store=storage(8_000_000), speed=speed_block(40.0)))
    write(root, summary("modelA", metrics(20.5, 41.25, 39.5, ci=1.25), built_by="submissions/modelA/build.py",
                        store=storage(1_500_000), created="2026-02-03T04:05:06Z", speed=speed_block(50.0)))
    write(root, summary("sizeonly", metrics(15.0, 35.0, 33.0, ci=2.0), store=storage(3_000_000),
                        manifest={"format": "hf", "data_condition": "constrained"}, speed=speed_block(90.0, HW_B)))
    write(root, summary("hyps", metrics(30.0, 50.0, 48.0, bleu_signature=BLEU_DE_INTL), speed=IMPORTED))
    return root


def page_data(page: str) -> str:
    """The leaderboard's results JSON embedded in the page."""
    return re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', page, re.S).group(1)


def page_script(page: str) -> str:
    """The page's own (last, inline) script."""
    return page.rsplit("<script>", 1)[1].split("</script>", 1)[0]


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    return node


def rows_by_system(board: dict) -> dict[str, dict]:
    return {row["system"]: row for group in board["groups"] for row in group["rows"]}


def test_same_results_give_byte_identical_pages(results: Path, tmp_path: Path):
    # A second copy at another absolute path: no path of the machine may leak into the pages.
    other = tmp_path / "elsewhere" / "results"
    shutil.copytree(results, other)
    render(results, tmp_path / "one")
    render(other, tmp_path / "two")
    render(results, tmp_path / "one")  # rendering over its own output changes nothing either
    for name in ("README.md", "results.csv", "results.json", "index.html"):
        first, second = (tmp_path / "one" / name).read_bytes(), (tmp_path / "two" / name).read_bytes()
        assert first == second, name
        assert str(tmp_path).encode() not in first
    # The only time shown is the newest results file's own stamp.
    assert "2026-02-03T04:05:06Z" in (tmp_path / "one" / "README.md").read_text()


def test_delta_against_the_base_of_the_same_group(results: Path):
    rows = rows_by_system(build(read_results(results)))
    assert rows["modelA"]["deltas"]["chrf++"] == pytest.approx(39.5 - 28.0)
    assert rows["modelA"]["deltas"]["bleu"] == pytest.approx(20.5 - 10.0)
    assert rows["sizeonly"]["deltas"]["chrf"] == pytest.approx(35.0 - 30.0)
    assert rows["baseline"]["deltas"]["bleu"] == 0.0
    assert rows["modelA"]["deltas"]["comet"] is None  # absent metric: no difference made up


def test_a_different_signature_is_its_own_group_never_ranked_with_the_others(results: Path, tmp_path: Path):
    board = build(read_results(results))
    assert len(board["groups"]) == 2
    by_members = {tuple(sorted(r["system"] for r in g["rows"])): g for g in board["groups"]}
    main_group, alone = by_members[("baseline", "modelA", "sizeonly")], by_members[("hyps",)]
    assert main_group["signatures"]["bleu"] == BLEU_DE and alone["signatures"]["bleu"] == BLEU_DE_INTL
    # ranks within a group only, by chrF++ (German, no COMET): hyps' higher scores do not push others down
    assert [(r["system"], r["rank"]) for r in main_group["rows"]] == [("modelA", 1), ("sizeonly", 2), ("baseline", 3)]
    assert alone["rows"][0]["rank"] == 1 and alone["base_system"] is None
    assert all(d is None for d in alone["rows"][0]["deltas"].values())  # no base under these settings
    render(results, tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    assert readme.count("## mini · talks_test · en-de") == 2
    assert f"`{BLEU_DE}`" in readme and f"`{BLEU_DE_INTL}`" in readme


def test_longform_segmentations_are_not_ranked_together(tmp_path: Path):
    root = tmp_path / "results"
    write(root, summary("baseline", metrics(10, 30, 28), longform="dac", testset="longform_test"), "longform_test")
    write(root, summary("modelA", metrics(12, 32, 30), longform="fixed", testset="longform_test"), "longform_test")
    board = build(read_results(root))
    assert sorted(g["segmentation"] for g in board["groups"]) == ["dac", "fixed"]


def test_reported_rows_stand_apart_with_their_own_test_set(results: Path, tmp_path: Path):
    board = render(results, tmp_path / "out")
    reported = board["reported"]
    assert all(r["kind"] == "reported" and "rank" not in r for r in reported)
    assert all(r["kind"] == "reproduced" for g in board["groups"] for r in g["rows"])
    find = {(r["system"], r["lang"]): r for r in reported}
    a_de = find[("System A (QLoRA + KD)", "de")]
    assert a_de["metrics"]["bleu"]["value"] == 43.25 and a_de["metrics"]["chrf++"]["value"] == 68.02
    assert a_de["metrics"]["comet"]["signature"] == "Unbabel/wmt20-comet-da x100"
    assert a_de["size_gb"] == 9.64 and a_de["complies_2026"] is False and "Moslem" in a_de["source"]
    diet = find[("Diet-KIT (HQQ 4/3/2-bit + AWQ)", "zh")]
    assert diet["metrics"]["comet"]["value"] == 77.1 and diet["metrics"]["comet"]["signature"].startswith("Unbabel/wmt22")
    assert diet["complies_2026"] is True and diet["bin_2025"] == "Bin1"
    assert find[("Baseline (Qwen2-Audio-7B-Instruct)", "zh")]["metrics"]["chrf"]["value"] == 32.53
    readme = (tmp_path / "out" / "README.md").read_text()
    reproduced, _, published = readme.partition("## Reported in the papers")
    assert "43.25" in published and "43.25" not in reproduced and "ACL 60/60" in published
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert {r["rank"] for r in rows if r["kind"] == "reported"} == {""}
    assert len([r for r in rows if r["kind"] == "reported"]) == len(leaderboard.REPORTED)


def test_compliance_condition_and_verification(results: Path):
    rows = rows_by_system(build(read_results(results)))
    assert (rows["modelA"]["complies_2026"], rows["modelA"]["bin_2025"]) == (True, "Bin1")
    assert (rows["baseline"]["complies_2026"], rows["baseline"]["bin_2025"]) == (False, None)
    assert rows["hyps"]["complies_2026"] is None and rows["hyps"]["size_bytes"] is None
    assert rows["modelA"]["size_bytes"] == 1_500_000 and rows["modelA"]["size_gb"] == 0.0015
    assert [rows[s]["verification"] for s in ("baseline", "modelA", "sizeonly", "hyps")] == \
        [VERIFIED_RECIPE, VERIFIED_RECIPE, VERIFIED_SIZE, VERIFIED_NONE]
    # declared in the manifest wins; else the known submissions' table; else unknown
    assert [rows[s]["data_condition"] for s in ("baseline", "modelA", "sizeonly", "hyps")] == \
        ["n/a", "constrained", "constrained", "unknown"]
    assert rows["modelA"]["rtfx"] == 50.0 and rows["modelA"]["peak_rss_bytes"] == 2**30
    assert rows["modelA"]["degeneration"] == {"any": 0.2, "empty": 0.1}
    # on the Pareto front: modelA (smallest and best of its group); baseline is beaten on both
    assert rows["modelA"]["pareto"] and not rows["baseline"]["pareto"] and not rows["sizeonly"]["pareto"]


@pytest.mark.parametrize("points, front", [
    ([("a", 1, 10), ("b", 2, 5)], {"a"}),
    ([("a", 1, 5), ("b", 2, 10)], {"a", "b"}),
    ([("a", 1, 5), ("b", 1, 5)], {"a", "b"}),           # equal points dominate neither
    ([("a", 1, 5), ("b", 2, 5), ("c", 3, 9)], {"a", "c"}),
    ([], set()),
])
def test_pareto_front(points, front):
    assert pareto_front(points) == front


def test_the_page_is_self_contained(results: Path, tmp_path: Path):
    render(results, tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<link\b|<script\s+src|@import|url\(", page, re.I)
    for needle in ('id="filter-track"', 'id="filter-testset"', 'id="filter-lang"', 'id="groups"', 'id="detail"',
                   'id="reported-table"', "drawPlot", '"class": "limit"', "<style>", "sorted-asc"):
        assert needle in page, needle
    assert json.loads(page_data(page)) == json.loads((tmp_path / "out" / "results.json").read_text())


def test_the_page_script_parses(results: Path, tmp_path: Path):
    node = node_or_skip()
    render(results, tmp_path / "out")
    (tmp_path / "page.js").write_text(page_script((tmp_path / "out" / "index.html").read_text()))
    subprocess.run([node, "--check", str(tmp_path / "page.js")], check=True, capture_output=True, timeout=60)


def test_csv_and_json_columns(results: Path, tmp_path: Path):
    render(results, tmp_path / "out")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    reproduced = {r["system"]: r for r in rows if r["kind"] == "reproduced"}
    assert sorted(reproduced) == ["baseline", "hyps", "modelA", "sizeonly"]
    a = reproduced["modelA"]
    assert (a["rank"], a["lang_pair"], a["testset_hash"], a["size_bytes"], a["complies_2026"]) == \
        ("1", "en-de", HASH, "1500000", "True")
    assert float(a["chrf++_delta"]) == pytest.approx(11.5) and a["bleu_signature"] == BLEU_DE
    assert a["source"] == "mini/modelA/talks_test.json"
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["schema"] == leaderboard.SCHEMA and data["generated_from_newest_result"] == "2026-02-03T04:05:06Z"
    row = data["groups"][0]["rows"][0]
    for key in ("system", "metrics", "deltas", "rank", "data_condition", "verification", "size_bytes", "size_gb",
                "logical_params", "reduction_bytes", "complies_2026", "bin_2025", "rtfx", "peak_rss_bytes",
                "degeneration", "storage", "pareto", "group"):
        assert key in row, key


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "not a readable JSON results file"),
    ('{"schema": "something-else"}', "unknown schema"),
    ('{"schema": "iwslt-harness/eval", "schema_version": 2, "system": "x", "track": "mini", "testset": {"name": "t"}, '
     '"languages": {}}', "testset: the required key 'content_hash' is missing"),
    (None, "languages.de.metrics.bleu.value: expected a number or null"),
])
def test_a_malformed_results_file_is_one_line_and_exit_2(results: Path, tmp_path: Path, capsys, text, fragment):
    out = tmp_path / "out"
    assert main(["--results", str(results), "--out", str(out)]) == 0
    before = (out / "index.html").read_bytes()
    bad = results / "mini" / "broken" / "talks_test.json"
    bad.parent.mkdir(parents=True)
    if text is None:
        data = summary("broken", metrics(1, 2, 3))
        data["languages"]["de"]["metrics"]["bleu"]["value"] = "12.3"
        text = json.dumps(data)
    bad.write_text(text)
    capsys.readouterr()
    assert main(["--results", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: mini/broken/talks_test.json: ") and fragment in err
    assert (out / "index.html").read_bytes() == before  # nothing already written is lost
    with pytest.raises(LeaderboardError):
        read_results(results)


def test_an_empty_results_folder_renders_a_page_saying_so(tmp_path: Path):
    (tmp_path / "results").mkdir()
    assert main(["--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 0
    assert 'id="no-results"' in (tmp_path / "out" / "index.html").read_text()
    assert "No results yet" in (tmp_path / "out" / "README.md").read_text()
    assert json.loads((tmp_path / "out" / "results.json").read_text())["groups"] == []


def test_significance_hook_is_shown_beside_the_rank(results: Path):
    calls = []

    def clusters(rows, metric):
        calls.append((tuple(r["system"] for r in rows), metric))
        return {r["system"]: 1 for r in rows}

    rows = rows_by_system(build(read_results(results), significance=clusters))
    assert (("modelA", "sizeonly", "baseline"), "chrf++") in calls
    assert rows["modelA"]["cluster"] == 1


# A minimal DOM, enough for the page's script: elements with children, attributes, classes,
# listeners and text. It runs the script in node (no browser here) and drives it: sort by a
# column, open a row's details, filter to one group. The lead's Chromium test checks the rest.
_FAKE_DOM = r"""
function El(tag, id) { this.tagName = tag; this.id = id || ""; this.children = []; this.attrs = {};
  this.listeners = {}; this._text = ""; this.value = ""; this.style = {}; this.className = "";
  var self = this; this.classList = {add: function (c) { self.className += " " + c; },
                                     remove: function (c) { self.className = self.className.replace(c, ""); }}; }
El.prototype.appendChild = function (c) { this.children.push(c); return c; };
El.prototype.setAttribute = function (k, v) { this.attrs[k] = String(v); if (k === "class") this.className = String(v); };
El.prototype.addEventListener = function (e, f) { (this.listeners[e] = this.listeners[e] || []).push(f); };
El.prototype.fire = function (e) { (this.listeners[e] || []).forEach(function (f) { f(); }); };
El.prototype.all = function (tag) { var out = []; (function walk(n) { n.children.forEach(function (c) {
  if (c.tagName === tag) out.push(c); walk(c); }); })(this); return out; };
El.prototype.querySelectorAll = function (sel) { var m = /^(\w+)(?:\.(\w+))?$/.exec(sel); var all = this.all(m[1]);
  return m[2] ? all.filter(function (c) { return c.className.indexOf(m[2]) >= 0; }) : all; };
Object.defineProperty(El.prototype, "textContent", {
  get: function () { return this._text + this.children.map(function (c) { return c.textContent; }).join(""); },
  set: function (t) { this._text = String(t); this.children = []; }});
var nodes = {};
["groups", "detail", "filter-track", "filter-testset", "filter-lang"].forEach(function (id) { nodes[id] = new El("div", id); });
nodes["leaderboard-data"] = new El("script", "leaderboard-data");
nodes["leaderboard-data"].textContent = require("fs").readFileSync(process.argv[2], "utf8");
var root = new El("html");
root.children = [nodes.groups, nodes.detail];
global.document = {getElementById: function (id) { return nodes[id]; },
  createElement: function (t) { return new El(t); }, createElementNS: function (ns, t) { return new El(t); },
  createTextNode: function (t) { var e = new El("#text"); e._text = String(t); return e; },
  querySelectorAll: function (sel) { return root.querySelectorAll(sel); }};
global.location = {hash: ""};
"""

_DRIVE = r"""
var out = {};
var all = nodes.groups.all("table");
var tables = all.filter(function (t) { return t.attrs["class"] === "board"; });
var speed = all.filter(function (t) { return t.attrs["class"] === "speed"; });
out.tables = tables.length;
out.speed_tables = speed.map(function (t) {
  return {key: t.attrs["data-speed-key"], bodies: t.all("tbody").map(function (b) {
    return {cls: b.className, rows: b.children.map(function (r) { return r.children.map(function (c) { return c.textContent; }); })}; })};
});
out.speed_titles = nodes.groups.all("h3").map(function (h) { return h.textContent; });
out.plots = nodes.groups.all("svg").length;
out.limit_lines = nodes.groups.all("line").filter(function (l) { return l.attrs["class"] === "limit"; }).length;
var first = tables[0], heads = first.all("th");
out.headers = heads.map(function (h) { return h.textContent; });
function systems(t) { return t.all("tbody")[0].children.map(function (r) { return r.children[1].textContent; }); }
out.order = systems(first);
heads[out.headers.indexOf("bytes")].fire("click");
out.by_bytes = systems(first);
first.all("tbody")[0].children[0].fire("click");
out.detail = nodes.detail.textContent;
speed[1].all("tbody")[0].children[0].fire("click");
out.speed_detail = nodes.detail.textContent;
nodes["filter-track"].value = "mini";
nodes["filter-lang"].value = "en-zh";
nodes["filter-lang"].fire("change");
out.filtered = nodes.groups.textContent;
console.log(JSON.stringify(out));
"""


def test_the_page_script_runs_sorts_shows_details_and_filters(results: Path, tmp_path: Path):
    node = node_or_skip()
    render(results, tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    (tmp_path / "data.json").write_text(page_data(page))
    (tmp_path / "run.js").write_text(_FAKE_DOM + page_script(page) + _DRIVE)
    done = subprocess.run([node, str(tmp_path / "run.js"), str(tmp_path / "data.json")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # hyps' group has no verified size: a table, no plot
    assert out["tables"] == 2 and out["plots"] == 1 and out["limit_lines"] == 1
    assert out["headers"][:6] == ["#", "system", "data", "verified", "BLEU", "Δ BLEU"] and "COMET" not in out["headers"]
    assert out["order"] == ["modelA ★", "sizeonly", "baseline"]
    assert out["by_bytes"] == ["baseline", "sizeonly", "modelA ★"]  # first click on a number: largest first
    assert "baseline" in out["detail"] and "8,000,000" in out["detail"] and "Size (storage verdict)" in out["detail"]
    assert "28.00 ±1.50 [26.50, 29.50]" in out["detail"]  # baseline's chrF++ with its interval
    assert out["filtered"] == "No group matches these filters."
    # Speed: the page draws the README's speed tables cell for cell, one per machine, never merged.
    readme = (tmp_path / "out" / "README.md").read_text()
    assert out["speed_titles"] == [line[len("### "):] for line in readme.splitlines() if line.startswith("### Speed")]
    assert len(out["speed_tables"]) == 2
    for table in out["speed_tables"]:
        for row in table["bodies"][0]["rows"]:
            assert "| " + " | ".join(row) + " |" in re.sub(r" +\|", " |", readme), row
    assert [[r[1] for r in t["bodies"][0]["rows"]] for t in out["speed_tables"]] == [["modelA", "baseline"], ["sizeonly"]]
    assert "sizeonly" in out["speed_detail"] and "RTFx runs" in out["speed_detail"] and "88.6, 90.0, 91.4" in out["speed_detail"]
    assert "contended" in out["speed_detail"] and "2.0 % (max 5.0 %)" in out["speed_detail"]


def test_the_command_adds_significance_clusters_from_the_segments_files(results: Path, tmp_path: Path):
    # baseline's and modelA's hypotheses: modelA right on every segment, baseline on none
    refs = [f"der Satz Nummer {i} ist hier" for i in range(12)]
    for system, hyps in (("baseline", ["etwas anderes"] * 12), ("modelA", refs)):
        lines = [json.dumps({"id": str(i), "lang": "de", "reference": r, "hypothesis": h})
                 for i, (r, h) in enumerate(zip(refs, hyps))]
        (results / "mini" / system / "talks_test.segments.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["--results", str(results), "--out", str(tmp_path / "with")]) == 0
    assert main(["--results", str(results), "--out", str(tmp_path / "without"), "--no-significance"]) == 0
    with_ = rows_by_system(json.loads((tmp_path / "with" / "results.json").read_text()))
    without = rows_by_system(json.loads((tmp_path / "without" / "results.json").read_text()))
    if importlib.util.find_spec("harness.scoring.significance") is not None:
        assert (with_["modelA"]["cluster"], with_["baseline"]["cluster"]) == (1, 2)
        assert with_["sizeonly"]["cluster"] is None  # no segments file: not tested, no cluster
    assert all(row["cluster"] is None for row in without.values())


# ---------------------------------------------------------------- intervals and speed

def test_scores_show_their_interval_and_an_old_file_the_bare_value(results: Path, tmp_path: Path):
    board = render(results, tmp_path / "out")
    rows = rows_by_system(board)
    assert rows["modelA"]["metrics"]["chrf++"]["ci95"] == interval(39.5, 1.25)  # copied from the results file
    assert rows["hyps"]["metrics"]["chrf++"]["ci95"] is None  # written before intervals: none invented
    readme = (tmp_path / "out" / "README.md").read_text()
    table_row = {line.split("|")[2].strip(): line for line in readme.splitlines() if line.startswith("| ")}
    assert "| 39.50 ±1.25 |" in table_row["modelA ★"] and "| 20.50 ±1.25 |" in table_row["modelA ★"]
    assert "| 48.00 " in table_row["hyps"] and "±" not in table_row["hyps"]
    assert readme.count("±x beside a score = half width of its 95 % confidence interval") == 1
    assert "1,000 resamples, seed 12345" in readme and "bootstrap of segment means" in readme
    csv_rows = {r["system"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text()))}
    assert (float(csv_rows["modelA"]["chrf++_ci_low"]), float(csv_rows["modelA"]["chrf++_ci_high"])) == (38.25, 40.75)
    assert csv_rows["hyps"]["chrf++_ci_low"] == csv_rows["hyps"]["chrf++_ci_high"] == ""
    assert csv_rows["modelA"]["comet_ci_low"] == ""  # COMET absent: no interval
    page = (tmp_path / "out" / "index.html").read_text()
    assert "±x beside a score = half width of its 95 % confidence interval" in page


def test_a_malformed_interval_is_refused(results: Path):
    data = summary("broken", metrics(1, 2, 3))
    data["languages"]["de"]["metrics"]["bleu"]["ci95"] = {"half_width": "wide"}
    write(results, data)
    with pytest.raises(LeaderboardError, match="languages.de.metrics.bleu.ci95: the required key 'low' is missing"):
        read_results(results)


def test_quality_tables_have_no_speed_and_each_machine_its_own_speed_table(results: Path, tmp_path: Path):
    board = render(results, tmp_path / "out")
    main_group = next(g for g in board["groups"] if len(g["rows"]) == 3)
    # sizeonly is the fastest number, but on other hardware: never ranked with baseline and modelA
    tables = [(t["comparability"]["hardware"], t["ranked"], t["contended"]) for t in main_group["speed_groups"]]
    assert tables == [(HW_A, ["modelA", "baseline"], []), (HW_B, ["sizeonly"], [])]
    assert main_group["speed_groups"][0]["comparability_key"] == speed_block(1.0)["comparability_key"]
    assert main_group["speed_absent"] == [] and main_group["speed_none"] == []
    alone = next(g for g in board["groups"] if len(g["rows"]) == 1)
    assert alone["speed_groups"] == [] and alone["speed_absent"] == [
        {"system": "hyps", "reason": "hypotheses imported: nothing was decoded here"}]
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    first = data["groups"][0]["speed_groups"][0]
    assert set(first) >= {"comparability", "comparability_key", "ranked", "contended"}
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "RTFx" not in readme.split("### Speed", 1)[0]  # the quality table has no speed column
    assert readme.count("### Speed: hardware") == 2
    assert (f"### Speed: hardware {HW_A} · device cpu · backend transformers · dtype float32 · batch size 16 · "
            "processes 1 · torch threads 2") in readme
    assert "Speed absent: hyps (hypotheses imported: nothing was decoded here)." in readme
    rows = {r["system"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text()))}
    a = rows["modelA"]
    assert (a["rtfx"], a["rtfx_spread"], a["batch1_latency_median_seconds"], a["speed_contended"]) == \
        ("50.0", "0.031", "0.25", "False")
    assert a["speed_comparability_key"] == speed_block(1.0)["comparability_key"] and a["peak_rss_bytes"] == str(2**30)
    assert rows["hyps"]["rtfx"] == rows["hyps"]["speed_comparability_key"] == ""


@pytest.fixture
def speed_results(tmp_path: Path) -> Path:
    """One quality group, one machine: fast is fastest but contended, unsampled had no load sampling, mid and
    slow ran alone; legacy predates the speed protocol, imported has no speed (absent)."""
    root = tmp_path / "speed-results"
    for system, speed in (("fast", speed_block(500.0, contended=True)), ("unsampled", speed_block(400.0, contended=None)),
                          ("slow", speed_block(10.0)), ("mid", speed_block(20.0)), ("legacy", LEGACY_SPEED),
                          ("imported", IMPORTED)):
        write(root, summary(system, metrics(10, 30, 28, ci=1.0), speed=speed))
    write(root, summary("nothing", metrics(10, 30, 28, ci=1.0)))  # no speed block at all
    return root


def test_contended_runs_are_listed_not_ranked_and_missing_speed_is_named(speed_results: Path, tmp_path: Path):
    board = render(speed_results, tmp_path / "out")
    (group,) = board["groups"]
    (table,) = group["speed_groups"]
    assert table["ranked"] == ["mid", "slow"]
    assert table["contended"] == ["fast", "unsampled"]
    assert group["speed_absent"] == [{"system": "imported", "reason": "hypotheses imported: nothing was decoded here"}]
    assert group["speed_none"] == ["legacy", "nothing"]  # a pre-protocol figure compares with nothing
    rows = rows_by_system(board)
    assert rows["legacy"]["rtfx"] is None and rows["legacy"]["speed"] is None
    readme = (tmp_path / "out" / "README.md").read_text()
    ranked, _, contended = readme.partition("Measured under contention (not ranked):")
    ranked = ranked.split("### Speed", 1)[1]
    assert "| 1   | mid" in ranked and "| 2   | slow" in ranked and "fast" not in ranked
    contended = contended.split("\n\n", 2)[1]  # the contended table itself
    assert "| fast" in contended and "| unsampled" in contended and "mid" not in contended
    assert "40.0 % (max 60.0 %)" in contended and "not sampled (no /proc on this machine)" in contended
    assert "Speed absent: imported (hypotheses imported: nothing was decoded here)." in readme
    assert "No speed measured: legacy, nothing." in readme
    csv_rows = {r["system"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text()))}
    assert (csv_rows["fast"]["speed_contended"], csv_rows["unsampled"]["speed_contended"]) == ("True", "")


def test_the_page_keeps_contended_runs_in_their_own_body(speed_results: Path, tmp_path: Path):
    node = node_or_skip()
    render(speed_results, tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    (tmp_path / "data.json").write_text(page_data(page))
    (tmp_path / "run.js").write_text(_FAKE_DOM + page_script(page) + _DRIVE.split("var first =", 1)[0]
                                     + "console.log(JSON.stringify(out));\n")
    done = subprocess.run([node, str(tmp_path / "run.js"), str(tmp_path / "data.json")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (table,) = json.loads(done.stdout)["speed_tables"]
    ranked, contended = table["bodies"]
    assert "ranked" in ranked["cls"] and "contended" in contended["cls"]
    assert [row[:2] for row in ranked["rows"]] == [["1", "mid"], ["2", "slow"]]
    assert contended["rows"][0] == ["measured under contention — not ranked"]
    assert [row[:2] for row in contended["rows"][1:]] == [["—", "fast"], ["—", "unsampled"]]


def test_speed_tables_render_byte_identically(speed_results: Path, tmp_path: Path):
    render(speed_results, tmp_path / "one")
    render(speed_results, tmp_path / "two")
    for name in ("README.md", "results.csv", "results.json", "index.html"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_the_page_template_ships_as_package_data():
    import fnmatch
    import tomllib
    from importlib.resources import files

    from harness.leaderboard.render import PAGE_TEMPLATE

    assert (files("harness") / "templates" / PAGE_TEMPLATE).is_file()
    patterns = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["harness"]
    assert any(fnmatch.fnmatch(f"templates/{PAGE_TEMPLATE}", pattern) for pattern in patterns)


# ---------------------------------------------------------------- TER: lower is better

TER_DE = "nrefs:1|case:mixed|tok:tercom|norm:yes|punct:yes|asian:no|version:2.6.0"


def with_ter(ter: float, chrfpp: float) -> dict:
    out = metrics(10.0, 30.0, chrfpp)
    out["ter"] = {"metric": "ter", "value": ter, "signature": TER_DE, "absent_reason": None,
                  "ci95": interval(ter, 1.0)}
    return out


@pytest.fixture
def ter_results(tmp_path: Path) -> Path:
    """Three systems whose TER order is the reverse of their chrF++ order: baseline best by TER (30),
    worst by chrF++; "edits" worst by TER (60), best by chrF++."""
    root = tmp_path / "ter-results"
    for system, ter, chrfpp, size in (("baseline", 30.0, 20.0, 8_000_000), ("middle", 45.0, 30.0, 1_000_000),
                                      ("edits", 60.0, 40.0, 500_000)):
        write(root, summary(system, with_ter(ter, chrfpp), store=storage(size)))
    return root


def test_ter_is_a_column_beside_bleu_and_chrf(ter_results: Path, tmp_path: Path):
    render(ter_results, tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    header = next(line for line in readme.splitlines() if line.startswith("| #"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[4:12] == ["BLEU", "Δ", "chrF", "Δ", "chrF++", "Δ", "TER", "Δ"]
    assert "45.00 ±1.00" in readme and f"TER `{TER_DE}`" in readme and "negative Δ TER is a gain" in readme
    rows = {r["system"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text()))}
    assert float(rows["edits"]["ter"]) == 60.0 and float(rows["edits"]["ter_delta"]) == 30.0
    assert rows["edits"]["ter_signature"] == TER_DE and float(rows["middle"]["ter_ci_low"]) == 44.0


def test_ranking_by_ter_puts_the_lowest_first(ter_results: Path, monkeypatch):
    # No track ranks by TER today (COMET, else chrF); the ranking must still read TER the right way round.
    board = build(read_results(ter_results))
    assert [(r["system"], r["rank"]) for r in board["groups"][0]["rows"]] == [("edits", 1), ("middle", 2),
                                                                              ("baseline", 3)]
    monkeypatch.setattr(leaderboard, "_group_primary", lambda lang, rows: "ter")
    group = build(read_results(ter_results))["groups"][0]
    assert group["primary_metric"] == "ter"
    assert [(r["system"], r["rank"]) for r in group["rows"]] == [("baseline", 1), ("middle", 2), ("edits", 3)]
    # The Pareto front by TER: smaller and lower-TER points, each beaten by none (all three here).
    assert {r["system"] for r in group["rows"] if r["pareto"]} == {"baseline", "middle", "edits"}
    write(ter_results, summary("worse", with_ter(70.0, 10.0), store=storage(9_000_000)))
    rows = {r["system"]: r for r in build(read_results(ter_results))["groups"][0]["rows"]}
    assert rows["worse"]["rank"] == 4 and not rows["worse"]["pareto"]  # larger and more edits: dominated


_DRIVE_TER = r"""
var out = {};
var table = nodes.groups.all("table").filter(function (t) { return t.attrs["class"] === "board"; })[0];
var heads = table.all("th"), labels = heads.map(function (h) { return h.textContent; });
function column(i) { return table.all("tbody")[0].children.map(function (r) { return r.children[i].textContent; }); }
function systems() { return column(1); }
out.headers = labels;
heads[labels.indexOf("TER")].fire("click");
out.by_ter = systems();
heads[labels.indexOf("chrF++")].fire("click");
out.by_chrfpp = systems();
var delta = labels.indexOf("Δ TER");
out.ter_delta_classes = table.all("tbody")[0].children.map(function (r) {
  return [r.children[1].textContent, r.children[delta].className]; });
console.log(JSON.stringify(out));
"""


def test_the_page_sorts_ter_lowest_first_and_colours_its_delta_the_right_way(ter_results: Path, tmp_path: Path):
    node = node_or_skip()
    render(ter_results, tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    (tmp_path / "data.json").write_text(page_data(page))
    (tmp_path / "run.js").write_text(_FAKE_DOM + page_script(page) + _DRIVE_TER)
    done = subprocess.run([node, str(tmp_path / "run.js"), str(tmp_path / "data.json")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "TER" in out["headers"] and "Δ TER" in out["headers"]
    assert out["by_ter"][0].startswith("baseline") and out["by_ter"][-1].startswith("edits")  # first click: best
    assert out["by_chrfpp"][0].startswith("edits")
    # More edits than the base is worse (the "neg" colour), though the difference is positive.
    classes = {system.split(" ")[0]: cls for system, cls in out["ter_delta_classes"]}
    assert classes["edits"] == classes["middle"] == "neg" and classes["baseline"] == ""
