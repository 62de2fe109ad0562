"""Point lookups answered in the HTTP process: only queries that provably cannot run away, and
with the same answers as the worker path (real server, the fixture build)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import serve_fixtures
from serve_fixtures import BudgetBuild, LiveServer
from test_serve_federation import BYPASS_FORMS
from test_serve_safety import SERVICE_FORMS

from budgetkg.serve.answers import AnswerCache, answer_key
from budgetkg.serve.execute import Job, Outcome, json_rows, served_results, xml_rows
from budgetkg.serve.inline import bounded, lookup_shape

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


@pytest.mark.parametrize(
    "accept",
    [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ],
)
def test_inline_answers_equal_worker_answers(
    live_server: LiveServer, worker_only: LiveServer, budget_build: BudgetBuild, accept: str
) -> None:
    queries = [
        f"SELECT ?p ?o WHERE {{ <{budget_build.mismatch_obs}> ?p ?o }}",
        f"SELECT ?s WHERE {{ ?s <https://w3id.org/budgetkg/def#organisation> <{budget_build.org}> }} LIMIT 7",
        "ASK { ?s a <https://w3id.org/budgetkg/def#Budget> }",
        f"SELECT ?nothing WHERE {{ <{budget_build.mismatch_obs}> ?p ?o }}",  # rows that bind no variable
    ]
    for query in queries:
        a = live_server.request("GET", "/sparql?query=" + quote(query), headers={"Accept": accept})
        b = worker_only.request("GET", "/sparql?query=" + quote(query), headers={"Accept": accept})
        assert a.status == b.status == 200, (a.text[:200], b.text[:200])
        assert a.headers["content-type"] == b.headers["content-type"]
        assert a.headers["x-result-rows"] == b.headers["x-result-rows"], query
        if accept.endswith("xml"):
            fmt = ox.QueryResultsFormat.XML
            ra, rb = ox.parse_query_results(a.body, fmt), ox.parse_query_results(b.body, fmt)
            if isinstance(ra, ox.QueryBoolean):
                assert bool(ra) == bool(rb)
            else:
                assert sorted(map(str, ra)) == sorted(map(str, rb))
        elif accept.endswith("json"):
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


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_lean_path_answers_with_the_full_paths_headers(
    live_server: LiveServer, worker_only: LiveServer, budget_build: BudgetBuild, encoding: str | None
) -> None:
    """budgetkg.serve.fastpath answers a lookup before the middlewares: with the same headers."""
    query = f"SELECT ?p ?o WHERE {{ <{budget_build.mismatch_obs}> ?p ?o }}"
    headers = {"Accept": "application/sparql-results+json", "Cache-Control": "no-cache"}  # no cached answer
    if encoding:
        headers["Accept-Encoding"] = encoding
    for method in ("GET", "HEAD"):
        a = live_server.request(method, "/sparql?query=" + quote(query), headers=headers)
        b = worker_only.request(method, "/sparql?query=" + quote(query), headers=headers)
        assert a.status == b.status == 200
        ignore = {"date", "content-length"}  # gzip of one answer may differ by a byte or two
        assert {k: v for k, v in a.headers.items() if k not in ignore} == {
            k: v for k, v in b.headers.items() if k not in ignore
        }, method
        assert a.headers.get("content-encoding") == (encoding if method == "GET" else None)


def test_lookup_shape_counts_the_variables_a_row_binds() -> None:
    assert lookup_shape("SELECT ?p ?o WHERE { <http://x/s> ?p ?o }") == 2
    assert lookup_shape("SELECT * WHERE { ?s ?p ?o }") == 3
    assert lookup_shape("SELECT ?o ?x WHERE { <http://x/s> ?p ?o }") == 1  # ?x is never bound
    assert lookup_shape('SELECT * WHERE { <http://x/?a=1> ?p "?q" }') == 1  # text in an IRI or string
    assert lookup_shape("SELECT ?o WHERE { <http://x/s> ?p $o }") == 1
    assert lookup_shape("SELECT ?p WHERE { ?s ?p ?o . ?o ?q ?r }") is None


def test_rows_and_served_iris_read_from_oxigraphs_own_results() -> None:
    """Rows are counted and IRIs rewritten in the serialisation itself: only IRI terms change,
    never a literal that spells the same markup, a datatype or a quoted triple's count."""
    stored, served = "http://localhost:8000/", "http://127.0.0.1:9999/"
    store = ox.Store()
    s, p = ox.NamedNode(stored + "id/a"), ox.NamedNode(stored + "def/p")
    tricky = f'{{"type":"uri","value":"{stored}x"}} <uri>{stored}y</uri> <result>'
    objects = [
        ox.Literal(tricky),
        ox.Literal("1", datatype=ox.NamedNode(stored + "def/dt")),
        ox.NamedNode(stored + "id/b"),
        ox.Triple(s, p, ox.NamedNode(stored + "id/c")),
    ]
    for o in objects:
        store.add(ox.Quad(s, p, o))
    query = f"SELECT ?p ?o WHERE {{ <{stored}id/a> ?p ?o }}"
    json_body = store.query(query).serialize(format=ox.QueryResultsFormat.JSON)
    xml_body = store.query(query).serialize(format=ox.QueryResultsFormat.XML)
    assert json_rows(json_body, 2) == xml_rows(xml_body) == len(objects)
    for fmt, body in (("json", json_body), ("xml", xml_body)):
        shown = served_results(body, fmt, (stored, served))
        result = list(ox.parse_query_results(shown, getattr(ox.QueryResultsFormat, fmt.upper())))
        rows = {str(r["o"]) for r in result}
        assert f"<{served}id/b>" in rows  # an IRI term: rewritten
        assert any(tricky.replace('"', '\\"') in r for r in rows)  # the literal: untouched
        assert any(f"<{stored}def/dt>" in r for r in rows)  # a datatype: untouched
        assert {str(r["p"]) for r in result} == {f"<{served}def/p>"}


