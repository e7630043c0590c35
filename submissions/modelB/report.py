"""modelB's reproduction report: Moslem (IWSLT 2025) Table 2 and the middle-layer ablation, rebuilt.

Walks the stages of modelA's and modelB's recipes over the shared stage cache (running
any that are missing, reusing the rest), evaluates each step's system on the track's
talks test set with the harness's own eval, and writes ``REPORT.md`` and
``REPORT.json`` beside this file (``--out`` to write elsewhere). Nothing is typed:
scores, sizes, chosen layers, round scores and stage wall times come from the results
and stage records; the paper's numbers are quoted from its Table 2 to compare shapes.

    python submissions/modelB/report.py [--track mini] [--lang de|zh|both]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.inference.decode import DecodeSettings
from harness.scoring.metrics import CHRF_FOR, METRIC_LABEL
from harness.evaluation.evaluate import evaluate_rows
from harness.evaluation.report import ReportRow, render_markdown, resolve_testset, write_report
from harness.stages.base import StageError
from harness.stages.recipe import MODEL, open_recipe

HERE = Path(__file__).resolve().parent
TESTSET = {"mini": "talks_test", "iwslt2025": "acl6060_test", "iwslt2026": "acl6060_test"}

# Moslem (IWSLT 2025), Table 2, ACL 60/60 test (BLEU, chrF++ DE / chrF ZH), and GB as reported.
PAPER = {
    "base": {"de": 49.88, "zh": 32.53, "gb": 16.79},
    "teacher": {"de": 65.27, "zh": 52.54, "gb": 16.79},
    "A": {"de": 68.02, "zh": 53.94, "gb": 9.64},
    "pruned": {"de": 39.58, "zh": 36.92, "gb": 13.55},
    "pruned_ft": {"de": 60.39, "zh": 47.23, "gb": 13.55},
    "B": {"de": 65.14, "zh": 50.74, "gb": 8.65},
}
PAPER_MIDDLE_ZH_BLEU = 1.3  # the ablation's one reported number (layers 12-19 pruned)


def stage_rows(track: str, langs: tuple[str, ...], *, config_a=None, config_b=None, work=None,
               log=print) -> tuple[list[ReportRow], dict]:
    """Every step of Table 2 plus the ablation, per direction; the stages run where missing."""
    recipe_a = open_recipe("modelA", track=track, langs=langs, config=config_a, work=work, log=log)
    recipe_b = open_recipe("modelB", track=track, langs=langs, config=config_b, work=work, log=log)
    base = recipe_b.base()
    steps: dict[str, dict] = {}
    for lang in langs:
        teacher = recipe_b.teacher(lang, base)
        kd = recipe_b.distill(lang, teacher)
        pruned = recipe_b.prune(lang, teacher)
        middle = recipe_b.prune(lang, teacher, layers="middle")
        teacher_a = recipe_a.teacher(lang, base)  # the same stage as B's where the configs agree
        pruned_ft = recipe_b.finetune_kd(lang, pruned, kd)
        steps[lang] = {
            "base": base,
            "teacher": teacher,
            "A": recipe_a.qlora(lang, teacher_a, recipe_a.distill(lang, teacher_a)),
            "teacher_nf4": recipe_a.nf4(lang, teacher_a),
            "pruned": pruned,
            "pruned_ft": pruned_ft,
            "B": recipe_b.qlora(lang, pruned_ft, kd, general=recipe_b.general_sample(lang)),
            "middle": middle,
            "middle_ft": recipe_b.finetune_kd(lang, middle, kd),
        }
    remove, of = recipe_b.config["prune"]["remove"], recipe_b.config["prune"].get("of")
    labels = {
        "base": "Base",
        "teacher": "+ full FT (teacher)",
        "teacher_nf4": "(teacher in nf4, no adapter)",
        "A": "A: + QLoRA + KD",
        "pruned": f"pruned {remove} of {of}, no FT",
        "pruned_ft": "pruned + FT",
        "B": "B: + KD + QLoRA + general",
        "middle": f"ablation: middle {remove} pruned, no FT",
        "middle_ft": f"ablation: middle {remove} pruned + FT",
    }

    def folder(output, step):
        return output.path if step == "base" else output.path / MODEL

    rows = [ReportRow(label, {lang: folder(steps[lang][step], step) for lang in langs}, note=step)
            for step, label in labels.items()]
    return rows, {"steps": steps, "recipe": recipe_b, "labels": labels}


def _stage_record(output) -> dict:
    marker = output.path / "stage.json"
    return json.loads(marker.read_text()) if marker.is_file() else {}


def pruning_section(steps: dict, langs) -> list[str]:
    lines = ["## Chosen layers (greedy search on the dev split)", ""]
    for lang in langs:
        record = json.loads((steps[lang]["pruned"].path / MODEL / "pruning.json").read_text())
        lines.append(f"**en-{lang}**: removed {record['removed']} (original indices, in order) of "
                     f"{record['num_layers']}; {record['metric']} on {record['utterances']} utterances of "
                     f"`{record['selection']['name']}`; no layer removed: {record['baseline']:.2f}; "
                     f"search {record['seconds']:.0f} s.")
        lines.append("")
        lines.append("| round | removed | score | every candidate's score |")
        lines.append("|---|---|---|---|")
        for r in record["rounds"]:
            scores = ", ".join(f"{c['layer']}: {c['score']:.2f}" for c in r["candidates"])
            lines.append(f"| {r['round']} | {r['removed']} | {r['score']:.2f} | {scores} |")
        middle = json.loads((steps[lang]["middle"].path / MODEL / "pruning.json").read_text())
        lines.append("")
        lines.append(f"Ablation (en-{lang}): the middle block {middle['removed']}.")
        lines.append("")
    return lines


def timing_section(steps: dict, langs) -> list[str]:
    lines = ["## Stage wall times (as recorded when each stage ran)", "",
             "| stage | " + " | ".join(f"en-{lang} (s)" for lang in langs) + " |",
             "|---|" + "---|" * len(langs)]
    for step in ("teacher", "teacher_nf4", "A", "pruned", "pruned_ft", "B", "middle", "middle_ft"):
        cells = []
        for lang in langs:
            record = _stage_record(steps[lang][step])
            cells.append(f"{record['seconds']:.0f}" if "seconds" in record else "?")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("The KD data (distill stage) and the general-domain sample are not listed: "
                 "seconds to a minute each.")
    return lines


def shape_section(by_step: dict, langs) -> list[str]:
    """The paper's qualitative claims, each checked on our numbers beside the paper's."""
    def chrf(step, lang):
        return by_step[step].value(lang, CHRF_FOR[lang])

    lines = ["## Shapes against the paper", "",
             "| claim | direction | ours | paper | same shape |", "|---|---|---|---|---|"]
    for lang in langs:
        paper = {step: PAPER[step][lang] for step in PAPER}
        metric = METRIC_LABEL[CHRF_FOR[lang]]
        checks = []
        ours_drop = chrf("pruned", lang) - chrf("teacher", lang)
        checks.append((f"pruning without FT drops sharply ({metric}, pruned - teacher)", ours_drop,
                       paper["pruned"] - paper["teacher"], ours_drop <= -5, "{:+.2f}"))
        gap = chrf("teacher", lang) - chrf("pruned", lang)
        ours_rec = (chrf("pruned_ft", lang) - chrf("pruned", lang)) / gap if gap > 0 else float("nan")
        paper_rec = (paper["pruned_ft"] - paper["pruned"]) / (paper["teacher"] - paper["pruned"])
        checks.append(("FT recovers most of the drop (share recovered)", ours_rec, paper_rec, ours_rec >= 0.5,
                       "{:.0%}"))
        ours_a = chrf("A", lang) - chrf("teacher", lang)
        checks.append((f"A near or above the teacher ({metric}, A - teacher)", ours_a,
                       paper["A"] - paper["teacher"], ours_a >= -1.0, "{:+.2f}"))
        ours_q = chrf("teacher_nf4", lang) - chrf("teacher", lang)
        checks.append((f"where A's gap comes from: nf4 alone ({metric}, teacher in nf4 - teacher)", ours_q, None,
                       None, "{:+.2f}"))
        ours_b = chrf("B", lang) - chrf("pruned_ft", lang)
        checks.append((f"KD + QLoRA + general lifts the pruned model ({metric}, B - pruned+FT)", ours_b,
                       paper["B"] - paper["pruned_ft"], ours_b > 0, "{:+.2f}"))
        base_bf16 = 2 * by_step["base"].size[lang]["logical_params"]
        ratio = by_step["B"].size[lang]["bytes"] / base_bf16
        checks.append(("B about half the base's bytes (B bytes / base bytes in bf16)", ratio,
                       PAPER["B"]["gb"] / PAPER["base"]["gb"], 0.35 <= ratio <= 0.65, "{:.2f}"))
        ours_mid = chrf("middle_ft", lang) - chrf("pruned_ft", lang)
        checks.append((f"middle-layer pruning is worse than greedy, after FT ({metric}, middle - greedy)",
                       ours_mid, None, ours_mid < 0, "{:+.2f}"))
        for claim, ours, theirs, same, fmt in checks:
            if theirs is not None:
                shown_theirs = fmt.format(theirs)
            elif claim.startswith("middle"):
                shown_theirs = f"collapse (ZH BLEU {PAPER_MIDDLE_ZH_BLEU})"
            else:
                shown_theirs = "not reported"
            verdict = "-" if same is None else "yes" if same else "no"
            lines.append(f"| {claim} | en-{lang} | {fmt.format(ours)} | {shown_theirs} | {verdict} |")
    lines.append("")
    lines.append("'Same shape' rules (ours): a drop of at least 5 points; at least half recovered; A at most 1 "
                 "point below the teacher; B above pruned + FT; B between 0.35 and 0.65 of the base's bf16 bytes; "
                 "middle below greedy. The paper's byte ratio is 8.65 / 16.79 GB.")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--lang", choices=("de", "zh", "both"), default="both")
    parser.add_argument("--out", type=Path, default=HERE / "REPORT.md")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--testset", type=Path, help="a segmented set folder (default: the track's talks test set)")
    parser.add_argument("--config-a", type=Path, help="modelA's config (default: submissions/modelA/config/<track>.toml)")
    parser.add_argument("--config-b", type=Path, help="modelB's config (default: submissions/modelB/config/<track>.toml)")
    parser.add_argument("--work", type=Path, help="the stage cache (default: build/<track>/cache)")
    args = parser.parse_args(argv)
    langs = ("de", "zh") if args.lang == "both" else (args.lang,)
    try:
        rows, context = stage_rows(args.track, langs, config_a=args.config_a, config_b=args.config_b, work=args.work)
        track = context["recipe"].track
        settings = DecodeSettings(max_new_tokens=track.max_new_tokens, batch_size=args.batch_size)
        spec = resolve_testset(track, args.testset or TESTSET[args.track])
        testset = spec.name
        results_root = context["recipe"].cache.root.parent / "reports" / "modelB"
        evaluated = evaluate_rows(rows, track, spec, results_root=results_root, settings=settings, langs=langs)
    except (StageError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    by_step = {result.row.note: result for result in evaluated}
    steps = context["steps"]
    lines = [f"# modelB reproduction report ({args.track} track)", "",
             f"Generated by `python submissions/modelB/report.py --track {args.track}` from the stage cache and "
             f"the harness's eval; do not edit by hand. The paper: Moslem, IWSLT 2025, Table 2 "
             f"(ACL 60/60 test; see README.md).", "",
             "## Table 2, reproduced", "",
             render_markdown(evaluated, langs=langs, testset=testset)]
    lines += shape_section(by_step, langs) + [""]
    lines += pruning_section(steps, langs)
    lines += timing_section(steps, langs)
    data = {"track": args.track, "testset": testset, "rows": [r.as_dict() for r in evaluated],
            "paper": PAPER, "decode": settings.as_dict()}
    write_report(args.out, "\n".join(lines) + "\n", data)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
