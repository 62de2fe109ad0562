"""OpenLink Virtuoso: run a private instance and talk to it over ISQL and SPARQL/HTTP.

Virtuoso is the scale-out target once the embedded pyoxigraph store is too small. Its defaults
lose data quietly: SELECT and CONSTRUCT answers stop at ``ResultSetMaxRows`` (10 000) and a query
that hits ``MaxQueryExecutionTime`` returns HTTP 200 with partial results, flagged only in an
``X-SQL-State: S1TAT`` header. Its ``isql-vt`` client URL-decodes ``exec=`` arguments and exits 0
on SQL errors. Everything that talks to Virtuoso goes through this module so that those traps
are handled in one place.

The server is only ever bound to 127.0.0.1 by :func:`start_instance`.

Run an instance by hand (foreground, Ctrl-C stops it cleanly)::

    python -m budgetkg.virtuoso serve /tmp/vt --isql-port 1111 --http-port 8890
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from urllib.parse import urlencode, urlsplit

import pyoxigraph as ox

DEFAULT_RESULT_CAP = 10_000
"""Virtuoso's shipped ``[SPARQL] ResultSetMaxRows``: answers are cut here without an error."""

RAISED_RESULT_CAP = 1_000_000
"""What :func:`start_instance` configures instead (a whole document graph fits comfortably)."""

LOOPBACK = "127.0.0.1"
_MARK = "@@"  # prefix of the isql output lines we parse; everything else is chatter


# --- errors -------------------------------------------------------------------------------


class VirtuosoError(RuntimeError):
    """Virtuoso refused or failed a request (SQL error, HTTP error, server not reachable)."""


class PartialResultError(VirtuosoError):
    """Virtuoso answered 200 but flagged the answer as incomplete (``X-SQL-State``, e.g. S1TAT).

    Raised instead of returning the rows because a silently partial sum or count is worse
    than no answer.
    """

    def __init__(self, state: str, message: str) -> None:
        super().__init__(f"Virtuoso returned a partial result (X-SQL-State {state}): {message}")
        self.state = state
        self.message = message


class TruncatedResultError(VirtuosoError):
    """The answer has as many rows as the server's ResultSetMaxRows, so it was (probably) cut.

    A query that legitimately returns exactly the cap is indistinguishable from a cut one;
    raise the cap (see :func:`sparql_ini_section`) or page with LIMIT/OFFSET.
    """

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(
            f"Virtuoso result has {count} rows, reaching ResultSetMaxRows = {cap}: it is most "
            "likely truncated; raise [SPARQL] ResultSetMaxRows or page the query"
        )
        self.count = count
        self.cap = cap


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class VirtuosoConfig:
    """How to reach one Virtuoso server.

    ``load_dir`` must be listed in the server's ``[Parameters] DirsAllowed``: the bulk loader
    runs inside the server and reads the files from there. ``result_cap`` is the server's
    ``ResultSetMaxRows``, used to detect truncated answers.
    """

    host: str = LOOPBACK
    isql_port: int = 1111
    http_port: int = 8890
    user: str = "dba"
    password: str = "dba"
    isql_binary: str = "isql-vt"
    load_dir: Path | None = None
    result_cap: int = DEFAULT_RESULT_CAP
    loaders: int = 1
    """Parallel ``rdf_loader_run()`` sessions; Virtuoso suggests about cores / 2.5."""
    isql_timeout: float = 3600.0

    @property
    def sparql_endpoint(self) -> str:
        return f"http://{self.host}:{self.http_port}/sparql"

    def client(self, *, timeout_ms: int | None = None) -> SparqlClient:
        """A :class:`SparqlClient` for this server's ``/sparql`` with the right result cap."""
        return SparqlClient(self.sparql_endpoint, result_cap=self.result_cap, timeout_ms=timeout_ms)


# --- ini template ---------------------------------------------------------------------------


def sparql_ini_section(
    result_cap: int = RAISED_RESULT_CAP,
    max_execution_time: int = 300,
    max_cost_estimation_time: int = 3600,
) -> str:
    """The ``[SPARQL]`` section that lifts Virtuoso's 10 000-row cap.

    ``MaxQueryExecutionTime`` (s) is when Virtuoso stops a query and returns what it has
    (flagged S1TAT); ``MaxQueryCostEstimationTime`` (s) is the estimated cost above which it
    refuses to start one. Paste into an existing virtuoso.ini, replacing its ``[SPARQL]``.
    """
    return (
        "[SPARQL]\n"
        f"ResultSetMaxRows           = {result_cap}\n"
        f"MaxQueryExecutionTime      = {max_execution_time}\n"
        f"MaxQueryCostEstimationTime = {max_cost_estimation_time}\n"
        "DeferInferenceRulesInit    = 0\n"
    )


