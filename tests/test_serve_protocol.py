"""SPARQL 1.1 Protocol against a real server: the W3C protocol test cases that apply to a
read-only endpoint (rewritten as tests here, their three one-triple graphs inline), plus content
negotiation, service description, CORS and gzip.

The W3C update cases expect 2xx from a writable endpoint; this endpoint is read-only by design,
so those requests must be refused with 403 instead.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from serve_fixtures import LiveServer, Reply, write_build

K = "http://kasei.us/2009/09/sparql/data/"
DOC = "http://xmlns.com/foaf/0.1/Document"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SRX = "{http://www.w3.org/2005/sparql-results#}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DIRECT = {"Content-Type": "application/sparql-query"}
D0 = quote(K + "data0.rdf", safe="")
D1 = quote(K + "data1.rdf", safe="")
D2 = quote(K + "data2.rdf", safe="")
D3 = quote(K + "data3.rdf", safe="")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The protocol suite's data: graph dataN.rdf holds ``<dataN.rdf> a foaf:Document``."""
    quads = []
    for i in (1, 2, 3):
        g = ox.NamedNode(f"{K}data{i}.rdf")
        quads.append(ox.Quad(g, ox.NamedNode(RDF_TYPE), ox.NamedNode(DOC), g))
    root = write_build(tmp_path_factory.mktemp("w3c") / "build", quads, base="http://example.org/")
    srv = LiveServer(root, timeout=10.0, max_rows=1000, workers=2).start()
    yield srv
    srv.stop()


def boolean(reply: Reply) -> bool:
    """Read an ASK answer in SPARQL JSON or XML results."""
    ct = reply.headers["content-type"]
    if "json" in ct:
        return bool(reply.json()["boolean"])
    assert "xml" in ct, ct
    node = ET.fromstring(reply.body).find(SRX + "boolean")
    assert node is not None and node.text is not None
    return node.text.strip() == "true"


def ok_true(reply: Reply) -> None:
    assert 200 <= reply.status < 400, (reply.status, reply.text)
    assert boolean(reply) is True


def q(text: str) -> str:
    return quote(text, safe="")


ASK_1_2 = f"ASK {{ <{K}data1.rdf> a ?type . <{K}data2.rdf> a ?type . }}"
ASK_NAMED = f"ASK {{ GRAPH ?g1 {{ <{K}data1.rdf> a ?type }} GRAPH ?g2 {{ <{K}data2.rdf> a ?type }} }}"


# --- W3C query cases ---------------------------------------------------------------------


def test_query_post_form(server: LiveServer) -> None:
    ok_true(server.request("POST", f"/sparql/?default-graph-uri={D0}", "query=ASK%20%7B%7D", FORM))


def test_query_dataset_default_graphs_get(server: LiveServer) -> None:
    path = f"/sparql/?query={q(ASK_1_2)}&default-graph-uri={D1}&default-graph-uri={D2}"
    ok_true(server.request("GET", path))


def test_query_dataset_default_graphs_post(server: LiveServer) -> None:
    path = f"/sparql/?default-graph-uri={D1}&default-graph-uri={D2}"
    ok_true(server.request("POST", path, ASK_1_2, DIRECT))


def test_query_dataset_named_graphs_post(server: LiveServer) -> None:
    path = f"/sparql/?named-graph-uri={D1}&named-graph-uri={D2}"
    ok_true(server.request("POST", path, ASK_NAMED, DIRECT))


def test_query_dataset_named_graphs_get(server: LiveServer) -> None:
    path = f"/sparql/?query={q(ASK_NAMED)}&named-graph-uri={D1}&named-graph-uri={D2}"
    ok_true(server.request("GET", path))


def test_query_dataset_full(server: LiveServer) -> None:
    query = (
        f"ASK {{ <{K}data3.rdf> a ?type\n"
        f"  GRAPH ?g1 {{ <{K}data1.rdf> a ?type }}\n"
        f"  GRAPH ?g2 {{ <{K}data2.rdf> a ?type }} }}"
    )
    path = f"/sparql/?default-graph-uri={D3}&named-graph-uri={D1}&named-graph-uri={D2}"
    ok_true(server.request("POST", path, query, DIRECT))


