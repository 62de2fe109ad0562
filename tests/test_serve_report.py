"""``/validation`` and the figures' units: summary, filters, PDF page links, CSV, the reading
status of ``reading.json``, and the tolerance the build validated with (from the graph)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import serve_fixtures
from serve_fixtures import BK, XSD, BudgetBuild, LiveServer

budget_build = serve_fixtures.budget_build


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_validation_summary_filters_and_pdf_links(sample_server: LiveServer) -> None:
    page = sample_server.request("GET", "/validation", headers={"Accept": "text/html"}).text
    total = int(re.search(r"(\d+) results:", page).group(1))
    assert total > 0 and "概要 Summary" in page and "UnitSubtotalEqualsItems" in page
    assert "±0.005 per printed figure" in page  # from bk:roundingTolerance in the report
    violations = sample_server.request("GET", "/validation?severity=Violation", headers={"Accept": "text/html"}).text
    n = int(re.search(r"结果 Results \((\d+)\)", violations).group(1))
    assert 0 < n < total
    assert 'sev-Warning">Warning</span></td>' not in violations.split("结果 Results", 1)[1]
    pdf = re.search(r'href="(/source/[0-9a-f]+\.pdf)#page=(\d+)"', violations)
    assert pdf is not None
    assert sample_server.request("HEAD", pdf.group(1)).status == 200
    table = re.search(r'<option value="([^"]+/table/project-by-unit)"', page).group(1)
    path = "/validation?table=" + quote(table, safe="")
    only = sample_server.request("GET", path, headers={"Accept": "text/html"}).text
    assert 0 < int(re.search(r"结果 Results \((\d+)\)", only).group(1)) < total


def test_validation_as_csv_by_accept_and_parameter(sample_server: LiveServer) -> None:
    by_accept = sample_server.request("GET", "/validation", headers={"Accept": "text/csv"})
    assert by_accept.status == 200 and by_accept.headers["content-type"].startswith("text/csv")
    rows = _csv(by_accept.text)
    assert rows and {"severity", "unit", "page", "table"} <= rows[0].keys()
    assert all("localhost:8000" not in r["focus"] for r in rows)  # shown under the serving origin
    only = _csv(sample_server.request("GET", "/validation?severity=Warning&format=csv").text)
    assert only and all(r["severity"] == "Warning" for r in only)


def test_tables_and_budgets_as_csv_with_units(sample_server: LiveServer) -> None:
    table = "/id/budget/gz-zwfwsjglj/2023/budget/table/expenditure-summary"
    r = sample_server.request("GET", table, headers={"Accept": "text/csv"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = _csv(r.text)
    assert rows and all(x["unit"] == "万元" for x in rows)
    budget = _csv(sample_server.request("GET", "/id/budget/gz-zwfwsjglj/2023/budget/children.csv").text)
    assert len(budget) == 1113 and {"unit", "page", "table"} <= budget[0].keys()
    obs = "/id/budget/gz-zwfwsjglj/2023/budget/obs/expenditure-summary/201/total/children.csv"
    kids = _csv(sample_server.request("GET", obs).text)
    assert kids and all(x["unit"] == "万元" for x in kids)
    html = sample_server.request("GET", table, headers={"Accept": "text/html"}).text
    assert "单位 unit: 万元" in html


@pytest.fixture(scope="module")
def tolerant_server(budget_build: BudgetBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The fixture build validated with --tolerance 0.05, and a reading.json beside it."""
    root = tmp_path_factory.mktemp("tolerant") / "build"
    shutil.copytree(budget_build.root, root)
    store = ox.Store(str(root / "store"))
    report = ox.NamedNode(budget_build.base + "graph/validation#report")
    store.add(
        ox.Quad(
            report,
            ox.NamedNode(BK + "roundingTolerance"),
            ox.Literal("0.05", datatype=ox.NamedNode(XSD + "decimal")),
            ox.NamedNode(budget_build.base + "graph/validation"),
        )
    )
    store.flush()
    del store
    reading = {"documents": [{"file": "gz-zwfwsjglj-2023-budget.pdf", "status": "read", "pages": 20, "tables": 2}]}
    (root / "reading.json").write_text(json.dumps(reading), encoding="utf-8")
    server = LiveServer(root, timeout=4.0, workers=2, reload_interval=0).start()
    try:
        yield server
    finally:
        server.stop()


def test_pages_use_the_builds_tolerance_and_show_reading_status(
    tolerant_server: LiveServer, budget_build: BudgetBuild
) -> None:
    page = tolerant_server.request("GET", "/validation", headers={"Accept": "text/html"}).text
    assert "±0.05 per printed figure" in page
    assert "读取状态 Reading status" in page and "gz-zwfwsjglj-2023-budget.pdf" in page
    obs = "/" + quote(budget_build.mismatch_obs.removeprefix(budget_build.base))
    html = tolerant_server.request("GET", obs, headers={"Accept": "text/html"}).text
    assert "±0.05 each" in html and "0.005" not in html.split("Rounding tolerance", 1)[1][:80]
