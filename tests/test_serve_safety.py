"""A public endpoint must survive its clients: no writes, no federation, bounded time and size.

All against a real server (timeout 4 s, 500 rows, 2 workers) on the fixture build.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest
import serve_fixtures
from serve_fixtures import LiveServer

from budgetkg.serve import guard

budget_build = serve_fixtures.budget_build
live_server = serve_fixtures.live_server

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"


def q(text: str) -> str:
    return "/sparql?query=" + quote(text, safe="")


# --- refused before evaluation ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "INSERT DATA { <http://x/s> <http://x/p> <http://x/o> }",
        "PREFIX ex: <http://x/> DELETE WHERE { ?s ?p ?o }",
        "LOAD <http://example.org/data.ttl>",
        "CLEAR ALL",
        "DROP GRAPH <http://x/g>",
    ],
)
def test_update_in_query_parameter_refused(live_server: LiveServer, query: str) -> None:
    r = live_server.request("GET", q(query))
    assert r.status == 403
    assert "read-only" in r.text


def test_update_parameter_refused(live_server: LiveServer) -> None:
    r = live_server.request(
        "POST",
        "/sparql",
        "update=" + quote("INSERT DATA { <http://x/s> <http://x/p> 1 }"),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 403 and "read-only" in r.text
    r = live_server.request("POST", "/sparql", "LOAD <http://x/>", {"Content-Type": "application/sparql-update"})
    assert r.status == 403


class Listener:
    """A loopback socket standing in for a remote SPARQL endpoint: did anyone connect?"""

    def __enter__(self) -> Listener:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/sparql"
        return self

    def contacted(self, wait: float = 0.5) -> bool:
        ready, _, _ = select.select([self.sock], [], [], wait)
        return bool(ready)

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


SERVICE_FORMS = [
    "SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "select * where { service silent <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?x ?y ?z OPTIONAL { SeRvIcE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { ?x ?y ?z FILTER EXISTS { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <{url}> { ?s ?p ?o } } } }",
    "SELECT * WHERE { SERVICE # a comment\n <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?a FILTER(?a<'x>') SERVICE <{url}> { ?s ?p ?o } FILTER(?a != 'y') }",
    "SELECT * WHERE { ?s <http://x#> ?o FILTER(?o<'x>') SERVICE <{url}> { ?s ?p ?o } FILTER(?o != '') }",
    "PREFIX : <http://x/> SELECT * WHERE { BIND(<{url}> AS ?ep) SERVICE ?ep { ?s ?p ?o } }",
    "SELECT * WHERE { \\u0053ERVICE <{url}> { ?s ?p ?o } }",
]


@pytest.mark.parametrize("template", SERVICE_FORMS)
def test_service_refused_before_evaluation(live_server: LiveServer, template: str) -> None:
    with Listener() as remote:
        query = template.replace("{url}", remote.url)
        r = live_server.request("GET", q(query))
        assert r.status == 403, (r.status, r.text)
        assert "SERVICE" in r.text
        assert not remote.contacted(), "the endpoint must not contact the SERVICE target"


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ("SERVICE" AS ?x) WHERE {}',
        "SELECT ?x WHERE { BIND('service <http://x/> { }' AS ?x) }",
        "# SERVICE <http://x/> { }\nASK {}",
        "ASK { ?s <http://example.org/SERVICE> ?o } ",
        "PREFIX service: <http://x/> SELECT * WHERE { ?s service:p ?o } LIMIT 1",
        "SELECT ?service WHERE { ?service ?p ?o } LIMIT 1",
        'ASK { FILTER(CONTAINS("web service", "service")) }',
    ],
)
def test_service_word_elsewhere_is_fine(live_server: LiveServer, query: str) -> None:
    r = live_server.request("GET", q(query))
    assert r.status == 200, (r.status, r.text)


def test_guard_tokenizer_ignores_strings_comments_iris() -> None:
    info = guard.classify('PREFIX s: <http://x/SERVICE#> SELECT ("SERVICE" AS ?v) { } # SERVICE')
    assert info.form == "SELECT" and not info.has_service
    assert guard.classify("PREFIX a: <x:> SELECT * FROM <g> {}").has_dataset_clause
    assert guard.classify("BASE <http://x/> PREFIX p: <y> LOAD <z>").form == "UPDATE"
    assert guard.classify("ASK {}").form == "ASK"
    with pytest.raises(guard.Refused):
        guard.check("SELECT * { ?s ?p ?a FILTER(?a<'x>') SERVICE <http://e/> { } FILTER(?a!='y') }")


# --- bounded time -------------------------------------------------------------------------


def _status(server: LiveServer) -> dict:
    return server.request("GET", "/status").json()


def _wait_idle(server: LiveServer, workers: int = 2, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if _status(server)["idle_workers"] >= workers:
            return
        time.sleep(0.1)
    raise AssertionError("workers did not come back")


def test_runaway_query_is_killed_while_others_are_served(live_server: LiveServer) -> None:
    _wait_idle(live_server)
    before = _status(live_server)["worker_restarts"]
    result: dict = {}

    def runaway() -> None:
        t0 = time.monotonic()
        result["reply"] = live_server.request("GET", q(RUNAWAY), timeout=60)
        result["elapsed"] = time.monotonic() - t0

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)
    served = []
    for _ in range(5):  # other clients keep getting answers while the runaway runs
        t0 = time.monotonic()
        r = live_server.request("GET", q("ASK { ?s ?p ?o }"), timeout=10)
        served.append((r.status, time.monotonic() - t0))
        page = live_server.request("GET", "/status", timeout=10)
        assert page.status == 200
    thread.join(timeout=60)
    assert all(status == 200 for status, _ in served), served
    assert max(elapsed for _, elapsed in served) < 2.0, served
    reply = result["reply"]
    assert reply.status == 503, reply.text
    assert "time limit" in reply.text and "4 s" in reply.text
    assert "retry-after" in reply.headers
    assert 3.5 <= result["elapsed"] < 12
    assert _status(live_server)["worker_restarts"] >= before + 1
    _wait_idle(live_server)
    assert live_server.request("GET", q("ASK {}")).status == 200


def _hold_every_worker(server: LiveServer, workers: int = 2) -> list[threading.Thread]:
    threads = []
    for _ in range(workers):
        thread = threading.Thread(target=server.request, args=("GET", q(RUNAWAY)), kwargs={"timeout": 60})
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + 10
    while _status(server)["idle_workers"] > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return threads


@pytest.mark.parametrize("queue_timeout", [10.0, 0.5])
def test_a_request_waits_for_a_worker_up_to_the_queue_limit(budget_build, queue_timeout: float) -> None:  # noqa: ANN001
    """With every worker held by a runaway query, a request waits for a free one — longer than
    the query time limit, waiting costs nothing — and only past --queue-timeout gets a 503."""
    server = LiveServer(
        budget_build.root, timeout=2.0, max_rows=500, workers=2, short_workers=0, queue_timeout=queue_timeout
    ).start()
    try:
        _wait_idle(server)
        runaways = _hold_every_worker(server)
        t0 = time.monotonic()
        # two patterns: not a one-pattern lookup (those are answered without a worker)
        r = server.request("GET", q("ASK { ?s ?p ?o . ?o ?q ?r }"), timeout=60)
        waited = time.monotonic() - t0
        if queue_timeout > 2.0:
            assert r.status == 200, r.text
            assert waited > 0.5  # it was answered by a worker started after a runaway was killed
        else:
            assert r.status == 503 and "busy" in r.text and "retry-after" in r.headers
            assert 0.4 <= waited < 2.0
        for thread in runaways:
            thread.join(timeout=60)
    finally:
        server.stop()


def test_client_disconnect_kills_its_query(live_server: LiveServer) -> None:
    _wait_idle(live_server)
    before = _status(live_server)["worker_restarts"]
    sock = socket.create_connection(("127.0.0.1", live_server.port))
    sock.sendall(f"GET {q(RUNAWAY)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.8)
    sock.close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:  # well before the 4 s time limit
        if _status(live_server)["worker_restarts"] > before:
            break
        time.sleep(0.1)
    assert _status(live_server)["worker_restarts"] > before, "disconnect must kill the query"
    _wait_idle(live_server)


# --- bounded size -------------------------------------------------------------------------


def test_row_cap_is_an_explicit_error(live_server: LiveServer) -> None:
    r = live_server.request("GET", q("SELECT * WHERE { ?s ?p ?o }"))
    assert r.status == 413
    assert "500" in r.text and "/dumps/" in r.text
    r = live_server.request("GET", q("CONSTRUCT WHERE { ?s ?p ?o }"))
    assert r.status == 413
    ok = live_server.request("GET", q("SELECT * WHERE { ?s ?p ?o } LIMIT 500"))
    assert ok.status == 200 and len(ok.json()["results"]["bindings"]) == 500


def test_malformed_query_is_400_with_message(live_server: LiveServer) -> None:
    r = live_server.request("GET", q("SELECT ?x WHERE { ?x ?y }"))
    assert r.status == 400
    assert "error at" in r.text


def test_oversized_request_body_is_refused(live_server: LiveServer) -> None:
    body = "ASK {} " + "#" * (2 << 20)
    r = live_server.request("POST", "/sparql", body, {"Content-Type": "application/sparql-query"})
    assert r.status == 413


def test_killed_server_leaves_no_query_running(budget_build: serve_fixtures.BudgetBuild) -> None:
    """Even SIGKILL of the server (no shutdown code runs) stops its workers, mid-query too."""
    server = LiveServer(budget_build.root, timeout=30.0, workers=2)
    server.log = budget_build.root.parent / "server-killed.log"
    server.start()
    assert server.proc is not None
    pids = _session_pids(server.proc.pid)  # /status no longer publishes them
    assert len(pids) >= 3  # 2 workers + the reserve worker (+ the forkserver)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"GET {q(RUNAWAY)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(1.0)
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    sock.close()
    deadline = time.monotonic() + 10
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            break
        time.sleep(0.2)
    server.proc = None
    assert alive == [], "query workers outlived the server"


def _session_pids(sid: int) -> list[int]:
    """Processes of the server's session (it starts one: LiveServer uses start_new_session)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == sid:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("option", "value"), [("--timeout", "0"), ("--queue-timeout", "-1"), ("--max-rows", "0"), ("--workers", "0")]
)
def test_bad_limits_are_refused_with_a_message(budget_build, option: str, value: str) -> None:  # noqa: ANN001
    run = subprocess.run(
        [sys.executable, "-m", "budgetkg.cli", "serve", str(budget_build.root), option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert f"Invalid value for '{option}'" in run.stderr and "Traceback" not in run.stderr