def test_query_multiple_dataset(server: LiveServer) -> None:
    """The protocol's dataset overrides the query's FROM."""
    query = f"ASK FROM <{K}data3.rdf> {ASK_NAMED[4:]}"
    path = f"/sparql/?named-graph-uri={D1}&named-graph-uri={D2}"
    ok_true(server.request("POST", path, query, DIRECT))


def test_query_get(server: LiveServer) -> None:
    ok_true(server.request("GET", f"/sparql/?query=ASK%20%7B%7D&default-graph-uri={D0}"))


def test_query_post_direct(server: LiveServer) -> None:
    ok_true(server.request("POST", "/sparql/", "ASK {}", DIRECT))


def test_query_content_type_select(server: LiveServer) -> None:
    r = server.request("POST", f"/sparql/?default-graph-uri={D0}", "SELECT (1 AS ?value) {}", DIRECT)
    assert r.status == 200
    media = r.headers["content-type"].split(";")[0]
    assert media in {
        "application/sparql-results+xml",
        "application/sparql-results+json",
        "text/csv",
        "text/tab-separated-values",
    }
    assert r.json()["results"]["bindings"][0]["value"]["value"] == "1"


def test_query_content_type_ask(server: LiveServer) -> None:
    r = server.request("POST", f"/sparql/?default-graph-uri={D0}", "ASK {}", DIRECT)
    assert r.headers["content-type"].split(";")[0] in {
        "application/sparql-results+xml",
        "application/sparql-results+json",
    }
    ok_true(r)


@pytest.mark.parametrize("query", ["DESCRIBE <http://example.org/>", "CONSTRUCT { <s> <p> 1 } WHERE {}"])
def test_query_content_type_graph(server: LiveServer, query: str) -> None:
    r = server.request("POST", f"/sparql/?default-graph-uri={D0}", query, DIRECT)
    assert r.status == 200, r.text
    assert r.headers["content-type"].split(";")[0] in {
        "application/rdf+xml",
        "text/turtle",
        "application/n-triples",
    }
    ox.parse(r.body, format=ox.RdfFormat.TURTLE, base_iri="http://example.org/")


# --- W3C bad-request cases ---------------------------------------------------------------

BAD = [
    ("bad_query_method", "PUT", f"/sparql/?query=ASK%20%7B%7D&default-graph-uri={D0}", None, FORM),
    (
        "bad_multiple_queries",
        "GET",
        "/sparql/?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D",
        None,
        {},
    ),
    ("bad_query_wrong_media_type", "POST", "/sparql/", "ASK {}", {"Content-Type": "text/plain"}),
    ("bad_query_missing_form_type", "POST", "/sparql/", "query=ASK%20%7B%7D", {}),
    ("bad_query_missing_direct_type", "POST", "/sparql/", "ASK {}", {}),
    (
        "bad_query_non_utf8",
        "POST",
        "/sparql/",
        "ASK {}".encode("utf-16"),
        {"Content-Type": "application/sparql-query; charset=UTF-16"},
    ),
    ("bad_query_syntax", "GET", "/sparql/?query=ASK%20%7B", None, {}),
    ("bad_update_get", "GET", "/sparql/?update=CLEAR%20ALL", None, {}),
    (
        "bad_multiple_updates",
        "POST",
        "/sparql/",
        "update=CLEAR%20NAMED&update=CLEAR%20DEFAULT",
        FORM,
    ),
    (
        "bad_update_wrong_media_type",
        "POST",
        "/sparql/",
        "CLEAR NAMED",
        {"Content-Type": "text/plain"},
    ),
    ("bad_update_missing_form_type", "POST", "/sparql/", "update=CLEAR%20NAMED", {}),
    (
        "bad_update_non_utf8",
        "POST",
        "/sparql/",
        "CLEAR NAMED".encode("utf-16"),
        {"Content-Type": "application/sparql-update; charset=UTF-16"},
    ),
    ("bad_update_syntax", "POST", "/sparql/", "update=CLEAR%20XYZ", FORM),
    (
        "bad_update_dataset_conflict",
        "POST",
        "/sparql/?using-named-graph-uri=http%3A%2F%2Fexample%2Fpeople",
        "PREFIX foaf: <http://xmlns.com/foaf/0.1/> WITH <http://example/addresses> "
        "DELETE { ?p foaf:givenName 'Bill' } INSERT { ?p foaf:givenName 'William' } "
        "WHERE { ?p foaf:givenName 'Bill' }",
        {"Content-Type": "application/sparql-update"},
    ),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "headers"), BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_4xx(
    server: LiveServer, name: str, method: str, path: str, body: bytes | str | None, headers: dict
) -> None:
    r = server.request(method, path, body, headers)
    assert 400 <= r.status < 500, (name, r.status, r.text)
    assert r.text.strip(), "a 4xx answer explains itself"


