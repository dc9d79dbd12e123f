"""The report's importance chart as Chromium draws it (issue 34): every bar named, none
squeezed. Read from the SVG text and shapes plotly draws, not from pixels.

The README's digits search gave two bars, ``learning_rate`` about 95 % and ``units`` the
rest, drawn in a band a few pixels high with only ``units`` named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from raytune_hpt.results import _plots, _report
from tests.results.test_report import browser  # noqa: F401 (the module's Chromium fixture)

DRAWN = """
const el = document.getElementById('plot-importance');
if (!el || !el._fullLayout || document.readyState !== 'complete') return null;
const svg = el.querySelector('svg.main-svg').getBoundingClientRect();
const box = (node) => { const b = node.getBoundingClientRect();
    return {top: b.top - svg.top, bottom: b.bottom - svg.top, left: b.left - svg.left,
            right: b.right - svg.left, height: b.height, width: b.width}; };
return {
    labels: Array.from(el.querySelectorAll('.yaxislayer-above .ytick text')).map(
        t => ({text: t.textContent.trim(), box: box(t)})),
    bars: Array.from(el.querySelectorAll('.barlayer .point path')).map(box),
    values: Array.from(el.querySelectorAll('.barlayer .bartext')).map(t => t.textContent),
    svg: {width: svg.width, height: svg.height},
};
"""


def draw(browser, tmp_path: Path, shares: dict[str, float]) -> dict:  # noqa: F811
    """The chart as the report embeds it (``_report._figure``), opened in Chromium."""
    from plotly.offline import get_plotlyjs
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "importance.html"
    figure = _report._figure(_plots.importance_figure(shares), "plot-importance")
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><script>'
                    f"{get_plotlyjs()}</script></head><body style=\"width:1320px\">"
                    f"{figure}</body></html>", encoding="utf-8")
    browser.get(page.resolve().as_uri())
    return WebDriverWait(browser, 60).until(lambda d: d.execute_script(DRAWN))


@pytest.mark.parametrize("shares", [
    {"learning_rate": 0.952, "units": 0.031},  # the README's digits search
    {"units": 0.05, "act": 0.4, "dropout_of_the_second_dense_block": 0.3, "lr": 0.2},
], ids=["two-bars", "a-long-name"])
def test_every_bar_is_named_and_readable(browser, tmp_path, shares):  # noqa: F811
    drawn = draw(browser, tmp_path, shares)

    assert sorted(label["text"] for label in drawn["labels"]) == sorted(shares)
    assert len(drawn["bars"]) == len(shares)
    for bar in drawn["bars"]:
        assert bar["height"] >= 20, drawn["bars"]  # a bar, not a hairline
    boxes = sorted((label["box"] for label in drawn["labels"]), key=lambda b: b["top"])
    for label in boxes:  # inside the figure, not cut at its left edge
        assert label["left"] >= 0 and label["right"] <= drawn["svg"]["width"], boxes
    for upper, lower in zip(boxes, boxes[1:]):  # noqa: B905
        assert upper["bottom"] <= lower["top"], boxes  # no two names on top of each other
    largest = max(shares, key=shares.get)
    assert f"{shares[largest]:.0%}" in drawn["values"]
