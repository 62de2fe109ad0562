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

from budgetkg.serve import files, linkeddata, pages, sparql, ui
from budgetkg.serve.build import Build
from budgetkg.serve.config import ServeConfig
from budgetkg.serve.guard import READ_ONLY_MESSAGE
from budgetkg.serve.site import STATIC_DIR, Site, find_examples_dir, load_examples
from budgetkg.serve.workers import QueryPool

log = logging.getLogger("budgetkg.serve")

# Byte-exact downloads (ETag/Range refer to the file's bytes): never gzip-encoded on the fly.
_UNCOMPRESSED_PREFIXES = ("/dumps/", "/catalog.", "/source/", "/validation/", "/lines.csv")


class SelectiveGZip:
    """gzip when the client asks, except for byte-exact downloads."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=800, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        target = self.plain if path.startswith(_UNCOMPRESSED_PREFIXES) else self.gzip
        await target(scope, receive, send)


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
    """Liveness and pool health, for monitoring and tests."""
    site: Site = request.app.state.site
    return JSONResponse(
        {
            "status": "ok",
            "workers": site.pool.size,
            "idle_workers": site.pool._idle.qsize(),
            "worker_restarts": site.pool.restarts,
            "worker_pids": site.pool.pids,
            "timeout": site.config.timeout,
            "max_rows": site.config.max_rows,
            "base_uri": site.build.base_uri,
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
            pool = QueryPool(build.store_path, site.config.workers, site.config.worker_memory_mb)
            await pool.start()
        except (OSError, RuntimeError, ValueError) as exc:
            log.error("new build in %s not loaded (%s); still serving the old one", site.build.root, exc)
            current = now
            continue
        old = site.pool
        site.build, site.pool, current = build, pool, now
        site.cache.clear()
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
        pool = QueryPool(build.store_path, size=config.workers, memory_mb=config.worker_memory_mb)
        await pool.start()
        site = Site(build=build, config=config, pool=pool, examples=examples)
        app.state.site = site
        log.info("serving %s (base %s) with %d workers", build.root, build.base_uri, pool.size)
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
        Route("/validation", pages.validation_page, methods=["GET", "HEAD"]),
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
    return app


def run(build_dir: Path, host: str, port: int, config: ServeConfig) -> None:
    """Serve a build until interrupted (blocking)."""
    app = create_app(build_dir, config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_level="info",
            timeout_graceful_shutdown=5,
            server_header=False,
        )
    )
    server.run()
