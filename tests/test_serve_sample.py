"""`budgetkg serve` on the real build of the sample PDF: the endpoint, the pages a journalist
would open, and the same pages in headless Chromium."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import BASE
from serve_fixtures import LiveServer


def path_of(iri: str) -> str:
    return "/" + quote(iri.removeprefix(BASE), safe="/:~%")


def test_sparql_counts_every_amount(sample_server: LiveServer) -> None:
    q = "PREFIX bk: <https://w3id.org/budgetkg/def#> SELECT (COUNT(?o) AS ?n) WHERE { ?o bk:amount ?a }"
    reply = sample_server.request(
        "POST",
        "/sparql",
        body=q,
        headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
    )
    assert reply.status == 200
    assert reply.json()["results"]["bindings"][0]["n"]["value"] == "1113"


def test_home_page_shows_totals_and_problems(sample_server: LiveServer) -> None:
    reply = sample_server.request("GET", "/", headers={"Accept": "text/html"})
    assert reply.status == 200
    assert "广州市政务服务数据管理局" in reply.text and "49,057.92" in reply.text and "11,381.42" in reply.text
    assert "广州市政务服务中心" in reply.text  # a genuine inconsistency is on the page


def test_every_minted_iri_resolves(sample_server: LiveServer, sample_build: Path) -> None:
    manifest = json.loads((sample_build / "build.json").read_text(encoding="utf-8"))
    iris = [
        BASE + "id/org/gz-zwfwsjglj",
        manifest["documents"][0]["budget"],
        BASE + "id/budget/gz-zwfwsjglj/2023/budget/table/expenditure-summary",
        BASE + "id/budget/gz-zwfwsjglj/2023/budget/obs/expenditure-summary/2010301/total",
        BASE + "def/code/func/2010301",
        BASE + "id/project/gz-zwfwsjglj/广州12345政务服务便民热线项目",
    ]
    for iri in iris:
        html = sample_server.request("GET", path_of(iri), headers={"Accept": "text/html"})
        assert html.status == 200, iri
        ttl = sample_server.request("GET", path_of(iri), headers={"Accept": "text/turtle"})
        assert ttl.status == 200 and ttl.headers["content-type"].startswith("text/turtle"), iri
        assert "vary" in {k.lower() for k in ttl.headers}
    page = sample_server.request("GET", path_of(iris[3]), headers={"Accept": "text/html"}).text
    assert "3,822.44" in page and "万元" in page and "第 10 页" in page


def test_downloads_and_catalog(sample_server: LiveServer, sample_build: Path) -> None:
    dump = sample_server.request("GET", "/dumps/budgetkg.nt.gz")
    assert dump.status == 200 and dump.body == (sample_build / "dumps" / "budgetkg.nt.gz").read_bytes()
    assert "etag" in dump.headers
    part = sample_server.request("GET", "/dumps/budgetkg.ttl", headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(part.body) == 100
    assert sample_server.request("GET", "/catalog.ttl").status == 200
    assert sample_server.request("GET", "/.well-known/void").status in (200, 303)


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian chromium not installed")
def test_home_and_resource_pages_in_chromium(sample_server: LiveServer) -> None:
    from test_serve_browser import Browser, only_local

    browser = Browser()
    try:
        browser.goto(sample_server.origin + "/")
        cards = browser.evaluate("Array.from(document.querySelectorAll('.card .value')).map(c => c.innerText)")
        assert any(c.startswith("49,057.92") for c in cards)
        assert browser.evaluate("document.querySelectorAll('.treemap svg rect').length") >= 4
        obs = (
            BASE
            + "id/budget/gz-zwfwsjglj/2023/budget/obs/general-budget-functional/2010301/general-public-budget.total"
        )
        browser.goto(sample_server.origin + path_of(obs))
        assert browser.evaluate("document.querySelector('.amount').innerText") == "3,822.44"
        assert "万元" in browser.evaluate("document.querySelector('.unit').innerText")
        assert only_local(browser.requested_urls()) == []
    finally:
        browser.close()


def test_prose_figures_are_marked_in_the_text_only(sample_server: LiveServer) -> None:
    """Each checked figure of the budget's prose is one <mark> in the sentence, never inside the
    tooltip of another: the sample's 政府采购 sentence prints 4198.58 = 110.39 + 0 + 4088.19, and
    the tooltip of 4198.58 quotes 110.39 (a text replace once marked the figure there, breaking
    the element)."""
    from html.parser import HTMLParser

    page = sample_server.request("GET", path_of(BASE + "id/budget/gz-zwfwsjglj/2023/budget")).text
    claims = page.split('<ol class="claims">', 1)[1].split("</ol>", 1)[0]

    class Marks(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.marks: list[tuple[str, str]] = []
            self._open: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "mark":
                assert self._open is None, "a mark inside a mark"
                self._open = [dict(attrs).get("title") or ""]

        def handle_data(self, data: str) -> None:
            if self._open is not None:
                self._open.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag == "mark" and self._open is not None:
                self.marks.append((self._open[0], "".join(self._open[1:])))
                self._open = None

    parser = Marks()
    parser.feed(claims)
    assert len(parser.marks) >= 20
    assert all("<" not in title and "mark" not in title for title, _ in parser.marks)
    procurement = [title for title, figure in parser.marks if figure == "4198.58"]
    assert procurement and "110.39" in procurement[0] and "4088.19" in procurement[0]
