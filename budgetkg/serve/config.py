"""Settings of ``budgetkg serve``: limits that protect a public endpoint, with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """How the server runs queries and what it shows.

    ``timeout``: seconds one query may run before its worker is killed (→ 503).
    ``max_rows``: most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) one answer may hold; above
    it the answer is 413 and points to the dumps.
    ``workers``: query processes (at least 2, so one runaway query never blocks everyone).
    ``queue_timeout``: seconds a request may wait for a free worker before it is answered 503
    with Retry-After. Waiting costs nothing, so it is longer than ``timeout``: a burst of clients,
    or a runaway query holding a worker until it is killed, delays answers instead of failing them.
    ``max_bytes``: most bytes one answer may hold (413 above it), beside ``max_rows``: one row can
    be a 60 MB string built by the query itself, and the HTTP process holds the whole answer.
    ``short_workers``: extra workers used only when every other worker is busy, with the time
    limit ``short_timeout``: two runaway queries holding the normal workers cannot make a
    client's ``ASK {}`` wait for them (a query that needs longer there gets 503 and may retry).
    ``allowed_hosts``: Host header values (``host:port``) this server may put into absolute
    links (service description, VoID, the editor's endpoint); any other Host header is ignored
    and links use the public base URI or the address the request arrived on.
    ``inline``: answer provably small queries (one triple pattern, see :mod:`budgetkg.serve.inline`)
    in the HTTP process, without the hand-off to a worker (False: every query goes to a worker).
    ``worker_memory_mb``: address-space limit per worker (None: unlimited).
    ``base_uri``: the public base URI: overrides ``build.json``'s. Without it a build whose base
    is a loopback address (the default ``http://localhost:8000/``) is served at whatever origin
    the server listens on: IRIs under the build's base are rewritten to that origin in pages,
    results and descriptions (and back in queries), so every link works on any port.
    ``queries_dir``: example ``*.rq`` files for the query page (default: ``DIR/queries``,
    then ``./queries``, then the source tree's ``queries/``).
    ``cors``: send ``Access-Control-Allow-Origin: *`` on read endpoints.
    ``yasgui``: use the YASGUI editor when installed (False: always the plain form).
    ``answer_cache_mb``: megabytes of complete endpoint answers kept for identical requests until
    the next build (:mod:`budgetkg.serve.answers`; 0: off). A request with ``Cache-Control:
    no-cache`` is always evaluated afresh.
    ``access_log``: log one line per request (uvicorn's access log; off: it costs a quarter of a
    point lookup, and errors and start-up are logged either way).
    ``reload_interval``: seconds between checks whether the build directory was replaced by a
    new build (swapped in whole); if so, new workers open the new store (0: never check).
    """

    timeout: float = 30.0
    max_rows: int = 10_000
    workers: int = 2
    short_workers: int = 1
    short_timeout: float = 2.0
    max_bytes: int = 16 * 1024 * 1024
    allowed_hosts: tuple[str, ...] = ()
    inline: bool = True
    queue_timeout: float = 60.0
    worker_memory_mb: int | None = 4096
    base_uri: str | None = None
    queries_dir: Path | None = None
    cors: bool = True
    yasgui: bool = True
    reload_interval: float = 2.0
    access_log: bool = False
    answer_cache_mb: int = 64
    title: str = "budgetkg"

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        if self.queue_timeout <= 0:
            raise ValueError("queue_timeout must be positive")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self.short_workers < 0 or self.short_timeout <= 0:
            raise ValueError("short_workers must be at least 0 and short_timeout positive")
        if self.answer_cache_mb < 0:
            raise ValueError("answer_cache_mb must be at least 0")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
