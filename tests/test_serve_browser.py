"""What a person sees, in Debian's headless Chromium driven over the DevTools protocol.

Chromium is driven through ``--remote-debugging-pipe`` (NUL-separated JSON on fds 3 and 4),
so no WebSocket library is needed. The query-page test needs the YASGUI files
(``bash scripts/install_ui.sh``); without them it checks the plain-form fallback instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import serve_fixtures
from serve_fixtures import LiveServer

from budgetkg.serve.site import VENDOR_DIR

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian chromium not installed (apt-get install chromium)"
)

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server


class Browser:
    """Minimal DevTools client: one page, commands, events, and JavaScript evaluation."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # child: fd 3 = commands in, fd 4 = replies out
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            close_fds=False,  # fds 3 and 4 are set up by wire_fds after the fork
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Network.enable")
        self.call("Runtime.enable")

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        result = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:800])
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(f"(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()")
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {expression} (last {last!r})")

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def only_local(urls: list[str]) -> list[str]:
    """Requests that left the machine (there must be none: the pages work offline)."""
    bad = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome", "devtools"):
            continue
        if parts.hostname not in ("127.0.0.1", "localhost"):
            bad.append(url)
    return bad


QUERY = """PREFIX bk: <https://w3id.org/budgetkg/def#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?notation ?amount WHERE {
  ?obs bk:functionalClassification ?c ; bk:amount ?amount ;
       bk:column <http://budgetkg.test/def/column/total> .
  ?c skos:notation ?notation .
} ORDER BY ?notation"""


@pytest.mark.skipif(
    not (VENDOR_DIR / "yasgui" / "yasgui.min.js").is_file(),
    reason="YASGUI not installed: run bash scripts/install_ui.sh",
)
def test_query_page_runs_a_query_and_shows_rows(browser: Browser, live_server: LiveServer) -> None:
    browser.events.clear()
    browser.goto(live_server.origin + "/query")
    browser.wait_for("!!(window.budgetkgYasgui && document.querySelector('.CodeMirror'))")
    examples = browser.evaluate("document.querySelectorAll('button.example').length")
    assert examples >= 0
    browser.evaluate(
        "(() => { const t = window.budgetkgYasgui.getTab(); t.setQuery("
        + json.dumps(QUERY)
        + "); return t.query().then(() => true, () => true); })()",
        timeout=60,
    )
    rows = browser.wait_for(
        "(() => { const r = document.querySelectorAll('.yasr tbody tr');"
        " return r.length ? Array.from(r).map(x => x.innerText) : null; })()",
        timeout=30,
    )
    text = "\n".join(rows)
    assert len(rows) == 10, rows
    assert "2010301" in text and "600" in text
    assert only_local(browser.requested_urls()) == []


def test_plain_query_form_shows_rows_without_javascript(browser: Browser, live_server: LiveServer) -> None:
    url = f"{live_server.origin}/query?ui=plain&run=1&query={quote(QUERY, safe='')}"
    browser.goto(url)
    rows = browser.evaluate("Array.from(document.querySelectorAll('#results tbody tr')).map(r => r.innerText)")
    assert len(rows) == 10 and any("2010301" in r for r in rows)
    assert browser.evaluate("!!document.querySelector('textarea[name=query]')")


def test_resource_page_renders_amounts(
    browser: Browser, live_server: LiveServer, budget_build: serve_fixtures.BudgetBuild
) -> None:
    browser.events.clear()
    path = budget_build.mismatch_obs[len(budget_build.base) - 1 :]
    browser.goto(live_server.origin + path)
    amount = browser.evaluate("document.querySelector('.amount').innerText")
    unit = browser.evaluate("document.querySelector('.unit').innerText")
    assert amount == "1,000.00"
    assert "万元" in unit and "2023" in unit
    bad = browser.evaluate("document.querySelector('td.diff.bad').innerText")
    assert bad.startswith("10.00")
    pdf = browser.evaluate("document.querySelector('a[href^=\"/source/\"]').getAttribute('href')")
    assert pdf.endswith("#page=5")
    assert only_local(browser.requested_urls()) == []


def test_home_page_draws_the_budget(browser: Browser, live_server: LiveServer) -> None:
    browser.goto(live_server.origin + "/")
    cards = browser.evaluate("Array.from(document.querySelectorAll('.card .value')).map(c => c.innerText)")
    assert any(c.startswith("1,330.75") for c in cards)
    rects = browser.evaluate("document.querySelectorAll('.treemap .chart-fallback svg rect').length")
    assert rects >= 6  # the no-JavaScript fallback is in the page
    interactive = (VENDOR_DIR / "echarts" / "echarts.min.js").is_file()
    drawn = ".treemap .echart" if interactive else ".treemap svg"
    box = browser.evaluate(
        f"(() => {{ const r = document.querySelector('{drawn}').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert box[0] > 300 and box[1] > 100
    if interactive:  # ECharts drew the treemap and the bars, and hid the fallback
        assert browser.evaluate("document.querySelector('.treemap').classList.contains('interactive')")
        assert browser.evaluate("document.querySelector('.treemap .chart-fallback').hidden")
        assert browser.evaluate("document.querySelectorAll('.treemap .echart svg path').length") >= 4
        assert browser.evaluate("document.querySelectorAll('[data-chart=bars] .echart svg path').length") >= 3
        assert only_local(browser.requested_urls()) == []


def test_a_person_finds_a_project_from_the_search_box(browser: Browser, live_server: LiveServer) -> None:
    """Type a word of a project's name into the header's search box, submit, open the hit."""
    browser.goto(live_server.origin + "/id/org/")
    browser.evaluate(
        "(() => { const f = document.querySelector('header form.search');"
        " f.querySelector('input[name=q]').value = '热线'; f.submit(); })()"
    )
    browser.wait_for("location.pathname === '/search' && document.readyState === 'complete'")
    first = browser.wait_for("document.querySelector('ul.hits li a') && document.querySelector('ul.hits li a').href")
    assert "12345" in browser.evaluate("document.querySelector('ul.hits li a').innerText")
    browser.goto(first)
    assert browser.evaluate("document.querySelector('h1').innerText") == "12345热线运营"
    assert "150.00" in browser.evaluate("document.querySelector('.amount').innerText")
    assert "热线接通率" in browser.evaluate("document.body.innerText")  # its 绩效目标
    crumbs = browser.evaluate("document.querySelector('nav.crumbs').innerText")
    assert "项目 Projects" in crumbs
    assert only_local(browser.requested_urls()) == []