def render_ini(
    dbdir: Path,
    isql_port: int,
    http_port: int,
    dirs_allowed: Sequence[Path],
    *,
    result_cap: int = RAISED_RESULT_CAP,
    max_execution_time: int = 300,
    max_cost_estimation_time: int = 3600,
    number_of_buffers: int = 10_000,
    max_dirty_buffers: int = 6_000,
) -> str:
    """A complete virtuoso.ini for a private instance: loopback ports, own database dir.

    Written from scratch because ``virtuoso-opensource-7-bin`` ships no ini (the Debian one is
    in the full ``virtuoso-opensource-7`` package, whose service we do not want). No
    ``[Plugins]`` section: the hosting plugins are not installed and are not needed.
    Buffers: 10 000 x 8 KB pages ~ 80 MB, Virtuoso's suggestion for small machines; use about
    85 000 per GB of RAM to spare on a real server.
    """
    dbdir = dbdir.resolve()
    allowed = ", ".join([".", *(str(p.resolve()) for p in dirs_allowed)])
    return (
        "; generated by budgetkg.virtuoso.render_ini\n"
        "[Database]\n"
        f"DatabaseFile       = {dbdir / 'virtuoso.db'}\n"
        f"ErrorLogFile       = {dbdir / 'virtuoso.log'}\n"
        f"LockFile           = {dbdir / 'virtuoso.lck'}\n"
        f"TransactionFile    = {dbdir / 'virtuoso.trx'}\n"
        f"xa_persistent_file = {dbdir / 'virtuoso.pxa'}\n"
        "ErrorLogLevel      = 7\n"
        "FileExtend         = 200\n"
        "MaxCheckpointRemap = 2000\n"
        "Striping           = 0\n"
        "TempStorage        = TempDatabase\n"
        "\n[TempDatabase]\n"
        f"DatabaseFile       = {dbdir / 'virtuoso-temp.db'}\n"
        f"TransactionFile    = {dbdir / 'virtuoso-temp.trx'}\n"
        "MaxCheckpointRemap = 2000\n"
        "Striping           = 0\n"
        "\n[Parameters]\n"
        f"ServerPort           = {LOOPBACK}:{isql_port}\n"
        "DisableUnixSocket    = 1\n"
        "DisableTcpSocket     = 0\n"
        "MaxClientConnections = 10\n"
        "CheckpointInterval   = 60\n"
        "O_DIRECT             = 0\n"
        "CaseMode             = 2\n"
        "AllowOSCalls         = 0\n"
        f"DirsAllowed          = {allowed}\n"
        f"NumberOfBuffers      = {number_of_buffers}\n"
        f"MaxDirtyBuffers      = {max_dirty_buffers}\n"
        "MaxQueryMem          = 1G\n"
        "ThreadsPerQuery      = 4\n"
        "AsyncQueueMaxThreads = 10\n"
        "\n[HTTPServer]\n"
        f"ServerPort            = {LOOPBACK}:{http_port}\n"
        f"ServerRoot            = {dbdir / 'vsp'}\n"
        "MaxClientConnections  = 10\n"
        "ServerThreads         = 10\n"
        "MaxKeepAlives         = 10\n"
        "KeepAliveTimeout      = 10\n"
        "HTTPThreadSize        = 280000\n"
        "Charset               = UTF-8\n"
        "EnabledGzipContent    = 1\n"
        "\n[AutoRepair]\n"
        "BadParentLinks = 0\n"
        "\n[Client]\n"
        "SQL_PREFETCH_ROWS  = 100\n"
        "SQL_PREFETCH_BYTES = 16000\n"
        "SQL_QUERY_TIMEOUT  = 0\n"
        "SQL_TXN_TIMEOUT    = 0\n"
        "\n[URIQA]\n"
        "DynamicLocal = 0\n"
        f"DefaultHost  = {LOOPBACK}:{http_port}\n"
        "\n"
        + sparql_ini_section(result_cap, max_execution_time, max_cost_estimation_time)
        + "\n; [Plugins] intentionally absent (hosting plugins are not part of -bin)\n"
    )


# --- ISQL -----------------------------------------------------------------------------------


