"""The slice explorer in a real browser, over demo traffic: the demo's injected fault (iOS 4.13.0 calls to billing-mcp
failing in a recurring window) must surface among the top changes, and a click must lead to its chart and examples.

Skips with a reason when Chromium is missing and fails instead when CI=true (tests/conftest.py). Screenshots land in
test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from watchkeeper.demo import DegradedWindow, Simulator, backfill
from watchkeeper.testing import running_server

from .test_pages_browser import ARTIFACTS, Server, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

NS = 1_000_000_000


DAY = 86_400 * NS
PEAK_HOUR = 16  # UTC: a window of the demo's fault ends then, near the afternoon peak of its daily traffic


def fault_end(now_ns: int, w: DegradedWindow) -> int:
    """The end of the demo's most recent degraded window that ended before now at 16:00 UTC on a weekday.

    The demo's traffic follows the time of day and the day of the week (``demo.seasonality``): at night or at a
    weekend the faulty client sends a fraction of the afternoon's calls, and other slices can outrank it. Pinning the
    window to one time of a weekday makes the run the same whenever the suite runs."""
    every, end_offset = int(w.every_s * NS), int((w.offset_s + w.duration_s) * NS)
    end = (now_ns - end_offset) // every * every + end_offset
    for _ in range(7 * DAY // every + 1):
        if (end % DAY) // (3600 * NS) == PEAK_HOUR and (end // DAY + 3) % 7 < 5:  # 1970-01-01 was a Thursday
            return end
        end -= every
    raise AssertionError(f"the demo's fault windows never end at {PEAK_HOUR}:00 UTC on a weekday")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """A real server holding 2 hours of demo traffic (30 traces a minute) that end with a degraded window."""
    with running_server(tmp_path_factory.mktemp("slices"), auth=False) as handle:
        handle.app.state.demo = True  # the pages read it per request: the synthetic-data banner shows
        end = fault_end(time.time_ns(), DegradedWindow())
        rt = handle.app.state.runtime
        batch: tuple[list[Any], list[Any]] = ([], [])
        for spans, fb in backfill(Simulator(seed=3, base_rate_per_min=30), 2, end):
            batch[0].extend(spans)
            batch[1].extend(fb)
            if len(batch[0]) >= 2000:
                rt.ingest_sync(*batch, "demo")
                batch = ([], [])
        rt.ingest_sync(*batch, "demo")
        yield Server(handle.url), end


def test_the_demo_fault_is_a_top_change_and_opens_to_a_chart_and_examples(
    demo_server: tuple[Server, int],
    page: Any,  # noqa: F811 - the fixture
) -> None:
    server, end = demo_server
    to = datetime.fromtimestamp(end / NS, UTC).isoformat().replace("+00:00", "Z")
    # the last half hour of the fault against the clean hour before it
    page.goto(f"{server.url}/slices?metric=errors.tool&window=30m&baseline=1h&to={to}")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Slices"
    # the fault's slice is among the top three; slices that carry it (the billing service's version, a locale
    # heavy on iOS) may rank beside it, by how much traffic of that time of day they hold
    top3 = page.locator("table.slices tbody tr td.name").all_inner_texts()[:3]
    fault = [i for i, t in enumerate(top3) if "4.13.0" in t]
    assert fault and any("ios" in t for t in top3), top3
    page.screenshot(path=str(ARTIFACTS / "slices.png"), full_page=True)

    page.locator("table.slices tbody tr td.name a").nth(fault[0]).click()
    page.wait_for_url("**slice_dimension=**")
    assert page.locator("#slice-title").inner_text().count("4.13.0") == 1
    assert page.locator("figure.chart svg polyline.slice").count() >= 1
    assert page.locator("figure.chart svg polyline.rest").count() >= 1
    examples = page.locator("table.examples tbody tr")
    assert examples.count() >= 1
    assert "error" in examples.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "slices-detail.png"), full_page=True)

    # the metric menu applies at once and keeps the slice; an example opens its trace
    page.select_option("select[name=metric]", "tool_errors")
    page.wait_for_url("**metric=tool_errors**")
    assert page.locator("figure.chart svg").count() == 1
    page.locator("table.examples tbody tr td.name a").first.click()
    page.wait_for_url("**/traces/**")
    assert page.locator("h1").count() >= 1
