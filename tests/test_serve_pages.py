"""Linked data over a real server: IRIs under the base dereference to HTML or RDF, pages know
about budgets (amounts, 类/款/项 sums, provenance, SHACL), and the query page degrades."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import serve_fixtures
from serve_fixtures import BK, BudgetBuild, LiveServer

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def path_of(build: BudgetBuild, iri: str) -> str:
    """Server path of an IRI (percent-encoded as a browser would send it)."""
    return "/" + quote(iri[len(build.base) :], safe="/")


def test_observation_html(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    r = live_server.request("GET", path_of(budget_build, budget_build.mismatch_obs), headers={"Accept": BROWSER})
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert "accept" in r.headers["vary"].lower()
    page = r.text
    assert '<span class="amount">1,000.00</span>' in page
    assert "万元" in page and "2023年" in page
    assert "2010301" in page and "2010350" in page  # children in the hierarchy
    assert "990.00" in page and 'class="num diff bad"' in page  # Σ children and the gap
    assert "款 20103 合计 1000.00" in page  # the SHACL result about this node
    assert f"/source/{budget_build.source_sha}.pdf#page=5" in page
    assert 'href="/id/org/gz-zwfwsjglj"' in page  # links rewritten to server paths
    assert 'href="http://budgetkg.test/' not in page


def test_leaf_within_rounding_is_not_flagged(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    page = live_server.request("GET", path_of(budget_build, budget_build.leaf_obs), headers={"Accept": BROWSER}).text
    assert '<span class="amount">600.00</span>' in page
    assert "diff bad" not in page


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("text/turtle", ox.RdfFormat.TURTLE),
        ("application/ld+json", ox.RdfFormat.JSON_LD),
        ("application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ],
)
def test_observation_rdf_by_conneg(
    live_server: LiveServer, budget_build: BudgetBuild, accept: str, fmt: ox.RdfFormat
) -> None:
    r = live_server.request("GET", path_of(budget_build, budget_build.mismatch_obs), headers={"Accept": accept})
    assert r.status == 200
    assert r.headers["content-type"].split(";")[0] == fmt.media_type
    triples = list(ox.parse(r.body, format=fmt))
    amounts = [t.object for t in triples if t.predicate == ox.NamedNode(BK + "amount")]
    assert len(amounts) == 1 and amounts[0].value in ("1000.00", "1000.0", "1000")
    assert {t.subject.value for t in triples} == {budget_build.mismatch_obs}


@pytest.mark.parametrize(
    ("suffix", "media"),
    [
        (".ttl", "text/turtle"),
        (".jsonld", "application/ld+json"),
        (".nt", "application/n-triples"),
        (".rdf", "application/rdf+xml"),
        ("?format=turtle", "text/turtle"),
    ],
)
def test_suffixes(live_server: LiveServer, budget_build: BudgetBuild, suffix: str, media: str) -> None:
    r = live_server.request("GET", path_of(budget_build, budget_build.org) + suffix)
    assert r.status == 200
    assert r.headers["content-type"].split(";")[0] == media


def test_resource_etag(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    path = path_of(budget_build, budget_build.org) + ".ttl"
    etag = live_server.request("GET", path).headers["etag"]
    assert live_server.request("GET", path, headers={"If-None-Match": etag}).status == 304


def test_unicode_iri(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    r = live_server.request("GET", path_of(budget_build, budget_build.project), headers={"Accept": BROWSER})
    assert r.status == 200
    assert "政务云服务" in r.text and "可用率不低于99.9%" in r.text
    assert "link" in r.headers  # alternates, percent-encoded for the header


def test_unknown_is_404(live_server: LiveServer) -> None:
    for path in ("/id/org/nobody", "/nothing/here", "/id/org/gz-zwfwsjglj/children.csvx"):
        r = live_server.request("GET", path, headers={"Accept": BROWSER})
        assert r.status == 404, path
    assert live_server.request("GET", "/id/org/nobody.ttl").status == 404


def test_concept_page(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    page = live_server.request("GET", path_of(budget_build, budget_build.concept), headers={"Accept": BROWSER}).text
    assert "政府办公厅（室）及相关机构事务" in page and "Government offices" in page  # zh + en
    assert "2010301" in page and "行政运行" in page
    assert "class=mismatch" in page and "10.00" in page


def test_table_page(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    page = live_server.request("GET", path_of(budget_build, budget_build.table), headers={"Accept": BROWSER}).text
    assert "1 row(s) differ" in page
    assert "1,330.75" in page and "80.25" in page


def _csv(reply: serve_fixtures.Reply) -> list[dict[str, str]]:
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(reply.body.decode("utf-8-sig"))))


def test_children_csv(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    obs = path_of(budget_build, budget_build.mismatch_obs)
    rows = _csv(live_server.request("GET", obs + "/children.csv"))
    assert sorted(r["notation"] for r in rows) == ["2010301", "2010350"]
    assert sorted(Decimal(r["amount"]) for r in rows) == [Decimal("390"), Decimal("600")]
    assert _csv(live_server.request("GET", obs + "?format=csv")) == rows
    concept = _csv(live_server.request("GET", path_of(budget_build, budget_build.concept) + "/children.csv"))
    assert [r["notation"] for r in concept] == ["2010301", "2010350"]
    table = _csv(live_server.request("GET", path_of(budget_build, budget_build.table) + "/children.csv"))
    assert len(table) == 33
    org = _csv(live_server.request("GET", path_of(budget_build, budget_build.org) + "/children.csv"))
    assert len(org) == 2


def test_home_page(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/", headers={"Accept": BROWSER})
    assert r.status == 200
    page = r.text
    assert "广州市政务服务数据管理局2023年部门预算" in page
    assert "1,330.75" in page and "930.75" in page and "390.00" in page
    assert "<svg" in page and "一般公共服务支出" in page and "政务云服务" in page
    assert "1 Violation" in page and "1 Warning" in page
    assert 'href="/validation"' in page


def test_validation_page(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    page = live_server.request("GET", "/validation").text
    assert "2 results" in page
    assert path_of(budget_build, budget_build.mismatch_obs) in page


def test_pages_escape_data(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/query?ui=plain&query=" + quote("<script>alert(1)</script>", safe=""))
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text


# --- query page -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_server(budget_build: BudgetBuild) -> Iterator[LiveServer]:
    """Same build, YASGUI switched off: the page must still work, and say how to install."""
    server = LiveServer(budget_build.root, timeout=4.0, max_rows=500, workers=2, yasgui=False)
    server.log = budget_build.root.parent / "server-plain.log"
    server.start()
    yield server
    server.stop()


def test_query_page_fallback(plain_server: LiveServer) -> None:
    r = plain_server.request("GET", "/query")
    assert r.status == 200
    assert "<textarea" in r.text and "scripts/install_ui.sh" in r.text
    query = "SELECT ?s WHERE { ?s a <http://purl.org/linked-data/cube#Observation> } LIMIT 3"
    run = plain_server.request("GET", "/query?run=1&query=" + quote(query, safe=""))
    assert run.text.count("<tr><td>") == 3
    refused = plain_server.request(
        "GET", "/query?run=1&query=" + quote("SELECT * { SERVICE <http://x/> { } }", safe="")
    )
    assert "SERVICE" in refused.text and 'class="error"' in refused.text


def test_browser_on_sparql_gets_query_page(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/sparql", headers={"Accept": BROWSER})
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert "SPARQL" in r.text
    r = live_server.request("GET", "/sparql?query=ASK%7B%7D", headers={"Accept": BROWSER})
    assert r.headers["content-type"].startswith("text/html") and "ASK{}" in r.text
    r = live_server.request("GET", "/sparql?query=ASK%7B%7D&format=json", headers={"Accept": BROWSER})
    assert json.loads(r.body)["boolean"] is True


def test_query_page_has_examples_when_present(live_server: LiveServer) -> None:
    page = live_server.request("GET", "/query").text
    assert "SPARQL" in page
    if "yasgui.min.js" in page:
        assert "budgetkg-config" in page
        config = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
        data = json.loads(config)
        assert data["endpoint"] == "/sparql"  # resolved by the page against its own address


HTML_TAG = re.compile(
    r"</?(?:a|abbr|br|button|code|details|div|form|h[1-6]|input|li|link|main|mark|nav|ol|option|p|rect|"
    r"script|section|select|span|strong|summary|svg|table|tbody|td|text|textarea|th|thead|title|tr|ul)[\s>/]"
)
REGEX_GROUP_NAME = re.compile(r"\(\?P<\w+>")  # `(?P<select>…` in a regular expression is not a tag


def test_no_markup_is_built_in_python() -> None:
    """Every page's markup is in templates/ (autoescaped): no string in serve/*.py holds an HTML
    tag (docstrings aside), so data cannot reach a page unescaped and a web developer finds all
    markup in one place."""
    serve = Path(__file__).resolve().parents[1] / "budgetkg" / "serve"
    found = []
    for path in sorted(serve.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if id(node) not in docstrings and HTML_TAG.search(REGEX_GROUP_NAME.sub("", text)):
                found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert found == []
