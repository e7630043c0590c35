"""diet-kit's reproduction report: Liu et al. (IWSLT 2026) sequential table and Table 4, rebuilt.

Walks diet-kit's stages over the stage cache (running any that are missing), adds the
systems the paper compares against (the 3-bit MLPs of Table 4 chosen as the first, last,
middle or random n instead of by sensitivity; 3 bit everywhere; a 2-bit LM head),
evaluates every one with the harness's own eval on the track's talks test set, and
writes ``REPORT.md`` and ``REPORT.json`` beside this file. Nothing is typed: scores,
sizes, the chosen layers and the sensitivity ranking come from the results and the
stage records.

    python submissions/diet-kit/report.py [--track mini]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from harness.inference.decode import DecodeSettings
from harness.scoring.metrics import CHRF_FOR
from harness.evaluation.evaluate import evaluate_rows
from harness.evaluation.report import ReportRow, RowResult, render_markdown, resolve_testset, write_report
from harness.stages import diet_kit as diet
from harness.stages.base import StageError
from harness.stages.recipe import MODEL, open_recipe

HERE = Path(__file__).resolve().parent
# The paper's test set (ACL talks) and, on the mini track, the general domain too: the
# mini base barely translates talks (chrF 15 / 3.5), so quantization's effect shows on general_test.
TESTSETS = {"mini": ("talks_test", "general_test"), "iwslt2025": ("acl6060_test",), "iwslt2026": ("acl6060_test",)}
RANDOM_SEEDS = (0, 1, 2)  # Table 4: "random 4 (mean of 3)"


def table4_choice(record: dict, mlp_order: list[int], layers: int) -> list[int]:
    """The MLPs Table 4 compares: the plan's MLPs at 3 bit, or, where the plan takes none or
    all of them (then every selection is the same), the paper's share (4 of 32 layers), least sensitive first."""
    chosen = [m["layer"] for m in record["moves"] if m["kind"] == "mlp" and m["bits"] == 3]
    if 0 < len(chosen) < layers:
        return chosen
    return mlp_order[:max(1, round(layers * 4 / 32))]


def plans(recipe, chosen: list[int], layers: int) -> dict[str, tuple[str, object]]:
    """Every quantization the report shows: label -> (plan name, plan)."""
    from harness.stages.hqq import LM_HEAD, QuantSpec, paper_plan, with_mlp3
    from harness.stages.sensitivity import fixed_selection

    table = recipe.config["quantize"]
    group = int(table.get("group_size", 128))
    step3 = diet.base_plan(recipe)
    n = len(chosen)
    rows = {
        "1: HQQ 4 bit, g64 (embedding in float)": ("4bit-g64", paper_plan(64, embedding_bits=None)),
        "2: + input embedding 2 bit": ("4bit-emb2-g64", paper_plan(64, embedding_bits=2)),
        f"3: group size {group}": ("4bit-emb2-g128", step3),
    }
    ablation = {f"Table 4: sensitivity-selected {n} {chosen}": ("mlp3-selected", with_mlp3(step3, chosen) if n else step3)}
    for kind in ("first", "last", "middle"):
        picked = fixed_selection(kind, n, layers)
        ablation[f"Table 4: {kind} {n} {picked}"] = (f"mlp3-{kind}", with_mlp3(step3, picked) if n else step3)
    for seed in RANDOM_SEEDS:
        picked = fixed_selection("random", n, layers, seed=seed)
        ablation[f"Table 4: random {n} (seed {seed}) {picked}"] = (f"mlp3-random{seed}",
                                                                   with_mlp3(step3, picked) if n else step3)
    three = QuantSpec(3, group)
    extra = {
        "3 bit everywhere (g128, embedding 2 bit)": ("3bit-everywhere", tuple(
            (pattern, three if spec is not None and spec.bits == 4 else spec) for pattern, spec in step3)),
        "LM head at 2 bit (on step 3)": ("head2", ((LM_HEAD, QuantSpec(2, group)),) + tuple(
            rule for rule in step3 if rule[0] != LM_HEAD)),
    }
    return {"sequential": rows, "ablation": ablation, "extra": extra}


