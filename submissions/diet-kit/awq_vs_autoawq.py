"""harness.stages.awq's scale search against autoawq's (AwqQuantizer._search_best_scale), on the same layers.

Issue 8 asks that our AWQ search, written from Lin et al. (MLSys 2024), find the scales
autoawq finds. autoawq is archived and pins old torch / transformers, so it cannot live
in the project's environment; it runs beside it in a throwaway venv that sees the
project's packages (no second torch is downloaded):

    python3 -m venv /tmp/awqvenv
    .venv/bin/python -c "import site; print(site.getsitepackages()[0])" > /tmp/awqvenv/lib/python3.11/site-packages/project.pth
    /tmp/awqvenv/bin/pip install --no-deps autoawq==0.2.9
    /tmp/awqvenv/bin/python submissions/diet-kit/awq_vs_autoawq.py        # needs make data (talks_dev)

Same weights, same calibration inputs (16 talks_dev clips through the mini base; and a
synthetic layer with four outlier channels); autoawq with duo_scaling=False (the paper's
s = s_X^alpha: its default also divides by a weight-magnitude term) and zero_point=True;
each comparison once with autoawq's own quantizer and once with ours (the HQQ grid).
Measured (2026-11-24): 40 of 40 comparisons choose the same alpha; scales differ by at most 2.4e-7 (relative).
"""
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
import awq as autoawq_pkg
from awq.quantize.quantizer import AwqQuantizer
from harness.stages import awq as ours
from harness.systems.models import load_system
from harness.data.testsets import load_testset
from harness.inference.decode import Prompt, build_prompt, prepare_batch

torch.set_num_threads(1)
print("autoawq", autoawq_pkg.__version__, "torch", torch.__version__)


def autoawq_search(prev, linears, x, bits, group_size, quantizer=None):
    q = AwqQuantizer.__new__(AwqQuantizer)  # only the attributes the search reads
    q.w_bit, q.group_size, q.zero_point, q.duo_scaling = bits, group_size, True, False
    q.max_chunk_memory, q.n_parallel_calib_samples = 1024 ** 3, None
    if quantizer is not None:
        q.pseudo_quantize_tensor = lambda w: (quantizer(w), None, None)

    class Concat(torch.nn.Module):  # the group's outputs side by side: the paper's objective for shared-input linears
        def __init__(self):
            super().__init__()
            self.prev, self.fcs = prev, torch.nn.ModuleList(linears)

        def forward(self, h):
            return torch.cat([fc(h) for fc in self.fcs], dim=-1)

    container = Concat()
    inspect = container if len(linears) > 1 else None
    _, _, scales = q._search_best_scale(container, prev, linears, x, module2inspect=inspect)
    return scales.float()


def nearest_alpha(scales, mean_abs):
    return min((i / 20 for i in range(20)), key=lambda a: float((ours.grid_scales(mean_abs, a) - scales).abs().max()))


def compare(label, prev, linears, x, bits, group_size, round_zero, patch):
    quantizer = (lambda w: ours.pseudo_quantize(w, bits, group_size, round_zero=round_zero)) if patch else None
    theirs = autoawq_search(prev, linears, x, bits, group_size, quantizer)
    stats = ours.InputStats.from_inputs(x)
    alpha, scales, losses = ours.search_linear_group([l.weight for l in linears], stats,
                                                     [(bits, group_size)] * len(linears), round_zero=round_zero)
    their_alpha = nearest_alpha(theirs, stats.mean_abs)
    diff = float(((scales - theirs).abs() / theirs).max())
    gap = sorted(losses)[1] / sorted(losses)[0] - 1
    print(f"{label:38s} {bits}-bit g{group_size:<3d} quantizer={'ours (hqq grid)' if patch else 'autoawq':16s} "
          f"alpha ours {alpha:.2f} autoawq {their_alpha:.2f}  max rel scale diff {diff:.1e}  "
          f"runner-up loss gap {gap:.1e}  {'SAME' if alpha == their_alpha and diff < 1e-5 else 'DIFFERENT'}")
    return alpha == their_alpha and diff < 1e-5


# Real layers of the mini base, activations of 16 talks_dev clips (prompt + audio, no targets).
system = load_system(REPO / "models" / "mini-base", "de")
model, processor = system.model, system.processor
dev = load_testset(REPO / "testsets" / "mini" / "talks_dev")
clips = [u.audio() for u in dev.utterances[:16]]
prompt = Prompt(processor, build_prompt(processor, "de", "instruct"))
inputs = prepare_batch(processor, prompt, clips, processor.tokenizer.pad_token_id)
mask = inputs["attention_mask"]
inputs["position_ids"] = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
captured, handles = {}, []
for group in ours.scale_groups(model):
    handles.append(model.get_submodule(group.linears[0]).register_forward_pre_hook(
        lambda m, a, g=group: captured.__setitem__(g, a[0][mask.bool()].detach().clone())))
with torch.no_grad():
    model(**inputs)
for h in handles:
    h.remove()
print("tokens", next(iter(captured.values())).shape[0])

results = []
for group, x in captured.items():
    if group.layer not in (0, 5, 11):
        continue
    prev = model.get_submodule(group.prev)
    linears = [model.get_submodule(n) for n in group.linears]
    width = x.shape[1]
    g = 32 if width % 32 == 0 else 48  # autoawq groups within rows: the width must be a multiple
    for bits in (4, 3):
        results.append(compare(f"mini-base {group}", prev, linears, x, bits, g, True, False))
        results.append(compare(f"mini-base {group}", prev, linears, x, bits, g, bits == 4, True))

# A synthetic layer with four outlier input channels.
gen = torch.Generator().manual_seed(0)
lin = torch.nn.Linear(128, 96, bias=False)
with torch.no_grad():
    lin.weight.copy_(torch.randn(96, 128, generator=gen) * 0.02)
x = torch.randn(512, 128, generator=gen)
x[:, [3, 40, 77, 101]] *= 30
norm = torch.nn.LayerNorm(128)
for bits in (4, 3):
    results.append(compare("synthetic outlier layer", norm, [lin], x, bits, 64, True, False))
    results.append(compare("synthetic outlier layer", norm, [lin], x, bits, 64, bits == 4, True))
print(f"{sum(results)} of {len(results)} comparisons choose the same alpha and scales")
