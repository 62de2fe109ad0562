"""A department with two years: its page puts the budgets side by side and links each one.

The fixture build plus a 2024 copy of its budget (every IRI, year and title moved to 2024,
every amount +10 %), served on a real loopback server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from serve_fixtures import BASE, SAMPLE_PDF, LiveServer, budget_quads, write_build


def _next_year(term: ox.NamedNode | ox.Literal | ox.BlankNode) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    if isinstance(term, ox.NamedNode) and "/2023/" in term.value:
        return ox.NamedNode(term.value.replace("/2023/", "/2024/"))
    if isinstance(term, ox.Literal):
        if term.datatype.value.endswith("#decimal"):
            return ox.Literal(
                str((Decimal(term.value) * Decimal("1.1")).quantize(Decimal("0.01"))), datatype=term.datatype
            )
        if term.value == "2023":
            return ox.Literal("2024", datatype=term.datatype)
        if "2023" in term.value and term.language:
            return ox.Literal(term.value.replace("2023", "2024"), language=term.language)
    return term


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    sha = hashlib.sha256(SAMPLE_PDF.read_bytes()).hexdigest()
    first = budget_quads(BASE, sha)
    budget_2023 = BASE + "id/budget/gz-zwfwsjglj/2023/budget"
    moved = [
        ox.Quad(_next_year(q.subject), q.predicate, _next_year(q.object), q.graph_name)
        for q in first
        if "/2023/" in q.subject.value and "graph/validation" not in str(q.graph_name)
    ]
    root = write_build(tmp_path_factory.mktemp("years") / "build", first + moved, BASE)
    server = LiveServer(root, timeout=4.0, workers=2, reload_interval=0).start()
    assert budget_2023.replace("2023", "2024") in {q.subject.value for q in moved}
    try:
        yield server
    finally:
        server.stop()


def test_department_page_shows_years_side_by_side(two_years: LiveServer) -> None:
    page = two_years.request("GET", "/id/org/gz-zwfwsjglj", headers={"Accept": "text/html"}).text
    table = page.split('<table class="data years">', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r"<th class=\"num\"><a href=\"([^\"]+)\"[^>]*>([^<]+)</a>", table)
    assert [h[1] for h in heads] == ["2023 预算", "2024 预算"]
    assert heads[0][0] == "/id/budget/gz-zwfwsjglj/2023/budget"
    total = re.search(r"<tr><th>支出合计 Total</th>(.*?)</tr>", table).group(1)
    later = f"{(Decimal('1330.75') * Decimal('1.1')).quantize(Decimal('0.01')):,}"
    assert re.findall(r'<td class="num">([^<]+)</td>', total) == ["1,330.75", later]
    assert "201 一般公共服务支出" in table  # per 类, both years
    for href, _ in heads:
        assert two_years.request("GET", href, headers={"Accept": "text/html"}).status == 200
    assert 'data-chart="years"' in page  # the interactive version of the same figures


def test_both_budgets_are_listed_and_searchable(two_years: LiveServer) -> None:
    index = two_years.request("GET", "/id/budget/", headers={"Accept": "text/html"}).text
    assert "2023年部门预算" in index and "2024年部门预算" in index
    hits = two_years.request("GET", "/search?q=" + quote("2024年"), headers={"Accept": "application/json"}).json()
    assert any(h["kind"] == "budget" for h in hits["results"])
