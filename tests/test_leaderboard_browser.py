"""The leaderboard page in a real headless Chromium (Debian's chromium; the Makefile installs it).

The page is opened from disk with every host name unresolvable (it must need no network),
its DOM read after the scripts ran (``--dump-dom``), and its view driven through the URL
fragment the page reads (``#sort=..&dir=..&lang=..&detail=..``): sorting, filtering and the
detail view, without a browser driver; scores show their 95 % interval, speed its own tables. A screenshot of the real mini-track page (or of
the fixture's, where no results exist) is written to ``build/screenshots/leaderboard.png``.
"""

from __future__ import annotations

import html as html_text
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.leaderboard.render import render
from test_import_hyps import N, TINY_DE, run as run_import, segmented, write_text  # noqa: F401  (segmented: fixture)
from test_leaderboard import results  # noqa: F401  (fixture: fake results files)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "build" / "screenshots" / "leaderboard.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")


def chromium(*args: str, timeout: int = 90) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dom(page: Path, fragment: str = "") -> str:
    return chromium("--dump-dom", page.as_uri() + (f"#{fragment}" if fragment else ""))


def first_column(html: str, cell: int = 1) -> list[str]:
    """The ``cell``-th cell of every body row of the first table (the system column by default)."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[cell] for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@pytest.fixture
def page(results, tmp_path):  # noqa: F811
    render(results, tmp_path / "out")
    return tmp_path / "out" / "index.html"


def test_the_page_loads_from_disk_without_network_and_draws_tables_and_plots(page):
    html = dom(page)
    assert html.count('<table class="board"') == 2  # the scripts ran: one table per group
    assert "<svg" in html and "<circle" in html and 'class="limit"' in html  # the Pareto plot with the limit
    assert re.sub(r"<[^>]+>", "", first_column(html)[0]).strip() == "modelA ★"  # ranked by the primary metric


def text(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).strip()


def test_scores_show_their_interval_and_speed_has_its_own_tables(page):
    html = dom(page)
    headers = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", html.split("</thead>", 1)[0], re.S)]
    assert "RTFx" not in headers and "peak RSS" not in headers  # no speed in the quality table
    chrfpp = first_column(html, headers.index("chrF++"))
    assert [text(c) for c in chrfpp] == ["39.50 ±1.25", "33.00 ±2.00", "28.00 ±1.50"]
    assert "48.00" in html and "48.00 ±" not in html  # hyps: a results file without intervals, the bare value
    assert html.count('<table class="speed"') == 2 and "Speed: hardware AMD EPYC 7B13 x2 · device cpu" in html
    assert "±3.1 %" in html and "Speed absent: hyps (hypotheses imported: nothing was decoded here)." in html
    assert "half width of its 95 % confidence interval" in html
    # sorting by chrF++ still sorts by the value, not by the text with its interval
    ascending = [text(c) for c in first_column(dom(page, "sort=chrf%2B%2B&dir=asc"), headers.index("chrF++"))]
    assert ascending == ["28.00 ±1.50", "33.00 ±2.00", "39.50 ±1.25"]
    detail = dom(page, "detail=modelA")
    assert "RTFx runs" in detail and "49.2, 50.0, 50.8" in detail and "contended" in detail and "iwslt-harness/speed v1" in detail


def test_sorting_filtering_and_details_through_the_fragment(page):
    by_bytes = [re.sub(r"<[^>]+>", "", c).strip() for c in first_column(dom(page, "sort=bytes&dir=asc"))]
    assert by_bytes == ["modelA ★", "sizeonly", "baseline"]  # smallest first
    descending = [re.sub(r"<[^>]+>", "", c).strip() for c in first_column(dom(page, "sort=bytes&dir=desc"))]
    assert descending == ["baseline", "sizeonly", "modelA ★"]
    assert "No group matches these filters." in dom(page, "lang=en-zh")
    detail = dom(page, "detail=baseline")
    assert "Size (storage verdict)" in detail and "8,000,000" in detail


def test_a_screenshot_of_the_page(page):
    real = ROOT / "leaderboard" / "index.html"
    shown = real if real.is_file() else page
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(f"--screenshot={SCREENSHOT}", "--window-size=1400,1800", shown.as_uri())
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


# A team and system name that would run script if any part of the page turned text into markup:
# each payload marks the document (its title, an attribute) where it runs.
HOSTILE_TEAM = "<img src=x onerror=\"document.title='pwned-team'\">"
HOSTILE_SYSTEM = "<script>document.documentElement.setAttribute('data-pwned','system')</script>"


def test_hostile_names_imported_as_hypotheses_are_text_and_run_no_script(tmp_path, segmented):  # noqa: F811
    hyps = write_text(tmp_path / "hyp.de", TINY_DE[:N])
    assert run_import(tmp_path, segmented, "tiny_seg", [("de", hyps)], team=HOSTILE_TEAM, system=HOSTILE_SYSTEM) == 0
    out = tmp_path / "out"
    render(tmp_path / "results", out)
    html = dom(out / "index.html")
    assert "<title>IWSLT Model Compression leaderboard</title>" in html  # the img's onerror did not run
    assert "data-pwned" not in re.search(r"<html[^>]*>", html).group(0)  # nor the script
    assert "<img" not in html and "<script>document" not in html  # no element was made from a name
    # The whole name shows as text (no ★: a declared size is never on the Pareto front).
    assert [html_text.unescape(text(cell)) for cell in first_column(html)] == [f"{HOSTILE_TEAM}-{HOSTILE_SYSTEM}"]
    assert "(declared)" in html
    readme = (out / "README.md").read_text(encoding="utf-8")
    # In Markdown each mark that could open a tag is backslash-escaped (CommonMark): no raw tag is left.
    assert re.search(r"(?<!\\)<(img|script)", readme) is None and r"\<img src=x onerror=" in readme
