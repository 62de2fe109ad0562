"""``budgetkg serve``: the Starlette application and its uvicorn runner.

Routes are fixed paths first (endpoint, downloads, descriptions, static files); every other
path is looked up as an IRI under the build's base URI (linked data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from budgetkg.serve import files, find, linkeddata, pages, report, sparql, ui
from budgetkg.serve.answers import AnswerCache
from budgetkg.serve.build import Build
from budgetkg.serve.config import ServeConfig
from budgetkg.serve.fastpath import LookupFastPath
from budgetkg.serve.guard import READ_ONLY_MESSAGE
from budgetkg.serve.site import STATIC_DIR, Site, find_examples_dir, load_examples
from budgetkg.serve.workers import QueryPool

log = logging.getLogger("budgetkg.serve")

# Byte-exact downloads (ETag/Range refer to the file's bytes): never gzip-encoded on the fly.
_UNCOMPRESSED_PREFIXES = ("/dumps/", "/catalog.", "/source/", "/validation/", "/lines.csv")


GZIP_MINIMUM_SIZE = 800
GZIP_LEVEL = 6


class SelectiveGZip:
    """gzip when the client asks, except for byte-exact downloads."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=GZIP_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        target = self.plain if path.startswith(_UNCOMPRESSED_PREFIXES) else self.gzip
        await target(scope, receive, send)


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
)


