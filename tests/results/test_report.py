"""The HTML report, opened in a real headless Chromium (Debian's, driven by its chromedriver):
every plot rendered with data and no JavaScript error; failed trials with their error,
early-stopped trials marked, inactive conditional values shown as absent; offline."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import os
import shutil
from pathlib import Path

import pytest

from raytune_hpt.cli import main
from raytune_hpt.results._plot_data import ABSENT
from tests.results.conftest import FAILURE

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,2400",
]

# Installed before the page's own scripts run: uncaught errors and console.error calls.
CAPTURE = """(() => {
window.__reportErrors = [];
window.addEventListener('error', e => window.__reportErrors.push('error: ' + e.message));
window.addEventListener('unhandledrejection',
    e => window.__reportErrors.push('rejection: ' + e.reason));
const consoleError = console.error.bind(console);
console.error = (...args) => {
    window.__reportErrors.push('console: ' + args.join(' '));
    consoleError(...args);
};
})();
"""

RENDERED = """
const divs = document.querySelectorAll('.plotly-graph-div');
return document.readyState === 'complete' && divs.length > 0 &&
    Array.from(divs).every(el => el.classList.contains('js-plotly-plot') && el._fullLayout);
"""

COLLECT = """
const list = (v) => v == null ? null : Array.from(v);
const traces = (el) => (el.data || []).map(t => ({
    type: t.type || 'scatter', name: t.name || '',
    points: t.type === 'parcoords' ? t.dimensions[0].values.length : list(t.x || []).length,
    x: t.type === 'parcoords' ? null : list(t.x || []),
    dimensions: t.type !== 'parcoords' ? null : t.dimensions.map(d => ({
        label: d.label, values: list(d.values), tickvals: list(d.tickvals),
        ticktext: list(d.ticktext)})),
}));
return {
    plots: Array.from(document.querySelectorAll('.plotly-graph-div')).map(el => ({
        id: el.id, traces: traces(el),
        drawn: el.querySelectorAll('.scatterlayer .point, .barlayer .point, canvas').length,
        xtype: el._fullLayout.xaxis ? el._fullLayout.xaxis.type : null,
        title: el._fullLayout.title ? el._fullLayout.title.text : ''})),
    header: Array.from(document.querySelectorAll('table.trials thead th')).map(c => c.textContent),
    rows: Array.from(document.querySelectorAll('table.trials tbody tr')).map(tr => ({
        id: tr.dataset.trial, status: tr.dataset.status,
        cells: Array.from(tr.cells).map(c => c.textContent)})),
    failed: Array.from(document.querySelectorAll('ul.failed li')).map(li => li.textContent),
    method: (document.getElementById('importance-method') || {}).textContent || '',
    resources: performance.getEntriesByType('resource').map(e => e.name),
    errors: window.__reportErrors,
};
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        message = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE})
    yield driver
    driver.quit()