def test_syntax_error_carries_parser_message(server: LiveServer) -> None:
    r = server.request("GET", "/sparql?query=" + q("SELECT * WHERE { ?s ?p }"))
    assert r.status == 400
    assert "syntax" in r.text.lower() and "1:" in r.text


UPDATES = [
    ("update_post_form", "update=CLEAR+ALL", FORM),
    ("update_post_direct", "CLEAR ALL", {"Content-Type": "application/sparql-update"}),
    (
        "update_base_uri",
        "INSERT DATA { GRAPH <http://example.org/protocol-base-test/> "
        "{ <http://example.org/s> <http://example.org/p> <test> } }",
        {"Content-Type": "application/sparql-update"},
    ),
    (
        "update_dataset_default_graph",
        "DROP ALL ; INSERT DATA { GRAPH <http://x/> { <http://x/s> a <http://x/C> } }",
        {"Content-Type": "application/sparql-update"},
    ),
]


@pytest.mark.parametrize(("name", "body", "headers"), UPDATES, ids=[u[0] for u in UPDATES])
def test_updates_are_refused_and_change_nothing(server: LiveServer, name: str, body: str, headers: dict) -> None:
    r = server.request("POST", "/sparql/", body, headers)
    assert r.status == 403, (name, r.status)
    assert "read-only" in r.text
    still = server.request("GET", "/sparql?query=" + q(f"ASK {{ GRAPH ?g {{ <{K}data1.rdf> a ?t }} }}"))
    ok_true(still)


# --- negotiation -------------------------------------------------------------------------

SELECT = "/sparql?query=" + q("SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?s")


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/sparql-results+json", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/json", "application/sparql-results+json"),
        (
            "text/csv;q=0.5, application/sparql-results+xml;q=0.9, */*;q=0.1",
            "application/sparql-results+xml",
        ),
        ("text/*;q=0.9, application/*;q=0.2", "text/csv"),
        ("*/*", "application/sparql-results+json"),
    ],
)
def test_select_negotiation(server: LiveServer, accept: str, media: str) -> None:
    r = server.request("GET", SELECT, headers={"Accept": accept})
    assert r.status == 200
    assert r.headers["content-type"].split(";")[0] == media
    assert "accept" in r.headers["vary"].lower()


def test_select_formats_carry_the_rows(server: LiveServer) -> None:
    csv_text = server.request("GET", SELECT + "&format=csv").text.splitlines()
    assert csv_text[0] == "s" and csv_text[1] == K + "data1.rdf"
    tsv = server.request("GET", SELECT + "&format=tsv").text.splitlines()
    assert tsv[0] == "?s" and tsv[1] == f"<{K}data1.rdf>"
    xml = ET.fromstring(server.request("GET", SELECT + "&format=xml").body)
    assert len(xml.findall(f"{SRX}results/{SRX}result")) == 3


def test_format_parameter_beats_accept(server: LiveServer) -> None:
    r = server.request("GET", SELECT + "&format=tsv", headers={"Accept": "application/sparql-results+json"})
    assert r.headers["content-type"].startswith("text/tab-separated-values")