def mean_row(label: str, results: list[RowResult], langs) -> RowResult:
    """The mean of several rows' metric values (same metrics, same signatures) and sizes."""
    mean = RowResult(ReportRow(label, {}, note="mean"))
    for lang in langs:
        mean.metrics[lang] = {}
        for metric, first in results[0].metrics[lang].items():
            values = [r.metrics[lang][metric]["value"] for r in results]
            mean.metrics[lang][metric] = dict(first, value=None if None in values else statistics.fmean(values))
        mean.size[lang] = {"bytes": round(statistics.fmean(r.size[lang]["bytes"] for r in results)),
                           "logical_params": results[0].size[lang]["logical_params"]}
    return mean


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--out", type=Path, default=HERE / "REPORT.md")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--testset", type=Path, action="append",
                        help="a test set name or segmented set folder (repeatable; default: the track's, see TESTSETS)")
    parser.add_argument("--config", type=Path, help="default: submissions/diet-kit/config/<track>.toml")
    parser.add_argument("--work", type=Path, help="the stage cache (default: build/<track>/cache)")
    args = parser.parse_args(argv)
    try:
        recipe = open_recipe("diet-kit", track=args.track, config=args.config, work=args.work)
        langs = recipe.langs
        base = recipe.base()
        merged = diet.lora_general(recipe, base)
        step3 = diet.hqq(recipe, merged, diet.base_plan(recipe), "4bit-emb2-g128")
        rungs = diet.sensitivities(recipe, merged)
        plan, record = diet.fitting_plan(recipe, merged, step3, rungs)
        final = diet.hqq(recipe, diet.awq(recipe, merged, plan), plan, "final")
        size = diet.require_under_limit(recipe, final)
        sensitivity = rungs[0][2]  # the paper's rung: the MLPs at 3 bit
        sens = json.loads((sensitivity.path / diet.SENSITIVITY_FILE).read_text())  # read once (diet.ranking's file)
        layers = len(sens["ranking"])
        chosen = table4_choice(record, sens["ranking"], layers)
        table = plans(recipe, chosen, layers)
        n = len(chosen)
        moves = {}
        for move in record["moves"]:
            moves.setdefault(f"{move['kind']} {move['bits']} bit", []).append(move["layer"])
        chosen_label = "4: + " + ("; ".join(f"{kind} {layers_}" for kind, layers_ in moves.items()) or "no move") \
            + " (sensitivity)"
        sequential = [ReportRow("Base (float)", {lang: base.path for lang in langs}),
                      ReportRow("0: LoRA fine-tune, merged (float)", {lang: merged.path / MODEL for lang in langs})]
        for label, (name, quant) in table["sequential"].items():
            stage = step3 if name == "4bit-emb2-g128" else diet.hqq(recipe, merged, quant, name)
            sequential.append(ReportRow(label, {lang: stage.path / MODEL for lang in langs}))
        fitted = diet.hqq(recipe, merged, plan, "fitted")
        sequential.append(ReportRow(chosen_label, {lang: fitted.path / MODEL for lang in langs}))
        sequential.append(ReportRow("5: + AWQ (the submission)", {lang: final.path / MODEL for lang in langs}))
        ablation = []
        for label, (name, quant) in {**table["ablation"], **table["extra"]}.items():
            stage = diet.hqq(recipe, merged, quant, name)
            ablation.append(ReportRow(label, {lang: stage.path / MODEL for lang in langs}, note=name))

        settings = DecodeSettings(max_new_tokens=recipe.track.max_new_tokens, batch_size=args.batch_size)
        specs = [resolve_testset(recipe.track, name) for name in (args.testset or TESTSETS[args.track])]
        results_root = recipe.cache.root.parent / "reports" / "diet-kit"
        evaluated = {}
        for spec in specs:
            # One call per test set (it is loaded and hash-verified once), sequential rows first.
            rows = evaluate_rows(sequential + ablation, recipe.track, spec, results_root=results_root,
                                 settings=settings)
            evaluated[spec.name] = (rows[:len(sequential)], rows[len(sequential):])
    except (StageError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lines = [f"# diet-kit reproduction report ({args.track} track)", "",
             f"Generated by `python submissions/diet-kit/report.py --track {args.track}` from the stage cache and the "
             f"harness's eval; do not edit by hand. The paper: Liu, Koneru and Niehues, IWSLT 2026 (see README.md).",
             "", f"The submission: {size:,} bytes against the limit of {record['limit_bytes']:,} "
             f"(step 3: {record['step3_bytes']:,} bytes; the ladder {record['ladder']} moved "
             f"{len(record['moves'])} layer blocks, estimated {record['estimated_bytes']:,} bytes before AWQ).", ""]
    for testset, (seq_results, abl_results) in evaluated.items():
        randoms = [r for r in abl_results if r.row.note.startswith("mlp3-random")]
        shown = [r for r in abl_results if not r.row.note.startswith("mlp3-random")]
        if randoms:
            shown.insert(4, mean_row(f"Table 4: random {n} (mean of {len(randoms)} seeds)", randoms, langs))
        lines += [f"## The sequential pipeline on {testset}", "",
                  render_markdown(seq_results, langs=langs, testset=testset),
                  f"## Table 4 on {testset}: which {n} MLPs go to 3 bit (on top of step 3), and two more "
                  f"quantizations", "",
                  render_markdown(shown, langs=langs, testset=testset),
                  "Random rows: " + "; ".join(f"{r.row.label}: " + ", ".join(
                      f"{lang} {r.value(lang, CHRF_FOR[lang]):.2f}" for lang in langs) for r in randoms), ""]
    lines += ["## Sensitivity (step 4)", "",
              f"Teacher-forced cross-entropy on `{recipe.dataset('dev', langs[0]).testset.name}` "
              f"({sens['examples']} examples, {sens['tokens']} target tokens), one layer's MLP at {sens['bits']} bit "
              f"(group {sens['group_size']}): baseline {sens['baseline_loss']:.4f}.", "",
              "| layer | loss | change |", "|---|---|---|"]
    lines += [f"| {s['layer']} | {s['loss']:.4f} | {s['delta']:+.4f} |" for s in sens["layers"]]
    lines += ["", f"Ranking, least sensitive first: {sens['ranking']}; Table 4 compares {chosen}."]
    for kind, bits, stage in rungs[1:]:
        lines.append(f"Rung {kind} at {bits} bit: ranking {diet.ranking(stage)}.")
    data = {"track": args.track, "plan": record, "sensitivity": sens, "decode": settings.as_dict(),
            "testsets": {testset: {"sequential": [r.as_dict() for r in seq], "ablation": [r.as_dict() for r in abl]}
                         for testset, (seq, abl) in evaluated.items()}}
    write_report(args.out, "\n".join(lines) + "\n", data)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
