"""Shared state of one running server: the build, the settings, the query pool, the examples.

Pages run their SPARQL (``budgetkg/serve/queries/*.rq``) through the same worker pool as the
public endpoint, so a slow page query is bounded by the same time limit and never blocks the
event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from budgetkg.serve.answers import AnswerCache
from budgetkg.serve.build import Build
from budgetkg.serve.config import ServeConfig
from budgetkg.serve.execute import Job, Outcome
from budgetkg.serve.workers import PoolError, QueryPool

PACKAGE_DIR = Path(__file__).resolve().parent
QUERIES_DIR = PACKAGE_DIR / "queries"
STATIC_DIR = PACKAGE_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
PAGE_MAX_ROWS = 50_000  # the server's own queries are bounded by LIMITs and the time limit

PREFIXES: dict[str, str] = {
    "bk": "https://w3id.org/budgetkg/def#",
    "bks": "https://w3id.org/budgetkg/shapes#",
    "qb": "http://purl.org/linked-data/cube#",
    "sdmx-attribute": "http://purl.org/linked-data/sdmx/2009/attribute#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "sh": "http://www.w3.org/ns/shacl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xkos": "http://rdf-vocabulary.ddialliance.org/xkos#",
    "obt": "http://data.openbudgets.eu/ontology/",
}


def origin_of_base(base: str) -> str:
    """``scheme://host[:port]`` of a base URI."""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback_base(base: str) -> bool:
    """Whether a base URI names this machine only (so it cannot be the data's public home)."""
    host = (urlsplit(base).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".localhost")


@cache
def page_query(name: str) -> str:
    """Text of one of the server's own queries (``queries/<name>.rq``)."""
    return (QUERIES_DIR / f"{name}.rq").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Example:
    """An example query for the query page; its title is the first comment line."""

    name: str
    title: str
    query: str


def load_examples(directory: Path | None) -> list[Example]:
    """Read every ``*.rq`` in a directory, sorted by file name."""
    if directory is None or not directory.is_dir():
        return []
    out: list[Example] = []
    for path in sorted(directory.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        title = path.stem
        for line in text.splitlines():
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                title = s.lstrip("#").strip() or title
            break
        out.append(Example(name=path.stem, title=title, query=text))
    return out


def find_examples_dir(build_root: Path, configured: Path | None) -> Path | None:
    """Where the example queries live: configured, in the build, cwd, or the source tree."""
    for cand in (
        configured,
        build_root / "queries",
        Path.cwd() / "queries",
        PACKAGE_DIR.parent.parent / "queries",
    ):
        if cand is not None and cand.is_dir():
            return cand
    return None


@dataclass(slots=True)
class Site:
    """Everything a request handler needs."""

    build: Build
    config: ServeConfig
    pool: QueryPool
    examples: list[Example]
    cache: dict[str, Any] = field(default_factory=dict)
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(0))  # the endpoint's (answers.py)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def rewrites_base(self) -> bool:
        """Serve a build minted under a loopback base (no public ``--base-uri``) at the serving
        origin: otherwise a build made with the default ``http://localhost:8000/`` and served on
        another port would link every result and description to a server that is not there."""
        return self.config.base_uri is None and is_loopback_base(self.build.base_uri)

    def origin(self, request: Any) -> str:
        """Origin for absolute links (``sd:endpoint``, VoID, the editor's endpoint).

        Never taken from an arbitrary Host header (which anyone can set, and caches may keep):
        the public base URI when one is set, else an allow-listed Host, else the address and
        port the request arrived on.
        """
        if not self.rewrites_base:
            return origin_of_base(self.build.base_uri)
        host = request.headers.get("host", "")
        if host and host in self.config.allowed_hosts:
            return f"{request.url.scheme}://{host}"
        server = request.scope.get("server")
        if server and server[1] is not None:
            addr, port = server[0], int(server[1])
            addr = f"[{addr}]" if ":" in addr else addr
            return f"http://{addr}:{port}"
        return origin_of_base(self.build.base_uri)

    def served_base(self, request: Any) -> str:
        """The base under which the build's IRIs are seen by this request's client."""
        if not self.rewrites_base:
            return self.build.base_uri
        return self.origin(request) + "/"

    def rewrite(self, request: Any) -> tuple[str, str] | None:
        """(stored base, served base) when IRIs must be rewritten for this request, else None."""
        served = self.served_base(request)
        return None if served == self.build.base_uri else (self.build.base_uri, served)

    @property
    def has_vendor_ui(self) -> bool:
        return self.config.yasgui and (VENDOR_DIR / "yasgui" / "yasgui.min.js").is_file()

    async def run(self, job: Job, cancelled: Any = None) -> Outcome:
        return await self.pool.run(job, self.config.timeout, self.config.queue_timeout, cancelled=cancelled)

    async def select(self, name: str, **bindings: str) -> list[dict[str, Any]]:
        """Run one of the server's own SELECT queries; rows map variable → term tuple.

        ``bindings`` pre-bind variables (SEP-0007 substitution); Oxigraph requires each bound
        variable to be projected, so the ``.rq`` files select them too.
        """
        job = Job(
            query=page_query(name),
            max_rows=max(self.config.max_rows, PAGE_MAX_ROWS),
            native=True,
            bindings=dict(bindings),
            check=False,
        )
        outcome = await self.run(job)
        if outcome.status != 200:
            raise PoolError(outcome.status, outcome.message)
        return list(outcome.data["rows"])

    async def cached_select(self, name: str, **bindings: str) -> list[dict[str, Any]]:
        """As :meth:`select`, remembered for the server's lifetime (the build is immutable)."""
        key = name + "|" + "|".join(f"{k}={v}" for k, v in sorted(bindings.items()))
        if key not in self.cache:
            self.cache[key] = await self.select(name, **bindings)
        return self.cache[key]