def test_not_acceptable(server: LiveServer) -> None:
    r = server.request("GET", SELECT, headers={"Accept": "image/png"})
    assert r.status == 406
    assert "application/sparql-results+json" in r.text


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("text/turtle", ox.RdfFormat.TURTLE),
        ("application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/ld+json", ox.RdfFormat.JSON_LD),
        ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ],
)
def test_construct_negotiation(server: LiveServer, accept: str, fmt: ox.RdfFormat) -> None:
    query = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
    r = server.request("GET", "/sparql?query=" + q(query), headers={"Accept": accept})
    assert r.status == 200
    assert r.headers["content-type"].split(";")[0] == fmt.media_type
    assert len(list(ox.parse(r.body, format=fmt))) == 3


def test_union_default_graph(server: LiveServer) -> None:
    """Without a dataset, the default graph is the union of the named graphs."""
    r = server.request("GET", "/sparql?query=" + q("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"))
    assert r.json()["results"]["bindings"][0]["n"]["value"] == "3"


def test_head_has_no_body(server: LiveServer) -> None:
    r = server.request("HEAD", "/sparql?query=ASK%7B%7D")
    assert r.status == 200 and r.body == b""
    assert int(r.headers["content-length"]) > 0


# --- service description, CORS, gzip ------------------------------------------------------


def test_service_description(server: LiveServer) -> None:
    r = server.request("GET", "/sparql", headers={"Accept": "text/turtle"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/turtle")
    g = ox.Store()
    g.load(r.body, format=ox.RdfFormat.TURTLE)
    endpoint = "http://example.org/sparql"  # from the build's public base, never from the Host header
    sd = "http://www.w3.org/ns/sparql-service-description#"
    ep = list(g.quads_for_pattern(None, ox.NamedNode(sd + "endpoint"), None))
    assert [str(x.object.value) for x in ep] == [endpoint]
    assert bool(g.query(f"ASK {{ ?s <{sd}supportedLanguage> <{sd}SPARQL11Query> }}"))
    see_also = {
        x.object.value
        for x in g.quads_for_pattern(
            ox.NamedNode(endpoint),
            ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
            None,
        )
    }
    assert "http://example.org/.well-known/void" in see_also
    names = {x.object.value for x in g.quads_for_pattern(None, ox.NamedNode(sd + "name"), None)}
    assert names == {f"{K}data{i}.rdf" for i in (1, 2, 3)}
    jsonld = server.request("GET", "/sparql?format=jsonld")
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    json.loads(jsonld.body)


def test_cors_preflight_and_simple(server: LiveServer) -> None:
    pre = server.request(
        "OPTIONS",
        "/sparql",
        headers={
            "Origin": "https://example.net",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status in (200, 204)
    assert pre.headers["access-control-allow-origin"] in ("*", "https://example.net")
    assert "POST" in pre.headers["access-control-allow-methods"]
    simple = server.request("GET", "/sparql?query=ASK%7B%7D", headers={"Origin": "https://example.net"})
    assert simple.headers["access-control-allow-origin"] == "*"
    plain = server.request("OPTIONS", "/sparql")
    assert plain.status == 204 and "POST" in plain.headers["allow"]


def test_gzip_when_asked(server: LiveServer) -> None:
    pad = "x" * 2000
    query = f'SELECT ?s ?p ?o ("{pad}" AS ?pad) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}'
    r = server.request(
        "GET",
        "/sparql?query=" + q(query),
        headers={"Accept-Encoding": "gzip", "Accept": "text/csv"},
    )
    assert r.status == 200
    assert r.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(r.body).decode().startswith("s,p,o,pad")
    plain = server.request("GET", "/sparql?query=" + q(query), headers={"Accept": "text/csv"})
    assert "content-encoding" not in plain.headers


def test_update_endpoints_refused(server: LiveServer) -> None:
    for path in ("/update", "/sparql/update", "/store"):
        for method in ("GET", "POST", "PUT", "DELETE"):
            r = server.request(method, path, "CLEAR ALL", {"Content-Type": "application/sparql-update"})
            assert r.status == 403, (path, method, r.status)
