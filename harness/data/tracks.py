"""Tracks: a base model, language pairs, test sets, metrics and a size rule.

The rules are the IWSLT Model Compression task's (organizers' pages, summarised in
Moslem, IWSLT 2025, and Liu et al., IWSLT 2026):
  2026: at most 4 GB on disk (decimal GB; the harness counts every file, harness.systems.storage);
  2025: size bins by storage S: Bin1 2 <= S < 4 GB, Bin2 1-2 GB, Bin3 0.5-1 GB,
        Bin4 200-500 MB, Bin5 < 200 MB; a model exactly on a boundary goes to the
        higher bin, so each bin includes its lower bound.
The mini track scales both to its own base: a limit is the same share of the
base's bf16 bytes as 4 GB is of Qwen2-Audio-7B's 16.79 GB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from harness import REPO
from harness.data.hub import HUB_REVISIONS
from harness.errors import HarnessError

GB = 10**9
# The uncompressed base every track's systems are compared against (the leaderboard's Δ).
BASE_SYSTEM = "baseline"

QWEN2_AUDIO_7B_BF16_BYTES = 16_790_000_000  # papers.md: 8.40 B parameters, 16.79 GB in bf16
QWEN2_AUDIO_7B_PARAMS = 8_400_000_000


@dataclass(frozen=True)
class SizeBin:
    name: str
    lower_bytes: int            # inclusive: a model on the boundary belongs here (the higher bin)
    upper_bytes: int | None     # exclusive; None = no upper bound


@dataclass(frozen=True)
class SizeRule:
    """What a compressed system must fit, and what its reductions are measured against."""

    limit_bytes: int                      # the 2026 rule: on-disk bytes must be <= this
    bins: tuple[SizeBin, ...]             # the 2025 bins, largest first
    reference_bytes: int                  # the uncompressed base in bf16
    reference_params: int
    source: str                           # where the numbers come from

    def bin_of(self, size_bytes: int) -> SizeBin | None:
        for size_bin in self.bins:
            if size_bytes >= size_bin.lower_bytes and (size_bin.upper_bytes is None or size_bytes < size_bin.upper_bytes):
                return size_bin
        return None

    def complies(self, size_bytes: int) -> bool:
        return size_bytes <= self.limit_bytes


def _bins(scale: float) -> tuple[SizeBin, ...]:
    """The 2025 bins, with every boundary multiplied by `scale` (1.0 on the 7B tracks)."""
    edges = [("Bin1", 2 * GB, 4 * GB), ("Bin2", 1 * GB, 2 * GB), ("Bin3", GB // 2, 1 * GB),
             ("Bin4", 200 * 10**6, GB // 2), ("Bin5", 0, 200 * 10**6)]
    return tuple(SizeBin(name, round(low * scale), round(high * scale)) for name, low, high in edges)


def scaled_rule(reference_bytes: int, reference_params: int) -> SizeRule:
    """The 2026 limit and 2025 bins scaled to a base of `reference_bytes` (bf16)."""
    scale = reference_bytes / QWEN2_AUDIO_7B_BF16_BYTES
    return SizeRule(limit_bytes=round(4 * GB * scale), bins=_bins(scale), reference_bytes=reference_bytes,
                    reference_params=reference_params,
                    source=f"4 GB / 16.79 GB of the base's bf16 bytes ({reference_bytes} bytes)")


REAL_RULE = SizeRule(limit_bytes=4 * GB, bins=_bins(1.0), reference_bytes=QWEN2_AUDIO_7B_BF16_BYTES,
                     reference_params=QWEN2_AUDIO_7B_PARAMS,
                     source="IWSLT 2026 4 GB limit; IWSLT 2025 bins (organizers' pages)")


HUB_SOURCES = ("acl6060",)   # test-set sources read from the hub (the others are local folders)


def is_hub_id(name: str | None) -> bool:
    """A hub id ("owner/name", or a bare canonical name such as xlm-roberta-large), not a folder."""
    return bool(name) and not name.startswith(("./", "/", "~")) and not (REPO / name).exists()


def hub_revisions(track: "Track") -> dict[str, dict]:
    """Every hub id the track reads, by role, with the commit it is read at (None: unpinned)."""
    named = {"base_model": (track.base_model, track.base_revision),
             "comet_model": (track.comet_model, HUB_REVISIONS.get(track.comet_model or ""))}
    named.update({f"testset:{spec.name}": (spec.location, spec.revision or HUB_REVISIONS.get(spec.location))
                  for spec in track.testsets
                  if spec.source in HUB_SOURCES})
    return {role: {"id": hub_id, "revision": revision} for role, (hub_id, revision) in named.items()
            if hub_id and is_hub_id(hub_id)}


@dataclass(frozen=True)
class TestSetSpec:
    name: str
    source: str                 # "local": a folder in our layout; "acl6060": the hub's ACL 60/60 test split;
                                # "iwslt-layout": a folder in the organizers' layout (harness.data.iwslt_layout)
    location: str               # folder (relative to the repo), hub dataset id, or (iwslt-layout) the
                                # environment variable that names the folder
    languages: tuple[str, ...] = ("de", "zh")
    revision: str | None = None


@dataclass(frozen=True)
class Track:
    name: str
    base_model: str             # local folder (relative to the repo) or hub id
    base_revision: str | None
    prompt: str                 # "instruct" (Moslem 2025) or "base" (Liu et al. 2026)
    languages: tuple[str, ...]
    testsets: tuple[TestSetSpec, ...]
    metrics: tuple[str, ...]
    comet_model: str | None     # hub id or local path; None = COMET reported absent
    size_rule: SizeRule | None  # None = scaled from the base when it is first measured (mini)
    max_new_tokens: int = 256
    notes: str = ""


MINI_SETS = ("general_test", "talks_test", "accent_test", "noisy_test", "longform_test")

# The IWSLT 2026 compression track's official test sets (organizers' pages): long-form audio in
# the organizers' layout (harness.data.iwslt_layout), six en-de and five en-zh (accent is en-de only).
# They are distributed to participants, not on the hub: each is read from the folder an
# environment variable names (e.g. IWSLT2026_ACL=/data/iwslt2026/ACL).
IWSLT2026_SETS = (
    TestSetSpec("iwslt2026_acl", "iwslt-layout", "IWSLT2026_ACL"),
    TestSetSpec("iwslt2026_tvseries", "iwslt-layout", "IWSLT2026_TVSERIES"),
    TestSetSpec("iwslt2026_callcenter", "iwslt-layout", "IWSLT2026_CALLCENTER"),
    TestSetSpec("iwslt2026_youtube", "iwslt-layout", "IWSLT2026_YOUTUBE"),
    TestSetSpec("iwslt2026_business", "iwslt-layout", "IWSLT2026_BUSINESS"),
    TestSetSpec("iwslt2026_accent", "iwslt-layout", "IWSLT2026_ACCENT", languages=("de",)),
)
# Not an official 2026 set: the hub's ACL 60/60 test split (Moslem, IWSLT 2025) stays as a
# held-out comparison with the earlier papers' numbers.
ACL6060_TEST = TestSetSpec("acl6060_test", "acl6060", "ymoslem/ACL-6060")

TRACKS: dict[str, Track] = {
    "mini": Track(
        name="mini",
        base_model="./models/mini-base",  # "./": a folder of this project, never a hub id
        base_revision=None,   # a folder of this project: its content hash names it
        prompt="instruct",
        languages=("de", "zh"),
        testsets=tuple(TestSetSpec(name, "local", f"testsets/mini/{name}") for name in MINI_SETS),
        metrics=("bleu", "chrf", "chrf++", "ter", "comet"),
        comet_model=None,
        size_rule=None,
        max_new_tokens=96,
        notes="the embedded CPU track: a small real Qwen2-Audio and synthetic spoken sets",
    ),
    "iwslt2026": Track(
        name="iwslt2026",
        base_model="Qwen/Qwen2-Audio-7B-Instruct",
        base_revision=HUB_REVISIONS["Qwen/Qwen2-Audio-7B-Instruct"],
        prompt="instruct",
        languages=("de", "zh"),
        testsets=(*IWSLT2026_SETS, ACL6060_TEST),
        metrics=("bleu", "chrf", "chrf++", "ter", "comet"),
        comet_model="Unbabel/wmt22-comet-da",
        size_rule=REAL_RULE,
        max_new_tokens=1024,
        notes="IWSLT 2026: COMET (wmt22-comet-da) primary, 4 GB on-disk limit",
    ),
}
# 2025 differs from 2026 in how it is judged (bins), its paper's COMET model and its test set
# (the 2025 paper's ACL 60/60 split; the 2026 sets did not exist).
TRACKS["iwslt2025"] = replace(
    TRACKS["iwslt2026"], name="iwslt2025", comet_model="Unbabel/wmt20-comet-da", testsets=(ACL6060_TEST,),
    notes="IWSLT 2025: size bins; the 2025 system paper scored COMET with wmt20-comet-da")


def get_track(name: str) -> Track:
    try:
        return TRACKS[name]
    except KeyError:
        raise ValueError(f"unknown track {name!r}; known: {', '.join(TRACKS)}") from None


def spec_by_name(track: Track, name: str) -> TestSetSpec | None:
    """The track's test set called ``name``, or None (each caller says so in its own words)."""
    return next((spec for spec in track.testsets if spec.name == name), None)


