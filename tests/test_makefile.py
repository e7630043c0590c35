"""The Makefile's build line: which direction `LANG` selects (dry runs, nothing is built)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_line(**variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "LANG"}
    env.update(variables)
    out = subprocess.run(["make", "-n", "--no-print-directory", "build", "SUB=modelA"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "submissions/modelA/build.py" in line][-1]


@pytest.mark.parametrize("lang, expected", [("de", "--lang de"), ("zh", "--lang zh"), ("both", "--lang both")])
def test_lang_selects_one_direction(lang, expected):
    assert build_line(LANG=lang).endswith(expected)


@pytest.mark.parametrize("locale", ["C.UTF-8", "en_US.UTF-8", ""])
def test_a_locale_in_lang_builds_both_directions(locale):
    assert "--lang" not in build_line(LANG=locale)


def test_nproc_and_fsdp_reach_the_fine_tunes():
    line = build_line(NPROC="4", FSDP="1")
    assert line.startswith("HARNESS_NPROC=4 HARNESS_FSDP=1 ")
    plain = build_line()
    assert "HARNESS_NPROC" not in plain and "HARNESS_FSDP" not in plain
