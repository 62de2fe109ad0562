"""SPARQL 1.1 Protocol (query operation only) over the worker pool.

Request parsing follows the protocol's three ways of sending a query (GET, URL-encoded POST,
direct POST); anything that would change data is refused with 403 before it reaches a worker.
The response is produced only once the worker has the complete answer, so every status code
tells the truth about the whole body.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from budgetkg.serve import answers, describe, guard, nesting, ui
from budgetkg.serve.execute import Job, Outcome
from budgetkg.serve.inline import bounded
from budgetkg.serve.negotiation import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    Format,
    by_name,
    negotiate,
    prefers_html,
)
from budgetkg.serve.site import PREFIXES, Site
from budgetkg.serve.workers import PoolError

FORM = "application/x-www-form-urlencoded"
QUERY_TYPE = "application/sparql-query"
UPDATE_TYPE = "application/sparql-update"
ALLOW = "GET, HEAD, POST, OPTIONS"


class ProtocolError(Exception):
    """A request that breaks the protocol; answered with ``status`` and a plain message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(slots=True)
class Operation:
    """A parsed protocol request."""

    query: str | None
    default_graphs: list[str]
    named_graphs: list[str]
    format: str | None
    params: list[tuple[str, str]]


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Plain-text error that a person and a SPARQL client can both read."""
    h = {"Vary": "Accept", "Cache-Control": "no-store"}
    h.update(headers or {})
    return PlainTextResponse(message.rstrip() + "\n", status_code=status, headers=h)


def _media_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = request.headers.get("content-type")
    if raw is None:
        return "", {}
    parts = [p.strip() for p in raw.split(";")]
    params: dict[str, str] = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def _utf8(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"The {what} is not valid UTF-8: {exc}") from exc


def _parse_qs(raw: bytes, what: str) -> list[tuple[str, str]]:
    """URL-encoded pairs; a percent-escape that is not UTF-8 (``%FF``) is a 400, never U+FFFD."""
    try:
        return parse_qsl(_utf8(raw, what), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"The {what} has a percent-escape that is not UTF-8: {exc}") from exc


MAX_BODY = 1 << 20  # 1 MiB: far above any hand-written query, far below a memory problem


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 once it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(413, f"Request body too large (over {limit} bytes).")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(413, f"Request body too large (over {limit} bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_operation(request: Request) -> Operation:
    """Read query, dataset and format from a GET or POST, enforcing the protocol's rules."""
    raw_qs = request.scope.get("query_string", b"")
    url_params = _parse_qs(raw_qs, "URL query string")
    params = list(url_params)
    query_values: list[str]
    if request.method in ("GET", "HEAD"):
        query_values = [v for k, v in params if k == "query"]
    elif request.method == "POST":
        media, mparams = _media_type(request)
        charset = mparams.get("charset", "utf-8")
        if media == UPDATE_TYPE:
            raise ProtocolError(403, guard.READ_ONLY_MESSAGE)
        if charset not in ("utf-8", "utf8"):
            raise ProtocolError(415, f"Unsupported charset {charset!r}: SPARQL requests must be UTF-8.")
        body = await read_body(request)
        if media == FORM:
            form = _parse_qs(body, "form body")
            params += form
            query_values = [v for k, v in form if k == "query"]
            if any(k == "query" for k, _ in url_params):
                raise ProtocolError(400, "With a URL-encoded POST, send the query in the body, not the URL.")
        elif media == QUERY_TYPE:
            query_values = [_utf8(body, "query")]
            if any(k in ("query", "update") for k, _ in url_params):
                raise ProtocolError(400, "A direct POST carries the query in its body only.")
        else:
            shown = media or "no Content-Type"
            raise ProtocolError(
                415,
                f"Unsupported request media type ({shown}): POST a query as {FORM} (query=…) or as {QUERY_TYPE}.",
            )
    else:
        raise ProtocolError(405, f"Method {request.method} is not allowed here.", {"Allow": ALLOW})
    if any(k in ("update", "using-graph-uri", "using-named-graph-uri") for k, _ in params):
        raise ProtocolError(403, guard.READ_ONLY_MESSAGE)
    if len(query_values) > 1:
        raise ProtocolError(400, "Exactly one query parameter is allowed; got several.")
    formats = [v for k, v in params if k in ("format", "output")]
    return Operation(
        query=query_values[0] if query_values else None,
        default_graphs=[v for k, v in params if k == "default-graph-uri"],
        named_graphs=[v for k, v in params if k == "named-graph-uri"],
        format=formats[-1] if formats else None,
        params=params,
    )