def sql_text(value: str) -> str:
    """A SQL expression yielding ``value`` as a UTF-8 varchar, immune to quoting and charsets.

    Virtuoso stores IRIs as UTF-8 in narrow strings; base64 keeps Chinese IRIs and file names
    byte-exact whatever the isql client's locale does.
    """
    return f"decode_base64('{base64.b64encode(value.encode('utf-8')).decode('ascii')}')"


def sql_b64(expr: str) -> str:
    """A SQL expression printing ``expr`` as one line of base64 (Virtuoso wraps at 72 chars)."""
    return f"replace(replace(encode_base64({expr}), '\\n', ''), '\\r', '')"


def sql_row(*exprs: str) -> str:
    """A SELECT list producing one parseable ``@@a|b|c`` output line per row."""
    parts = ", '|', ".join(f"cast({e} as varchar)" for e in exprs)
    return f"concat('{_MARK}', {parts})"


def decode_b64(text: str) -> str:
    """Inverse of :func:`sql_b64` on the Python side."""
    return base64.b64decode(text).decode("utf-8") if text else ""


def run_isql(
    config: VirtuosoConfig, script: str, *, timeout: float | None = None
) -> list[list[str]]:
    """Run a SQL script through ``isql-vt`` and return the ``@@``-marked rows, split on ``|``.

    The script goes to stdin, never ``exec=``: isql URL-decodes ``exec=`` (``+`` becomes a
    space). isql exits 0 on SQL errors, so stderr is scanned for ``*** Error`` instead.
    The password is on isql's command line (visible in ``ps``); keep Virtuoso on loopback.
    """
    cmd = [
        config.isql_binary,
        f"{config.host}:{config.isql_port}",
        config.user,
        config.password,
        "VERBOSE=OFF",
        "BANNER=OFF",
        "PROMPT=OFF",
        "ECHO=OFF",
    ]
    try:
        proc = subprocess.run(
            cmd,
            input=script.encode("utf-8"),
            capture_output=True,
            timeout=timeout or config.isql_timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise VirtuosoError(
            f"{config.isql_binary} not found (apt-get install virtuoso-opensource-7-bin)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise VirtuosoError(f"isql script did not finish within {exc.timeout} s") from exc
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or "*** Error" in err or "*** Error" in out:
        detail = "\n".join(line for line in (err + out).splitlines() if line.strip())
        raise VirtuosoError(f"isql at {config.host}:{config.isql_port} failed: {detail[:2000]}")
    return [line[len(_MARK) :].split("|") for line in out.splitlines() if line.startswith(_MARK)]


def server_result_cap(config: VirtuosoConfig) -> int:
    """Read ``[SPARQL] ResultSetMaxRows`` from the running server's own ini."""
    rows = run_isql(
        config,
        "select "
        + sql_row("cfg_item_value(virtuoso_ini_path(), 'SPARQL', 'ResultSetMaxRows')")
        + ";\n",
    )
    value = rows[0][0] if rows else ""
    return int(value) if value.strip().isdigit() else DEFAULT_RESULT_CAP


# --- SPARQL over HTTP -----------------------------------------------------------------------


@dataclass
class SelectResult:
    """A SELECT answer: variable names and rows of pyoxigraph terms (unbound = absent)."""

    variables: list[str]
    rows: list[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]]


@dataclass
class SparqlClient:
    """A SPARQL 1.1 protocol client for Virtuoso's ``/sparql`` that refuses partial answers.

    Raises :class:`PartialResultError` on any ``X-SQL-State`` header (S1TAT: timeout hit,
    results incomplete, yet HTTP 200) and :class:`TruncatedResultError` when the answer has
    ``result_cap`` rows or more, or Virtuoso says ``X-SPARQL-MaxRows`` (it caps CONSTRUCT at
    the same limit without saying so). ``default_graphs``/``named_graphs`` set the protocol
    dataset, e.g. to hide Virtuoso's system graphs. ``timeout_ms`` is Virtuoso's per-query
    "anytime" timeout. Uses ``http.client`` so that exactly the intended headers are sent.
    """

    endpoint: str
    result_cap: int = DEFAULT_RESULT_CAP
    default_graphs: Sequence[str] = ()
    named_graphs: Sequence[str] = ()
    timeout_ms: int | None = None
    http_timeout: float = 600.0
    last_headers: dict[str, str] = field(default_factory=dict, repr=False)

    def _request(self, query: str, accept: str, *, dataset: bool = True) -> bytes:
        url = urlsplit(self.endpoint)
        params: list[tuple[str, str]] = [("query", query)]
        if dataset:
            params += [("default-graph-uri", g) for g in self.default_graphs]
            params += [("named-graph-uri", g) for g in self.named_graphs]
        if self.timeout_ms is not None:
            params.append(("timeout", str(self.timeout_ms)))
        body = urlencode(params).encode("ascii")
        conn_cls = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(url.hostname or LOOPBACK, url.port, timeout=self.http_timeout)
        try:
            conn.request(
                "POST",
                url.path or "/sparql",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                    "Accept": accept,
                },
            )
            resp = conn.getresponse()
            data = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
        except OSError as exc:
            raise VirtuosoError(f"cannot reach {self.endpoint}: {exc}") from exc
        finally:
            conn.close()
        self.last_headers = headers
        if resp.status != 200:
            text = data.decode("utf-8", "replace").strip()
            raise VirtuosoError(f"{self.endpoint} answered {resp.status}: {text[:2000]}")
        if "x-sql-state" in headers:
            raise PartialResultError(headers["x-sql-state"], headers.get("x-sql-message", ""))
        if "x-sparql-maxrows" in headers:
            cap = int(headers["x-sparql-maxrows"]) if headers["x-sparql-maxrows"].isdigit() else 0
            raise TruncatedResultError(cap or self.result_cap, cap or self.result_cap)
        return data

    def _check_count(self, count: int) -> None:
        if self.result_cap and count >= self.result_cap:
            raise TruncatedResultError(count, self.result_cap)

    def select(self, query: str, *, dataset: bool = True) -> SelectResult:
        """Run a SELECT query; rows hold pyoxigraph terms."""
        doc = json.loads(self._request(query, "application/sparql-results+json", dataset=dataset))
        bindings = doc.get("results", {}).get("bindings", [])
        self._check_count(len(bindings))
        rows = [{k: json_term(v) for k, v in b.items()} for b in bindings]
        return SelectResult(list(doc.get("head", {}).get("vars", [])), rows)

    def ask(self, query: str, *, dataset: bool = True) -> bool:
        """Run an ASK query."""
        doc = json.loads(self._request(query, "application/sparql-results+json", dataset=dataset))
        if "boolean" not in doc:
            raise VirtuosoError(f"not an ASK answer: {str(doc)[:200]}")
        return bool(doc["boolean"])

    def construct(self, query: str, *, dataset: bool = True) -> list[ox.Triple]:
        """Run a CONSTRUCT or DESCRIBE query; the answer is parsed from N-Triples."""
        data = self._request(query, "application/n-triples", dataset=dataset)
        triples = [q.triple for q in ox.parse(input=data, format=ox.RdfFormat.N_TRIPLES)]
        self._check_count(len(triples))
        return triples