class UnknownSourceError(HarnessError, ValueError):
    """A test-set spec whose ``source`` no loader reads."""


MINI_DATA = REPO / "testsets" / "mini"


def made_by_hint(folder: Path) -> str:
    """What to run when a set under testsets/mini/ is missing or stale: make data writes them."""
    try:
        Path(folder).resolve().relative_to(MINI_DATA.resolve())
    except ValueError:
        return ""
    return "; run make data (it writes the mini track's sets)"


def load_spec(spec: TestSetSpec):
    """The test set a spec names, loaded and hash-verified (harness.data.testsets): a TestSet or a LongFormSet.

    A local folder is relative to the repository; harness.data.testsets is imported here, on
    first use, so this module stays light. Raises harness.data.testsets.TestSetError for a set
    that does not load, UnknownSourceError for a source no loader reads.
    """
    from harness.data.testsets import TestSetError, load_acl6060, load_testset

    if spec.source == "local":
        try:
            return load_testset(REPO / spec.location)
        except TestSetError as error:
            raise TestSetError(f"{error}{made_by_hint(REPO / spec.location)}") from None
    if spec.source == "acl6060":
        return load_acl6060(spec.languages, revision=spec.revision)["test"]
    if spec.source == "iwslt-layout":
        from harness.data.iwslt_layout import load_organizers_layout

        folder = os.environ.get(spec.location, "")
        if not folder or not Path(folder).is_dir():
            state = "is not set" if not folder else f"is {folder!r}, not a folder"
            raise TestSetError(f"test set {spec.name}: {spec.location} {state}; set {spec.location} to the "
                               f"folder of the organizers' release (FILE_ORDER, wavs/, <prefix>.yaml, references)")
        # English is required: COMET scores against the source transcript.
        return load_organizers_layout(folder, ("en", *spec.languages), name=spec.name)
    raise UnknownSourceError(f"test set {spec.name}: unknown source {spec.source!r}")