def test_answer_cache_is_bounded_and_forgets_on_reload() -> None:
    cache = AnswerCache(40_000)
    jobs = [Job(query=f"SELECT * WHERE {{ ?s ?p {i} }}", max_rows=10) for i in range(10)]
    answer = Outcome(status=200, kind="select", body=b"x" * 5_000, rows=1)
    for job in jobs:
        cache.put(answer_key(job), answer, cache.generation)
    assert cache.size <= 40_000 and 0 < len(cache) < 10
    assert cache.get(answer_key(jobs[-1])) is answer and cache.get(answer_key(jobs[0])) is None  # oldest out
    cache.put(answer_key(jobs[0]), Outcome(status=503, message="busy"), cache.generation)
    assert cache.get(answer_key(jobs[0])) is None  # only 200 answers are kept
    before = cache.generation
    cache.clear()
    cache.put(answer_key(jobs[1]), answer, before)  # computed on the old build: not kept
    assert len(cache) == 0 and cache.get(answer_key(jobs[1])) is None


def test_endpoint_keeps_worker_answers_until_asked_for_a_fresh_one(live_server: LiveServer) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"  # not one pattern: a worker answers it
    path = "/sparql?query=" + quote(query)
    first = live_server.request("GET", path, headers={"Accept": "application/sparql-results+json"})
    again = live_server.request("GET", path, headers={"Accept": "application/sparql-results+json"})
    fresh = live_server.request(
        "GET", path, headers={"Accept": "application/sparql-results+json", "Cache-Control": "no-cache"}
    )
    assert first.status == again.status == fresh.status == 200
    assert again.headers.get("x-answer-cache") == "hit" and again.body == first.body
    assert "x-answer-cache" not in fresh.headers and fresh.body == first.body
    other = live_server.request("GET", path, headers={"Accept": "text/csv"})  # another format: its own answer
    assert "x-answer-cache" not in other.headers and other.headers["content-type"].startswith("text/csv")