def open_report(driver, path: str | Path) -> dict:
    """Load the page, wait until plotly drew every plot, and read what the page shows."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(path).resolve().as_uri())
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(RENDERED))
    page = driver.execute_script(COLLECT)
    page["console"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    page["plots"] = {p["id"]: p for p in page["plots"]}
    return page


@pytest.fixture(scope="module")
def rendered(report_experiment, browser, tmp_path_factory):
    """The report written by the command (``raytune-hpt report DIR -o FILE``), in Chromium."""
    results, path = report_experiment
    out = tmp_path_factory.mktemp("out") / "report.html"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["report", path, "-o", str(out)]) == 0
    assert "Wrote the report of 9 trials" in printed.getvalue()
    return results, out.read_text(encoding="utf-8"), open_report(browser, out)


def assert_every_plot_drawn(page: dict, expected: set[str]) -> None:
    assert page["errors"] == [] and page["console"] == []
    assert set(page["plots"]) == expected
    for plot in page["plots"].values():
        assert plot["traces"], f"{plot['id']} has no trace"
        assert sum(t["points"] for t in plot["traces"]) > 0, f"{plot['id']} has no data"
        assert plot["drawn"] > 0, f"{plot['id']} drew nothing"


def test_every_plot_renders_with_data_offline(rendered):
    results, html, page = rendered
    assert_every_plot_drawn(
        page,
        {
            "plot-history",
            "plot-parallel",
            "plot-slice-0",
            "plot-slice-1",
            "plot-slice-2",
            "plot-curves",
            "plot-importance",
        },
    )
    assert "<script src" not in html.replace(" ", "").lower()  # plotly.js is inline
    assert all(url.startswith(("file:", "data:", "blob:")) for url in page["resources"])
    assert "functional ANOVA" in page["method"]
    scored = [t for t in results.trials if t.status != "failed"]
    history = page["plots"]["plot-history"]["traces"]
    # each scored trial once per panel (number, wall time) in the status traces
    assert sum(t["points"] for t in history if t["name"] != "best so far") == 2 * len(scored)


def test_failed_and_stopped_trials_are_shown_as_such(rendered):
    results, _, page = rendered
    failed = [t for t in results.trials if t.status == "failed"]
    stopped = [t for t in results.trials if t.status == "stopped"]
    assert len(failed) == 1 and stopped, [(t.status, t.epochs) for t in results.trials]
    assert len(page["failed"]) == 1 and FAILURE in page["failed"][0]
    rows = {r["id"]: r for r in page["rows"]}
    assert len(rows) == 9
    assert rows[failed[0].trial_id]["status"] == "failed"
    assert FAILURE in rows[failed[0].trial_id]["cells"][-1]
    for trial in stopped:
        assert rows[trial.trial_id]["cells"][2] == "stopped early"
    history = page["plots"]["plot-history"]["traces"]
    assert sum(t["points"] for t in history if t["name"] == "stopped early") == 2 * len(stopped)
    curves = page["plots"]["plot-curves"]["traces"]
    marked = {t["name"].split()[1] for t in curves if "(stopped at epoch" in t["name"]}
    assert marked == {t.trial_id for t in stopped}


def test_inactive_conditional_values_are_absent_not_zero(rendered):
    results, _, page = rendered
    scored = [t for t in results.trials if t.status != "failed"]
    one_layer = [t for t in scored if t.hyperparameters["layers"] == 1]
    assert one_layer and all("units2" not in t.hyperparameters for t in one_layer)
    (parallel,) = page["plots"]["plot-parallel"]["traces"]
    dims = {d["label"]: d for d in parallel["dimensions"]}
    units2 = dims["units2"]
    assert units2["ticktext"][0] == ABSENT
    absent = units2["tickvals"][0]
    assert units2["values"].count(absent) == len(one_layer)
    assert absent < min(v for v in units2["values"] if v != absent)
    assert sorted(set(units2["ticktext"][1:])) == ["16", "8"]
    column = page["header"].index("units2")
    for row in page["rows"]:
        layers = row["cells"][page["header"].index("layers")]
        assert (row["cells"][column] == ABSENT) == (layers == "1")
    slices = {p["title"].split()[0]: p for k, p in page["plots"].items() if "slice" in k}
    assert slices["lr"]["xtype"] == "log" and slices["layers"]["xtype"] == "category"
    assert f"inactive in {len(one_layer)} trials" in slices["units2"]["title"]
    assert sum(t["points"] for t in slices["units2"]["traces"]) == len(scored) - len(one_layer)


def test_a_running_experiment_and_two_objectives(report_experiment, browser, tmp_path):
    """Trials still running or pending (no report yet) render; two objectives add a front."""
    results, _ = report_experiment
    running = copy.copy(results)
    first, second, *rest = results.trials
    running.trials = [
        dataclasses.replace(first, status="running", history=first.history[:1], epochs=1),
        dataclasses.replace(
            second,
            status="pending",
            history=[],
            epochs=0,
            metrics={},
            best_metrics={},
            wall_time=0.0,
        ),
        *rest,
    ]
    path = running.report(str(tmp_path / "running.html"), objectives=["val_accuracy", "val_loss"])
    page = open_report(browser, path)
    assert_every_plot_drawn(
        page,
        {
            "plot-history",
            "plot-parallel",
            "plot-slice-0",
            "plot-slice-1",
            "plot-slice-2",
            "plot-curves",
            "plot-importance",
            "plot-pareto",
        },
    )
    statuses = {r["id"]: r["cells"][2] for r in page["rows"]}
    assert statuses[first.trial_id] == "running" and statuses[second.trial_id] == "pending"
    front = [t for t in page["plots"]["plot-pareto"]["traces"] if t["name"] == "Pareto front"]
    assert front and front[0]["points"] >= 1