def json_term(b: dict[str, str]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A SPARQL-JSON binding (Virtuoso still says ``typed-literal``) as a pyoxigraph term."""
    kind = b.get("type")
    value = b.get("value", "")
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        label = "".join(c if c.isalnum() else "_" for c in value) or "b"
        return ox.BlankNode(label)
    if "xml:lang" in b:
        return ox.Literal(value, language=b["xml:lang"])
    if b.get("datatype"):
        return ox.Literal(value, datatype=ox.NamedNode(b["datatype"]))
    return ox.Literal(value)


# --- private instance -----------------------------------------------------------------------


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (racy, good enough for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    """A running private ``virtuoso-t``; :meth:`stop` shuts it down with a checkpoint."""

    workdir: Path
    config: VirtuosoConfig
    process: subprocess.Popen[bytes]
    ini_path: Path
    log_path: Path

    @property
    def endpoint(self) -> str:
        return self.config.sparql_endpoint

    def client(self, *, timeout_ms: int | None = None) -> SparqlClient:
        return self.config.client(timeout_ms=timeout_ms)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 60.0) -> None:
        """Checkpoint and shut down via isql; SIGTERM, then SIGKILL, only if that hangs."""
        if not self.alive():
            return
        with contextlib.suppress(VirtuosoError):
            run_isql(self.config, "shutdown;\n", timeout=timeout)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Instance:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_instance(
    workdir: Path,
    isql_port: int,
    http_port: int,
    *,
    load_dir: Path | None = None,
    extra_dirs_allowed: Iterable[Path] = (),
    result_cap: int = RAISED_RESULT_CAP,
    max_execution_time: int = 300,
    max_cost_estimation_time: int = 3600,
    number_of_buffers: int = 10_000,
    max_dirty_buffers: int = 6_000,
    password: str = "dba",
    server_binary: str = "virtuoso-t",
    isql_binary: str = "isql-vt",
    startup_timeout: float = 120.0,
) -> Instance:
    """Start ``virtuoso-t`` with its own ini and database under ``workdir``, on loopback only.

    Reuses an existing database in ``workdir/db`` (a restart is a few seconds, a fresh one
    about seven). ``load_dir`` (default ``workdir/load``) is put into DirsAllowed for the bulk
    loader. A ``password`` other than ``dba`` is set right after the first start.
    """
    server = shutil.which(server_binary)
    if server is None:
        raise VirtuosoError(
            f"{server_binary} not found: apt-get install -y virtuoso-opensource-7-bin"
        )
    workdir = workdir.resolve()
    dbdir = workdir / "db"
    load_dir = (load_dir or workdir / "load").resolve()
    for d in (dbdir, dbdir / "vsp", load_dir):
        d.mkdir(parents=True, exist_ok=True)
    ini_path = workdir / "virtuoso.ini"
    ini_path.write_text(
        render_ini(
            dbdir,
            isql_port,
            http_port,
            [load_dir, *extra_dirs_allowed],
            result_cap=result_cap,
            max_execution_time=max_execution_time,
            max_cost_estimation_time=max_cost_estimation_time,
            number_of_buffers=number_of_buffers,
            max_dirty_buffers=max_dirty_buffers,
        ),
        encoding="utf-8",
    )
    log_path = workdir / "virtuoso-t.out"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [server, "+foreground", "+configfile", str(ini_path)],
            cwd=dbdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal must not kill it mid-write
        )
    config = VirtuosoConfig(
        host=LOOPBACK,
        isql_port=isql_port,
        http_port=http_port,
        user="dba",
        password="dba",
        isql_binary=isql_binary,
        load_dir=load_dir,
        result_cap=result_cap,
    )
    instance = Instance(workdir, config, process, ini_path, log_path)
    deadline = time.monotonic() + startup_timeout
    try:
        _wait_ready(instance, deadline, password)
    except BaseException:
        instance.stop(timeout=10)
        raise
    return instance


def _wait_ready(instance: Instance, deadline: float, password: str) -> None:
    """Poll ``select 1`` until it answers (with the default or the wanted password)."""
    candidates = [password] if password == "dba" else [password, "dba"]
    while True:
        if not instance.alive():
            tail = instance.log_path.read_text("utf-8", "replace")[-3000:]
            raise VirtuosoError(f"virtuoso-t exited with {instance.process.returncode}:\n{tail}")
        for pw in candidates:
            cfg = _replace_password(instance.config, pw)
            try:
                run_isql(cfg, "select 1;\n", timeout=10)
            except VirtuosoError:
                continue
            if pw != password:
                run_isql(cfg, f"USER_SET_PASSWORD('dba', {sql_text(password)});\n", timeout=30)
            instance.config = _replace_password(instance.config, password)
            return
        if time.monotonic() > deadline:
            raise VirtuosoError(
                f"virtuoso-t did not answer within the timeout; see {instance.log_path}"
            )
        time.sleep(0.3)


def _replace_password(config: VirtuosoConfig, password: str) -> VirtuosoConfig:
    return replace(config, password=password)


# --- command line (for running an instance by hand or in CI) ---------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m budgetkg.virtuoso serve WORKDIR`` or ``… ini`` (print the [SPARQL] section)."""
    parser = argparse.ArgumentParser(prog="python -m budgetkg.virtuoso")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run a private instance on loopback until interrupted")
    serve.add_argument("workdir", type=Path)
    serve.add_argument("--isql-port", type=int, default=1111)
    serve.add_argument("--http-port", type=int, default=8890)
    serve.add_argument("--load-dir", type=Path)
    serve.add_argument("--result-cap", type=int, default=RAISED_RESULT_CAP)
    ini = sub.add_parser("ini", help="print the [SPARQL] settings that lift the 10 000-row cap")
    ini.add_argument("--result-cap", type=int, default=RAISED_RESULT_CAP)
    args = parser.parse_args(argv)
    if args.cmd == "ini":
        sys.stdout.write(sparql_ini_section(args.result_cap))
        return 0
    instance = start_instance(
        args.workdir,
        args.isql_port,
        args.http_port,
        load_dir=args.load_dir,
        result_cap=args.result_cap,
    )
    print(
        f"virtuoso up: isql {LOOPBACK}:{args.isql_port}, sparql {instance.endpoint}, "
        f"load dir {instance.config.load_dir}",
        flush=True,
    )
    stop = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        while not stop and instance.alive():
            time.sleep(0.5)
    finally:
        instance.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
