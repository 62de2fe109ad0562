"""What a hostile or careless client can send must get a clear 4xx, never a crash, a 500, a
reflected Host or a live ``javascript:`` link — each case against a real loopback server
(the fixture build, timeout 4 s, 500 rows, 2 workers and the reserve worker)."""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pytest
import serve_fixtures
from serve_fixtures import LiveServer

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"


def q(text: str) -> str:
    return "/sparql?query=" + quote(text, safe="")


def _restarts(server: LiveServer) -> int:
    return int(server.request("GET", "/status").json()["worker_restarts"])


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(
    "query",
    [
        "ASK " + "{" * 5000 + "}" * 5000,
        "ASK { FILTER(" + "(" * 10000 + "1" + ")" * 10000 + ") }",
        "SELECT * WHERE " + "{ SELECT * WHERE " * 400 + "{}" + "}" * 400,
        "ASK { ?s ?p [ ?q " * 300 + "1" + " ] " * 300 + "}",
    ],
    ids=["braces", "parens", "sub-selects", "blank-nodes"],
)
def test_parser_stack_bombs_are_400_and_kill_no_worker(live_server: LiveServer, query: str) -> None:
    before = _restarts(live_server)
    r = live_server.request("POST", "/sparql", query, {"Content-Type": "application/sparql-query"})
    assert r.status == 400, (r.status, r.text[:300])
    assert "nested too deeply" in r.text
    assert _restarts(live_server) == before
    plain = live_server.request("GET", "/query?ui=plain&run=1&query=" + quote(query, safe=""))
    assert plain.status == 200 and "nested too deeply" in plain.text
    assert _restarts(live_server) == before


def test_brackets_in_strings_and_comments_do_not_count(live_server: LiveServer) -> None:
    query = 'SELECT ("' + "{(" * 500 + '" AS ?x) WHERE {} # ' + "{" * 500
    r = live_server.request("GET", q(query), headers={"Accept": "application/sparql-results+json"})
    assert r.status == 200, r.text[:300]


def test_one_huge_value_hits_the_byte_cap(live_server: LiveServer) -> None:
    """A 1 KB query can build a 30 MB string in one row: 413, and the HTTP process stays small."""
    steps = " ".join(
        f"BIND(CONCAT(?{a}, ?{a}, ?{a}, ?{a}, ?{a}, ?{a}, ?{a}, ?{a}) AS ?{b})"
        for a, b in zip("abcdef", "bcdefg", strict=True)
    )
    query = f'SELECT ?g WHERE {{ BIND("{"0123456789" * 12}" AS ?a) {steps} }}'
    assert len(query) < 1500
    assert live_server.proc is not None
    rss_before = _rss_kb(live_server.proc.pid)
    r = live_server.request("GET", q(query), timeout=60)
    assert r.status == 413, (r.status, r.text[:200])
    assert "bytes" in r.text and "/dumps/" in r.text
    assert _rss_kb(live_server.proc.pid) - rss_before < 40_000  # kB: the answer never reached it


