"""Point lookups answered in the HTTP process: only queries that provably cannot run away, and
with the same answers as the worker path (real server, the fixture build)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import serve_fixtures
from serve_fixtures import BudgetBuild, LiveServer
from test_serve_federation import BYPASS_FORMS
from test_serve_safety import SERVICE_FORMS

from budgetkg.serve.inline import bounded

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?p ?o WHERE { <http://x/a#b> ?p ?o }",
        "select ?p ?o { <http://x/a> ?p ?o . }",
        "ASK { ?s a <http://x/C> }",
        "PREFIX bk: <https://w3id.org/budgetkg/def#> SELECT * { ?o bk:amount ?a } LIMIT 10",
        'SELECT ?s WHERE { ?s ?p "政务"@zh }',
        'SELECT ?s WHERE { ?s ?p "1"^^<http://www.w3.org/2001/XMLSchema#integer> }',
        "SELECT * WHERE { ?s ?p 12.5 }",
    ],
)
def test_one_triple_pattern_is_bounded(query: str) -> None:
    assert bounded(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT DISTINCT ?p WHERE { ?s ?p ?o }",
        "SELECT ?p WHERE { ?s ?p ?o } ORDER BY ?p",
        "SELECT ?p WHERE { ?s ?p ?o } OFFSET 100000",
        "SELECT ?p WHERE { ?s ?p ?o FILTER(?o > 1) }",
        "SELECT * WHERE { ?s ?p ?o . ?o ?q ?r }",
        "SELECT * WHERE { ?s <http://x/p>+ ?o }",
        "SELECT * WHERE { ?s <http://x/p>/<http://x/q> ?o }",
        "SELECT * WHERE { { SELECT * WHERE { ?s ?p ?o } } }",
        "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
        "SELECT * WHERE { ?s ?p ?o } # comment",
        'SELECT * WHERE { ?s ?p "a\\u0022" }',
        "SELECT * WHERE { ?s ?p 'x' }",
        'SELECT * WHERE { ?s ?p """x""" }',
        "SELECT * WHERE { VALUES ?s { <http://x/> } ?s ?p ?o }",
        "CONSTRUCT WHERE { ?s ?p ?o }",
        "DESCRIBE <http://x/>",
        "INSERT DATA { <http://x/s> <http://x/p> <http://x/o> }",
        "SELECT * FROM <http://x/g> WHERE { ?s ?p ?o }",
        "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
        "SELECT * WHERE { ?x ?x ?x }",  # a repeated variable filters a whole-store scan
        "ASK { ?x <http://x/p> $x }",
    ],
)
def test_anything_else_goes_to_a_worker(query: str) -> None:
    assert not bounded(query)


@pytest.mark.parametrize("template", SERVICE_FORMS + BYPASS_FORMS)
def test_no_service_form_is_bounded(template: str) -> None:
    assert not bounded(template.replace("{url}", "http://127.0.0.1:9/sparql"))


@pytest.fixture(scope="module")
def worker_only(budget_build: BudgetBuild) -> Iterator[LiveServer]:
    server = LiveServer(budget_build.root, timeout=4.0, max_rows=500, workers=2, inline=False)
    server.log = budget_build.root.parent / "server-worker-only.log"
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/csv", "text/tab-separated-values"])
def test_inline_answers_equal_worker_answers(
    live_server: LiveServer, worker_only: LiveServer, budget_build: BudgetBuild, accept: str
) -> None:
    queries = [
        f"SELECT ?p ?o WHERE {{ <{budget_build.mismatch_obs}> ?p ?o }}",
        f"SELECT ?s WHERE {{ ?s <https://w3id.org/budgetkg/def#organisation> <{budget_build.org}> }} LIMIT 7",
        "ASK { ?s a <https://w3id.org/budgetkg/def#Budget> }",
    ]
    for query in queries:
        a = live_server.request("GET", "/sparql?query=" + quote(query), headers={"Accept": accept})
        b = worker_only.request("GET", "/sparql?query=" + quote(query), headers={"Accept": accept})
        assert a.status == b.status == 200, (a.text[:200], b.text[:200])
        assert a.headers["content-type"] == b.headers["content-type"]
        if accept.endswith("json"):
            da, db = a.json(), b.json()
            key = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
            assert da.get("boolean") == db.get("boolean")
            rows_a = sorted(map(key, da.get("results", {}).get("bindings", [])))
            rows_b = sorted(map(key, db.get("results", {}).get("bindings", [])))
            assert rows_a == rows_b
        else:
            lines_a, lines_b = a.text.splitlines(), b.text.splitlines()
            assert lines_a[0] == lines_b[0] and sorted(lines_a[1:]) == sorted(lines_b[1:])


def test_big_bounded_query_still_hits_the_row_cap(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/sparql?query=" + quote("SELECT * WHERE { ?s ?p ?o }"))
    assert r.status == 413  # too big for the inline path: the worker answers with the real cap
