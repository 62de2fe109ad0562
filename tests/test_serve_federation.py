"""Federation (SERVICE) can never make the endpoint connect out: a loopback canary (issue #12).

Two layers are tested separately, so that each would hold alone:

* the sandbox: a query worker cannot open a network socket, so even a SERVICE query that no
  guard looks at (``Job(check=False)``) never reaches the canary;
* the guard: every escape form that once slipped past the text guard is answered 403 before
  evaluation, on ``/sparql`` (GET, POST form, POST body) and on the plain query page.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from urllib.parse import quote, urlencode

import pytest
import serve_fixtures
from serve_fixtures import LiveServer

from budgetkg.serve import guard
from budgetkg.serve.execute import Job
from budgetkg.serve.workers import QueryPool

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server


class Canary:
    """A loopback port that accepts connections and remembers whether anyone came."""

    def __enter__(self) -> Canary:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/sparql"
        return self

    def contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# Every form is valid SPARQL as Oxigraph reads it (escapes only inside strings and IRIs), and
# hides its SERVICE clause from a reader that applies the escapes over the whole text first.
BYPASS_FORMS = [
    'SELECT * WHERE { VALUES ?v { "A\\u005C" } SERVICE <{url}> { ?s ?p ?o } } #" } }',
    "SELECT * WHERE { VALUES ?v { 'A\\u005C' } SERVICE <{url}> { ?s ?p ?o } } #' } }",
    'SELECT * WHERE { VALUES ?v { "A\\U0000005C" } SERVICE <{url}> { ?s ?p ?o } } #" } }',
    'SELECT * WHERE { BIND("A\\u005C" AS ?x) SERVICE <{url}> { ?s ?p ?o } } #" AS ?x) }',
    "SELECT * WHERE { BIND('A\\u005c' AS ?x) SERVICE SILENT <{url}> { ?s ?p ?o } } #' AS ?x) }",
    'SELECT * WHERE { VALUES ?v { """A\\u005C""" } SERVICE <{url}> { ?s ?p ?o } } #""" } }',
    'SELECT * WHERE { VALUES ?v { "\\u005C\\u005C\\u005C" } SERVICE <{url}> { ?s ?p ?o } } #" } }',
    'SELECT * WHERE { ?s ?p ?a FILTER(?a = "x\\u005C") SERVICE <{url}> { ?s ?p ?o } } #") }',
    'PREFIX ep: <{base}> SELECT * WHERE { VALUES ?v { "A\\u005C" } SERVICE ep:sparql { ?s ?p ?o } } #" } }',
    'SELECT * WHERE { VALUES ?v { "A\\u005C" } BIND(<{url}> AS ?e) SERVICE ?e { ?s ?p ?o } } #" } }',
    "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { \\u0053ERVICE <{url}> { ?s ?p ?o } }",
]


def _form(template: str, canary: Canary) -> str:
    return template.replace("{url}", canary.url).replace("{base}", canary.url.rsplit("/", 1)[0] + "/")


def test_canary_is_reachable_from_an_unconfined_process() -> None:
    """The canary itself works: an ordinary process running Oxigraph does reach it."""
    with Canary() as canary:
        code = (
            "import pyoxigraph as ox, sys\n"
            "try:\n"
            "    list(ox.Store().query(sys.argv[1]))\n"
            "except Exception:\n"
            "    pass\n"
        )
        query = f"SELECT * WHERE {{ SERVICE <{canary.url}> {{ ?s ?p ?o }} }}"
        proc = subprocess.Popen([sys.executable, "-c", code, query])
        try:
            for _ in range(100):
                if canary.contacted():
                    break
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
            else:
                pytest.fail("an unconfined Oxigraph did not contact the canary: the test would prove nothing")
        finally:
            proc.kill()
            proc.wait()


def test_sandboxed_worker_cannot_connect_even_without_the_guard(budget_build) -> None:  # noqa: ANN001
    """The real query pool with the guard switched off: the sandbox alone keeps SERVICE out."""

    async def run() -> list[int]:
        pool = QueryPool(budget_build.root / "store", size=1)
        await pool.start()
        try:
            statuses = []
            with Canary() as canary:
                for template in BYPASS_FORMS[:1] + ["SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }"]:
                    job = Job(query=_form(template, canary), max_rows=10, check=False)
                    outcome = await pool.run(job, timeout=20)
                    statuses.append(outcome.status)
                    assert not canary.contacted(), outcome.message
            return statuses
        finally:
            await pool.close()

    statuses = asyncio.run(run())
    assert all(s != 200 for s in statuses), statuses


@pytest.mark.parametrize("template", BYPASS_FORMS)
def test_service_escape_forms_are_refused_and_never_connect(live_server: LiveServer, template: str) -> None:
    with Canary() as canary:
        query = _form(template, canary)
        for method, path, body, headers in [
            ("GET", "/sparql?" + urlencode({"query": query}), None, {}),
            ("POST", "/sparql", urlencode({"query": query}), {"Content-Type": "application/x-www-form-urlencoded"}),
            ("POST", "/sparql", query, {"Content-Type": "application/sparql-query"}),
            ("GET", "/query?ui=plain&run=1&query=" + quote(query), None, {"Accept": "text/html"}),
        ]:
            r = live_server.request(method, path, body, headers)
            if path.startswith("/query"):
                assert "SERVICE" in r.text and "<table" not in r.text, (method, path, r.status)
            else:
                assert r.status == 403, (method, path, r.status, r.text)
            assert not canary.contacted(), f"{method} {path[:40]}: the endpoint contacted the SERVICE target"


@pytest.mark.parametrize("template", BYPASS_FORMS)
def test_guard_sees_service_in_either_reading(template: str) -> None:
    query = template.replace("{url}", "http://127.0.0.1:9/").replace("{base}", "http://127.0.0.1:9/")
    assert guard.classify(query).has_service
    with pytest.raises(guard.Refused):
        guard.check(query)


def test_strict_guard_refuses_any_mention_of_service() -> None:
    """Without a sandbox the worker refuses every query that spells 'service', even in a string."""
    guard.check('SELECT ("service" AS ?x) {}')
    with pytest.raises(guard.Refused):
        guard.check('SELECT ("service" AS ?x) {}', strict=True)
    with pytest.raises(guard.Refused):
        guard.check('SELECT ("\\u0073ervice" AS ?x) {}', strict=True)


def test_confined_process_cannot_make_network_sockets() -> None:
    """The filter itself, in a process of its own: inet sockets refused in every thread, AF_UNIX
    (the worker's pipe to the server) still allowed."""
    code = (
        "import socket, threading\n"
        "from budgetkg.serve.sandbox import confine\n"
        "assert confine().network_blocked\n"
        "socket.socketpair()\n"
        "def inet(family):\n"
        "    try:\n"
        "        socket.socket(family, socket.SOCK_STREAM)\n"
        "    except PermissionError:\n"
        "        return 'refused'\n"
        "    return 'opened'\n"
        "out = [inet(socket.AF_INET), inet(socket.AF_INET6)]\n"
        "t = threading.Thread(target=lambda: out.append(inet(socket.AF_INET))); t.start(); t.join()\n"
        "print(' '.join(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["refused", "refused", "refused"]