class Hardened:
    """Security headers on every answer, 400 for a NUL byte anywhere in the path, and for HEAD
    the Content-Length of the GET answer (handlers build the full body; only it is dropped).

    Pages embed data from PDFs, so a browser must never sniff a download into HTML, frame a
    page, or run a script that the server did not send itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").lower():
            await sparql.error_response(400, "Bad request: the path contains a NUL byte.")(scope, receive, send)
            return

        async def send_hardened(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_hardened)


def make_pool(build: Build, config: ServeConfig) -> QueryPool:
    """The query pool of a build, sized by the settings (one place for both start and reload)."""
    return QueryPool(
        build.store_path,
        size=config.workers,
        memory_mb=config.worker_memory_mb,
        short_size=config.short_workers,
        short_timeout=min(config.short_timeout, config.timeout),
        inline=config.inline,
    )


async def refuse_update(request: Request) -> Response:
    """Any update or graph-store write endpoint: 403, whatever the method."""
    return sparql.error_response(403, READ_ONLY_MESSAGE)


async def sparql_options(request: Request) -> Response:
    return Response(status_code=204, headers={"Allow": sparql.ALLOW})


async def sparql_route(request: Request) -> Response:
    if request.method == "OPTIONS":
        return await sparql_options(request)
    return await sparql.endpoint(request)


async def query_route(request: Request) -> Response:
    return await ui.query_page(request, request.app.state.site)


async def status(request: Request) -> Response:
    """Liveness and pool health, for monitoring and tests (no process ids: nothing to aim at)."""
    site: Site = request.app.state.site
    return JSONResponse(
        {
            "status": "ok",
            "workers": site.pool.size,
            "short_workers": site.pool.short_size,
            "idle_workers": site.pool.idle,
            "worker_restarts": site.pool.restarts,
            "timeout": site.config.timeout,
            "max_rows": site.config.max_rows,
            "max_bytes": site.config.max_bytes,
            "base_uri": site.served_base(request),
        },
        headers={"Cache-Control": "no-store"},
    )


async def static_file(request: Request) -> Response:
    rel = request.path_params["path"]
    path = files.safe_join(STATIC_DIR, rel)
    if path is None:
        return sparql.error_response(404, "Not found.")
    return await files.file_response(request, path, cache_control="public, max-age=3600", ranges=False)


async def _watch_build(site: Site) -> None:
    """Switch to a new build when ``budgetkg build`` swaps one in (the old store stays open
    in the old workers, which finish their queries and are then stopped)."""
    current = site.build.fingerprint()
    while True:
        await asyncio.sleep(site.config.reload_interval)
        now = site.build.fingerprint()
        if now is None or now == current:
            continue
        try:
            build = Build.open(site.build.root, site.config.base_uri)
            pool = make_pool(build, site.config)
            await pool.start()
        except (OSError, RuntimeError, ValueError) as exc:
            log.error("new build in %s not loaded (%s); still serving the old one", site.build.root, exc)
            current = now
            continue
        old = site.pool
        site.build, site.pool, current = build, pool, now
        site.cache.clear()
        site.answers.clear()
        log.info("switched to the new build in %s", build.root)
        await asyncio.sleep(site.config.timeout + 1)  # let in-flight queries finish
        await old.close()


def create_app(build_dir: Path, config: ServeConfig | None = None) -> Starlette:
    """Application serving one build directory read-only."""
    config = config or ServeConfig()
    build = Build.open(Path(build_dir), config.base_uri)
    examples = load_examples(find_examples_dir(build.root, config.queries_dir))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = make_pool(build, config)
        await pool.start()
        answers = AnswerCache(config.answer_cache_mb * 1024 * 1024)
        site = Site(build=build, config=config, pool=pool, examples=examples, answers=answers)
        app.state.site = site
        log.info("serving %s (base %s) with %d workers", build.root, build.base_uri, pool.size)
        if site.rewrites_base:
            log.warning(
                "the build's base %s is a loopback address and no public --base-uri was given: its IRIs "
                "are shown under the origin each request arrives at (pages, results, VoID, catalog)",
                build.base_uri,
            )
        watcher = None
        if config.reload_interval > 0:
            watcher = asyncio.get_running_loop().create_task(_watch_build(site))
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await site.pool.close()

    any_method = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    routes = [
        Route("/", pages.home, methods=["GET", "HEAD"]),
        Route("/sparql", sparql_route, methods=["GET", "HEAD", "POST", "OPTIONS"]),
        Route("/sparql/", sparql_route, methods=["GET", "HEAD", "POST", "OPTIONS"]),
        Route("/query", query_route, methods=["GET", "HEAD"]),
        Route("/update", refuse_update, methods=any_method),
        Route("/sparql/update", refuse_update, methods=any_method),
        Route("/sparql/statements", refuse_update, methods=any_method),
        Route("/store", refuse_update, methods=any_method),
        Route("/status", status, methods=["GET", "HEAD"]),
        Route("/validation", report.validation_page, methods=["GET", "HEAD"]),
        Route("/validation/{name}", linkeddata.build_file, methods=["GET", "HEAD"]),
        Route("/dumps/", linkeddata.dumps_index, methods=["GET", "HEAD"]),
        Route("/dumps", linkeddata.dumps_index, methods=["GET", "HEAD"]),
        Route("/dumps/{path:path}", linkeddata.dump_file, methods=["GET", "HEAD"]),
        Route("/catalog.ttl", linkeddata.catalog_ttl, methods=["GET", "HEAD"]),
        Route("/catalog.jsonld", linkeddata.catalog_jsonld, methods=["GET", "HEAD"]),
        Route("/lines.csv", linkeddata.build_file, methods=["GET", "HEAD"]),
        Route("/.well-known/void", linkeddata.void, methods=["GET", "HEAD"]),
        Route("/source/{name}", linkeddata.source_pdf, methods=["GET", "HEAD"]),
        Route("/static/{path:path}", static_file, methods=["GET", "HEAD"]),
        Route("/search", find.search_page, methods=["GET", "HEAD"]),
        Route("/describe", linkeddata.describe_route, methods=["GET", "HEAD"]),
        Route("/id/org/", find.org_index, methods=["GET", "HEAD"]),
        Route("/id/project/", find.project_index, methods=["GET", "HEAD"]),
        Route("/id/budget/", find.budget_index, methods=["GET", "HEAD"]),
        Route("/def/code/", find.code_index, methods=["GET", "HEAD"]),
        Route("/def/code/{kind}/", find.code_index, methods=["GET", "HEAD"]),
        Route("/{path:path}", linkeddata.resource, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    if config.cors:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=["Accept", "Content-Type", "If-None-Match", "Range", "If-Range"],
            expose_headers=["ETag", "Content-Length", "Content-Range", "Vary", "Retry-After"],
            max_age=86400,
        )
    app.add_middleware(SelectiveGZip)
    app.add_middleware(Hardened)
    return app


def with_fast_path(app: Starlette) -> LookupFastPath:
    """The application behind the lean path for one-pattern lookups (:mod:`budgetkg.serve.fastpath`)."""
    return LookupFastPath(
        app,
        site=lambda: getattr(app.state, "site", None),
        security_headers=SECURITY_HEADERS,
        gzip_minimum_size=GZIP_MINIMUM_SIZE,
        gzip_level=GZIP_LEVEL,
    )


def run(build_dir: Path, host: str, port: int, config: ServeConfig) -> None:
    """Serve a build until interrupted (blocking).

    uvicorn uses uvloop and httptools (dependencies of this package) when they import; one line
    of access log per request costs as much as a quarter of a point lookup, so it is written only
    with ``config.access_log``.
    """
    app = create_app(build_dir, config)
    server = uvicorn.Server(
        uvicorn.Config(
            with_fast_path(app),
            host=host,
            port=port,
            lifespan="on",
            log_level="info",
            access_log=config.access_log,
            timeout_graceful_shutdown=5,
            server_header=False,
        )
    )
    server.run()
