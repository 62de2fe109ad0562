"""Downloads over a real server: media types, lengths, ETags and 304, ranges and 416, VoID."""

from __future__ import annotations

import gzip
import json

import pyoxigraph as ox
import pytest
import serve_fixtures
from serve_fixtures import BudgetBuild, LiveServer

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server

DUMP = "/dumps/budgetkg.nt.gz"


def dump_bytes(build: BudgetBuild) -> bytes:
    return (build.root / "dumps" / "budgetkg.nt.gz").read_bytes()


def test_dump_download_is_byte_exact(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    r = live_server.request("GET", DUMP, headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in r.headers
    assert r.body == dump_bytes(budget_build)
    assert int(r.headers["content-length"]) == len(r.body)
    assert r.headers["accept-ranges"] == "bytes"
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert gzip.decompress(r.body).startswith(b"<http")


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/dumps/budgetkg.ttl", "text/turtle"),
        ("/dumps/budgetkg.nq.gz", "application/gzip"),
        ("/dumps/budgetkg.jsonld", "application/ld+json"),
        ("/dumps/reference.ttl", "text/turtle"),
        ("/dumps/documents/gz-zwfwsjglj-2023-budget.ttl", "text/turtle"),
        ("/catalog.ttl", "text/turtle"),
        ("/validation/report.ttl", "text/turtle"),
        ("/validation/report.html", "text/html"),
    ],
)
def test_media_types(live_server: LiveServer, path: str, media: str) -> None:
    r = live_server.request("GET", path)
    assert r.status == 200, path
    assert r.headers["content-type"].split(";")[0] == media
    assert int(r.headers["content-length"]) == len(r.body)


def test_if_none_match_gives_304(live_server: LiveServer) -> None:
    etag = live_server.request("HEAD", DUMP).headers["etag"]
    for tag in (etag, "W/" + etag, f'"other", {etag}', "*"):
        r = live_server.request("GET", DUMP, headers={"If-None-Match": tag})
        assert r.status == 304, tag
        assert r.body == b"" and r.headers["etag"] == etag
    assert live_server.request("GET", DUMP, headers={"If-None-Match": '"nope"'}).status == 200


def test_etag_is_stable_and_content_based(live_server: LiveServer) -> None:
    a = live_server.request("HEAD", DUMP).headers["etag"]
    b = live_server.request("GET", DUMP).headers["etag"]
    other = live_server.request("HEAD", "/dumps/budgetkg.ttl").headers["etag"]
    assert a == b != other


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=10-", 10, None), ("bytes=-5", -5, None), ("bytes=3-3", 3, 3)],
)
def test_range_requests(
    live_server: LiveServer, budget_build: BudgetBuild, header: str, start: int, end: int | None
) -> None:
    data = dump_bytes(budget_build)
    size = len(data)
    expected = data[start:] if end is None else data[start : end + 1]
    r = live_server.request("GET", DUMP, headers={"Range": header})
    assert r.status == 206
    assert r.body == expected
    first = start % size
    assert r.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert int(r.headers["content-length"]) == len(expected)


def test_unsatisfiable_range_is_416(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    size = len(dump_bytes(budget_build))
    r = live_server.request("GET", DUMP, headers={"Range": f"bytes={size}-"})
    assert r.status == 416
    assert r.headers["content-range"] == f"bytes */{size}"


def test_if_range_with_old_etag_sends_whole_file(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    r = live_server.request("GET", DUMP, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status == 200 and r.body == dump_bytes(budget_build)
    etag = r.headers["etag"]
    r = live_server.request("GET", DUMP, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status == 206 and len(r.body) == 10


def test_head_has_headers_only(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    r = live_server.request("HEAD", DUMP)
    assert r.status == 200 and r.body == b""
    assert int(r.headers["content-length"]) == len(dump_bytes(budget_build))


@pytest.mark.parametrize("path", ["/dumps/../build.json", "/dumps/%2e%2e/build.json", "/dumps/nope.ttl", "/dumps/.x"])
def test_no_escape_from_dumps(live_server: LiveServer, path: str) -> None:
    assert live_server.request("GET", path).status == 404


def test_catalog_jsonld(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/catalog.jsonld")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/ld+json")
    doc = json.loads(r.body)
    assert "dcat" in json.dumps(doc)
    again = live_server.request("GET", "/catalog.jsonld", headers={"If-None-Match": r.headers["etag"]})
    assert again.status == 304


def test_source_pdf(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    path = f"/source/{budget_build.source_sha}.pdf"
    r = live_server.request("GET", path, headers={"Range": "bytes=0-4"})
    assert r.status == 206 and r.body == b"%PDF-"
    assert r.headers["content-type"] == "application/pdf"
    assert live_server.request("GET", "/source/" + "0" * 64 + ".pdf").status == 404


def test_void_points_at_endpoint_and_dumps(live_server: LiveServer, budget_build: BudgetBuild) -> None:
    """Absolute links come from the build's public base (http://budgetkg.test/), not the Host."""
    origin = budget_build.base.rstrip("/")
    r = live_server.request("GET", "/.well-known/void", headers={"Accept": "text/turtle", "Host": "evil.example"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/turtle")
    store = ox.Store()
    store.load(r.body, format=ox.RdfFormat.TURTLE)
    void = "http://rdfs.org/ns/void#"
    dumps = [q.object.value for q in store.quads_for_pattern(None, ox.NamedNode(void + "dataDump"), None)]
    assert origin + DUMP in dumps
    for url in dumps:
        assert live_server.request("HEAD", url[len(origin) :]).status == 200, url
    endpoints = list(store.quads_for_pattern(None, ox.NamedNode(void + "sparqlEndpoint"), None))
    assert [q.object.value for q in endpoints] == [origin + "/sparql"]
    assert b"evil.example" not in r.body
    jsonld = live_server.request("GET", "/.well-known/void", headers={"Accept": "application/ld+json"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")


def test_dumps_index_lists_files(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/dumps/")
    assert r.status == 200 and "budgetkg.nt.gz" in r.text and "documents/" in r.text
