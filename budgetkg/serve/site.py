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
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

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
