"""A person can find things on the sample_server sample without SPARQL, and every link works.

The sample build's base is the default ``http://localhost:8000/`` and the server runs on a
random port without ``--base-uri``: every link, result and description must use the port it
is sample_server on (never ``localhost:8000``), and a crawl from ``/`` must find no broken link and no
link to another origin.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections import deque
from html import unescape
from urllib.parse import quote, urljoin, urlsplit

from serve_fixtures import LiveServer

HREF = re.compile(r"""(?:href|src|action)\s*=\s*"([^"]*)\"""")
BYTE_LINKS = (".ttl", ".jsonld", ".nt", ".rdf", ".csv", ".gz", ".pdf", ".nq", ".json", ".html", ".js", ".css")


class Crawler:
    """Breadth-first crawl of one origin: GET for pages, HEAD for downloads; two threads."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.origin = server.origin
        self.seen: set[str] = set()
        self.queue: deque[tuple[str, str]] = deque()
        self.broken: list[tuple[str, int, str]] = []
        self.foreign: list[tuple[str, str]] = []
        self.pages = 0
        self.lock = threading.Lock()
        self.busy = 0

    def add(self, target: str, page: str) -> None:
        url = urljoin(self.origin + page, unescape(target))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            if parts.scheme not in ("", "mailto"):
                self.foreign.append((page, target))
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append((page, target))
            return
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        with self.lock:
            if path not in self.seen:
                self.seen.add(path)
                self.queue.append((path, page))

    def _head_only(self, path: str) -> bool:
        bare = path.split("?", 1)[0]
        return (
            bare.endswith(BYTE_LINKS)
            or "format=" in path
            or path.startswith(("/query?", "/sparql", "/dumps/", "/source/", "/static/"))
        )

    def worker(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        while True:
            with self.lock:
                if not self.queue:
                    if self.busy == 0:
                        return
                    item = None
                else:
                    item = self.queue.popleft()
                    self.busy += 1
            if item is None:
                threading.Event().wait(0.02)
                continue
            path, page = item
            try:
                method = "HEAD" if self._head_only(path) else "GET"
                conn.request(method, path, headers={"Accept": "text/html"})
                resp = conn.getresponse()
                body = resp.read()
                if resp.status not in (200, 206):
                    self.broken.append((path, resp.status, page))
                elif method == "GET" and resp.getheader("content-type", "").startswith("text/html"):
                    self.pages += 1
                    for target in HREF.findall(body.decode("utf-8", "replace")):
                        if not target.startswith("#"):
                            self.add(target, path)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
                self.broken.append((path, 0, page))
            finally:
                with self.lock:
                    self.busy -= 1

    def run(self, threads: int = 2) -> None:
        self.add("/", "/")
        workers = [threading.Thread(target=self.worker) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def test_crawl_finds_no_broken_link_and_no_other_origin(sample_server: LiveServer) -> None:
    crawler = Crawler(sample_server)
    crawler.run()
    assert crawler.pages > 1000  # every observation, project, code, table and organisation page
    assert crawler.broken == [], crawler.broken[:20]
    assert crawler.foreign == [], crawler.foreign[:20]
    for must in ("/id/org/", "/id/project/", "/def/code/", "/id/budget/", "/validation", "/lines.csv"):
        assert any(p == must or p.startswith(must + "?") for p in crawler.seen), must


def test_a_project_is_found_by_a_word_of_its_name(sample_server: LiveServer) -> None:
    page = sample_server.request("GET", "/", headers={"Accept": "text/html"}).text
    assert 'action="/search"' in page  # the search box is on the home page (and every other page)
    r = sample_server.request("GET", "/search?q=" + quote("穗智管"), headers={"Accept": "text/html"})
    assert r.status == 200
    hits = re.findall(
        r'<li><span class="kind">项目 Project</span> <a href="([^"]+)">([^<]+)</a>([^<]*<span[^<]*)', r.text
    )
    assert hits, r.text[:2000]
    first = hits[0]
    assert "穗智管" in first[1] and "万元" in r.text
    project = sample_server.request("GET", unescape(first[0]), headers={"Accept": "text/html"})
    assert project.status == 200
    assert "绩效目标" in project.text and "万元" in project.text and "2023" in project.text
    spaced = sample_server.request("GET", "/search?q=" + quote("12345政务"), headers={"Accept": "application/json"})
    results = spaced.json()["results"]
    assert any(x["kind"] == "project" and "amount" in x for x in results), results


def test_search_json_and_codes(sample_server: LiveServer) -> None:
    r = sample_server.request("GET", "/search?q=2010301", headers={"Accept": "application/json"})
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    first = r.json()["results"][0]
    assert first["kind"] == "code" and first["notation"] == "2010301"
    assert sample_server.request("GET", first["href"], headers={"Accept": "text/html"}).status == 200
    assert r.json()["results"][0]["iri"].startswith(sample_server.origin + "/") or first["href"].startswith("/")
    none = sample_server.request("GET", "/search?q=" + quote("不存在的东西xyz"), headers={"Accept": "text/html"})
    assert none.status == 200 and "/id/project/" in none.text


def test_index_pages_list_what_exists_with_amounts(sample_server: LiveServer) -> None:
    orgs = sample_server.request("GET", "/id/org/", headers={"Accept": "text/html"}).text
    assert "广州市政务服务数据管理局" in orgs and "广州市政务服务中心" in orgs
    projects = sample_server.request("GET", "/id/project/", headers={"Accept": "text/html"}).text
    assert "广州 12345 政务服务便民热线项目" in projects and "15,412.94" in projects and "万元" in projects
    codes = sample_server.request("GET", "/def/code/func/", headers={"Accept": "text/html"}).text
    assert "2010301" in codes and "行政运行" in codes and "广州市政务服务数据管理局" in codes
    dept = sample_server.request("GET", "/id/org/gz-zwfwsjglj", headers={"Accept": "text/html"}).text
    assert "Budgets by year" in dept and "49,057.92" in dept and "11,381.42" in dept
    assert 'href="/id/budget/gz-zwfwsjglj/2023/budget"' in dept
    code = sample_server.request("GET", "/def/code/func/2010301", headers={"Accept": "text/html"}).text
    assert "部门 Department" in code and "广州市政务服务数据管理局" in code
    crumbs = code.split('<nav class="crumbs"', 1)[1].split("</nav>", 1)[0]
    assert "/def/code/" in crumbs and "20103" in crumbs


def test_404_page_offers_search(sample_server: LiveServer) -> None:
    r = sample_server.request("GET", "/id/org/nobody-at-all", headers={"Accept": "text/html"})
    assert r.status == 404 and 'action="/search"' in r.text and "/id/org/" in r.text


def test_loopback_base_is_served_at_the_serving_origin(sample_server: LiveServer) -> None:
    """No --base-uri: results, VoID, service description and catalog use this server's port."""
    q = "SELECT ?d WHERE { ?d a <https://w3id.org/budgetkg/def#Department> }"
    r = sample_server.request("GET", "/sparql?query=" + quote(q), headers={"Accept": "application/sparql-results+json"})
    iri = r.json()["results"]["bindings"][0]["d"]["value"]
    assert iri == sample_server.origin + "/id/org/gz-zwfwsjglj"
    path = iri[len(sample_server.origin) :]
    assert sample_server.request("GET", path, headers={"Accept": "text/turtle"}).status == 200
    back = f"ASK {{ <{iri}> ?p ?o }}"
    assert sample_server.request("GET", "/sparql?query=" + quote(back)).json()["boolean"] is True
    void = sample_server.request("GET", "/.well-known/void", headers={"Accept": "text/turtle"}).text
    assert f"<{sample_server.origin}/dataset/budgetkg>" in void  # the build's own VoID: one description
    assert ".well-known/void#dataset" not in void
    for path in ("/.well-known/void", "/sparql", "/catalog.ttl", "/id/org/gz-zwfwsjglj.ttl"):
        body = sample_server.request("GET", path, headers={"Accept": "text/turtle"}).text
        assert "localhost:8000" not in body, path
        assert sample_server.origin in body, path