def test_two_runaways_do_not_starve_a_short_query(live_server: LiveServer) -> None:
    threads = [
        threading.Thread(target=live_server.request, args=("GET", q(RUNAWAY)), kwargs={"timeout": 60}) for _ in range(2)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while live_server.request("GET", "/status").json()["idle_workers"] > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    r = live_server.request("GET", q("ASK {}"), timeout=30)
    elapsed = time.monotonic() - t0
    assert r.status == 200 and elapsed < 1.5, (r.status, elapsed)
    page = live_server.request("GET", "/", headers={"Accept": "text/html"}, timeout=30)
    assert page.status == 200
    for t in threads:
        t.join(timeout=60)


def test_javascript_iris_are_never_live_links(live_server: LiveServer) -> None:
    query = "SELECT ?x WHERE { VALUES ?x { <javascript:alert(document.domain)> <data:text/html,hi> } }"
    r = live_server.request("GET", "/query?ui=plain&run=1&query=" + quote(query, safe=""))
    assert r.status == 200
    assert "javascript:alert" in r.text  # shown…
    assert 'href="javascript' not in r.text.lower() and 'href="data:' not in r.text.lower()  # …not linked


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (q("SELECT (<http://example.org/f>(1) AS ?x) {}"), {}, 400),
        ("/dumps/budgetkg%00.ttl", {}, 400),
        ("/static/app%00.css", {}, 400),
        ("/validation/report%00.ttl", {}, 400),
        ("/dumps/budgetkg.ttl", {"Range": "bytes=" + "9" * 5000 + "-"}, 416),
        ("/dumps/budgetkg.ttl", {"Range": "bytes=0-" + "9" * 5000}, 206),
        ("/dumps/budgetkg.ttl", {"Range": "bytes=-" + "9" * 5000}, 206),
        ("/sparql?query=ASK%20%7B%7D%FF", {}, 400),
        ("/query?ui=plain&run=1&query=ASK%20%7B%7D%FF", {}, 400),
    ],
    ids=[
        "unknown-function",
        "nul-dumps",
        "nul-static",
        "nul-validation",
        "range-start",
        "range-end",
        "range-suffix",
        "ff-sparql",
        "ff-query-page",
    ],
)
def test_bad_input_is_a_4xx(live_server: LiveServer, path: str, headers: dict[str, str], status: int) -> None:
    r = live_server.request("GET", path, headers=headers)
    assert r.status == status, (r.status, r.text[:300])


def test_form_body_with_bad_utf8_is_400(live_server: LiveServer) -> None:
    r = live_server.request(
        "POST", "/sparql", "query=ASK%20%7B%7D%FF", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status == 400


@pytest.mark.parametrize(
    "which", ["/", "/validation", "/query?ui=plain", "resource", "/search?q=%E6%94%BF%E5%8A%A1", "/id/project/"]
)
def test_head_has_the_length_of_get(live_server: LiveServer, budget_build, which: str) -> None:  # noqa: ANN001
    path = "/" + quote(budget_build.org.removeprefix(budget_build.base)) if which == "resource" else which
    get = live_server.request("GET", path, headers={"Accept": "text/html"})
    head = live_server.request("HEAD", path, headers={"Accept": "text/html"})
    assert get.status == head.status == 200
    assert head.body == b""
    assert int(head.headers["content-length"]) == len(get.body) > 0


def test_host_header_is_never_echoed(live_server: LiveServer) -> None:
    evil = {"Host": "evil.example:666"}
    for path, accept in (
        ("/sparql", "text/turtle"),
        ("/.well-known/void", "text/turtle"),
        ("/query", "text/html"),
        ("/query?ui=plain", "text/html"),
        ("/", "text/html"),
        ("/status", "application/json"),
    ):
        r = live_server.request("GET", path, headers={**evil, "Accept": accept})
        assert r.status == 200, path
        assert b"evil.example" not in r.body, path


@pytest.mark.parametrize("path", ["/", "/sparql?query=ASK%7B%7D", "/dumps/budgetkg.ttl", "/no/such/thing"])
def test_security_headers(live_server: LiveServer, path: str) -> None:
    r = live_server.request("GET", path, headers={"Accept": "text/html"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


def test_status_publishes_no_process_ids(live_server: LiveServer) -> None:
    status = live_server.request("GET", "/status").json()
    assert not any("pid" in key for key in status)
    assert status["short_workers"] == 1 and status["max_bytes"] > 0


def test_void_opens_in_a_browser(live_server: LiveServer) -> None:
    r = live_server.request("GET", "/.well-known/void", headers={"Accept": "text/html,*/*;q=0.1"})
    assert r.status == 200
    r = live_server.request("GET", "/.well-known/void", headers={"Accept": "text/html"})
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