async def wait_disconnect(request: Request) -> None:
    """Complete when the client closes the connection (used to kill its query)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def origin_of(request: Request) -> str:
    """Origin for absolute links in answers (never the raw Host header: see Site.origin)."""
    site: Site = request.app.state.site
    return site.origin(request)


async def endpoint(request: Request) -> Response:
    """``/sparql``: query, service description, or (for browsers) the query editor."""
    site: Site = request.app.state.site
    try:
        op = await parse_operation(request)
    except ProtocolError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    accept = request.headers.get("accept")
    if op.query is None:
        if request.method == "POST":
            return error_response(400, "Missing query: send query=… (or update, which is refused).")
        if op.format is None and prefers_html(accept):
            return await ui.query_page(request, site)
        return await service_description_response(request, site, op.format)
    if op.format is None and prefers_html(accept) and request.method == "GET":
        return await ui.query_page(request, site, query=op.query)
    return await run_query(request, site, op)


async def service_description_response(request: Request, site: Site, fmt_name: str | None) -> Response:
    fmt = by_name(fmt_name, GRAPH_FORMATS) if fmt_name else negotiate(request.headers.get("accept"), GRAPH_FORMATS)
    if fmt is None:
        return not_acceptable("service description", GRAPH_FORMATS)
    try:
        triples = await describe.service_description(site, origin_of(request))
    except PoolError as exc:
        return error_response(exc.status, exc.message)
    body = describe.serialize(triples, fmt)
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})


def not_acceptable(what: str, formats: tuple) -> Response:
    offered = ", ".join(f.media_type for f in formats)
    return error_response(406, f"No acceptable format for the {what}. Available: {offered}.")


async def run_query(request: Request, site: Site, op: Operation) -> Response:
    """Check, negotiate and run a query; map the worker's outcome onto HTTP."""
    assert op.query is not None
    if not bounded(op.query):  # one triple pattern needs neither check (see budgetkg.serve.inline)
        deep = nesting.too_deep(op.query)
        if deep:
            return error_response(400, deep)
        try:
            guard.refuse_early(op.query)
        except guard.Refused as exc:
            return error_response(exc.status, exc.message)
    accept = request.headers.get("accept")
    if op.format:
        result_fmt = by_name(op.format, RESULT_FORMATS)
        graph_fmt = by_name(op.format, GRAPH_FORMATS)
        if result_fmt is None and graph_fmt is None:
            offered = ", ".join(a for f in (*RESULT_FORMATS, *GRAPH_FORMATS) for a in f.aliases)
            return error_response(400, f"Unknown format {op.format!r}. Use one of: {offered}.")
    else:
        result_fmt = negotiate(accept, RESULT_FORMATS)
        graph_fmt = negotiate(accept, GRAPH_FORMATS)
    job = query_job(site, request, op.query, result_fmt, graph_fmt, op.default_graphs, op.named_graphs)
    inline = site.pool.inline
    tried = request.scope.get(INLINE_TRIED, False)  # the lean path ran it already (budgetkg.serve.fastpath)
    outcome = inline.run(job) if inline is not None and not tried else None  # a provably small query: no hand-off
    cached, skip_store = False, True
    key, generation = None, site.answers.generation
    if outcome is None:  # a worker's answer: worth keeping for the next identical request
        skip_read, skip_store = answers.bypasses(request.headers.get("cache-control"))
        key = answers.answer_key(job)
        outcome = None if skip_read else site.answers.get(key)
        cached = outcome is not None
    if outcome is None:
        watcher = asyncio.ensure_future(wait_disconnect(request))
        try:
            outcome = await site.run(job, cancelled=watcher)
        except PoolError as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            return error_response(exc.status, exc.message, headers)
        finally:
            if not watcher.done():
                watcher.cancel()
        if key is not None and not skip_store:
            site.answers.put(key, outcome, generation)
    if outcome.status == 406:
        formats = GRAPH_FORMATS if outcome.kind == "graph" else RESULT_FORMATS
        return not_acceptable("query result", formats)
    if outcome.status != 200:
        return error_response(outcome.status, outcome.message)
    fmt = graph_fmt if outcome.kind == "graph" else result_fmt
    assert fmt is not None
    headers = answer_headers(fmt, outcome)
    if cached:
        headers["X-Answer-Cache"] = "hit"
    body = b"" if request.method == "HEAD" else outcome.body
    return Response(body, media_type=fmt.content_type, headers=headers)


INLINE_TRIED = "budgetkg.inline_tried"  # scope key: the in-process path gave up on this request


def query_job(
    site: Site,
    request: Request,
    query: str,
    result_fmt: Format | None,
    graph_fmt: Format | None,
    default_graphs: list[str],
    named_graphs: list[str],
) -> Job:
    """The job of one protocol query (the same for the lean path and the full one)."""
    dataset_given = bool(default_graphs or named_graphs)
    return Job(
        query=query,
        max_rows=site.config.max_rows,
        max_bytes=site.config.max_bytes,
        result_format=result_fmt.name if result_fmt else None,
        graph_format=graph_fmt.name if graph_fmt else None,
        default_graphs=default_graphs if dataset_given else None,
        named_graphs=named_graphs if dataset_given else None,
        prefixes=PREFIXES,
        base_iri=site.origin(request) + "/sparql",  # the protocol lets the service pick BASE
        rewrite=site.rewrite(request),
    )


def answer_headers(fmt: Format, outcome: Outcome) -> dict[str, str]:
    """Headers of a 200 answer besides Content-Type (GET and HEAD alike: HEAD says the GET length)."""
    return {
        "Vary": "Accept",
        "Cache-Control": "no-cache",
        "X-Result-Rows": str(outcome.rows),
        "Content-Length": str(len(outcome.body)),
    }
